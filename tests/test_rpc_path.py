"""``RPCLoss()(out0, out1)``, built, forward and backward, runs code from at most four core files.

The path a reader follows (and a GPU takes): ``losses.py`` (the module), ``objectives/rpc.py`` (the
objective on the moments), ``moments.py`` (the moments from embeddings, one autograd Function) and
``_validation.py`` (input checks). Recorded with a profiler hook on every Python call.
"""

import os
import sys
import threading

import torch

import rpc_plugins as rp

CORE = os.path.dirname(rp.__file__)


def core_files_called(fn):
    seen = set()

    def hook(frame, event, arg):
        if event == "call" and frame.f_code.co_filename.startswith(CORE):
            seen.add(os.path.relpath(frame.f_code.co_filename, CORE))

    sys.setprofile(hook)
    threading.setprofile(hook)
    try:
        fn()
    finally:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]
    return seen


def test_rpc_loss_forward_and_backward_open_four_core_files():
    out0 = torch.randn(256, 128, requires_grad=True)
    out1 = torch.randn(256, 128, requires_grad=True)

    def train_step():
        rp.RPCLoss()(out0, out1).backward()

    files = core_files_called(train_step)
    assert files == {"losses.py", "objectives/rpc.py", "moments.py", "_validation.py"}
    assert out0.grad is not None and torch.isfinite(out0.grad).all()
