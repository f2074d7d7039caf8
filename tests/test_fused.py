"""The linear-time path (``rpc_plugins.moments.statistics``, one autograd Function) against the dense reference.

Exact in float64 (loss and every input gradient within 1e-9 of the dense score-matrix path and of
the loop reference), gradcheck, normalisation's backward folded in (eps clamp
included), and what it keeps for the backward: the inputs and three N-vectors, no normalised or
concatenated copy.
"""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import rpc_plugins as rp
from rpc_plugins.moments import statistics
from tests import reference

EXACT = dict(rtol=1e-9, atol=1e-12)


def exact_at_score_scale(temperature, normalize, *embeddings):
    """EXACT, with the absolute floor raised to ~100 float64 ulps of the gradient's largest term.

    Entries that are zero in exact arithmetic (e.g. every gradient of an L2-normalised 1-D embedding)
    come out of both paths as round-off of terms of size max f^2 / |x| (a squared score, divided by the
    row norm that the normalisation's backward divides by); two exact implementations then differ by a
    few ulps of that size, not by 1e-12.
    """
    rows = torch.cat([x for x in embeddings if x is not None])
    norms = rows.norm(dim=1)
    max_score = 1.0 / temperature if normalize else float(norms.max()) ** 2 / temperature
    term = max_score**2 / max(float(norms.min()), 1e-12)
    return dict(rtol=EXACT["rtol"], atol=max(EXACT["atol"], 1e-14 * term))


def views(n, d, seed, extra=0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    out0 = torch.randn(n, d, generator=g, dtype=torch.float64) * scale
    out1 = out0 + 0.5 * torch.randn(n, d, generator=g, dtype=torch.float64) * scale
    negatives = torch.randn(extra, d, generator=g, dtype=torch.float64) if extra else None
    return out0, out1, negatives


def loss_and_grads(loss_fn, out0, out1, negatives=None):
    leaves = [t.clone().requires_grad_(True) if t is not None else None for t in (out0, out1, negatives)]
    loss = loss_fn(*leaves)
    loss.backward()
    return [loss.detach()] + [t.grad for t in leaves if t is not None]


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(2, 30),
    d=st.integers(1, 40),
    extra=st.integers(0, 4),
    normalize=st.booleans(),
    log_t=st.floats(-2, 2),
    seed=st.integers(0, 2**16),
)
def test_fused_equals_dense_fp64(n, d, extra, normalize, log_t, seed):
    out0, out1, negatives = views(n, d, seed, extra)
    kw = dict(alpha=0.4, beta=0.05, gamma=0.7, temperature=10.0**log_t, normalize=normalize)
    dense = loss_and_grads(rp.RPCLoss(method="dense", **kw), out0, out1, negatives)
    fused = loss_and_grads(rp.RPCLoss(method="gram", **kw), out0, out1, negatives)
    tolerance = exact_at_score_scale(kw["temperature"], normalize, out0, out1, negatives)
    for a, b in zip(dense, fused):
        torch.testing.assert_close(b, a, **tolerance)


@pytest.mark.parametrize("normalize,temperature", [(True, 0.2), (False, 3.0)])
@pytest.mark.parametrize("extra", [0, 3])
def test_fused_matches_loop_reference(normalize, temperature, extra):
    out0, out1, negatives = views(5, 4, seed=extra, extra=extra)
    want = reference.two_view_loss_loop(
        "rpc", out0, out1, temperature, normalize, negatives, alpha=0.3, beta=0.01, gamma=0.1
    )
    got = rp.RPCLoss(temperature=temperature, normalize=normalize, method="gram")(out0, out1, negatives)
    torch.testing.assert_close(got, torch.as_tensor(want), **EXACT)


@pytest.mark.parametrize("normalize", [True, False])
def test_gradcheck_loss_and_statistics(normalize):
    out0, out1, negatives = views(4, 3, seed=1, extra=2)
    leaves = [t.requires_grad_(True) for t in (out0, out1, negatives)]
    loss_fn = rp.RPCLoss(temperature=0.5, normalize=normalize, method="gram")
    assert torch.autograd.gradcheck(loss_fn, leaves)
    assert torch.autograd.gradcheck(lambda a, b: statistics(a, b, normalize), leaves[:2])
    assert torch.autograd.gradcheck(lambda q: statistics(q, None, normalize), leaves[2:])


def test_statistics_match_their_definitions():
    out0, out1, _ = views(7, 5, seed=2)
    u, v = (torch.nn.functional.normalize(x, dim=1) for x in (out0, out1))
    x = torch.cat([u, v])
    s = statistics(out0, out1)
    torch.testing.assert_close(s.total, x.sum(0), **EXACT)
    torch.testing.assert_close(s.gram, x.t() @ x, **EXACT)
    p = (u * v).sum(1)
    want = [(x * x).sum(), ((x * x).sum(1) ** 2).sum(), 2 * p.sum(), 2 * (p * p).sum()]
    for got, w in zip(s[2:], want):
        torch.testing.assert_close(got, w, **EXACT)


def test_zero_rows_follow_f_normalize():
    """Rows with norm 0 (or below F.normalize's eps) get F.normalize's gradient (no projection)."""
    out0, out1, _ = views(6, 4, seed=4)
    out0[2] = 0.0
    out1[4] = 1e-14
    dense = loss_and_grads(rp.RPCLoss(method="dense", temperature=0.5), out0, out1)
    fused = loss_and_grads(rp.RPCLoss(method="gram", temperature=0.5), out0, out1)
    for a, b in zip(dense, fused):
        torch.testing.assert_close(b, a, **EXACT)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_low_precision_rows_upcast(dtype):
    out0, out1, _ = views(300, 16, seed=5)
    a, b = out0.to(dtype), out1.to(dtype)
    got = loss_and_grads(rp.RPCLoss(method="gram"), a, b)
    want = loss_and_grads(rp.RPCLoss(method="dense"), a.float(), b.float())
    assert got[0].dtype == torch.float32 and got[1].dtype == dtype
    torch.testing.assert_close(got[0], want[0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(got[1].float(), want[1], rtol=1e-2, atol=1e-5)  # gradient rounded to dtype


def test_memory_bank_negatives_without_gradient():
    out0, out1, negatives = views(8, 6, seed=6, extra=20)
    dense = loss_and_grads(rp.RPCLoss(method="dense"), out0, out1)
    loss_fn = rp.RPCLoss(method="gram")
    a, b = out0.clone().requires_grad_(True), out1.clone().requires_grad_(True)
    loss = loss_fn(a, b, negatives)  # negatives is a plain tensor (no grad), like a bank
    loss.backward()
    d_loss = rp.RPCLoss(method="dense")(out0, out1, negatives)
    torch.testing.assert_close(loss.detach(), d_loss, **EXACT)
    assert not torch.allclose(loss.detach(), dense[0])


def test_backward_keeps_no_copy_of_the_batch():
    """Saved for the backward: the inputs themselves (no copy) and O(N) vectors only."""
    n, d = 4096, 64
    out0 = torch.randn(n, d, requires_grad=True)
    out1 = torch.randn(n, d, requires_grad=True)
    inputs = {out0.data_ptr(), out1.data_ptr()}
    extra_bytes = []

    def pack(t):
        if t.data_ptr() not in inputs:
            extra_bytes.append(t.numel() * t.element_size())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = rp.RPCLoss(method="gram")(out0, out1)
    loss.backward()
    batch_bytes = n * d * 4
    assert sum(extra_bytes) <= 8 * n * 4 + 64 * d * d * 8, extra_bytes  # a few N-vectors and d x d matrices
    assert max(extra_bytes) < batch_bytes / 8


HAS_HOOKS = hasattr(getattr(torch.autograd, "graph", None), "saved_tensors_hooks")
test_backward_keeps_no_copy_of_the_batch = pytest.mark.skipif(
    not HAS_HOOKS, reason="saved_tensors_hooks needs torch >= 1.10"
)(test_backward_keeps_no_copy_of_the_batch)
