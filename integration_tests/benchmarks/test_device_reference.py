"""The device run's float64 block reference (benchmarks/device/reference.py) and its driver's bookkeeping.

The reference decides part a's verdicts on the GPU, so it is checked here against two independent
computations: the package's dense float64 path and the loop reference written from the formulas
(tests/reference.py), for any block size. The driver's cut-off handling is checked on a real child
process that is ended at its time limit.
"""

import json
import os
import sys

import pytest
import torch

import rpc_plugins as rp
from tests import reference as loops

from benchmarks.device import reference
from benchmarks.device import run as driver

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

KW = dict(alpha=0.4, beta=0.05, gamma=0.7)


def views(n, d, extra, seed):
    g = torch.Generator().manual_seed(seed)
    out0 = torch.randn(n, d, generator=g, dtype=torch.float64)
    out1 = out0 + 0.5 * torch.randn(n, d, generator=g, dtype=torch.float64)
    return out0, out1, (torch.randn(extra, d, generator=g, dtype=torch.float64) if extra else None)


def dense_loss_and_grads(out0, out1, negatives, **kwargs):
    a, b = out0.clone().requires_grad_(True), out1.clone().requires_grad_(True)
    loss = rp.RPCLoss(method="dense", **kwargs)(a, b, negatives)
    loss.backward()
    return loss.detach(), a.grad, b.grad


@pytest.mark.parametrize("normalize,temperature", [(True, 0.2), (False, 3.0)])
@pytest.mark.parametrize("extra", [0, 5])
@pytest.mark.parametrize("block", [1, 7, 1000])
def test_block_reference_equals_the_dense_path(normalize, temperature, extra, block):
    out0, out1, negatives = views(13, 6, extra, seed=block + extra)
    kwargs = dict(KW, temperature=temperature, normalize=normalize)
    want = dense_loss_and_grads(out0, out1, negatives, **kwargs)
    got = reference.rpc_loss_and_grads(out0, out1, negatives, block=block, **kwargs)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("normalize", [True, False])
def test_block_reference_equals_the_loop_reference(normalize):
    out0, out1, negatives = views(5, 4, 3, seed=1)
    want = loops.two_view_loss_loop("rpc", out0, out1, 0.5, normalize, negatives, **KW)
    got, _, _ = reference.rpc_loss_and_grads(out0, out1, negatives, temperature=0.5, normalize=normalize, block=2, **KW)
    assert abs(float(got) - float(want)) <= 1e-12 * max(1.0, abs(float(want)))


def test_reference_reads_low_precision_values_exactly():
    out0, out1, _ = views(9, 8, 0, seed=2)
    a, b = out0.bfloat16(), out1.bfloat16()
    got = reference.rpc_loss_and_grads(a, b)
    want = dense_loss_and_grads(a.double(), b.double(), None)
    assert got[1].dtype == torch.float64
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-10, atol=1e-12)


def test_relative_error():
    assert reference.relative_error(torch.tensor([1.0, 1.0]), torch.tensor([1.0, 1.0])) == 0.0
    assert reference.relative_error(torch.tensor([3.0, 4.0]), torch.tensor([0.0, 0.0])) > 1e290  # no 0/0


def running(pid):
    """True while ``pid`` is a live process (a zombie waiting for its reaper counts as ended)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_part_ended_at_its_limit_keeps_its_rows(tmp_path):
    """A child that wrote rows and then hangs is ended at its limit, with the process it started (a worker
    pool would hold the GPU); its file says so and keeps the rows."""
    path, log, pid_file = str(tmp_path / "x.json"), str(tmp_path / "x.log"), tmp_path / "worker.pid"
    child = (
        f"import subprocess, sys, time; sys.path[:0] = [{os.path.join(ROOT, 'benchmarks', 'device')!r}, {ROOT!r}]; "
        "w = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']); "
        f"open({str(pid_file)!r}, 'w').write(str(w.pid)); "
        f"from results import PartFile; p = PartFile({path!r}, 'x', 'test', True); p.add(dict(n=1)); "
        "print('row written', flush=True); time.sleep(60)"
    )
    rc, seconds = driver.run_part([sys.executable, "-c", child], log, limit=6, env=dict(os.environ))
    assert rc is None and seconds < 40
    data = driver.complete(path, "x", "test", rc, seconds, log)
    assert data["status"].startswith("cut off") and data["rows"] == [{"n": 1}] and "row written" in data["log_tail"]
    assert json.load(open(path))["status"] == data["status"]
    assert not running(int(pid_file.read_text()))


def test_a_part_that_wrote_nothing_gets_a_file_that_says_why(tmp_path):
    path, log = str(tmp_path / "y.json"), str(tmp_path / "y.log")
    rc, seconds = driver.run_part(
        [sys.executable, "-c", "raise SystemExit('no CUDA device')"], log, limit=30, env=dict(os.environ)
    )
    data = driver.complete(path, "y", "test", rc, seconds, log)
    assert rc == 1 and data["status"] == "failed (exit code 1)" and "no CUDA device" in data["log_tail"]
    assert data["rows"] == []


def test_module_examples():
    """The ``>>>`` examples of the device run's helpers."""
    import doctest
    import importlib

    for name in ("reference", "results", "subprocess_watch"):
        result = doctest.testmod(importlib.import_module(f"benchmarks.device.{name}"))
        assert result.failed == 0 and result.attempted > 0, name
