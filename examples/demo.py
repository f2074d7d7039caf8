"""Demo: pretrain a small encoder with RPC and with lightly's NTXentLoss, then probe it.

Relative Predictive Coding vs SimCLR's NT-Xent on
scikit-learn's embedded digits (1797 8x8 images; or Fashion-MNIST with --dataset fashion-mnist
when Debian's dataset-fashion-mnist is installed). Same encoder, augmentations, optimiser and
steps for both; frozen features are evaluated with a logistic-regression probe (all labels, and 5
labels per class, where pretraining shows on digits) and kNN.

    python examples/demo.py                    # digits, about two minutes on 2 CPU cores
    python examples/demo.py --dataset fashion-mnist --epochs 5
"""

import argparse
import os
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

import rpc_plugins as rp
from rpc_datasets import FASHION_MNIST_DIR as FASHION_DIR
from rpc_datasets.idx import read_idx as _read_idx


def load_digits_dataset():
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32)[:, None] / 16.0  # (1797, 1, 8, 8) in [0, 1]
    return x, torch.tensor(d.target)


def load_fashion_mnist(limit):
    x = _read_idx(os.path.join(FASHION_DIR, "train-images-idx3-ubyte.gz"))[:limit]
    y = _read_idx(os.path.join(FASHION_DIR, "train-labels-idx1-ubyte.gz"))[:limit]
    return torch.tensor(x, dtype=torch.float32)[:, None] / 255.0, torch.tensor(y, dtype=torch.long)


def augment(x):
    """Random shift (pad + crop), brightness/contrast jitter, Gaussian noise and a random erased patch."""
    n, _, h, w = x.shape
    pad = max(1, h // 8)
    padded = F.pad(x, (pad, pad, pad, pad))
    dx, dy = torch.randint(0, 2 * pad + 1, (2,))
    x = padded[:, :, dy : dy + h, dx : dx + w]
    x = x * (0.6 + 0.8 * torch.rand(n, 1, 1, 1)) + 0.2 * (torch.rand(n, 1, 1, 1) - 0.5)
    x = x + 0.1 * torch.randn_like(x)
    s = max(1, h // 3)
    i, j = torch.randint(0, h - s + 1, (2,))
    mask = torch.rand(n, 1, 1, 1) < 0.5
    x[:, :, i : i + s, j : j + s] = torch.where(
        mask, torch.zeros_like(x[:, :, i : i + s, j : j + s]), x[:, :, i : i + s, j : j + s]
    )
    return x


class Encoder(nn.Module):
    def __init__(self, width=64, out_dim=64):
        super().__init__()
        self.backbone = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(2),
            nn.Flatten(),
        )
        self.head = nn.Sequential(nn.Linear(4 * width, 256), nn.BatchNorm1d(256), nn.ReLU(), nn.Linear(256, out_dim))

    def forward(self, x):
        return self.head(self.backbone(x))


def pretrain(name, loss_fn, x, args):
    torch.manual_seed(args.seed)
    model = Encoder()
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    losses = []
    steps = args.epochs * (len(x) // args.batch_size)
    bar = tqdm(range(steps), desc=f"pretrain {name}", ncols=90)
    for step in bar:
        idx = torch.randint(0, len(x), (args.batch_size,))
        loss = loss_fn(model(augment(x[idx])), model(augment(x[idx])))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        bar.set_postfix(loss=f"{losses[-1]:.3f}")
    return model, losses


@torch.no_grad()
def features(model, x):
    model.eval()
    return torch.cat([model.backbone(x[i : i + 512]) for i in range(0, len(x), 512)]).numpy()


def evaluate(model, x_train, y_train, x_test, y_test):
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.preprocessing import StandardScaler

    f_train, f_test = features(model, x_train), features(model, x_test)
    scaler = StandardScaler().fit(f_train)
    probe = LogisticRegression(max_iter=2000).fit(scaler.transform(f_train), y_train)
    linear = probe.score(scaler.transform(f_test), y_test)
    knn = KNeighborsClassifier(n_neighbors=5, metric="cosine").fit(f_train, y_train).score(f_test, y_test)
    return linear, knn, few_label_probe(f_train, np.asarray(y_train), f_test, np.asarray(y_test))


def few_label_probe(f_train, y_train, f_test, y_test, per_class=5, draws=5):
    """Linear probe fitted on only `per_class` labelled images per class (mean over `draws` random draws).

    With all labels even a random-init encoder scores ~99% on digits; with 5 labels per class the
    features themselves must separate the classes, so this column is where pretraining shows."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scores = []
    for draw in range(draws):
        rng = np.random.default_rng(draw)
        idx = np.concatenate(
            [rng.choice(np.flatnonzero(y_train == c), per_class, replace=False) for c in np.unique(y_train)]
        )
        scaler = StandardScaler().fit(f_train[idx])
        probe = LogisticRegression(max_iter=2000).fit(scaler.transform(f_train[idx]), y_train[idx])
        scores.append(probe.score(scaler.transform(f_test), y_test))
    return float(np.mean(scores))


def plot(curves, scores, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4))
    for name, losses in curves.items():
        smooth = np.convolve(losses, np.ones(10) / 10, mode="valid")
        ax0.plot(smooth, label=name)
    ax0.set(xlabel="step", ylabel="training loss (own scale, smoothed)", title="pretraining")
    ax0.legend()
    names = list(scores)
    pos = np.arange(len(names))
    ax1.bar(pos - 0.27, [scores[n][0] * 100 for n in names], 0.27, label="linear probe (all labels)")
    ax1.bar(pos, [scores[n][1] * 100 for n in names], 0.27, label="kNN (k=5)")
    ax1.bar(pos + 0.27, [scores[n][2] * 100 for n in names], 0.27, label="linear probe (5 labels/class)")
    ax1.set_xticks(pos)
    ax1.set_xticklabels(names)
    low = min(min(v) for v in scores.values()) * 100
    ax1.set(ylabel="test top-1 (%)", title="frozen features", ylim=(max(0, low - 10), 100))
    ax1.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=["digits", "fashion-mnist"], default="digits")
    parser.add_argument("--limit", type=int, default=12000, help="fashion-mnist: training images used")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="outputs/demo")
    args = parser.parse_args()
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    start = time.time()

    x, y = load_digits_dataset() if args.dataset == "digits" else load_fashion_mnist(args.limit)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    split = int(0.7 * len(x))
    x_train, y_train, x_test, y_test = x[perm[:split]], y[perm[:split]], x[perm[split:]], y[perm[split:]]

    from lightly.loss import NTXentLoss

    objectives = {
        "RPC (rpc_plugins)": rp.RPCLoss(),
        "NT-Xent (lightly)": NTXentLoss(temperature=0.5),
    }
    curves, scores = {}, {}
    for name, loss_fn in objectives.items():
        model, curves[name] = pretrain(name, loss_fn, x_train, args)
        scores[name] = evaluate(model, x_train, y_train, x_test, y_test)
    torch.manual_seed(args.seed)
    scores["random init"] = evaluate(Encoder(), x_train, y_train, x_test, y_test)

    print(
        f"\n{args.dataset}: {len(x_train)} train / {len(x_test)} test images, {args.epochs} epochs, "
        f"batch {args.batch_size}, seed {args.seed}"
    )
    print("| objective | linear probe top-1 (all labels) | kNN top-1 | linear probe top-1 (5 labels/class) |")
    print("|---|---:|---:|---:|")
    for name, (linear, knn, few) in scores.items():
        print(f"| {name} | {linear * 100:.1f}% | {knn * 100:.1f}% | {few * 100:.1f}% |")
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, f"demo_{args.dataset}.png")
    plot(curves, scores, path)
    print(f"plot: {path}   ({time.time() - start:.0f} s)")


if __name__ == "__main__":
    main()
