"""Eager kernels of the fused two-view statistics: cache-sized chunks, few passes, no allocation per chunk.

On a CPU the statistics are bound by memory traffic, not by the d x d products: one elementwise
pass over a chunk that has left the cache costs as much as that chunk's Gram matrix. So each chunk
(``rows`` rows of each view, sized to stay in the L2 cache) is normalised once into a preallocated
buffer ``[u; v | 1]`` whose ones column lets one matrix product return the Gram matrix and the
column sums together; in the backward one product ``[u; v | 1] @ [[G + G^T + c I], [g_total]]``
gives the linear part of every row's gradient, the rest is three per-row-scaled additions written
straight into the gradient. Used for float32/float64 inputs outside ``torch.compile`` (the compiler
fuses the simple formulation in ``fused_statistics`` itself). Math: see ``fused_statistics``.
"""
from concurrent.futures import ThreadPoolExecutor

import torch
from torch import Tensor

_EXACT = torch.float64
_EPS = 1e-12
_PARALLEL_MIN_CHUNKS = 32


def _row_norms(x: Tensor, out: Tensor) -> None:
    if hasattr(torch, "linalg") and hasattr(torch.linalg, "vector_norm"):
        torch.linalg.vector_norm(x, dim=1, out=out)
    else:  # torch < 1.9
        out.copy_(x.norm(dim=1))


def _in_parallel(n: int, rows: int, work) -> list:
    """Run ``work(start, stop)`` on contiguous, chunk-aligned row ranges, one per intra-op thread.

    Each range runs single-threaded in its own Python thread (torch kernels release the GIL):
    cache-sized chunks are far too small to split across threads, and on a shared machine a
    parallel region that waits for a descheduled thread costs milliseconds. The intra-op thread
    count is set to 1 for the duration (new threads read it when they first run a kernel) and
    restored afterwards.
    """
    chunks = -(-n // rows)
    # below _PARALLEL_MIN_CHUNKS chunks the work is too short to pay for threads (and their buffers)
    workers = max(1, min(torch.get_num_threads(), chunks // _PARALLEL_MIN_CHUNKS))
    bounds = [rows * (chunks * k // workers) for k in range(workers)] + [n]
    ranges = [(lo, min(hi, n)) for lo, hi in zip(bounds[:-1], bounds[1:]) if lo < hi]
    def run(bounds):
        with torch.no_grad():  # grad mode is thread-local: new threads start with it on
            return work(*bounds)

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        if len(ranges) == 1:
            return [run(ranges[0])]
        with ThreadPoolExecutor(len(ranges)) as pool:
            return list(pool.map(run, ranges))
    finally:
        torch.set_num_threads(previous)


def _row_dots(x: Tensor, y: Tensor, tmp: Tensor, out: Tensor) -> None:
    """out_i = <x_i, y_i> (one fused pass where torch has linalg.vecdot, torch >= 2.0)."""
    if hasattr(torch, "linalg") and hasattr(torch.linalg, "vecdot"):
        torch.linalg.vecdot(x, y, out=out)
    else:
        torch.sum(torch.mul(x, y, out=tmp), 1, out=out)


def forward(a: Tensor, b: Tensor, normalize: bool, rows: int):
    """Statistics (total, gram, [self_sum, self_sq, pos_sum, pos_sq]) and the N-vectors to save."""
    n, d = a.shape
    dt, dev = a.dtype, a.device
    norm_a, norm_b, dots = (torch.empty(n, dtype=dt, device=dev) for _ in range(3))

    def work(start: int, stop: int) -> Tensor:
        buf = torch.empty(2 * rows, d + 1, dtype=dt, device=dev)
        buf[:, d] = 1
        tmp = torch.empty(rows, d, dtype=dt, device=dev)
        part = torch.empty(d + 1, d + 1, dtype=dt, device=dev)
        acc = torch.zeros(d + 1, d + 1, dtype=_EXACT, device=dev)
        for s in range(start, stop, rows):
            r = min(rows, stop - s)
            e = s + r
            u, v = buf[:r, :d], buf[r:2 * r, :d]
            _row_norms(a[s:e], norm_a[s:e])
            _row_norms(b[s:e], norm_b[s:e])
            if normalize:
                torch.div(a[s:e], norm_a[s:e].clamp_min(_EPS)[:, None], out=u)
                torch.div(b[s:e], norm_b[s:e].clamp_min(_EPS)[:, None], out=v)
            else:
                u.copy_(a[s:e])
                v.copy_(b[s:e])
            block = buf[:2 * r]
            torch.mm(block.t(), block, out=part)  # [G_u + G_v, column sums; ., 2r]
            acc += part
            _row_dots(u, v, tmp[:r], dots[s:e])
        return acc

    acc = torch.stack(_in_parallel(n, rows, work)).sum(0)
    n2 = torch.stack([_sq_norm_ratio(norm_a, normalize), _sq_norm_ratio(norm_b, normalize)]).to(_EXACT)
    p = dots.to(_EXACT)
    sums = torch.stack([n2.sum(), (n2 * n2).sum(), 2 * p.sum(), 2 * (p * p).sum()])
    return acc[:d, d].clone(), acc[:d, :d].clone(), sums, (norm_a, norm_b, dots)


def _sq_norm_ratio(norm: Tensor, normalize: bool) -> Tensor:
    """|u_i|^2: (|a_i| / max(|a_i|, eps))^2 normalised (1, or 0 for a zero row), |a_i|^2 raw."""
    if not normalize:
        return norm * norm
    ratio = norm / norm.clamp_min(_EPS)
    return ratio * ratio


def backward(a: Tensor, b: Tensor, saved, normalize: bool, rows: int, grads, want_a: bool, want_b: bool):
    """Input gradients from the statistics' gradients ``grads = (g_total, g_gram, g_self, g_selfsq,
    g_pos, g_possq)``; the per-row formula is in ``fused_statistics``."""
    g_total, g_gram, g_self, g_selfsq, g_pos, g_possq = grads
    norm_a, norm_b, dots = saved
    n, d = a.shape
    dt, dev = a.dtype, a.device
    c_self = (2 * g_self).to(dt)  # 0-d tensors throughout: nothing is read on the host
    c_selfsq = (4 * g_selfsq).to(dt)
    weights = torch.empty(d + 1, d, dtype=dt, device=dev)
    weights[:d] = (g_gram + g_gram.t()).to(dt)
    weights[:d].diagonal().add_(c_self)
    weights[d] = g_total.to(dt)
    beta = (2 * g_pos).to(dt) + (4 * g_possq).to(dt) * dots  # partner coefficient per row
    # Per-row weights, (N, 1) columns computed once: grad = Y w_y + x_self w_self + x_other w_other with
    # w_self = base - (u.Y) keep/|a| (the radial part u.g = u.Y + c_selfsq |u|^4 + beta p is projected
    # out, except on rows F.normalize clamped).
    per_view = []
    for norm, wanted in ((norm_a, want_a), (norm_b, want_b)):
        n2 = _sq_norm_ratio(norm, normalize)
        if normalize:
            inv = 1.0 / norm.clamp_min(_EPS)
            keep_inv = (norm > _EPS).to(dt) * inv
            base = c_selfsq * n2 * inv - (c_selfsq * n2 * n2 + beta * dots) * keep_inv
            per_view.append((inv[:, None], base[:, None], keep_inv[:, None], (beta * inv)[:, None], wanted))
        else:
            per_view.append((None, (c_selfsq * n2)[:, None], None, beta[:, None], wanted))
    grad_a = torch.empty_like(a) if want_a else None
    grad_b = torch.empty_like(b) if want_b else None

    def work(start: int, stop: int) -> None:
        buf = torch.empty(2 * rows, d + 1, dtype=dt, device=dev)
        buf[:, d] = 1
        prod = torch.empty(2 * rows, d, dtype=dt, device=dev)
        tmp = torch.empty(2 * rows, d, dtype=dt, device=dev)
        radial = torch.empty(2 * rows, 1, dtype=dt, device=dev)
        w_self = torch.empty(rows, 1, dtype=dt, device=dev)
        for s in range(start, stop, rows):
            r = min(rows, stop - s)
            e = s + r
            u, v = buf[:r, :d], buf[r:2 * r, :d]
            if normalize:
                torch.mul(a[s:e], per_view[0][0][s:e], out=u)
                torch.mul(b[s:e], per_view[1][0][s:e], out=v)
            else:
                u.copy_(a[s:e])
                v.copy_(b[s:e])
            y = torch.mm(buf[:2 * r], weights, out=prod[:2 * r])  # u (G + G^T + c_self I) + g_total
            if normalize:
                _row_dots(buf[:2 * r, :d], y, tmp[:2 * r], radial[:2 * r, 0])
            for j, (x_self, x_other, grad) in enumerate(((u, v, grad_a), (v, u, grad_b))):
                if grad is None:
                    continue
                inv, base, keep_inv, w_other, _ = per_view[j]
                y_j, g = y[j * r:(j + 1) * r], grad[s:e]
                if normalize:
                    torch.addcmul(base[s:e], radial[j * r:(j + 1) * r], keep_inv[s:e], value=-1, out=w_self[:r])
                    torch.mul(y_j, inv[s:e], out=g)
                    g.addcmul_(x_self, w_self[:r])
                else:
                    g.copy_(y_j)
                    g.addcmul_(x_self, base[s:e])
                g.addcmul_(x_other, w_other[s:e])

    _in_parallel(n, rows, work)
    return grad_a, grad_b
