"""Read IDX files (the MNIST / Fashion-MNIST format of Debian's dataset-fashion-mnist).

A data helper shared by the demo, the benchmarks and the solo adapter's image-folder export, so
that none of them needs a dataset package (nothing is downloaded).

>>> import gzip, os, tempfile, numpy as np
>>> path = os.path.join(tempfile.mkdtemp(), "x.gz")
>>> with gzip.open(path, "wb") as f:
...     _ = f.write(bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3]) + bytes(range(6)))
>>> read_idx(path).tolist()
[[0, 1, 2], [3, 4, 5]]
"""

import gzip

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    """A gzipped IDX file of unsigned bytes as a numpy array of its stored shape."""
    import numpy as np

    with gzip.open(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[2] != 8:
        raise ValueError(f"{path}: not an IDX file of unsigned bytes (magic {data[:4]!r})")
    ndim = data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)
