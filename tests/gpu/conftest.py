"""Every test in this folder runs on a CUDA device; without one the folder is skipped as a whole.

lightly skips its CUDA tests the same way (``unittest.skipUnless(torch.cuda.is_available(), ...)``);
here one hook marks every item of the folder, so the tests still collect (imports, parametrisation)
on any machine and say why they did not run. ``benchmarks/gpu.sh run`` runs them on a GPU.
"""

import os

import pytest
import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device (torch.cuda.is_available() is False)")
    for item in items:
        if os.path.abspath(str(item.fspath)).startswith(HERE + os.sep):
            item.add_marker(skip)


@pytest.fixture
def device():
    """The device every test runs on."""
    return "cuda"
