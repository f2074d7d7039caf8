"""Each of solo-learn main's InfoNCE methods with its OWN loss vs ``loss: rpc`` and ``loss: mio``.

For simclr, supcon, mocov2plus, mocov3 and nnclr (solo-learn main 9187ea3), every model is built the way solo's
``main_pretrain.py`` builds it: solo's own cifar yaml composed by Hydra, solo's ``parse_cfg``, ``seed_everything``,
``METHODS[method](cfg)``, trained by Lightning with solo's own ``training_step``, optimiser and scheduler. Only the
``loss`` key differs between the three losses of a method: none (solo's own loss function), ``rpc`` (Relative
Predictive Coding) or ``mio``. The same data, backbone, steps and
frozen probes for all, at a CPU scale:

- data: a Fashion-MNIST subset (Debian's dataset-fashion-mnist), 28 px, 1 channel, the harness's tensor
  augmentations (``benchmarks/harness/augment.py``) for the two crops; the yamls' PIL pipelines are not used;
- backbone: a small CNN (registered in solo's ``BaseMethod._BACKBONES`` as ``bench_cnn``), the yamls' projector
  and predictor at a reduced width, queue sizes reduced to the data size;
- tuning: an equal budget of k trials per (method, loss) (trial 0: the yaml's own lr and temperature, and RPC's
  paper defaults; then draws over lr x temperature, plus alpha, beta, gamma for RPC), each pretrained on the
  training images minus a validation carve and scored by the linear probe on that carve; the selection is then
  re-run with every seed on all training images and probed on the test images;
- probes: the harness's frozen linear (L-BFGS logistic regression) and 20-NN on the backbone's pooled features;
  baselines in the same run: raw pixels, and the untrained (random-init) backbone.

    OMP_NUM_THREADS=1 .venvs/solo-main/bin/python benchmarks/solo/switch.py --out benchmarks/solo/switch
    .venvs/solo-main/bin/python benchmarks/solo/switch.py --accelerator gpu --train 50000 --val 10000 --test 10000 \
        --epochs 20 --batch-size 256 --width 2048 --queue 16384 --k 4 --out benchmarks/solo/switch_gpu   # (GPU, not run)
    .venvs/main/bin/python benchmarks/solo/switch.py --render benchmarks/solo/switch   # tables + PNG (matplotlib)

>>> trial_space("rpc", {"lr": 0.3, "temperature": 0.2})["alpha"]
[0.3, 0.0, 1.0]
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))  # the checkout

METHODS5 = ("simclr", "supcon", "mocov2plus", "mocov3", "nnclr")
LOSSES = ("own", "rpc", "mio")  # own: no `loss` key, solo's own loss function
LABELS = {"own": "own InfoNCE", "rpc": "loss: rpc", "mio": "loss: mio"}


def trial_space(loss, yaml):
    """The knobs each loss searches (every loss: lr and the critic temperature; RPC also alpha, beta, gamma);
    the first value of each list is trial 0 (the yaml's own, RPC's paper defaults)."""
    space = {"lr": [yaml["lr"], yaml["lr"] / 3, yaml["lr"] * 3], "temperature": [yaml["temperature"], 0.1, 0.5]}
    if loss == "rpc":
        space.update(alpha=[0.3, 0.0, 1.0], beta=[0.01, 0.001], gamma=[0.1, 1.0])
    return space


# ------------------------------------------------------------------------------------------- solo side


def bench_cnn(method=None, width=32, **kwargs):
    """4-layer CNN for 1-channel 28 px images; ``num_features`` as solo expects of a non-ResNet backbone."""
    from torch import nn

    def block(cin, cout):
        return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU()]

    net = nn.Sequential(
        *block(1, width),
        nn.MaxPool2d(2),
        *block(width, 2 * width),
        nn.MaxPool2d(2),
        *block(2 * width, 4 * width),
        *block(4 * width, 4 * width),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    )
    net.num_features = 4 * width
    return net


def solo_cfg(method, loss, config, a, classes_dir):
    """solo's ``<method>.yaml`` composed by Hydra + solo's ``parse_cfg`` (what main_pretrain.py runs)."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf
    from solo.args.pretrain import parse_cfg

    yamls = os.path.join(solo_checkout(), "scripts", "pretrain", "cifar")
    overrides = [
        "backbone.name=bench_cnn",
        "data.dataset=custom",
        f"data.train_path={classes_dir}",
        "data.val_path=null",
        "data.num_workers=0",
        f"accelerator={a.accelerator}",
        'devices="1"',
        "precision=32",
        "sync_batchnorm=False",
        "checkpoint.enabled=False",
        "auto_resume.enabled=False",
        "wandb.enabled=False",
        f"optimizer.batch_size={a.batch_size}",
        f"optimizer.lr={config['lr']}",
        f"max_epochs={a.epochs}",
        "+scheduler.warmup_epochs=0",
        f"method_kwargs.temperature={config['temperature']}",
        f"method_kwargs.proj_hidden_dim={a.width}",
        f"method_kwargs.proj_output_dim={a.width // 4}",
    ]
    if method in ("mocov3", "nnclr"):
        overrides.append(f"method_kwargs.pred_hidden_dim={a.width}")
    if method in ("mocov2plus", "nnclr"):
        overrides.append(f"method_kwargs.queue_size={a.queue}")
    if loss != "own":
        overrides.append(f"+loss={loss}")
        overrides += [f"+loss_kwargs.{k}={config[k]}" for k in ("alpha", "beta", "gamma") if k in config]
    with initialize_config_dir(config_dir=yamls, version_base="1.2"):
        cfg = compose(f"{method}.yaml", overrides=overrides)
    OmegaConf.set_struct(cfg, False)
    return parse_cfg(cfg)


def solo_checkout():
    path = os.environ.get("SOLO_LEARN_DIR") or os.path.join(sys.prefix, "solo-learn")
    if not os.path.isfile(os.path.join(path, "main_pretrain.py")):
        raise ValueError(f"no solo-learn main checkout at {path}; set SOLO_LEARN_DIR or build .venvs/solo-main")
    return path


class TwoCrops:
    """solo's batch layout ``[indexes, [crop1, crop2], targets]`` from tensors, the harness's augmentations."""

    def __init__(self, x, y, batch_size, seed):
        import torch

        self.x, self.y, self.batch_size = x, y, batch_size
        self.g = torch.Generator().manual_seed(seed)

    def __len__(self):
        return len(self.x) // self.batch_size  # drop_last, as solo's pretraining loader

    def __iter__(self):
        import torch

        from benchmarks.harness.augment import augment

        order = torch.randperm(len(self.x), generator=self.g)
        for i in range(len(self)):
            idx = order[i * self.batch_size : (i + 1) * self.batch_size]
            x = self.x[idx]
            yield idx, [augment(x, self.g), augment(x, self.g)], self.y[idx]


def build(method, loss, config, a, classes_dir, seed):
    import rpc_solo  # noqa: F401  (the loss switch; the Hydra hook does this in solo's own script)
    from lightning.pytorch import seed_everything
    from solo.methods import METHODS
    from solo.methods.base import BaseMethod

    BaseMethod._BACKBONES.setdefault("bench_cnn", bench_cnn)
    cfg = solo_cfg(method, loss, config, a, classes_dir)
    cfg.seed = seed
    seed_everything(seed)
    return METHODS[cfg.method](cfg)


def pretrain(method, loss, config, a, x, y, classes_dir, seed):
    """Train one model; returns (model, seconds, steps, last logged loss)."""
    from lightning.pytorch import Trainer

    model = build(method, loss, config, a, classes_dir, seed)
    loader = TwoCrops(x, y, a.batch_size, seed)
    trainer = Trainer(
        accelerator=a.accelerator,
        devices=1,
        max_epochs=a.epochs,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    t0 = time.time()
    trainer.fit(model, loader)
    name = (
        f"train_{loss}_loss"
        if loss != "own"
        else {"mocov3": "train_contrastive_loss", "nnclr": "train_nnclr_loss"}.get(method, "train_nce_loss")
    )
    last = float(trainer.callback_metrics.get(f"{name}_epoch", float("nan")))
    return model, time.time() - t0, trainer.global_step, last


def probe(backbone, split, seed, device="cpu"):
    from benchmarks.harness.probes import embed, probe_features

    x_fit, y_fit, x_eval, y_eval = split
    backbone = backbone.to(device)
    scores = probe_features(embed(backbone, x_fit, device), y_fit, embed(backbone, x_eval, device), y_eval, seed=seed)
    return {k: scores[k] for k in ("linear", "knn")}


# ------------------------------------------------------------------------------------------- the run


def yaml_defaults(method):
    """lr and temperature of solo's own ``<method>.yaml``."""
    from omegaconf import OmegaConf

    cfg = OmegaConf.load(os.path.join(solo_checkout(), "scripts", "pretrain", "cifar", f"{method}.yaml"))
    return {"lr": float(cfg.optimizer.lr), "temperature": float(cfg.method_kwargs.temperature)}


def run(a, command=""):
    import tempfile

    import torch

    from benchmarks.harness import machine
    from benchmarks.harness.data import load_fashion_mnist, splits
    from benchmarks.harness.rows import ResultsFile, run_key
    from benchmarks.harness.tuning import record, trials

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    device = "cuda" if a.accelerator == "gpu" else "cpu"
    data = load_fashion_mnist(a.data_dir, a.train, a.test)
    parts = splits(data, a.val, seed=0)
    classes_dir = tempfile.mkdtemp(prefix="solo_classes_")
    for c in range(10):  # solo's parse_cfg counts the class folders of a custom data set
        os.makedirs(os.path.join(classes_dir, str(c)))
    out = ResultsFile(os.path.join(a.out, "results.json"), vars(a), fresh=a.fresh)
    out.extra["command"] = command
    t_start = time.time()

    def save_row(row):
        out.add(row, time.time() - t_start)
        print(json.dumps({k: row[k] for k in row if k not in ("config",)}, default=str), flush=True)

    for seed in range(a.seeds):  # baselines: raw pixels (seed-free) and the untrained backbone
        for name, features in (("raw pixels", None), ("random init", bench_cnn)):
            key = run_key(part="test", name=name, seed=seed if features else 0)
            if out.find(key) or (features is None and seed > 0):
                continue
            if features is None:
                from benchmarks.harness.probes import probe_features

                x_tr, y_tr, x_te, y_te = parts["test"]
                s = probe_features(x_tr.flatten(1), y_tr, x_te.flatten(1), y_te, seed=0)
                scores = {k: s[k] for k in ("linear", "knn")}
            else:
                torch.manual_seed(seed)
                scores = probe(bench_cnn(), parts["test"], seed, device)
            save_row(dict(key=key, part="test", name=name, method="-", loss="-", seed=seed, **scores))

    selections = out.extra.setdefault("tuning", {})
    for method in a.methods:
        yaml = yaml_defaults(method)
        for loss in a.losses:
            pair = f"{method}/{loss}"
            scored = []
            for i, config in enumerate(
                trials(
                    trial_space(loss, yaml), {**yaml, "alpha": 0.3, "beta": 0.01, "gamma": 0.1}, a.k, seed=0, name=pair
                )
            ):
                key = run_key(part="val", method=method, loss=loss, trial=i)
                row = out.find(key)
                if row is None:
                    x_fit, y_fit = parts["val"][0], parts["val"][1]
                    model, wall, steps, last = pretrain(method, loss, config, a, x_fit, y_fit, classes_dir, seed=0)
                    scores = probe(model.backbone, parts["val"], 0, device)
                    row = dict(
                        key=key,
                        part="val",
                        method=method,
                        loss=loss,
                        trial=i,
                        config=config,
                        steps=steps,
                        wall=round(wall, 1),
                        last_loss=last,
                        **scores,
                    )
                    save_row(row)
                scored.append({"config": row["config"], "score": row["linear"]})
            selections[pair] = record(scored, a.k)
            out.save(time.time() - t_start)
            for seed in range(a.seeds):
                key = run_key(part="test", method=method, loss=loss, seed=seed)
                if out.find(key):
                    continue
                config = selections[pair]["selected"]
                model, wall, steps, last = pretrain(
                    method, loss, config, a, parts["test"][0], parts["test"][1], classes_dir, seed=seed
                )
                save_row(
                    dict(
                        key=key,
                        part="test",
                        name=f"{method} {LABELS[loss]}",
                        method=method,
                        loss=loss,
                        seed=seed,
                        config=config,
                        steps=steps,
                        wall=round(wall, 1),
                        last_loss=last,
                        **probe(model.backbone, parts["test"], seed, device),
                    )
                )
    out.extra["machine"] = machine.describe(device=device)
    out.save(time.time() - t_start)
    return out


# ------------------------------------------------------------------------------------------- report


def render(folder):
    """results.md (and results.png when matplotlib is there) from results.json."""
    from benchmarks.harness.rows import cell, select
    from benchmarks.harness.tables import markdown

    with open(os.path.join(folder, "results.json")) as f:
        saved = json.load(f)
    rows, a = saved["results"], saved["args"]
    test = [r for r in rows if r["part"] == "test"]
    body = []
    for name in ("raw pixels", "random init"):
        got = select(test, name=name)
        if got:
            body.append(
                [f"{name} (baseline)", "-", cell([r["linear"] for r in got]), cell([r["knn"] for r in got]), "-"]
            )
    for method in a["methods"]:
        for loss in a["losses"]:
            got = select(test, method=method, loss=loss)
            if not got:
                continue
            chosen = saved.get("tuning", {}).get(f"{method}/{loss}", {}).get("selected", {})
            knobs = ", ".join(f"{k} {v:.3g}" for k, v in sorted(chosen.items()))
            body.append([method, LABELS[loss], cell([r["linear"] for r in got]), cell([r["knn"] for r in got]), knobs])
    table = markdown(
        ["method", "loss", "linear", "20-NN", "selected (yaml lr before solo scales it)"], body, align="llrrl"
    )
    steps = sorted({r["steps"] for r in test if "steps" in r})
    lines = [
        "# solo-learn main: each InfoNCE method's own loss vs `loss: rpc` and `loss: mio` (CPU scale)",
        "",
        f"Command: `{saved.get('command', '?')}`",
        "",
        f"Machine: {saved.get('machine', '?')}. Wall time of the whole run: {saved['wall'] / 60:.0f} min.",
        "",
        f"Data: Fashion-MNIST, the first {a['train']} training images (pretraining and the probes' training set; "
        f"{a['val']} of them carved out as the validation set for tuning) and the first {a['test']} test images. "
        f"Small CNN backbone, {a['epochs']} epochs at batch {a['batch_size']} ({', '.join(map(str, steps))} steps), "
        f"each method's own cifar yaml otherwise (optimiser, lr scaled by batch/256, scheduler without warmup). "
        f"Tuning: k = {a['k']} trials per (method, loss), selected by the validation linear probe; then "
        f"{a['seeds']} seeds. Top-1 in %, mean ± std over seeds (frozen backbone features).",
        "",
        table,
        "",
        "GPU scale (same script and protocol, not run here): `.venvs/solo-main/bin/python benchmarks/solo/switch.py "
        "--accelerator gpu --train 50000 --val 10000 --test 10000 --epochs 20 --batch-size 256 --width 2048 "
        "--queue 16384 --k 4 --out benchmarks/solo/switch_gpu`.",
        "",
    ]
    with open(os.path.join(folder, "results.md"), "w") as f:
        f.write("\n".join(lines))
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return
    from benchmarks.harness.plots import figure, save

    fig, (ax,) = figure(1, width=9.0)
    import numpy as np

    for j, loss in enumerate(a["losses"]):
        means = [np.mean([100 * r["linear"] for r in select(test, method=m, loss=loss)] or [0]) for m in a["methods"]]
        stds = [np.std([100 * r["linear"] for r in select(test, method=m, loss=loss)] or [0]) for m in a["methods"]]
        ax.bar(np.arange(len(a["methods"])) - 0.3 + 0.3 * j, means, 0.28, yerr=stds, capsize=3, label=LABELS[loss])
    for i, name in enumerate(("raw pixels", "random init")):
        got = select(test, name=name)
        if got:
            ax.axhline(np.mean([100 * r["linear"] for r in got]), color=f"C{i + 4}", ls="--", lw=1, label=name)
    ax.set_xticks(np.arange(len(a["methods"])))
    ax.set_xticklabels(a["methods"])
    ax.set_ylabel("frozen linear probe top-1 (%)")
    lows = [100 * r["linear"] for r in test]
    ax.set_ylim(max(0, min(lows) - 5), min(100, max(lows) + 3))
    ax.legend(fontsize=8, loc="lower right")
    save(fig, os.path.join(folder, "results.png"))


def parse(argv=None):
    from benchmarks.harness.data import DEFAULT_FASHION_MNIST

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="benchmarks/solo/switch")
    p.add_argument("--render", metavar="FOLDER", help="only write results.md/png from FOLDER/results.json")
    p.add_argument("--data-dir", default=DEFAULT_FASHION_MNIST)
    p.add_argument("--train", type=int, default=2048)
    p.add_argument("--val", type=int, default=512)
    p.add_argument("--test", type=int, default=1000)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--width", type=int, default=256, help="projector/predictor hidden width (output: width/4)")
    p.add_argument("--queue", type=int, default=1024, help="mocov2plus/nnclr queue (a multiple of the batch)")
    p.add_argument("--k", type=int, default=2, help="tuning trials per (method, loss)")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--methods", nargs="+", default=list(METHODS5), choices=METHODS5)
    p.add_argument("--losses", nargs="+", default=list(LOSSES), choices=LOSSES)
    p.add_argument("--accelerator", default="cpu", choices=("cpu", "gpu"))
    p.add_argument("--fresh", action="store_true", help="ignore an existing results.json")
    return p.parse_args(argv)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    a = parse(argv)
    if a.render:
        render(a.render)
        return None
    out = run(a, "OMP_NUM_THREADS=1 .venvs/solo-main/bin/python benchmarks/solo/switch.py " + " ".join(argv))
    render(a.out)
    return out


if __name__ == "__main__":
    main()
