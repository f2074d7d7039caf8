"""Offline image folders for solo-learn's ``--dataset custom``: Fashion-MNIST or scikit-learn digits.

CIFAR/STL/ImageNet cannot be downloaded here, so the launcher and tests export a labelled image
folder (``<out>/train/<class>/<i>.png``, ``<out>/val/<class>/<i>.png``) that solo reads with
torchvision's ImageFolder.

    python -m rpc_solo.data --source fashion-mnist --out data/solo_fmnist --train 5000 --val 1000
"""

import argparse
import os

import numpy as np

from rpc_datasets.idx import read_idx as _read_idx

FASHION_DIR = "/usr/share/datasets/fashion-mnist"


def load(source):
    """(uint8 images (n, h, w), int labels (n,))."""
    if source == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        return (d.images * 255 / 16).astype(np.uint8), d.target
    if source == "fashion-mnist":
        return (
            _read_idx(os.path.join(FASHION_DIR, "train-images-idx3-ubyte.gz")),
            _read_idx(os.path.join(FASHION_DIR, "train-labels-idx1-ubyte.gz")),
        )
    raise ValueError(f"unknown source {source!r}; use 'digits' or 'fashion-mnist'")


def export(source, out, n_train, n_val, size=32, seed=0):
    """Write train/ and val/ class folders of RGB PNGs resized to ``size``; returns ``out``."""
    from PIL import Image

    images, labels = load(source)
    order = np.random.default_rng(seed).permutation(len(images))[: n_train + n_val]
    for split, idx in (("train", order[:n_train]), ("val", order[n_train:])):
        for i in idx:
            folder = os.path.join(out, split, str(int(labels[i])))
            os.makedirs(folder, exist_ok=True)
            img = Image.fromarray(images[i]).resize((size, size), Image.BILINEAR).convert("RGB")
            img.save(os.path.join(folder, f"{i}.png"))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", choices=["digits", "fashion-mnist"], default="fashion-mnist")
    parser.add_argument("--out", required=True)
    parser.add_argument("--train", type=int, default=5000)
    parser.add_argument("--val", type=int, default=1000)
    parser.add_argument("--size", type=int, default=32)
    args = parser.parse_args()
    export(args.source, args.out, args.train, args.val, args.size)
    print(f"wrote {args.train} train / {args.val} val images to {args.out}")


if __name__ == "__main__":
    main()
