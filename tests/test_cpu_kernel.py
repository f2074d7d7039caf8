"""The opt-in C++ kernel (rpc_plugins.cpu_kernel) against the eager chunked kernels and float64.

It is the same math as ``_fused_chunks``, so everything is compared with the eager path on the same
inputs: loss and every input gradient within 1e-9 in float64 (chunked, split over threads, zero and
clamped rows, one view without gradient, raw rows), float32 within the float64 tolerance of the
precision tests at 1, 2 and 16 threads, and the fallbacks: non-contiguous inputs, ``disable``, and a
build that fails (a clear error, or one warning when asked for through the environment).
"""

import pytest
import torch

import rpc_plugins as rp
from rpc_plugins import _fused_chunks as fc
from rpc_plugins import cpu_kernel
from rpc_plugins import fused_statistics as vs
from tests.test_fused import EXACT, loss_and_grads, views
from tests.test_gram import FP32_RTOL, correlated_views, reference_fp64_loss


@pytest.fixture
def kernel():
    """The kernel enabled for one test (built once per machine and torch version), then disabled."""
    cpu_kernel.enable()
    yield cpu_kernel.loaded()
    cpu_kernel.disable()


def eager_and_kernel(run):
    """``run()`` on the eager kernels, then with the C++ kernel enabled."""
    cpu_kernel.disable()
    eager = run()
    cpu_kernel.enable()
    try:
        return eager, run()
    finally:
        cpu_kernel.disable()


@pytest.mark.parametrize("normalize", [True, False])
def test_kernel_equals_eager_fp64_chunked_over_threads(monkeypatch, normalize):
    out0, out1, negatives = views(1000, 24, seed=11, extra=7)
    out0[5] = 0.0  # F.normalize's clamp: a zero row ...
    out1[9] = 1e-14  # ... and one below eps
    monkeypatch.setattr(vs, "_FAST_CHUNK_BYTES", 1)  # 64-row chunks, the last one short
    monkeypatch.setattr(fc, "_PARALLEL_MIN_CHUNKS", 1)  # over two worker threads
    loss_fn = rp.RPCLoss(method="gram", normalize=normalize, temperature=0.3)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        eager, fused = eager_and_kernel(lambda: loss_and_grads(loss_fn, out0, out1, negatives))
    finally:
        torch.set_num_threads(threads)
    for want, got in zip(eager, fused):
        torch.testing.assert_close(got, want, **EXACT)


def test_kernel_statistics_and_one_sided_gradient(kernel):
    """Statistics equal their definitions; a view without gradient gets none (the other one is exact)."""
    out0, out1, _ = views(300, 16, seed=12)
    a = out0.clone().requires_grad_(True)
    stats = rp.view_statistics(a, out1)
    u, v = torch.nn.functional.normalize(out0, dim=1), torch.nn.functional.normalize(out1, dim=1)
    x = torch.cat([u, v])
    torch.testing.assert_close(stats.gram, x.t() @ x, **EXACT)
    torch.testing.assert_close(stats.pos_sq, 2 * ((u * v).sum(1) ** 2).sum(), **EXACT)
    (stats.gram.sum() + stats.pos_sq).backward()
    ref = out0.clone().requires_grad_(True)
    ux = torch.nn.functional.normalize(ref, dim=1)
    xr = torch.cat([ux, v])
    ((xr.t() @ xr).sum() + 2 * ((ux * v).sum(1) ** 2).sum()).backward()
    torch.testing.assert_close(a.grad, ref.grad, **EXACT)


@pytest.mark.parametrize("threads", [1, 2, 16])
def test_kernel_fp32_matches_fp64(kernel, threads):
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for n in (256, 4096):
            out0, out1 = correlated_views(n)
            for normalize, temperature in [(True, 0.1), (True, 0.01), (False, 128.0)]:
                got = rp.RPCLoss(temperature=temperature, normalize=normalize, method="gram")(out0, out1)
                want = reference_fp64_loss(n, temperature, normalize)
                torch.testing.assert_close(
                    got.double(), want, rtol=FP32_RTOL, atol=0.0, msg=f"n={n}, normalize={normalize}, {threads} threads"
                )
    finally:
        torch.set_num_threads(before)


def test_non_contiguous_inputs_use_the_eager_path(kernel, monkeypatch):
    out0, out1, _ = views(200, 12, seed=13)
    strided0, strided1 = out0.t().contiguous().t(), out1[:, :]  # column-major, and contiguous
    assert not strided0.is_contiguous()
    assert vs._implementation(strided0, strided1)[1] is None and vs._implementation(out0, out1)[1] is kernel
    loss_fn = rp.RPCLoss(method="gram")
    got = loss_and_grads(loss_fn, strided0, strided1)
    cpu_kernel.disable()
    want = loss_and_grads(loss_fn, out0, out1)
    for w, g in zip(want, got):
        torch.testing.assert_close(g.contiguous(), w, **EXACT)  # (torch 1.x compares strides too)


def test_disable_returns_to_eager(kernel):
    assert cpu_kernel.is_enabled() and cpu_kernel.loaded() is kernel
    cpu_kernel.disable()
    assert not cpu_kernel.is_enabled() and cpu_kernel.loaded() is None


def test_failed_build_names_the_cause(monkeypatch):
    def no_compiler(verbose):
        raise OSError("c++: command not found")

    monkeypatch.setattr(cpu_kernel, "_module", None)
    monkeypatch.setattr(cpu_kernel, "_enabled", False)
    monkeypatch.setattr(cpu_kernel, "_build", no_compiler)
    with pytest.raises(RuntimeError, match=r"_fused_cpu\.cpp failed \(OSError: c\+\+: command not found\).*compiler"):
        cpu_kernel.enable()
    assert not cpu_kernel.is_enabled()
    # asked for through the environment: one warning, then the eager path
    monkeypatch.setattr(cpu_kernel, "_env_tried", False)
    monkeypatch.setenv(cpu_kernel.ENV_VAR, "1")
    with pytest.warns(RuntimeWarning, match="RPC_PLUGINS_CPU_KERNEL is set but"):
        assert cpu_kernel.loaded() is None
    assert cpu_kernel.loaded() is None  # no second attempt, no second warning
