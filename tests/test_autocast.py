"""Under autocast the loss runs in float32 and stays close to the float32 result."""

import pytest
import torch

import rpc_plugins as rp

BF16_RTOL = 2e-2  # bf16 rounding of the embeddings themselves (8 bits of mantissa)

pytestmark = pytest.mark.skipif(not hasattr(torch, "autocast"), reason="torch.autocast needs torch >= 1.10")


@pytest.mark.parametrize("method", ["dense", "gram"])
@pytest.mark.parametrize("normalize,temperature", [(True, 0.1), (False, 128.0)])
def test_bf16_autocast_on_cpu(method, normalize, temperature):
    torch.manual_seed(0)
    layer = torch.nn.Linear(64, 128)
    x0, x1 = torch.randn(512, 64), torch.randn(512, 64)
    loss_fn = rp.RPCLoss(temperature=temperature, normalize=normalize, method=method)
    want = loss_fn(layer(x0), layer(x1))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out0, out1 = layer(x0), layer(x1)
        assert out0.dtype == torch.bfloat16
        got = loss_fn(out0, out1)
    assert got.dtype == torch.float32 and torch.isfinite(got)
    torch.testing.assert_close(got, want, rtol=BF16_RTOL, atol=1e-3)


def test_bf16_large_scores_do_not_overflow():
    # unnormalised, big embeddings: squared scores ~1e10 would overflow fp16 and lose all digits in bf16
    out0 = torch.randn(256, 128) * 300
    out1 = out0 + torch.randn(256, 128)
    loss_fn = rp.RPCLoss(normalize=False, temperature=1.0)
    got = loss_fn(out0.bfloat16(), out1.bfloat16())
    want = loss_fn(out0.bfloat16().float(), out1.bfloat16().float())
    assert torch.isfinite(got)
    torch.testing.assert_close(got, want)
