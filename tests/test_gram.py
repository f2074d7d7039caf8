"""The linear-time Gram filler equals the dense filler: fp64 to 1e-10 relative, fp32 to a stated tolerance.

Tolerances for float32 (measured by this file's tests, see README "Precision"): the loss agrees with
the float64 result to 2e-5 relative for N up to 65536 at 1, 2 and 16 threads, because products are
formed in float32 but every sum over rows or pairs is accumulated in float64 (the dense path sums
each score row in float32, then the rows in float64; the Gram path adds float32 chunk Gram matrices
in float64), so neither the BLAS nor the thread count decides the digits.
"""

import functools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import rpc_plugins as rp
from rpc_plugins.moments import choose_method
from rpc_plugins.moments import prepare_views
from rpc_plugins.pairing import two_view_pairs, two_view_scores

FP32_RTOL = 2e-5


def masked_dense_moments(out0, out1, temperature, normalize, negatives=None):
    """The generic dense filler: full score matrix + masks (no subtraction at all)."""
    z0, z1, _ = prepare_views(out0, out1, normalize)
    q = None if negatives is None else (torch.nn.functional.normalize(negatives, dim=1) if normalize else negatives)
    return rp.ScoreMoments.from_scores(*two_view_scores(two_view_pairs(z0, z1), temperature, q))


def gram_moments(out0, out1, temperature, normalize, negatives=None):
    return rp.embedding_moments(out0, out1, temperature, normalize, negatives, method="gram")


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 40),
    d=st.integers(1, 70),
    extra=st.integers(0, 5),
    normalize=st.booleans(),
    log_temperature=st.floats(-4, 4),
    seed=st.integers(0, 2**16),
)
def test_gram_equals_dense_fp64(n, d, extra, normalize, log_temperature, seed):
    if n == 1 and extra == 0:
        extra = 1  # a batch of one needs extra negatives
    g = torch.Generator().manual_seed(seed)
    out0, out1 = (torch.randn(n, d, generator=g, dtype=torch.float64) for _ in range(2))
    negatives = torch.randn(extra, d, generator=g, dtype=torch.float64) if extra else None
    t = 10.0**log_temperature
    dense = masked_dense_moments(out0, out1, t, normalize, negatives)
    gram = gram_moments(out0, out1, t, normalize, negatives)
    for name, a, b in zip(rp.ScoreMoments._fields, dense, gram):
        scale = max(abs(float(a)), abs(float(dense.pos_sq_sum)), 1e-300)
        assert abs(float(a) - float(b)) <= 1e-10 * scale, name
    loss_dense = rp.RPCLoss(temperature=t, normalize=normalize, method="dense")(out0, out1, negatives)
    loss_gram = rp.RPCLoss(temperature=t, normalize=normalize, method="gram")(out0, out1, negatives)
    torch.testing.assert_close(loss_gram, loss_dense, rtol=1e-10, atol=1e-10 * max(1.0, abs(float(loss_dense))))


@pytest.mark.parametrize("n,d", [(3, 64), (50, 8), (17, 17)])
@pytest.mark.parametrize("normalize", [True, False])
def test_gram_gradients_equal_dense(n, d, normalize):
    g = torch.Generator().manual_seed(n * d)
    base = [torch.randn(n, d, generator=g, dtype=torch.float64) for _ in range(2)]
    grads = {}
    for method in ("dense", "gram"):
        out0, out1 = (x.clone().requires_grad_(True) for x in base)
        rp.RPCLoss(temperature=0.3, normalize=normalize, method=method)(out0, out1).backward()
        grads[method] = (out0.grad, out1.grad)
    for a, b in zip(grads["dense"], grads["gram"]):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@pytest.fixture(params=[1, 2, 16], ids=lambda t: f"{t}threads")
def threads(request):
    """Run at 1, 2 and 16 intra-op threads (BLAS and reductions split their sums differently)."""
    before = torch.get_num_threads()
    torch.set_num_threads(request.param)
    yield request.param
    torch.set_num_threads(before)


@pytest.mark.parametrize("n", [256, 4096])
@pytest.mark.parametrize("normalize,temperature", [(True, 0.1), (True, 0.01), (False, 128.0)])
def test_fp32_paths_match_fp64(n, normalize, temperature, threads):
    out0, out1 = correlated_views(n)
    want = reference_fp64_loss(n, temperature, normalize)
    for method in ("dense", "gram"):
        got = rp.RPCLoss(temperature=temperature, normalize=normalize, method=method)(out0, out1)
        assert got.dtype == torch.float32
        torch.testing.assert_close(got.double(), want, rtol=FP32_RTOL, atol=0.0, msg=f"{method}, {threads} threads")


def correlated_views(n):
    g = torch.Generator().manual_seed(n)
    out0, out1 = torch.randn(n, 128, generator=g), torch.randn(n, 128, generator=g)
    return out0, out0 + 0.3 * out1  # correlated views: positives much larger than negatives


@functools.lru_cache(maxsize=None)
def reference_fp64_loss(n, temperature, normalize):
    """float64 dense loss from the masked score matrix (the generic filler, no subtraction)."""
    out0, out1 = correlated_views(n)
    moments = masked_dense_moments(out0.double(), out1.double(), temperature, normalize)
    return rp.rpc_loss_from_moments(moments, 0.3, 0.01, 0.1)


def test_fp32_gram_accurate_at_65536():
    """N = 65536 (2N = 131072 views): no N x N matrix, float32 inputs, within FP32_RTOL of float64."""
    g = torch.Generator().manual_seed(0)
    out0 = torch.randn(65536, 128, generator=g)
    out1 = out0 + 0.1 * torch.randn(65536, 128, generator=g)
    loss_fn = rp.RPCLoss(method="gram")
    got, want = loss_fn(out0, out1), loss_fn(out0.double(), out1.double())
    torch.testing.assert_close(got.double(), want, rtol=FP32_RTOL, atol=0.0)
    m32 = rp.embedding_moments(out0, out1, 0.1, True, method="gram")
    m64 = rp.embedding_moments(out0.double(), out1.double(), 0.1, True, method="gram")
    # the negatives' second moment survives the subtraction of the much larger self/positive terms
    torch.testing.assert_close(m32.neg_sq_sum, m64.neg_sq_sum, rtol=1e-4, atol=0.0)


def test_auto_picks_gram_when_cheaper():
    assert choose_method("auto", 512, 512, 128) == "gram"
    assert choose_method("auto", 16, 16, 128) == "dense"
    assert choose_method("dense", 512, 512, 128) == "dense"
    assert choose_method("dense", 16, 16, 128, reduction="all_reduce") == "gram"  # no embedding crosses ranks
    with pytest.raises(ValueError, match="method must be"):
        choose_method("fast", 16, 16, 128)
