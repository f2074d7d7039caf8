"""Eager kernels of the fused two-view statistics: cache-sized chunks, few passes, no allocation per chunk.

On a CPU the statistics are bound by memory traffic and per-op overhead, not by the d x d
products: one elementwise pass over a chunk that has left the cache costs as much as that chunk's
Gram matrix. So the rows are split once into cache-sized chunks (``rows`` rows of each view).

Forward, per chunk: the row norms (the one read of the inputs from memory), the normalised rows
written into a preallocated buffer ``[u; v | 1]`` whose ones column makes one product return the
Gram matrix and the column sums together, and the row dots <u_i, v_i>.

Backward, per chunk and view (both views per chunk: each row is read once), with ``s`` = 1/max(|a_i|, eps),

    dL/da_i = s^2 a_i M + s g_total  +  c_i a_i  +  e_i b_i

(M = G + G^T + c_self I; c_i and e_i per-row scalars, c_i holding the radial projection
a_i . (s^2 a_i M + s g_total)). The first two terms are one product of the buffer
``[s^2 a | s]`` with ``[M; g_total]``; the row dot <a_i, Z_i> and two per-row-scaled additions,
the first of them writing the gradient, finish it (a fresh gradient's page faults cost far less in
an elementwise pass than inside the product). Used for float32/float64 inputs outside ``torch.compile``
(the compiler fuses the simple formulation in ``fused_statistics`` itself). Math: see
``fused_statistics``. With the opt-in C++ kernel enabled (``cpu_kernel``), each worker thread's
rows go to ``_fused_cpu.cpp`` instead: the same steps, each row's elementwise work fused.
"""

from concurrent.futures import ThreadPoolExecutor

import torch
from torch import Tensor

from . import _thread_limits

_EXACT = torch.float64
_EPS = 1e-12
_PARALLEL_MIN_CHUNKS = 32
_FP32_PRODUCTS_PER_FLUSH = 4  # chunk products summed in the input dtype before the float64 sum


def _row_norms(x: Tensor, out: Tensor) -> None:
    torch.linalg.vector_norm(x, dim=1, out=out)


def _row_dots(x: Tensor, y: Tensor, tmp: Tensor, out: Tensor) -> None:
    """out_i = <x_i, y_i>, through a preallocated (rows, d) scratch buffer (no allocation)."""
    torch.sum(torch.mul(x, y, out=tmp), 1, out=out)


def _in_parallel(n: int, rows: int, work) -> list:
    """Run ``work(start, stop)`` on contiguous, chunk-aligned row ranges, one per intra-op thread.

    Each range runs in its own Python thread (torch kernels release the GIL) whose kernels are
    single-threaded: cache-sized chunks are far too small to split across threads, and on a shared
    machine a parallel region that waits for a descheduled thread costs milliseconds. Only those
    threads are limited (``_thread_limits``), the calling thread for one range and only while it runs;
    the process's thread settings stay as they are. A torch build whose threads cannot be limited one
    by one runs one range in the calling thread as it is.
    """
    chunks = -(-n // rows)
    # below _PARALLEL_MIN_CHUNKS chunks the work is too short to pay for threads (and their buffers)
    workers = max(1, min(torch.get_num_threads(), chunks // _PARALLEL_MIN_CHUNKS))
    if workers > 1 and not _thread_limits.available():
        workers = 1
    bounds = [rows * (chunks * k // workers) for k in range(workers)] + [n]
    ranges = [(lo, min(hi, n)) for lo, hi in zip(bounds[:-1], bounds[1:]) if lo < hi]

    def run(bounds):
        with _thread_limits.single_threaded(), torch.no_grad():  # grad mode is thread-local too
            return work(*bounds)

    if len(ranges) == 1:
        return [run(ranges[0])]
    with ThreadPoolExecutor(len(ranges)) as pool:
        return list(pool.map(run, ranges))


def _chunks(rows: int, start: int, stop: int, *tensors: Tensor):
    """Zip of the tensors' rows start:stop in chunks of ``rows`` (views made in one call each)."""
    return zip(*(t[start:stop].split(rows) for t in tensors))


def forward(a: Tensor, b: Tensor, normalize: bool, rows: int, kernel=None):
    """Statistics (total, gram, [self_sum, self_sq, pos_sum, pos_sq]) and the N-vectors to save; ``kernel``:
    the C++ kernel's module (``fused_statistics._implementation`` chooses) or None for the eager chunks."""
    n, d = a.shape
    dt, dev = a.dtype, a.device
    norm_a, norm_b, dots = (torch.empty(n, dtype=dt, device=dev) for _ in range(3))

    def work(start: int, stop: int) -> Tensor:
        if kernel is not None:
            return kernel.forward_range(
                a, b, norm_a, norm_b, dots, start, stop, rows, normalize, _FP32_PRODUCTS_PER_FLUSH
            )
        buf = torch.empty(2 * rows, d + 1, dtype=dt, device=dev)
        buf[:, d] = 1
        tmp = torch.empty(rows, d, dtype=dt, device=dev)
        denom = torch.empty(rows, 1, dtype=dt, device=dev)
        part = torch.zeros(d + 1, d + 1, dtype=dt, device=dev)
        acc = torch.zeros(d + 1, d + 1, dtype=_EXACT, device=dev)
        pending = 0
        for a_c, b_c, na, nb, p in _chunks(rows, start, stop, a, b, norm_a, norm_b, dots):
            r = a_c.shape[0]
            u, v = buf[:r, :d], buf[r : 2 * r, :d]
            for x, norm, out in ((a_c, na, u), (b_c, nb, v)):
                _row_norms(x, norm)
                if normalize:
                    torch.clamp_min(norm, _EPS, out=denom[:r, 0])
                    torch.div(x, denom[:r], out=out)
                else:
                    out.copy_(x)
            block = buf[: 2 * r]
            torch.addmm(part, block.t(), block, out=part)  # += [G_u + G_v, column sums; ., 2r]
            pending += 1
            if pending == _FP32_PRODUCTS_PER_FLUSH:
                acc += part
                part.zero_()
                pending = 0
            _row_dots(u, v, tmp[:r], p)
        return acc + part

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


def _row_coefficients(norm: Tensor, dots: Tensor, beta: Tensor, c_selfsq: Tensor, normalize: bool):
    """Per-row (scale s, s^2, self coefficient c0, radial coefficient k) of one view (raw rows: s = 1, k = 0).

    dL/da_i = Z_i + (c0_i - k_i <a_i, Z_i>) a_i + e_i b_i with Z_i = s_i^2 a_i M + s_i g_total: the
    self term c_selfsq |u_i|^2 u_i and the projection -u_i <u_i, dL/du_i> / |a_i| of
    ``F.normalize``'s backward (skipped on rows it clamps), rewritten for the raw row a_i = u_i / s_i.
    """
    n2 = _sq_norm_ratio(norm, normalize)
    if not normalize:
        ones = torch.ones_like(norm)
        return ones, ones, c_selfsq * n2, torch.zeros_like(norm)
    s = 1.0 / norm.clamp_min(_EPS)
    keep_s = (norm > _EPS).to(norm.dtype) * s
    base = c_selfsq * n2 * s - (c_selfsq * n2 * n2 + beta * dots) * keep_s
    return s, s * s, base * s, keep_s * s


def backward(a: Tensor, b: Tensor, saved, normalize: bool, rows: int, kernel, grads, want_a: bool, want_b: bool):
    """Input gradients from the statistics' gradients ``grads = (g_total, g_gram, g_self, g_selfsq,
    g_pos, g_possq)``; the per-row formula is in ``fused_statistics``."""
    g_total, g_gram, g_self, g_selfsq, g_pos, g_possq = grads
    norm_a, norm_b, dots = saved
    n, d = a.shape
    dt, dev = a.dtype, a.device
    c_selfsq = (4 * g_selfsq).to(dt)  # 0-d tensors throughout: nothing is read on the host
    weights = torch.empty(d + 1, d, dtype=dt, device=dev)
    weights[:d] = (g_gram + g_gram.t()).to(dt)
    weights[:d].diagonal().add_((2 * g_self).to(dt))
    weights[d] = g_total.to(dt)
    beta = (2 * g_pos).to(dt) + (4 * g_possq).to(dt) * dots  # partner coefficient per row (of u, v)
    s_a, scale2_a, c0_a, k_a = _row_coefficients(norm_a, dots, beta, c_selfsq, normalize)
    s_b, scale2_b, c0_b, k_b = _row_coefficients(norm_b, dots, beta, c_selfsq, normalize)
    partner = beta * s_a * s_b  # e_i, the same for both views
    grad_a = torch.empty_like(a) if want_a else None
    grad_b = torch.empty_like(b) if want_b else None
    if kernel is not None:
        none = a.new_empty(0)

        def kernel_work(start: int, stop: int) -> None:
            kernel.backward_range(
                a,
                b,
                none if grad_a is None else grad_a,
                none if grad_b is None else grad_b,
                weights,
                s_a,
                scale2_a,
                c0_a,
                k_a,
                s_b,
                scale2_b,
                c0_b,
                k_b,
                partner,
                start,
                stop,
                rows,
                normalize,
            )

        _in_parallel(n, rows, kernel_work)
        return grad_a, grad_b
    views = []  # (rows, partner rows, gradient, s, s^2, c0, k) of each view that wants a gradient
    if grad_a is not None:
        views.append((a, b, grad_a, s_a, scale2_a, c0_a, k_a))
    if grad_b is not None:
        views.append((b, a, grad_b, s_b, scale2_b, c0_b, k_b))
    flat = [t for view in views for t in view] + [partner]

    def work(start: int, stop: int) -> None:
        buf = torch.empty(rows, d + 1, dtype=dt, device=dev)  # [s^2 x | s]
        tmp = torch.empty(rows, d, dtype=dt, device=dev)
        prod = torch.empty(rows, d, dtype=dt, device=dev)
        radial = torch.empty(rows, dtype=dt, device=dev)
        coef = torch.empty(rows, 1, dtype=dt, device=dev)
        for chunk in _chunks(rows, start, stop, *flat):  # both views per chunk: each row read once
            e_c = chunk[-1][:, None]
            for j in range(len(views)):
                x, other, g, s_c, s2_c, c0_c, k_c = chunk[7 * j : 7 * j + 7]
                r = x.shape[0]
                z = prod[:r]
                if normalize:
                    block = buf[:r]
                    torch.mul(x, s2_c[:, None], out=block[:, :d])
                    block[:, d] = s_c
                    torch.mm(block, weights, out=z)  # Z = s^2 x M + s g_total
                    _row_dots(x, z, tmp[:r], radial[:r])
                    torch.addcmul(c0_c, radial[:r], k_c, value=-1, out=coef[:r, 0])
                else:
                    torch.addmm(weights[d], x, weights[:d], out=z)
                    coef[:r, 0] = c0_c
                torch.addcmul(z, x, coef[:r], out=g)  # the gradient's first write
                g.addcmul_(other, e_c)

    _in_parallel(n, rows, work)
    return grad_a, grad_b
