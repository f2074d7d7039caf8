"""RPC's moments from embeddings and RPCLoss forward + backward on CUDA against a float64 reference.

The reference (``helpers.rpc_reference``) is an explicit score matrix in float64 on the CPU, on the very
values the device computes with (inputs cast to bf16 or fp16 first where the case says so). Precisions:
float32; bf16 and fp16 autocast around float32 inputs; and around bf16 / fp16 inputs, what a model under
autocast hands the loss. The loss leaves autocast, upcasts to float32 and sums in float64, so every case
is held to the float32 bound of ``helpers``; a gradient returned in bf16 or fp16 adds that rounding.
"""

import pytest
import torch

import rpc_plugins as rp
from tests import reference as loops

from .helpers import assert_within, float32_rtol, leaf, rounding, rpc_reference, views

N, D = 2048, 128
PRECISIONS = {  # name: (input dtype, autocast dtype or None)
    "float32": (torch.float32, None),
    "bf16 autocast": (torch.float32, torch.bfloat16),
    "bf16 autocast, bf16 inputs": (torch.bfloat16, torch.bfloat16),
    "fp16 autocast": (torch.float32, torch.float16),
    "fp16 autocast, fp16 inputs": (torch.float16, torch.float16),
}
PAPER = rp.RPCLoss.from_paper("cifar10")
SETTINGS = {  # name: (RPCLoss keyword arguments, extra negatives)
    "defaults": (dict(), 0),
    "cifar10 preset": (
        dict(**PAPER.knobs, temperature=PAPER.temperature, normalize=False),
        0,
    ),
    "defaults, 512 extra negatives": (dict(), 512),
}
_REFERENCES = {}


def case(device, dtype, setting):
    """(out0, out1, negatives, knobs, reference), the reference computed once per input values."""
    kwargs, extra = SETTINGS[setting]
    out0, out1, negatives = views(N, D, device, seed=1, dtype=dtype, extra=extra)
    key = (device, dtype, setting)
    if key not in _REFERENCES:
        knobs = {k: v for k, v in kwargs.items() if k in ("alpha", "beta", "gamma")}
        _REFERENCES[key] = rpc_reference(
            out0,
            out1,
            negatives,
            temperature=kwargs.get("temperature", 0.1),
            normalize=kwargs.get("normalize", True),
            **knobs,
        )
    return out0, out1, negatives, kwargs, _REFERENCES[key]


def autocast(device, dtype):
    return torch.autocast(torch.device(device).type, dtype=dtype or torch.float32, enabled=dtype is not None)


@pytest.mark.parametrize("normalize", [True, False])
def test_the_reference_equals_the_loop_reference(normalize):
    """The block reference against ``tests/reference.py``'s pair loops (an independent transcription)."""
    out0, out1, negatives = views(5, 4, "cpu", seed=2, dtype=torch.float64, extra=3)
    knobs = dict(alpha=0.4, beta=0.05, gamma=0.7)
    want = loops.two_view_loss_loop("rpc", out0, out1, 0.5, normalize, negatives, **knobs)
    got = rpc_reference(out0, out1, negatives, temperature=0.5, normalize=normalize, block=2, **knobs)
    assert abs(float(got["loss"]) - float(want)) <= 1e-12 * max(1.0, abs(float(want)))


def test_the_reference_gradients_equal_the_dense_float64_path():
    out0, out1, negatives = views(13, 6, "cpu", seed=3, dtype=torch.float64, extra=5)
    a, b = leaf(out0, out1)
    loss = rp.RPCLoss(method="dense", temperature=0.2)(a, b, negatives)
    loss.backward()
    ref = rpc_reference(out0, out1, negatives, temperature=0.2, block=7)
    for got, want in ((loss, ref["loss"]), (a.grad, ref["grad0"]), (b.grad, ref["grad1"])):
        torch.testing.assert_close(got.double(), want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("setting", list(SETTINGS))
@pytest.mark.parametrize("precision", list(PRECISIONS))
def test_moments_from_embeddings(device, precision, setting):
    dtype, amp = PRECISIONS[precision]
    out0, out1, negatives, kwargs, ref = case(device, dtype, setting)
    with autocast(device, amp):
        moments = rp.embedding_moments(
            out0,
            out1,
            kwargs.get("temperature", 0.1),
            kwargs.get("normalize", True),
            negatives,
            method="gram",
        )
    rtol = float32_rtol(N, D, 0 if negatives is None else negatives.shape[0])
    for name, (want, scale) in ref["moments"].items():
        got = getattr(moments, name)
        if name.endswith("count"):
            assert float(got) == want, name
        else:
            assert got.dtype == torch.float64 and got.device.type == torch.device(device).type, name
            assert_within(got, want, rtol * scale, f"{precision}, {setting}: {name}")


@pytest.mark.parametrize("setting", list(SETTINGS))
@pytest.mark.parametrize("precision", list(PRECISIONS))
def test_rpc_loss_forward_and_backward(device, precision, setting):
    dtype, amp = PRECISIONS[precision]
    out0, out1, negatives, kwargs, ref = case(device, dtype, setting)
    a, b = leaf(out0, out1)
    with autocast(device, amp):
        loss = rp.RPCLoss(**kwargs)(a, b, negatives)
    loss.backward()
    assert loss.dtype == torch.float32 and a.grad.dtype == dtype and b.grad.dtype == dtype
    rtol = float32_rtol(N, D, 0 if negatives is None else negatives.shape[0])
    where = f"{precision}, {setting}"
    assert_within(loss, ref["loss"], rtol * ref["loss_scale"], f"{where}: loss")
    relative, absolute = rounding(dtype, a.numel())
    for grad, want, scale in ((a.grad, ref["grad0"], ref["grad_scale0"]), (b.grad, ref["grad1"], ref["grad_scale1"])):
        bound = rtol * scale + relative * float(want.norm()) + absolute
        assert_within(grad, want, bound, f"{where}: gradient")
