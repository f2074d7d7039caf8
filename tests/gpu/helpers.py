"""What the GPU tests share: a float64 reference of RPC written from the formulas, its error bounds, sync probes.

The reference builds the score matrix of the two-view (SimCLR 2N) layout explicitly, a block of anchor
rows at a time, in float64 on the CPU, and masks each anchor's self and partner columns: none of the
package's Gram identities. Relative Predictive Coding (Tsai et al., ICLR 2021, arXiv 2103.11275, eq. 2),
with f(x, y) = <x, y> / T on the 2N views (L2-normalised for the cosine critic):

    loss = -(E_P[f] - alpha E_Q[f] - beta/2 E_P[f^2] - gamma/2 E_Q[f^2])

P: the 2N pairs (x_i, partner(i)); Q: every other pair (i, j), j != i, partner(i), and every anchor
with each extra negative; E_P, E_Q: means over their 2N and 2N(2N - 2) + 2N M pairs.

Error bounds. A float32 computation of a sum of K products has, with high probability, a relative
error of at most lambda sqrt(K) u against the sum of the terms' absolute values (u = 2^-24, the unit
roundoff; Higham and Mary, "A new approach to probabilistic rounding error analysis", SIAM J. Sci.
Comput. 41, 2019: the bound fails with probability at most 2 exp(-lambda^2 / 2), 3e-8 at lambda = 6).
The longest such sum in a linear-time RPC has K = 2N + M + D^2 terms (a D x D Gram entry over the 2N + M
rows, then the D^2 entries of its squared norm), so ``float32_rtol`` is 6 sqrt(K) u, and the reference
returns each quantity's *scale*: the same sum taken over absolute values, every pair of the score matrix
included (a linear-time path gets E_Q from all pairs minus self and partner, so its error scales with
all of them). A result returned in a low-precision dtype adds that dtype's rounding: at most u_dtype =
eps / 2 relative, and for float16 an absolute half-spacing of its subnormals (tiny * eps / 2).

>>> import torch
>>> out0, out1 = torch.randn(5, 3, dtype=torch.float64), torch.randn(5, 3, dtype=torch.float64)
>>> ref = rpc_reference(out0, out1, block=2)
>>> import rpc_plugins
>>> bool(torch.isclose(ref["loss"], rpc_plugins.RPCLoss(method="dense")(out0, out1).double(), rtol=1e-12))
True
"""

import contextlib
import math
import warnings

import torch
import torch.nn.functional as F

EXACT = torch.float64
LAMBDA = 6.0
RPC = dict(alpha=0.3, beta=0.01, gamma=0.1)  # the paper's ImageNet values, the package's defaults


def views(n, d, device, seed=0, dtype=torch.float32, extra=0):
    """Two correlated views (N, D) and ``extra`` negatives (or None), drawn on ``device``, then cast."""
    g = torch.Generator(device=device).manual_seed(seed)
    out0 = torch.randn(n, d, generator=g, device=device)
    out1 = out0 + 0.5 * torch.randn(n, d, generator=g, device=device)
    negatives = torch.randn(extra, d, generator=g, device=device).to(dtype) if extra else None
    return out0.to(dtype), out1.to(dtype), negatives


def float32_rtol(n, d, extra=0):
    """6 sqrt(K) u with K = 2N + M + D^2: the probabilistic float32 bound of the longest sum (module docstring)."""
    return LAMBDA * math.sqrt(2 * n + extra + d * d) * torch.finfo(torch.float32).eps / 2


def rounding(dtype, numel):
    """(relative, absolute-normwise) error of rounding a float32 result to ``dtype`` (0, 0 for float32)."""
    if dtype in (torch.float32, torch.float64):
        return 0.0, 0.0
    info = torch.finfo(dtype)
    subnormal_half_spacing = info.tiny * info.eps / 2 if dtype == torch.float16 else 0.0
    return info.eps / 2, subnormal_half_spacing * math.sqrt(numel)


def _block_sums(z, q, temperature, block):
    """Sums over the explicit score matrix, ``block`` anchor rows at a time (float64, autograd through z, q)."""
    rows, n = z.shape[0], z.shape[0] // 2
    names = ("pos", "pos_sq", "neg", "neg_sq", "pos_abs", "all_abs", "all_sq")
    sums = dict.fromkeys(names, torch.zeros((), dtype=EXACT))
    for start in range(0, rows, block):
        stop = min(start + block, rows)
        local = torch.arange(stop - start)
        anchors = torch.arange(start, stop)
        partner = (anchors + n) % rows
        scores = z[start:stop] @ z.t() / temperature  # (block, 2N): every pair, self and partner included
        negative = torch.ones_like(scores, dtype=torch.bool)
        negative[local, anchors] = False
        negative[local, partner] = False
        pos = scores[local, partner]
        neg = torch.where(negative, scores, torch.zeros_like(scores))
        bank = z[start:stop] @ q.t() / temperature if q is not None else scores[:, :0]
        part = dict(
            pos=pos.sum(),
            pos_sq=(pos * pos).sum(),
            neg=neg.sum() + bank.sum(),
            neg_sq=(neg * neg).sum() + (bank * bank).sum(),
            pos_abs=pos.abs().sum(),
            all_abs=scores.abs().sum() + bank.abs().sum(),
            all_sq=(scores * scores).sum() + (bank * bank).sum(),
        )
        sums = {k: sums[k] + part[k] for k in names}
    return sums


def rpc_reference(out0, out1, negatives=None, *, temperature=0.1, normalize=True, block=1024, **knobs):
    """RPC on the values of ``out0, out1 (N, D)`` (any dtype, any device), in float64 on the CPU.

    Returns a dict: ``loss`` and its ``loss_scale``; ``grad0, grad1`` (d loss / d out0, out1) and their
    scales ``grad_scale0, grad_scale1`` (norms); ``moments``: name -> (reference value, scale), names as
    in ``rpc_plugins.ScoreMoments`` (sums; counts are exact integers).
    """
    alpha, beta, gamma = (knobs.get(k, RPC[k]) for k in ("alpha", "beta", "gamma"))
    a = out0.detach().cpu().to(EXACT).requires_grad_(True)
    b = out1.detach().cpu().to(EXACT).requires_grad_(True)
    z = torch.cat([F.normalize(a, dim=1), F.normalize(b, dim=1)]) if normalize else torch.cat([a, b])
    q = None
    if negatives is not None and negatives.shape[0] > 0:
        q = negatives.detach().cpu().to(EXACT)
        q = F.normalize(q, dim=1) if normalize else q
    rows, extra = z.shape[0], 0 if q is None else q.shape[0]
    pos_count, neg_count = rows, rows * (rows - 2) + rows * extra
    s = _block_sums(z, q, temperature, block)
    loss = -(s["pos"] / pos_count - beta / 2 * s["pos_sq"] / pos_count)
    loss = loss + (alpha * s["neg"] + gamma / 2 * s["neg_sq"]) / neg_count
    grad0, grad1 = torch.autograd.grad(loss, (a, b), retain_graph=True)
    # scales: each term's size over absolute values (every pair for E_Q), and its gradient's norm
    terms = [
        (s["pos"], s["pos_abs"], 1 / pos_count),
        (s["pos_sq"], s["pos_sq"], beta / 2 / pos_count),
        (None, s["all_abs"], alpha / neg_count),
        (None, s["all_sq"], gamma / 2 / neg_count),
    ]
    # gradients of the all-pairs sums the linear-time paths start from: <S, S> / T and ||Z^T Z||^2 / T^2
    zq = z if q is None else torch.cat([z, q])
    total = z.sum(0)
    all_sum = (total @ zq.sum(0) if q is not None else total @ total) / temperature
    all_sq = (z.t() @ z * (zq.t() @ zq)).sum() / temperature**2
    loss_scale, grad_scale0, grad_scale1 = 0.0, 0.0, 0.0
    for (value, size, weight), full in zip(terms, (None, None, all_sum, all_sq)):
        target = value if full is None else full
        g0, g1 = torch.autograd.grad(target, (a, b), retain_graph=True)
        loss_scale += weight * float(size.detach())
        grad_scale0 += weight * float(g0.norm())
        grad_scale1 += weight * float(g1.norm())
    moments = dict(
        pos_sum=(s["pos"].detach(), float(s["pos_abs"])),
        pos_sq_sum=(s["pos_sq"].detach(), float(s["pos_sq"])),
        pos_count=(pos_count, 0.0),
        neg_sum=(s["neg"].detach(), float(s["all_abs"])),
        neg_sq_sum=(s["neg_sq"].detach(), float(s["all_sq"])),
        neg_count=(neg_count, 0.0),
    )
    return dict(
        loss=loss.detach(),
        loss_scale=loss_scale,
        grad0=grad0,
        grad1=grad1,
        grad_scale0=grad_scale0,
        grad_scale1=grad_scale1,
        moments=moments,
    )


def assert_within(got, want, bound, what):
    """|got - want| <= bound (scalars) or ||got - want|| <= bound (tensors), in float64 on the CPU."""
    got = torch.as_tensor(got).detach().cpu().to(EXACT)
    want = torch.as_tensor(want).detach().cpu().to(EXACT)
    assert torch.isfinite(got).all(), f"{what}: not finite"
    error = float((got - want).norm())
    assert error <= bound, f"{what}: error {error:.3g} > bound {bound:.3g} (reference norm {float(want.norm()):.3g})"


@contextlib.contextmanager
def no_host_sync(device):
    """Inside, on CUDA, any synchronising call (a value read on the host, a blocking copy) raises RuntimeError
    (``torch.cuda.set_sync_debug_mode("error")``). On another device nothing is checked."""
    if torch.device(device).type != "cuda":
        yield
        return
    torch.cuda.synchronize()
    previous = torch.cuda.get_sync_debug_mode()
    torch.cuda.set_sync_debug_mode("error")
    try:
        yield
    finally:
        torch.cuda.set_sync_debug_mode(previous)


class SyncCount:
    """The number of synchronising CUDA calls inside ``count_host_syncs`` (0 off CUDA: nothing is counted)."""

    n = 0


@contextlib.contextmanager
def count_host_syncs(device):
    """Counts synchronising CUDA calls inside: sync debug mode "warn" warns once per call; the warnings are counted."""
    counter = SyncCount()
    if torch.device(device).type != "cuda":
        yield counter
        return
    torch.cuda.synchronize()
    previous = torch.cuda.get_sync_debug_mode()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            yield counter
        finally:
            torch.cuda.set_sync_debug_mode(previous)
    counter.n = sum("synchronizing CUDA operation" in str(w.message) for w in caught)


def leaf(*tensors):
    """Detached copies that require grad: the inputs of one forward + backward."""
    return [t.detach().clone().requires_grad_(True) for t in tensors]
