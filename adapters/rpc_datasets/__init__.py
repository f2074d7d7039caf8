"""Data-file helpers shared by the demo, the benchmarks and the adapters (kept out of the torch-only
core ``rpc_plugins``): nothing is downloaded; files come from Debian packages or the user.

>>> from rpc_datasets import FASHION_MNIST_DIR, read_idx
>>> FASHION_MNIST_DIR
'/usr/share/datasets/fashion-mnist'
"""

from .idx import FASHION_MNIST_DIR, read_idx

__all__ = ["read_idx", "FASHION_MNIST_DIR"]
