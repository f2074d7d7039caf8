"""``torch.compile`` of RPCLoss on CUDA equals eager, forward and backward, with the forward in one graph.

``fullgraph=True`` turns any graph break into an error, so a value read on the host (a break) fails here
too; AOTAutograd compiles the backward from the same graph. Compiled and eager float32 results may differ only by rounding: both are held to the float32 bound of
``helpers`` against the same float64 reference (a fused kernel adds in another order, never more roundings).
"""

import shutil

import pytest
import torch

import rpc_plugins as rp

from .helpers import assert_within, float32_rtol, leaf, rpc_reference, views

N, D = 1024, 128


def needs_a_compiler():
    """Inductor's CUDA kernels (Triton) build a small host-side launcher with the system's C compiler."""
    if not any(shutil.which(cc) for cc in ("cc", "gcc", "clang")):
        pytest.skip("torch.compile's Triton backend needs a C compiler (cc, gcc or clang); none on PATH")


@pytest.mark.parametrize("kwargs", [dict(), dict(normalize=False, temperature=128.0)])
def test_compiled_rpc_loss_equals_eager(device, kwargs):
    needs_a_compiler()
    torch._dynamo.reset()
    loss_fn = rp.RPCLoss(**kwargs)

    def forward(a, b):
        return loss_fn(a, b)

    out0, out1, _ = views(N, D, device, seed=4)
    ref = rpc_reference(out0, out1, temperature=kwargs.get("temperature", 0.1), normalize=kwargs.get("normalize", True))
    rtol = float32_rtol(N, D)
    compiled = torch.compile(forward, fullgraph=True)
    results = []
    for name, run in (("eager", forward), ("compiled", compiled), ("compiled again", compiled)):
        a, b = leaf(out0, out1)
        loss = run(a, b)
        loss.backward()
        assert_within(loss, ref["loss"], rtol * ref["loss_scale"], f"{name}: loss")
        assert_within(a.grad, ref["grad0"], rtol * ref["grad_scale0"], f"{name}: gradient of out0")
        assert_within(b.grad, ref["grad1"], rtol * ref["grad_scale1"], f"{name}: gradient of out1")
        results.append((loss.detach(), a.grad, b.grad))
    scales = (ref["loss_scale"], ref["grad_scale0"], ref["grad_scale1"])
    for eager, compiled_result, scale in zip(results[0], results[1], scales):  # each within the bound of float64
        assert_within(compiled_result, eager, 2 * rtol * scale, "compiled vs eager")
