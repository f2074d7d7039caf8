"""Fused linear-time statistics of two views: everything RPC needs from the embeddings.

Relative Predictive Coding (``rpc_plugins.moments``) touches the critic scores
f(x, y) = <x, y> / T of the SimCLR 2N layout only through their sums and sums of squares. With
u_i, v_i the (L2-normalised or raw) outputs of the two views and x = [u; v] the 2N anchors, those
are functions of six statistics, none larger than d x d:

    total    = sum_i x_i                  (d,)
    gram     = sum_i x_i x_i^T            (d, d)
    self_sum = sum_i |x_i|^2,             self_sq = sum_i |x_i|^4
    pos_sum  = sum_i <x_i, partner_i> = 2 sum_i <u_i, v_i>,   pos_sq = 2 sum_i <u_i, v_i>^2

``view_statistics`` computes them in one ``torch.autograd.Function``: the forward walks the rows
in chunks (no concatenated views, no normalised copy of the batch; low-precision rows are upcast
chunk by chunk) and accumulates the chunk sums in float64; the backward is the analytic gradient.
Any loss L(total, gram, ...) has, for every anchor,

    dL/du_i = u_i (G + G^T) + g_total + (2 g_self + 4 g_selfsq |u_i|^2) u_i + (2 g_pos + 4 g_possq <u_i, v_i>) v_i

(G the gradient of ``gram``): the embedding times a d x d matrix plus a rank-one term, a diagonal
term and the partner term. L2 normalisation's backward is folded in,
dL/da_i = (dL/du_i - u_i <u_i, dL/du_i>) / |a_i| (``F.normalize``'s, eps clamp included).
Between forward and backward only the inputs and three N-vectors (norms, <u_i, v_i>, |u_i|^2)
are kept. Nothing reads a tensor's value on the host: no device synchronisation.

Fast paths are chosen here and nowhere else: ``choose_method`` decides dense score matrix vs these
statistics (by multiply-add count; always the statistics for all-reduced moments), and
``_implementation`` decides how the statistics run: the simple formulation (one set of rows,
fp16/bf16, torch.compile, accelerators), the eager CPU chunks, or those chunks in the opt-in C++
kernel (``cpu_kernel``).

>>> import torch
>>> s = view_statistics(torch.eye(2), torch.eye(2), normalize=False)
>>> s.total.tolist(), float(s.pos_sum), float(s.self_sq)
([2.0, 2.0], 4.0, 4.0)
"""

from typing import NamedTuple, Optional

import torch
from torch import Tensor

from . import _fused_chunks, cpu_kernel
from ._dtypes import accumulation_dtype

_EXACT = torch.float64
_EPS = 1e-12  # F.normalize's default
_CHUNK_BYTES = 2**21  # rows per chunk (simple path): about 2 MiB of one view in the compute dtype
_FAST_CHUNK_BYTES = 2**20  # chunked path: the [u; v | 1] buffer of a chunk, to stay in the L2 cache


class AnchorSums(NamedTuple):
    """The six sums over the anchors [u; v] (or over one set of rows) that RPC's moments need, all float64."""

    total: Tensor  # (d,)
    gram: Tensor  # (d, d)
    self_sum: Tensor  # 0-d
    self_sq: Tensor
    pos_sum: Tensor  # 0 for a single set of rows
    pos_sq: Tensor


def _is_compiling() -> bool:
    compiler = getattr(torch, "compiler", None)
    if compiler is not None and hasattr(compiler, "is_compiling"):
        return compiler.is_compiling()
    dynamo = getattr(torch, "_dynamo", None)
    return bool(dynamo is not None and hasattr(dynamo, "is_compiling") and dynamo.is_compiling())


def _chunk_rows(n: int, d: int, dtype: torch.dtype, device_type: str = "cpu") -> int:
    if _is_compiling() or device_type != "cpu":  # one chunk: compiler / accelerator kernels fuse the work
        return max(n, 1)
    itemsize = torch.finfo(dtype).bits // 8
    return max(256, _CHUNK_BYTES // max(1, d * itemsize))


def _normalised(rows: Tensor, normalize: bool):
    """(u, denominator or None, |u|^2) of a chunk already in the compute dtype."""
    if not normalize:
        return rows, None, (rows * rows).sum(1)
    norm = rows.norm(dim=1)
    denom = norm.clamp_min(_EPS)
    ratio = norm / denom
    return rows / denom[:, None], denom, ratio * ratio


def _fast_rows(a: Tensor, b: Optional[Tensor]) -> int:
    """Rows per chunk of the eager chunked kernels, or 0 where the simple formulation is used
    (one view, low-precision inputs, torch.compile)."""
    if (
        b is None
        or a.dtype not in (torch.float32, torch.float64)
        or b.dtype != a.dtype
        or _is_compiling()
        or a.device.type != "cpu"
    ):
        return 0
    itemsize = torch.finfo(a.dtype).bits // 8
    return max(64, _FAST_CHUNK_BYTES // (2 * (a.shape[1] + 1) * itemsize))


METHODS = ("auto", "dense", "gram")


def choose_method(method: str, n_anchor: int, n_candidate: int, dim: int, reduction: str = "local") -> str:
    """The one place the embedding fillers choose their path: "dense" (score matrix) or "gram" (fused statistics).

    ``n_candidate`` counts every score column of an anchor (in-batch candidates of every rank, plus extra
    negatives). "auto" takes the path with fewer multiply-adds: dense costs A*C*D, gram (A + C)*D^2.
    The "all_reduce" reduction always takes gram: its promise is that no embedding crosses ranks.
    How the gram path then runs (simple, eager chunks, C++ kernel) is ``_implementation``'s choice.

    >>> choose_method("auto", 512, 512, 128), choose_method("auto", 16, 16, 128)
    ('gram', 'dense')
    """
    if method not in METHODS:
        raise ValueError(f"method must be 'auto', 'dense' or 'gram', got {method!r}")
    if reduction == "all_reduce":
        return "gram"
    if method != "auto":
        return method
    return "gram" if (n_anchor + n_candidate) * dim < n_anchor * n_candidate else "dense"


def _implementation(a: Tensor, b: Optional[Tensor]):
    """The one place ``view_statistics`` chooses how to run: (rows per chunk, C++ kernel or None).

    0 rows: the simple formulation (one set of rows, fp16/bf16, torch.compile, accelerators, where the
    compiler or the device fuses the work). Otherwise the eager chunks (``_fused_chunks``), their rows
    handed to the opt-in C++ kernel (``cpu_kernel``) when it is enabled and the inputs are contiguous.
    """
    rows = _fast_rows(a, b)
    if not rows or b is None:
        return 0, None
    kernel = cpu_kernel.loaded()
    return rows, kernel if kernel is not None and a.is_contiguous() and b.is_contiguous() else None


class _ViewStatistics(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a: Tensor, b: Optional[Tensor], normalize: bool):  # type: ignore[override]
        rows, kernel = _implementation(a, b)
        ctx.fast_rows, ctx.kernel, ctx.normalize = rows, kernel, normalize
        if rows and b is not None:
            total, gram, sums, vectors = _fused_chunks.forward(a, b, normalize, rows, kernel)
            ctx.save_for_backward(a, b, *vectors)
            return (total, gram) + tuple(sums.unbind(0))
        compute = accumulation_dtype(a.dtype)
        n, d = a.shape
        chunk = _chunk_rows(n, d, compute, a.device.type)
        total = torch.zeros(d, dtype=_EXACT, device=a.device)
        gram = torch.zeros(d, d, dtype=_EXACT, device=a.device)
        sums = torch.zeros(4, dtype=_EXACT, device=a.device)  # self_sum, self_sq, pos_sum, pos_sq
        denoms, sq_norms, dots = [], [], []
        for start in range(0, n, chunk):
            u, denom_u, n2_u = _normalised(a[start : start + chunk].to(compute), normalize)
            part_gram = u.t() @ u
            part_total = u.sum(0)
            part_self = torch.stack([n2_u.sum(), (n2_u * n2_u).sum()])
            denoms.append(denom_u)
            sq_norms.append(n2_u)
            if b is not None:
                v, denom_v, n2_v = _normalised(b[start : start + chunk].to(compute), normalize)
                part_gram = torch.addmm(part_gram, v.t(), v)
                part_total = part_total + v.sum(0)
                part_self = part_self + torch.stack([n2_v.sum(), (n2_v * n2_v).sum()])
                p = (u * v).sum(1)
                sums = sums + torch.cat([sums.new_zeros(2), 2 * torch.stack([p.sum(), (p * p).sum()]).to(_EXACT)])
                denoms.append(denom_v)
                sq_norms.append(n2_v)
                dots.append(p)
            # out of place: torch 2.11's AOTAutograd got this Function's backward wrong with in-place sums
            gram = gram + part_gram.to(_EXACT)
            total = total + part_total.to(_EXACT)
            sums = sums + torch.cat([part_self.to(_EXACT), sums.new_zeros(2)])
        saved = [a] + ([b] if b is not None else [])
        saved.append(torch.cat(sq_norms) if len(sq_norms) > 1 else sq_norms[0])
        if normalize:
            saved.append(torch.cat(denoms) if len(denoms) > 1 else denoms[0])
        if b is not None:
            saved.append(torch.cat(dots) if len(dots) > 1 else dots[0])
        ctx.save_for_backward(*saved)
        ctx.two_views, ctx.normalize, ctx.chunk = b is not None, normalize, chunk
        self_sum, self_sq, pos_sum, pos_sq = sums.unbind(0)
        return total, gram, self_sum, self_sq, pos_sum, pos_sq

    @staticmethod
    def backward(ctx, g_total, g_gram, g_self, g_selfsq, g_pos, g_possq):  # type: ignore[override]
        if ctx.fast_rows:
            a, b, *vectors = ctx.saved_tensors
            grads = (g_total, g_gram, g_self, g_selfsq, g_pos, g_possq)
            grad_a, grad_b = _fused_chunks.backward(
                a,
                b,
                vectors,
                ctx.normalize,
                ctx.fast_rows,
                ctx.kernel,
                grads,
                ctx.needs_input_grad[0],
                ctx.needs_input_grad[1],
            )
            return grad_a, grad_b, None
        saved = list(ctx.saved_tensors)
        a = saved.pop(0)
        b = saved.pop(0) if ctx.two_views else None
        sq_norms = saved.pop(0)
        denoms = saved.pop(0) if ctx.normalize else None
        dots = saved.pop(0) if ctx.two_views else None
        compute = accumulation_dtype(a.dtype)
        n, chunk = a.shape[0], ctx.chunk
        matrix = (g_gram + g_gram.t()).to(compute)
        vector = g_total.to(compute)
        c_self, c_selfsq = (2 * g_self).to(compute), (4 * g_selfsq).to(compute)
        c_pos, c_possq = (2 * g_pos).to(compute), (4 * g_possq).to(compute)
        want_a = ctx.needs_input_grad[0]
        want_b = b is not None and ctx.needs_input_grad[1]
        grad_a = torch.empty_like(a) if want_a else None
        grad_b = torch.empty_like(b) if b is not None and want_b else None
        rows_per_view = [(a, grad_a, 0)] + ([(b, grad_b, 1)] if b is not None else [])
        # the stored N-vectors are laid out chunk by chunk: [a-chunk, b-chunk] per chunk
        per_chunk = len(rows_per_view)
        for k, start in enumerate(range(0, n, chunk)):
            stop = min(start + chunk, n)
            offset = per_chunk * start
            size = stop - start
            views = []
            for view, (x, _, j) in enumerate(rows_per_view):
                lo = offset + j * size
                denom = denoms[lo : lo + size] if denoms is not None else None
                rows = x[start:stop].to(compute)
                views.append((rows / denom[:, None] if denom is not None else rows, denom, sq_norms[lo : lo + size]))
            p = dots[start:stop] if dots is not None else None
            for view, (x, grad, j) in enumerate(rows_per_view):
                if grad is None:
                    continue
                u, denom, n2 = views[view]
                g = torch.addmm(vector, u, matrix)
                g = g + (c_self + c_selfsq * n2)[:, None] * u
                if p is not None:
                    g = g + (c_pos + c_possq * p)[:, None] * views[1 - view][0]
                if denom is not None:
                    radial = torch.where(denom > _EPS, (u * g).sum(1), torch.zeros_like(denom))
                    g = (g - radial[:, None] * u) / denom[:, None]
                grad[start:stop] = g
        return grad_a, grad_b, None


def view_statistics(out0: Tensor, out1: Optional[Tensor] = None, normalize: bool = True) -> AnchorSums:
    """The six RPC statistics of the anchors [out0; out1] (``out1=None``: of the rows of ``out0``).

    ``normalize`` L2-normalises every row first (as ``F.normalize``). Differentiable with respect to
    both inputs (analytic backward); results are float64 whatever the input dtype (fp16/bf16 rows are
    upcast to float32 chunk by chunk before any product).
    """
    return AnchorSums(*_ViewStatistics.apply(out0, out1, bool(normalize)))
