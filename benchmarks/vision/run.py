"""Vision evidence: RPC vs InfoNCE-family and MI-bound objectives on real Fashion-MNIST.

Relative Predictive Coding (Tsai et al., ICLR 2021, arXiv 2103.11275) claims RPC is stable, less
sensitive to the batch size and at least as accurate as InfoNCE. This script tests those claims at a
fixed small compute budget (the same number of training images seen by every run):

1. accuracy: every objective x several seeds -> linear-probe and kNN top-1 (mean, std, min-max);
2. batch-size sweep: every objective x batch sizes -> sensitivity = max - min linear-probe top-1;
3. stability grid: every objective x learning rate x seed -> runs that diverged (non-finite loss)
   or collapsed (kNN top-1 < 20% or near-constant features).

Objectives: RPC (``rpc_plugins.RPCLoss`` defaults), lightly's ``NTXentLoss`` and ``DCLLoss`` (when
lightly is importable; otherwise ``rpc_plugins.ContrastiveLoss("infonce")``, which equals
NTXentLoss, and DCL is skipped), MIO, NWJ, JS and DV (``rpc_plugins.ContrastiveLoss`` defaults).

Data: the Fashion-MNIST IDX gz files (train-images-idx3-ubyte.gz, ...) in --data-dir (Debian's
dataset-fashion-mnist installs them in /usr/share/datasets/fashion-mnist). Everything runs on
--device (cpu or cuda); augmentations are per-sample tensor ops on that device.

    python benchmarks/vision/run.py --quick --out /tmp/vision      # CPU smoke (24 tiny runs)
    python benchmarks/vision/run.py --device cuda                  # the committed results (~11 min on an H100)

Writes <out>/results.md, results.json and vision.png (default out: benchmarks/vision/); results.json is
rewritten after every run, and ``--render a.json [b.json ...]`` redraws the table and plot from saved
runs (e.g. after --time-budget stopped a run early: the parts run in order accuracy, stability, batch).
"""
import argparse
import json
import math
import os
import platform
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))  # run from a checkout without installing

import rpc_plugins as rp  # noqa: E402
from rpc_datasets.idx import read_idx  # noqa: E402

DEFAULT_DATA = "/usr/share/datasets/fashion-mnist"


# ----------------------------------------------------------------------------------------- data


def load_fashion_mnist(data_dir, train_size, test_size):
    """(x_train, y_train, x_test, y_test): float (n, 1, 28, 28) in [0, 1] and int64 labels."""
    names = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    missing = [n for n in names if not os.path.exists(os.path.join(data_dir, n))]
    if missing:
        raise ValueError(f"Fashion-MNIST not found in {data_dir!r} (missing {missing}); install Debian's "
                         f"dataset-fashion-mnist or pass --data-dir")
    arrays = [read_idx(os.path.join(data_dir, n)) for n in names]
    xs = [torch.tensor(a[:k], dtype=torch.float32)[:, None] / 255.0 for a, k in ((arrays[0], train_size),
                                                                             (arrays[2], test_size))]
    ys = [torch.tensor(a[:k], dtype=torch.long) for a, k in ((arrays[1], train_size), (arrays[3], test_size))]
    return xs[0], ys[0], xs[1], ys[1]


def augment(x, generator):
    """Per-sample random resized crop (scale 0.5-1) + flip via an affine grid, brightness/contrast
    jitter, Gaussian noise and a random erased square; all on x's device."""
    n, device = x.shape[0], x.device

    def rand(*shape):
        return torch.rand(*shape, generator=generator, device=device)

    scale = 0.5 + 0.5 * rand(n)
    side = scale.sqrt()
    flip = torch.where(rand(n) < 0.5, -1.0, 1.0)
    tx, ty = (1 - side) * (2 * rand(n) - 1), (1 - side) * (2 * rand(n) - 1)
    theta = torch.zeros(n, 2, 3, device=device)
    theta[:, 0, 0], theta[:, 1, 1], theta[:, 0, 2], theta[:, 1, 2] = side * flip, side, tx, ty
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")
    x = x * (0.6 + 0.8 * rand(n, 1, 1, 1)) + 0.2 * (rand(n, 1, 1, 1) - 0.5)
    x = x + 0.05 * torch.randn(x.shape, generator=generator, device=device)
    h = x.shape[-1]
    yy, xx = torch.arange(h, device=device).view(1, h, 1), torch.arange(h, device=device).view(1, 1, h)
    cy, cx = (rand(n) * h).view(n, 1, 1), (rand(n) * h).view(n, 1, 1)
    erase = ((yy - cy).abs() < h / 6) & ((xx - cx).abs() < h / 6) & (rand(n, 1, 1) < 0.5)
    return x.masked_fill(erase[:, None], 0.0)


# ---------------------------------------------------------------------------------------- model
class SmallCNN(nn.Module):
    """A 4-layer CNN for 28x28 grey images; ``num_features`` wide pooled output (timm convention)."""

    def __init__(self, width=32):
        super().__init__()
        c = [1, width, 2 * width, 4 * width, 4 * width]
        layers = []
        for i, stride in enumerate([1, 2, 2, 1]):
            layers += [nn.Conv2d(c[i], c[i + 1], 3, stride=stride, padding=1, bias=False),
                       nn.BatchNorm2d(c[i + 1]), nn.ReLU(inplace=True)]
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.num_features = c[-1]

    def forward(self, x):
        return self.features(x)


def build_model(backbone_name, proj_dim=64):
    if backbone_name == "cnn":
        backbone = SmallCNN()
    else:  # any timm model through the timm adapter, small-image stem
        import rpc_timm

        backbone = rpc_timm.create_backbone(backbone_name, in_chans=1, small_input=True)
    width = backbone.num_features
    head = nn.Sequential(nn.Linear(width, 256), nn.BatchNorm1d(256), nn.ReLU(inplace=True),
                         nn.Linear(256, proj_dim))  # SimCLRProjectionHead(width, 256, proj_dim)'s layout
    return backbone, head


# ----------------------------------------------------------------------------------- objectives
def make_objectives(names):
    """name -> zero-argument factory of a loss with forward(out0, out1)."""
    try:
        from lightly.loss import DCLLoss, NTXentLoss

        lightly_ok = True
    except Exception as exc:  # lightly absent (e.g. a bare GPU machine): NT-Xent via the core
        print(f"lightly not importable ({exc.__class__.__name__}); NT-Xent from rpc_plugins, DCL skipped")
        lightly_ok = False
    table = {
        "RPC": lambda: rp.RPCLoss(),
        "NT-Xent": (lambda: NTXentLoss(temperature=0.5)) if lightly_ok else
        (lambda: rp.ContrastiveLoss("infonce", temperature=0.5)),
        "DCL": (lambda: DCLLoss(temperature=0.1)) if lightly_ok else None,
        "MIO": lambda: rp.ContrastiveLoss("mio"),
        "NWJ": lambda: rp.ContrastiveLoss("nwj"),
        "JS": lambda: rp.ContrastiveLoss("js"),
        "DV": lambda: rp.ContrastiveLoss("dv"),
        "RPC-cifar10-preset": lambda: rp.RPCLoss.from_paper("cifar10"),
    }
    unknown = [n for n in names if n not in table]
    if unknown:
        raise ValueError(f"unknown objectives {unknown}; choose from {sorted(table)}")
    return {n: table[n] for n in names if table[n] is not None}


# ------------------------------------------------------------------------------ train + evaluate
def pretrain(objective, x, batch_size, lr, samples, seed, device, backbone_name):
    """Returns (backbone, losses, diverged). Adam, a fixed number of images seen."""
    torch.manual_seed(seed)
    backbone, head = build_model(backbone_name)
    backbone, head = backbone.to(device), head.to(device)
    loss_fn = objective().to(device)
    params = list(backbone.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=lr)
    g = torch.Generator(device=device).manual_seed(seed)
    gi = torch.Generator().manual_seed(seed)
    steps = max(1, samples // batch_size)
    losses = []
    backbone.train(), head.train()
    pending = []
    for step in range(steps):
        idx = torch.randint(0, len(x), (batch_size,), generator=gi).to(device)
        xb = x[idx]
        loss = loss_fn(head(backbone(augment(xb, g))), head(backbone(augment(xb, g))))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        pending.append(loss.detach())
        if len(pending) == 50 or step == steps - 1:  # sync with the device only every 50 steps
            losses += torch.stack(pending).float().cpu().tolist()
            pending = []
            if not math.isfinite(losses[-1]) or not all(math.isfinite(v) for v in losses[-50:]):
                return backbone, losses, True
    diverged = not all(torch.isfinite(p).all() for p in params)
    return backbone, losses, diverged


@torch.no_grad()
def embed(backbone, x, device):
    backbone.eval()
    return torch.cat([backbone(x[i:i + 1024].to(device)) for i in range(0, len(x), 1024)]).float()


def knn_top1(f_train, y_train, f_test, y_test, k=20):
    f_train, f_test = F.normalize(f_train, dim=1), F.normalize(f_test, dim=1)
    correct = 0
    for i in range(0, len(f_test), 1024):
        sim = f_test[i:i + 1024] @ f_train.t()
        w, nn_idx = sim.topk(k, dim=1)
        votes = torch.zeros(len(nn_idx), 10, device=f_train.device)
        votes.scatter_add_(1, y_train[nn_idx], (w / 0.07).exp())
        correct += (votes.argmax(1) == y_test[i:i + 1024]).sum().item()
    return correct / len(f_test)


def linear_top1(f_train, y_train, f_test, y_test, epochs=100, seed=0):
    """Multinomial logistic regression on standardised frozen features (full-batch L-BFGS)."""
    torch.manual_seed(seed)
    mean, std = f_train.mean(0), f_train.std(0) + 1e-6
    a, b = (f_train - mean) / std, (f_test - mean) / std
    clf = nn.Linear(a.shape[1], 10).to(a.device)
    opt = torch.optim.LBFGS(clf.parameters(), lr=1, max_iter=epochs, history_size=10, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(clf(a), y_train) + 1e-4 * clf.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return (clf(b).argmax(1) == y_test).float().mean().item()


def evaluate(backbone, data, device):
    x_tr, y_tr, x_te, y_te = data
    f_tr, f_te = embed(backbone, x_tr, device), embed(backbone, x_te, device)
    if not (torch.isfinite(f_tr).all() and torch.isfinite(f_te).all()):
        return float("nan"), float("nan"), 0.0
    spread = F.normalize(f_tr, dim=1).std(0).mean().item()  # ~0 when every image maps to one point
    y_tr, y_te = y_tr.to(device), y_te.to(device)
    return linear_top1(f_tr, y_tr, f_te, y_te), knn_top1(f_tr, y_tr, f_te, y_te), spread


def run_one(name, factory, data, *, part, batch_size, lr, seed, args):
    x_train = data[0]
    t0 = time.time()
    samples = args.sweep_samples if part == "batch" else args.samples
    backbone, losses, diverged = pretrain(factory, x_train, batch_size, lr, samples, seed, args.device,
                                          args.backbone)
    if diverged:
        linear, knn, spread = float("nan"), float("nan"), 0.0
    else:
        linear, knn, spread = evaluate(backbone, data, args.device)
    collapsed = (not diverged) and (not (knn >= 0.2) or spread < 1e-3)
    return dict(objective=name, batch_size=batch_size, lr=lr, seed=seed, linear=linear, knn=knn, spread=spread,
                diverged=diverged, collapsed=collapsed, final_loss=losses[-1], steps=len(losses),
                samples=samples, seconds=round(time.time() - t0, 2), losses=losses[:: max(1, len(losses) // 100)])


# ------------------------------------------------------------------------------------- reporting
def stats(values):
    v = [x for x in values if x == x]
    if not v:
        return "n/a"
    return f"{100 * np.mean(v):.1f} ± {100 * np.std(v):.1f} ({100 * min(v):.1f}-{100 * max(v):.1f})"


def main_samples(results, args):
    return next((r.get("samples", args.samples) for r in results if r["part"] == "accuracy"), args.samples)


def write_results(results, args, out, wall):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(dict(args=vars(args), results=results, wall=wall), f, indent=1)
    names = list(dict.fromkeys(r["objective"] for r in results))
    lines = [
        "# Vision evidence: RPC vs peers on Fashion-MNIST (frozen-feature linear probe and kNN)", "",
        f"Command: `{args.command}`  ",
        f"Machine: {args.machine}; wall {wall / 60:.1f} min  ",
        f"Data: Fashion-MNIST from `{args.data_dir}`: first {args.train_size} training images (pretraining and "
        f"probe fitting), first {args.test_size} test images (scores). Backbone `{args.backbone}`, projection "
        f"256-64, Adam, a fixed number of images seen per run (same compute for every objective and batch size).  ",
        "Linear probe: L-BFGS logistic regression on standardised frozen backbone features; kNN: k=20, cosine, "
        "weighted vote. Top-1 in %, mean ± std over seeds (min-max).", "",
    ]
    main = [r for r in results if r["part"] == "accuracy"]
    if main:
        lines += [f"## 1. Accuracy (batch {args.batch_size}, lr {args.lr}, seeds {sorted({r['seed'] for r in main})}; "
                  f"{main_samples(results, args)} images seen per run)", "",
                  "| objective | linear probe top-1 | kNN top-1 | diverged/collapsed runs |", "|---|---|---|---:|"]
    for n in names:
        rs = [r for r in main if r["objective"] == n]
        if rs:
            bad = sum(r["diverged"] or r["collapsed"] for r in rs)
            lines.append(f"| {n} | {stats([r['linear'] for r in rs])} | {stats([r['knn'] for r in rs])} | "
                         f"{bad}/{len(rs)} |")
    sweep = [r for r in results if r["part"] == "batch"]
    if sweep:
        bss = sorted({r["batch_size"] for r in sweep})
        lines += ["", f"## 2. Batch-size sweep (lr {args.lr}, seeds {sorted({r['seed'] for r in sweep})}, "
                  f"{sweep[-1].get('samples', args.samples)} images seen per run; linear-probe top-1, "
                  "mean over seeds; sensitivity = max - min)", "",
                  "| objective | " + " | ".join(f"B={b}" for b in bss) + " | sensitivity |",
                  "|---|" + "---:|" * (len(bss) + 1)]
        for n in names:
            row, means = [], []
            for b in bss:
                v = [r["linear"] for r in sweep if r["objective"] == n and r["batch_size"] == b]
                v = [x for x in v if x == x]
                m = float(np.mean(v)) if v else float("nan")
                means.append(m)
                row.append(f"{100 * m:.1f}" if v else "-")
            ok = [m for m in means if m == m]
            sens = f"{100 * (max(ok) - min(ok)):.1f}" if len(ok) == len(means) else "n/a (incomplete)"
            if any(r["objective"] == n for r in sweep):
                lines.append(f"| {n} | " + " | ".join(row) + f" | {sens} |")
    grid = [r for r in results if r["part"] == "stability"]
    if grid:
        lrs = sorted({r["lr"] for r in grid})
        lines += ["", f"## 3. Stability grid (batch {args.batch_size}, seeds {sorted({r['seed'] for r in grid})}, "
                  f"{grid[0].get('samples', args.samples)} images seen per run): diverged (NaN/Inf) "
                  "+ collapsed runs out of runs, per learning rate", "",
                  "| objective | " + " | ".join(f"lr={lr:g}" for lr in lrs) + " | total bad | mean kNN top-1 |",
                  "|---|" + "---:|" * (len(lrs) + 2)]
        for n in names:
            rs = [r for r in grid if r["objective"] == n]
            if not rs:
                continue
            cells = []
            for lr in lrs:
                c = [r for r in rs if r["lr"] == lr]
                d, k = sum(r["diverged"] for r in c), sum(r["collapsed"] for r in c)
                cells.append(f"{d}+{k}/{len(c)}")
            bad = sum(r["diverged"] or r["collapsed"] for r in rs)
            knn = [r["knn"] for r in rs if r["knn"] == r["knn"]]
            tail = f"{100 * np.mean(knn):.1f}" if knn else "n/a"
            lines.append(f"| {n} | " + " | ".join(cells) + f" | {bad}/{len(rs)} | {tail} |")
    lines += ["", "Objectives: RPC = `rpc_plugins.RPCLoss()` (alpha 0.3, beta 0.01, gamma 0.1, T 0.1, normalised); "
              "RPC-cifar10-preset = `RPCLoss.from_paper('cifar10')`; NT-Xent = lightly `NTXentLoss(0.5)`; DCL = lightly "
              "`DCLLoss(0.1)`; MIO/NWJ/JS/DV = `rpc_plugins.ContrastiveLoss(name)` defaults (T 0.5).",
              "Diverged: a non-finite loss or parameter; collapsed: kNN top-1 < 20% or near-constant normalised "
              "features (mean per-dimension std < 1e-3).", "", "![vision](vision.png)"]
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    plot(results, names, os.path.join(out, "vision.png"))


def plot(results, names, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    main = [r for r in results if r["part"] == "accuracy"]
    pos = np.arange(len(names))
    for off, key, label in ((-0.2, "linear", "linear probe"), (0.2, "knn", "kNN (k=20)")):
        m, s = [], []
        for n in names:
            v = [100 * r[key] for r in main if r["objective"] == n and r[key] == r[key]]
            m.append(np.mean(v) if v else 0.0)
            s.append(np.std(v) if v else 0.0)
        axes[0].bar(pos + off, m, 0.4, yerr=s, capsize=3, label=label)
    axes[0].set_xticks(pos)
    axes[0].set_xticklabels(names, rotation=30, ha="right")
    finite = [100 * r["knn"] for r in main if r["knn"] == r["knn"]]
    axes[0].set(ylabel="test top-1 (%)", title="accuracy (mean ± std over seeds)",
                ylim=(max(0, min(finite) - 10) if finite else 0, 100))
    axes[0].legend(loc="lower right")
    sweep = [r for r in results if r["part"] == "batch"]
    for n in names:
        bss = sorted({r["batch_size"] for r in sweep if r["objective"] == n})
        ys = [np.nanmean([100 * r["linear"] for r in sweep if r["objective"] == n and r["batch_size"] == b])
              for b in bss]
        if bss:
            axes[1].plot(bss, ys, marker="o", label=n)
    axes[1].set_xscale("log", base=2)
    axes[1].set(xlabel="batch size", ylabel="linear-probe top-1 (%)", title="batch-size sweep (same images seen)")
    axes[1].legend(fontsize=7)
    grid = [r for r in results if r["part"] == "stability"]
    lrs = sorted({r["lr"] for r in grid})
    width = 0.8 / max(1, len(lrs))
    for j, lr in enumerate(lrs):
        bad = [sum(r["diverged"] or r["collapsed"] for r in grid if r["objective"] == n and r["lr"] == lr)
               for n in names]
        axes[2].bar(pos - 0.4 + width * (j + 0.5), bad, width, label=f"lr={lr:g}")
    axes[2].set_xticks(pos)
    axes[2].set_xticklabels(names, rotation=30, ha="right")
    total_bad = sum(r["diverged"] or r["collapsed"] for r in grid)
    axes[2].set_ylim(0, max(2, total_bad))
    if grid and not total_bad:
        axes[2].text(0.5, 0.5, f"no diverged or collapsed run\n({len(grid)} runs, lr {', '.join(f'{lr:g}' for lr in lrs)})",
                     transform=axes[2].transAxes, ha="center", va="center")
    axes[2].set(ylabel="diverged + collapsed runs", title="stability grid (lr x seed)")
    axes[2].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ------------------------------------------------------------------------------------------ main
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=DEFAULT_DATA)
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", default=HERE)
    p.add_argument("--quick", action="store_true", help="small CPU smoke: fewer images, seeds, sizes")
    p.add_argument("--objectives", nargs="+",
                   default=["RPC", "NT-Xent", "DCL", "MIO", "NWJ", "JS", "DV", "RPC-cifar10-preset"])
    p.add_argument("--backbone", default="cnn", help="'cnn' or a timm model name (via rpc_timm)")
    p.add_argument("--train-size", type=int, default=60000)
    p.add_argument("--test-size", type=int, default=10000)
    p.add_argument("--samples", type=int, default=120000,
                   help="training images seen per run (compute budget) in the accuracy and stability parts")
    p.add_argument("--sweep-samples", type=int, default=60000, help="training images seen per batch-sweep run")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--batch-sizes", type=int, nargs="*", default=[32, 64, 128, 256, 512])
    p.add_argument("--sweep-seeds", type=int, nargs="+", default=[0])
    p.add_argument("--lrs", type=float, nargs="*", default=[1e-3, 1e-2, 1e-1])
    p.add_argument("--grid-seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--parts", nargs="+", default=["accuracy", "stability", "batch"],
                   choices=["accuracy", "stability", "batch"])
    p.add_argument("--time-budget", type=float, default=0, help="seconds; start no new run after this (0: none)")
    p.add_argument("--render", nargs="*", default=[],
                   help="only redraw results.md + vision.png from these results.json files (merged)")
    args = p.parse_args(argv)
    if args.quick:
        args.train_size, args.test_size = min(args.train_size, 2000), min(args.test_size, 1000)
        args.samples = args.sweep_samples = 3000
        args.seeds, args.batch_sizes, args.sweep_seeds = [0], [64, 256], [0]
        args.lrs, args.grid_seeds = [1e-3, 1e-1], [0]
    args.command = "python benchmarks/vision/run.py " + " ".join(sys.argv[1:] if argv is None else argv)
    return args


def render(paths, out):
    """Merge saved runs (each result keeps its own budget) and redraw the table and plot."""
    results, commands, wall = [], [], 0.0
    for path in paths:
        with open(path) as f:
            saved = json.load(f)
        for r in saved["results"]:
            r.setdefault("samples", saved["args"]["samples"])
        later = {r["part"] for r in saved["results"]}  # a later file's part replaces an earlier (partial) one
        results = [r for r in results if r["part"] not in later] + saved["results"]
        commands.append(saved["args"]["command"])
        wall += saved.get("wall", 0.0)
    args = argparse.Namespace(**saved["args"])
    args.command = "` then `".join(commands)
    write_results(results, args, out, wall)


def main(argv=None):
    args = parse_args(argv)
    if args.render:
        render(args.render, args.out)
        print(open(os.path.join(args.out, "results.md")).read())
        return
    if args.device == "cpu":
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    elif not torch.cuda.is_available():
        raise ValueError(f"--device {args.device} requested but CUDA is not available")
    dev = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else (platform.processor() or "cpu")
    args.machine = (f"{dev}, {os.cpu_count()} CPUs, device {args.device}, torch {torch.__version__}, "
                    f"Python {platform.python_version()}, {torch.get_num_threads()} CPU threads")
    data = tuple(t.to(args.device) for t in load_fashion_mnist(args.data_dir, args.train_size, args.test_size))
    objectives = make_objectives(args.objectives)
    plan = [("accuracy", n, args.batch_size, args.lr, s) for s in args.seeds for n in objectives]
    plan += [("stability", n, args.batch_size, lr, s) for lr in args.lrs for s in args.grid_seeds for n in objectives]
    plan += [("batch", n, b, args.lr, s) for b in args.batch_sizes for s in args.sweep_seeds for n in objectives]
    plan = [p for p in plan if p[0] in args.parts]
    from tqdm import tqdm

    results, cache, start = [], {}, time.time()
    bar = tqdm(plan, desc="vision runs", ncols=100)
    for part, n, b, lr, s in bar:
        key = (n, b, lr, s, args.sweep_samples if part == "batch" else args.samples)
        if key not in cache:  # the same configuration in two parts is trained once
            if args.time_budget and time.time() - start > args.time_budget:
                print(f"time budget {args.time_budget:.0f} s spent: stopping before {part} {n} B={b} lr={lr:g}")
                break
            bar.set_postfix_str(f"{n} B={b} lr={lr:g} seed={s}")
            cache[key] = run_one(n, objectives[n], data, part=part, batch_size=b, lr=lr, seed=s, args=args)
            r = cache[key]
            tqdm.write(f"{part} {n} B={b} lr={lr:g} seed={s}: linear {r['linear']:.3f} knn {r['knn']:.3f} "
                       f"div {r['diverged']} col {r['collapsed']} {r['seconds']} s")
        results.append(dict(cache[key], part=part))
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "results.json"), "w") as f:
            json.dump(dict(args=vars(args), results=results, wall=time.time() - start), f)
    write_results(results, args, args.out, time.time() - start)
    print(open(os.path.join(args.out, "results.md")).read())


if __name__ == "__main__":
    main()
