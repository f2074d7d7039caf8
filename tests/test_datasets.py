"""rpc_datasets: the IDX reader lives outside the torch-only core (no torch import needed)."""

import gzip
import subprocess
import sys

import pytest

np = pytest.importorskip("numpy", reason="rpc_datasets' IDX reader returns numpy arrays")
from rpc_datasets import read_idx  # noqa: E402


def write(path, payload):
    with gzip.open(path, "wb") as f:
        f.write(payload)
    return str(path)


def test_reads_shape_and_bytes(tmp_path):
    header = bytes([0, 0, 8, 3]) + (2).to_bytes(4, "big") + (2).to_bytes(4, "big") + (3).to_bytes(4, "big")
    array = read_idx(write(tmp_path / "x.gz", header + bytes(range(12))))
    assert array.shape == (2, 2, 3) and array.dtype == np.uint8
    assert array.reshape(-1).tolist() == list(range(12))


def test_rejects_a_non_byte_idx_file(tmp_path):
    with pytest.raises(ValueError, match="not an IDX file of unsigned bytes"):
        read_idx(write(tmp_path / "bad.gz", bytes([0, 0, 13, 1, 0, 0, 0, 1]) + b"abcd"))


def test_core_no_longer_ships_it_and_does_not_import_it():
    code = (
        "import sys, rpc_plugins; assert 'rpc_datasets' not in sys.modules; import importlib.util as u; "
        "assert u.find_spec('rpc_plugins.idx') is None"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
