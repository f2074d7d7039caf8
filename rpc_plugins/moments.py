"""RPC's score moments: the six numbers Relative Predictive Coding reads, and how to fill them.

Relative Predictive Coding (Tsai et al., "Self-supervised Representation Learning with Relative
Predictive Coding", ICLR 2021, arXiv 2103.11275, eq. 2) touches the critic scores f only through the
sum, the sum of squares and the count of the positive set P and of the negative set Q
(``ScoreMoments``). Moments add, so a batch can be filled in pieces and the pieces summed:

* ``ScoreMoments.from_scores``: from a score matrix (any critic), the dense filler;
* ``embedding_moments``: from embeddings under the bilinear critic f(x, y) = <x, y> / T, for three
  layouts, on one process or across ranks. Its linear-time path never builds a score matrix:

      sum_{all pairs} f   = (sum_i a_i) . (sum_j c_j) / T
      sum_{all pairs} f^2 = <A^T A, C^T C>_F / T^2

  minus the anchor's own and its positive's terms (O(N d)). Anchors' sums and Gram matrices come from
  one autograd Function (``_Statistics``), the same on every device: its backward is analytic (the
  gradient of a function of a Gram matrix G = X^T X is X (dL/dG + dL/dG^T)), it keeps only the inputs
  and three N-vectors between forward and backward, and it reads no value on the host.

Precision: the Gram matrices and column sums in the inputs' accumulation dtype (float32 for
fp16/bf16/float32, float64 for float64; BLAS and cascade sums), everything combined from them in
float64, so removing the large self and positive terms does not cancel away the negatives' digits
(``tests/test_gram.py``, at 1, 2 and 16 threads). Counts are Python numbers taken from shapes
(tensors once all-reduced).
"""

from typing import NamedTuple, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from . import distributed
from ._validation import accumulation_dtype, check_scores, full_precision, upcast

_EXACT = torch.float64
_EPS = 1e-12  # F.normalize's default
LAYOUTS = ("two_view", "queue", "cross")
REDUCTIONS = ("local", "gather", "all_reduce")
METHODS = ("auto", "dense", "gram")

# A count: a Python number where it comes from shapes, a tensor where it was counted or all-reduced.
Count = Union[Tensor, float]


class ScoreMoments(NamedTuple):
    """Sums, sums of squares and counts of positive and negative critic scores (0-d float64 tensors).

    >>> m = ScoreMoments.from_scores(torch.tensor([1.0, 2.0]), torch.tensor([[0.0, 1.0], [3.0, 0.5]]))
    >>> float(m.pos_sum), float(m.neg_sq_sum), float(m.neg_count)
    (3.0, 10.25, 4.0)
    """

    pos_sum: Tensor
    pos_sq_sum: Tensor
    pos_count: Count
    neg_sum: Tensor
    neg_sq_sum: Tensor
    neg_count: Count

    def __add__(self, other: "ScoreMoments") -> "ScoreMoments":  # type: ignore[override]
        return ScoreMoments._make(a + b for a, b in zip(self, other))

    def affine(self, scale, shift=0.0) -> "ScoreMoments":
        """The moments of ``scale * f + shift`` (e.g. CLIP's learnable logit scale and bias), differentiable in both.

        >>> m = ScoreMoments.from_scores(torch.tensor([1.0]), torch.tensor([[2.0]])).affine(3.0, 1.0)
        >>> float(m.pos_sum), float(m.neg_sq_sum)
        (4.0, 49.0)
        """

        def moved(total, squares, count):
            return scale * total + shift * count, scale**2 * squares + 2 * scale * shift * total + shift**2 * count

        pos_sum, pos_sq = moved(self.pos_sum, self.pos_sq_sum, self.pos_count)
        neg_sum, neg_sq = moved(self.neg_sum, self.neg_sq_sum, self.neg_count)
        return ScoreMoments(pos_sum, pos_sq, self.pos_count, neg_sum, neg_sq, self.neg_count)

    @classmethod
    def from_scores(
        cls,
        pos: Tensor,
        neg: Tensor,
        neg_mask: Optional[Tensor] = None,
        pos_mask: Optional[Tensor] = None,
        *,
        check_finite="auto",
    ) -> "ScoreMoments":
        """Dense filler: moments of the positive scores and of the valid entries of ``neg (A, K)``.

        ``pos (A,)`` holds one positive per anchor; with ``pos_mask (A, P)`` bool, ``pos (A, P)`` holds
        several and only the masked entries are positives (counted by the mask, no boolean indexing). A
        negative is valid where ``neg_mask`` is True (all, if None) and ``neg`` is not -inf. An empty
        ``neg (A, 0)`` gives the Python count 0 (the empty-set rule, no device read). Each row is summed
        in the scores' accumulation dtype, the rows in float64.

        >>> m = ScoreMoments.from_scores(torch.tensor([[1.0, 5.0]]), torch.zeros(1, 0),
        ...                              pos_mask=torch.tensor([[True, False]]))
        >>> float(m.pos_sum), float(m.pos_count), m.neg_count
        (1.0, 1.0, 0)
        """
        check_scores(pos, neg, neg_mask, pos_mask, check_finite)
        pos, neg = upcast(pos), upcast(neg)
        pos_count: Count = float(pos.numel())
        if pos_mask is not None:
            pos = torch.where(pos_mask, pos, torch.zeros_like(pos))
            pos_count = pos_mask.sum().to(_EXACT)
        valid = valid_negatives(neg, neg_mask)
        # where() (not multiplication) so that -inf entries give 0 and a zero gradient, never NaN.
        neg = torch.where(valid, neg, torch.zeros_like(neg))
        neg_count: Count = valid.sum().to(_EXACT) if neg.shape[1] else 0
        (pos_sum, pos_sq_sum), (neg_sum, neg_sq_sum) = _sums(pos), _sums(neg)
        return cls(pos_sum, pos_sq_sum, pos_count, neg_sum, neg_sq_sum, neg_count)


def valid_negatives(neg: Tensor, neg_mask: Optional[Tensor]) -> Tensor:
    """Bool mask of usable negatives: ``neg_mask`` (if given) and not -inf."""
    valid = neg != float("-inf")
    return valid if neg_mask is None else valid & neg_mask


def _sums(scores: Tensor) -> Tuple[Tensor, Tensor]:
    """(sum, sum of squares) in float64; the rows of a 2-D tensor are summed in its dtype first (short sums)."""
    if scores.dim() == 1:
        scores = scores.to(_EXACT)
        return scores.sum(), (scores * scores).sum()
    return scores.sum(1).to(_EXACT).sum(), (scores * scores).sum(1).to(_EXACT).sum()


class Statistics(NamedTuple):
    """Sums over a set of rows x_i (the anchors [u; v] of two views, or one set), all float64."""

    total: Tensor  # sum_i x_i, (d,)
    gram: Tensor  # sum_i x_i x_i^T, (d, d)
    self_sum: Tensor  # sum_i |x_i|^2
    self_sq: Tensor  # sum_i |x_i|^4
    pos_sum: Tensor  # sum over both views of <u_i, v_i> (= 2 sum_i <u_i, v_i>); 0 for one set
    pos_sq: Tensor  # 2 sum_i <u_i, v_i>^2; 0 for one set


def _row_scales(x: Tensor, normalize: bool) -> Tuple[Optional[Tensor], Tensor]:
    """(1 / |row| with F.normalize's eps clamp, or None; |row|^2 after the scaling): N-vectors only."""
    norm = torch.linalg.vector_norm(x, dim=1)
    if not normalize:
        return None, norm * norm
    inverse = 1.0 / norm.clamp_min(_EPS)
    return inverse, (norm * inverse) ** 2


class _Statistics(torch.autograd.Function):
    """``Statistics`` of [a; b] (or of ``a`` alone), with the analytic backward. For every row u_i,

        dL/du_i = u_i (G + G^T) + g_total + (2 g_self + 4 g_selfsq |u_i|^2) u_i + (2 g_pos + 4 g_possq <u_i, v_i>) v_i

    (G the gradient of ``gram``), and L2 normalisation's backward is folded in:
    dL/da_i = (dL/du_i - u_i <u_i, dL/du_i>) / |a_i| (``F.normalize``'s, eps clamp included).
    Kept for the backward: the inputs and N-vectors (inverse norms, squared norms, <u_i, v_i>).
    """

    @staticmethod
    def forward(ctx, a: Tensor, b: Optional[Tensor], normalize: bool):  # type: ignore[override]
        compute, views = accumulation_dtype(a.dtype), [a] if b is None else [a, b]
        with full_precision(a.device.type):
            rows = [x.to(compute) for x in views]
            scales = [_row_scales(x, normalize) for x in rows]
            units = [x if inverse is None else x * inverse[:, None] for x, (inverse, _) in zip(rows, scales)]
            gram, total = units[0].t() @ units[0], units[0].sum(0)
            if b is not None:
                gram, total = torch.addmm(gram, units[1].t(), units[1]), total + units[1].sum(0)
            dots = (units[0] * units[1]).sum(1) if b is not None else units[0].new_zeros(0)
        ctx.normalize, ctx.two_views = normalize, b is not None
        inverses = [inverse for inverse, _ in scales if inverse is not None]
        ctx.save_for_backward(*views, *inverses, *[n2 for _, n2 in scales], dots)
        sq, p = torch.cat([n2 for _, n2 in scales]).to(_EXACT), dots.to(_EXACT)
        # fresh outputs (copies for float64 inputs): torch 2.11's AOTAutograd mis-compiles an output that is an intermediate
        total, gram = total.to(_EXACT, copy=True), gram.to(_EXACT, copy=True)
        return total, gram, sq.sum(), (sq * sq).sum(), 2 * p.sum(), 2 * (p * p).sum()

    @staticmethod
    def backward(ctx, g_total, g_gram, g_self, g_selfsq, g_pos, g_possq):  # type: ignore[override]
        n_views = 2 if ctx.two_views else 1
        saved = list(ctx.saved_tensors)
        views, saved = saved[:n_views], saved[n_views:]
        inverses, saved = (saved[:n_views], saved[n_views:]) if ctx.normalize else ([None] * n_views, saved)
        squares, dots = saved[:n_views], saved[n_views]
        compute, grads = accumulation_dtype(views[0].dtype), [None, None]
        with full_precision(views[0].device.type):
            matrix, vector = (g_gram + g_gram.t()).to(compute), g_total.to(compute)
            c_self, c_selfsq = (2 * g_self).to(compute), (4 * g_selfsq).to(compute)
            c_pos, c_possq = (2 * g_pos).to(compute), (4 * g_possq).to(compute)
            rows = [x.to(compute) for x in views]
            # u = x / |x| is never formed: each term's row scale is folded into its N-vector coefficient
            scale = [torch.ones_like(n2) if inv is None else inv for inv, n2 in zip(inverses, squares)]
            for k in range(n_views):
                if not ctx.needs_input_grad[k]:
                    continue
                x, s = rows[k], scale[k]
                g = (x @ matrix).mul_(s[:, None]).add_(vector)  # u (G + G^T) + g_total
                g.addcmul_(x, ((c_self + c_selfsq * squares[k]) * s)[:, None])
                if ctx.two_views:
                    g.addcmul_(rows[1 - k], ((c_pos + c_possq * dots) * scale[1 - k])[:, None])
                if ctx.normalize:  # through the normalisation; a row at the eps clamp is only scaled
                    radial = torch.where(s < 1.0 / _EPS, (x * g).sum(1) * s, torch.zeros_like(s))
                    g.addcmul_(x, (radial * s)[:, None], value=-1.0).mul_(s[:, None])
                grads[k] = g.to(views[k].dtype)
        return grads[0], grads[1], None


def statistics(out0: Tensor, out1: Optional[Tensor] = None, normalize: bool = True) -> Statistics:
    """The ``Statistics`` of the anchors [out0; out1] (``out1=None``: of the rows of ``out0``), float64,
    differentiable with respect to both inputs; ``normalize`` L2-normalises every row first.

    >>> s = statistics(torch.eye(2), torch.eye(2), normalize=False)
    >>> s.total.tolist(), float(s.pos_sum), float(s.self_sq)
    ([2.0, 2.0], 4.0, 4.0)
    """
    return Statistics(*_Statistics.apply(out0, out1, bool(normalize)))


def choose_method(method: str, n_anchor: int, n_candidate: int, dim: int, reduction: str = "local") -> str:
    """The one place the path is chosen: "dense" (score matrix, A*C*D multiply-adds) or "gram" ((A + C)*D^2).

    "auto" takes the cheaper; the "all_reduce" reduction always takes gram (no embedding crosses ranks).

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


def embedding_moments(
    out0: Tensor,
    out1: Tensor,
    temperature: float,
    normalize: bool = True,
    negatives: Optional[Tensor] = None,
    *,
    layout: str = "two_view",
    reduction: str = "local",
    method: str = "auto",
) -> ScoreMoments:
    """ScoreMoments of the critic <x, y> / ``temperature`` on ``out0, out1 (N, D)`` (float64 sums).

    Args:
        normalize: L2-normalise every row (out0, out1 and negatives) first: the cosine critic.
        negatives: ``(M, D)`` extra negatives of every anchor (a memory bank); the only negatives in the
            queue layout (at least one row).
        layout: "two_view" (SimCLR's 2N layout: anchors [out0; out1], each anchor's positive its other
            view, its negatives every other view and ``negatives``), "queue" (MoCo: anchors out0,
            positives out1, negatives ``negatives`` only) or "cross" (CLIP: image k = out0[k] with text
            k = out1[k] positive, with every other text negative; the text-to-image direction holds the
            same pairs, so it has the same moments).
        reduction: "local"; "gather" (candidates from every rank, lightly's semantics: a per-rank loss
            over the local anchors with global counts; equal batch sizes); "all_reduce" (every rank gets
            the global batch's moments; a D-vector and a D x D matrix cross ranks, never an embedding;
            counts become tensors). Without torch.distributed both are "local".
        method: "auto", "dense" or "gram" (``choose_method``).

    >>> m = embedding_moments(torch.eye(2), torch.eye(2), temperature=1.0, normalize=False)
    >>> float(m.pos_sum), float(m.neg_sum), m.neg_count
    (4.0, 0.0, 8)
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    extra = 0 if negatives is None else negatives.shape[0]
    if layout == "queue" and extra == 0:
        raise ValueError("layout='queue' needs negatives with at least one row")
    if layout == "queue" and reduction == "gather":
        raise ValueError("reduction='gather' needs an in-batch layout: the queue layout has no in-batch candidates")
    if layout == "cross" and negatives is not None:
        raise ValueError("layout='cross' takes no extra negatives")
    world = distributed.world_size() if reduction != "local" and distributed.is_distributed() else 1
    reduction = reduction if world > 1 else "local"
    n = out0.shape[0]
    # anchors, and the in-batch candidates of each anchor (of every rank), from the layout
    n_anchor, n_candidate = {"two_view": (2 * n, 2 * n * world), "queue": (n, 0), "cross": (n, n * world)}[layout]
    if choose_method(method, n_anchor, n_candidate + extra, out0.shape[1], reduction) == "dense":
        moments = _dense(out0, out1, temperature, normalize, negatives, layout, reduction == "gather")
    else:
        moments = _gram(out0, out1, temperature, normalize, negatives, layout, reduction)
    # the layout fixes the counts: Python numbers from shapes, never read from a device (all-reduced for
    # "all_reduce", where ranks may hold different batch sizes)
    candidates = moments.neg_count if reduction == "all_reduce" else n_candidate
    excluded = {"two_view": 2, "queue": 0, "cross": 1}[layout]  # the anchor itself and its positive
    n_negative = n_anchor * ((candidates - excluded) if n_candidate else 0) + n_anchor * extra
    moments = ScoreMoments(
        moments.pos_sum, moments.pos_sq_sum, n_anchor, moments.neg_sum, moments.neg_sq_sum, n_negative
    )
    if reduction == "all_reduce":  # moments add: the global batch's are the sum over ranks
        zero = torch.zeros((), dtype=_EXACT, device=out0.device)
        total = distributed.all_reduce_sum(torch.stack([zero + m for m in moments])).unbind(0)
        return ScoreMoments(total[0], total[1], total[2].detach(), total[3], total[4], total[5].detach())
    return moments


def prepare_views(out0: Tensor, out1: Tensor, normalize: bool, negatives: Optional[Tensor] = None):
    """``(z0, z1, negatives)``: upcast to the accumulation dtype and, if ``normalize``, L2-normalised."""
    z0, z1 = upcast(out0), upcast(out1)
    if negatives is not None:
        negatives = upcast(negatives).to(z0.dtype)
    if normalize:
        z0, z1 = F.normalize(z0, dim=1), F.normalize(z1, dim=1)
        negatives = F.normalize(negatives, dim=1) if negatives is not None else None
    return z0, z1, negatives


def _dense(out0, out1, temperature, normalize, negatives, layout, gather) -> ScoreMoments:
    """The reference path: ``from_scores`` of the masked score matrix."""
    from .pairing import two_view_pairs, two_view_pairs_across_ranks, two_view_scores

    z0, z1, negatives = prepare_views(out0, out1, normalize, negatives)
    if layout == "two_view":
        pairs = two_view_pairs_across_ranks(z0, z1) if gather else two_view_pairs(z0, z1)
        return ScoreMoments.from_scores(*two_view_scores(pairs, temperature, negatives), check_finite=False)
    pos = (z0 * z1).sum(1) / temperature
    if layout == "queue":
        return ScoreMoments.from_scores(pos, z0 @ negatives.t() / temperature, check_finite=False)
    texts, offset = (distributed.all_gather(z1), distributed.rank() * z0.shape[0]) if gather else (z1, 0)
    own = torch.arange(z0.shape[0], device=z0.device) + offset
    negative = torch.arange(texts.shape[0], device=z0.device)[None, :] != own[:, None]
    return ScoreMoments.from_scores(pos, z0 @ texts.t() / temperature, negative, check_finite=False)


def _gram(out0, out1, temperature, normalize, negatives, layout, reduction) -> ScoreMoments:
    """The linear-time path: all anchor-candidate pairs from the sums and Gram matrices, minus the
    anchor's own column and its positive's column; no score matrix. With "all_reduce", ``neg_count``
    carries the global number of in-batch candidates (all-reduced with the sum vector)."""
    t, zero = temperature, torch.zeros((), dtype=_EXACT, device=out0.device)
    candidates: Optional[Statistics]
    if layout == "two_view":
        anchors = candidates = statistics(out0, out1, normalize)
        pos_sum, pos_sq, own_sum, own_sq = anchors.pos_sum, anchors.pos_sq, anchors.self_sum, anchors.self_sq
    else:
        z0, z1, _ = prepare_views(out0, out1, normalize)
        dots = (z0 * z1).sum(1)
        pos_sum, pos_sq = dots.sum(dtype=_EXACT), (dots.to(_EXACT) ** 2).sum()
        own_sum = own_sq = zero  # the anchor is not among its candidates
        anchors = statistics(z0, None, normalize=False)
        candidates = statistics(z1, None, normalize=False) if layout == "cross" else None
    neg_sum, neg_sq, count = zero, zero, 0  # type: Tensor, Tensor, Count
    if candidates is not None:
        total, gram = candidates.total, candidates.gram
        if reduction == "all_reduce":  # the global candidate count rides with the sum vector
            rows = (2 if layout == "two_view" else 1) * out0.shape[0]
            packed = distributed.all_reduce_sum(torch.cat([total, torch.zeros_like(total[:1]) + rows]))
            total, gram, count = packed[:-1], distributed.all_reduce_sum(gram), packed[-1].detach()
        elif reduction == "gather":
            total, gram = distributed.all_reduce_sum(total), distributed.all_reduce_sum(gram)
        neg_sum = (anchors.total @ total - own_sum - pos_sum) / t
        neg_sq = ((anchors.gram * gram).sum() - own_sq - pos_sq) / t**2
    if negatives is not None:  # every anchor against every bank row
        bank = statistics(negatives, None, normalize)
        neg_sum = neg_sum + anchors.total @ bank.total / t
        neg_sq = neg_sq + (anchors.gram * bank.gram).sum() / t**2
    return ScoreMoments(pos_sum / t, pos_sq / t**2, 0, neg_sum, neg_sq, count)
