"""Data loading: Fashion-MNIST (Xiao et al. 2017) from its IDX gz files, plus a validation split.

The validation split is carved from the *training* file (never the test file), with a fixed
permutation, so that hyperparameter selection never sees the test images.

>>> import torch
>>> idx_fit, idx_val = validation_split(10, 3, seed=0)
>>> sorted(torch.cat([idx_fit, idx_val]).tolist()) == list(range(10)), len(idx_val)
(True, 3)
"""

import os

from rpc_datasets import FASHION_MNIST_DIR

DEFAULT_FASHION_MNIST = FASHION_MNIST_DIR  # Debian's dataset-fashion-mnist
FASHION_MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


def load_fashion_mnist(data_dir, train_size, test_size):
    """(x_train, y_train, x_test, y_test): float (n, 1, 28, 28) in [0, 1] and int64 labels.

    Reads the first ``train_size`` / ``test_size`` images with ``rpc_datasets.idx.read_idx`` (Debian's
    dataset-fashion-mnist installs the files in /usr/share/datasets/fashion-mnist; nothing downloads)."""
    import torch
    from rpc_datasets.idx import read_idx

    missing = [n for n in FASHION_MNIST_FILES if not os.path.exists(os.path.join(data_dir, n))]
    if missing:
        raise ValueError(
            f"Fashion-MNIST not found in {data_dir!r} (missing {missing}); install Debian's "
            f"dataset-fashion-mnist or pass --data-dir"
        )
    arrays = [read_idx(os.path.join(data_dir, n)) for n in FASHION_MNIST_FILES]
    xs = [
        torch.tensor(a[:k], dtype=torch.float32)[:, None] / 255.0
        for a, k in ((arrays[0], train_size), (arrays[2], test_size))
    ]
    ys = [torch.tensor(a[:k], dtype=torch.long) for a, k in ((arrays[1], train_size), (arrays[3], test_size))]
    return xs[0], ys[0], xs[1], ys[1]


def validation_split(n, val_size, seed=0):
    """(fit indices, validation indices) of a fixed random permutation of range(n)."""
    import torch

    if not 0 <= val_size < n:
        raise ValueError(f"validation size {val_size} must be in [0, {n})")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return perm[val_size:], perm[:val_size]


def splits(data, val_size, seed=0):
    """{"test": (x_fit, y_fit, x_test, y_test), "val": (x_fit', y_fit', x_val, y_val)}.

    "test": the whole training slice against the test slice (final numbers); "val": the training slice
    minus ``val_size`` images against those held-out training images (selection only). Without a
    validation split (``val_size`` 0) only "test" is present."""
    x_tr, y_tr, x_te, y_te = data
    out = {"test": (x_tr, y_tr, x_te, y_te)}
    if val_size:
        fit, val = validation_split(len(x_tr), val_size, seed)
        fit, val = fit.to(x_tr.device), val.to(x_tr.device)
        out["val"] = (x_tr[fit], y_tr[fit], x_tr[val], y_tr[val])
    return out
