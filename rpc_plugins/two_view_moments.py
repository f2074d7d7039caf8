"""Fill RPC's score moments for the two-view (SimCLR 2N) layout without a mask.

For the bilinear critic f(x, y) = <x, y> / T the negatives' moments are "all anchor-candidate
pairs" minus the anchor's own column and its positive's column, each O(A D):

    sum_neg   = sum_ij f_ij   - sum_i f(a_i, a_i)   - sum_i f(a_i, p_i)
    sumsq_neg = sum_ij f_ij^2 - sum_i f(a_i, a_i)^2 - sum_i f(a_i, p_i)^2

The all-pairs sums come either from the dense A x C score matrix (``method="dense"``) or, with
no A x C matrix at all, from the fused statistics of ``view_statistics`` (``method="gram"``;
O((A + C) D^2)):

    sum_ij f_ij   = (sum_i a_i) . (sum_j c_j) / T
    sum_ij f_ij^2 = <A^T A, C^T C>_F / T^2

Precision: products are formed in the input dtype (float32 or float64); every sum over rows or
pairs is accumulated in float64 (the dense path sums each score row in the input dtype, a short
cascade, then the rows in float64), so the result does not depend on the BLAS or the thread
count, and removing the large self/positive terms does not cancel away the negatives' digits
(tests/test_gram.py, at 1, 2 and 16 threads). Counts are Python numbers taken from shapes: nothing here reads a
tensor value on the host.
"""
from typing import Optional

import torch
from torch import Tensor

from .distributed import all_reduce_sum
from .moments import Count, ScoreMoments
from .pairing import TwoViewPairs
from .fused_statistics import AnchorSums, view_statistics

_EXACT = torch.float64


def _row_sums(scores: Tensor):
    """(sum, sum of squares) of a score matrix, each row summed in its dtype, rows in float64."""
    return scores.sum(1).to(_EXACT).sum(), (scores * scores).sum(1).to(_EXACT).sum()


def _cross_statistics(anchor: AnchorSums, total: Tensor, gram: Tensor, temperature: float):
    """(sum_ij f(a_i, c_j), sum_ij f(a_i, c_j)^2) from sums and Gram matrices."""
    return anchor.total @ total / temperature, (anchor.gram * gram).sum() / temperature ** 2


def moments_from_statistics(anchor: AnchorSums, n_anchor, candidate_total: Tensor, candidate_gram: Tensor,
                            n_candidate, temperature: float, extra: Optional[tuple] = None) -> ScoreMoments:
    """ScoreMoments of anchors [u; v] against candidates that contain every anchor and its partner.

    ``extra = (sum, sum_sq, count)`` adds moments of further negatives (a memory bank).
    Counts may be Python numbers or tensors (all-reduced over ranks).
    """
    all_sum, all_sq = _cross_statistics(anchor, candidate_total, candidate_gram, temperature)
    pos_sum, pos_sq = anchor.pos_sum / temperature, anchor.pos_sq / temperature ** 2
    moments = ScoreMoments(
        pos_sum=pos_sum,
        pos_sq_sum=pos_sq,
        pos_count=n_anchor,
        neg_sum=all_sum - anchor.self_sum / temperature - pos_sum,
        neg_sq_sum=all_sq - anchor.self_sq / temperature ** 2 - pos_sq,
        neg_count=n_anchor * (n_candidate - 2),
    )
    if extra is not None:
        zero = torch.zeros((), dtype=_EXACT, device=anchor.total.device)
        moments = moments + ScoreMoments(zero, zero, 0, *extra)
    return moments


def extra_statistics_moments(anchor: AnchorSums, n_anchor, negatives: Tensor, temperature: float,
                             normalize: bool):
    """(sum, sum_sq, count) of every anchor against every extra negative (memory bank), fused."""
    q = view_statistics(negatives, None, normalize)
    neg_sum, neg_sq = _cross_statistics(anchor, q.total, q.gram, temperature)
    return neg_sum, neg_sq, n_anchor * negatives.shape[0]


def fused_two_view_moments(out0: Tensor, out1: Tensor, temperature: float, normalize: bool,
                           negatives: Optional[Tensor] = None, gather: bool = False,
                           world_size: int = 1) -> ScoreMoments:
    """Moments of the 2N layout straight from the raw outputs (fused statistics, no N x N matrix).

    ``gather``: the candidates are the views of all ``world_size`` ranks (equal batch sizes),
    combined by a differentiable all-reduce of one D-vector and one D x D matrix; anchors and extra
    negatives stay local (lightly's semantics, per-rank loss).
    """
    anchor = view_statistics(out0, out1, normalize)
    n_anchor = 2 * out0.shape[0]
    total, gram = anchor.total, anchor.gram
    if gather and world_size > 1:
        total, gram = all_reduce_sum(total), all_reduce_sum(gram)
    extra = None
    if negatives is not None and negatives.shape[0] > 0:
        extra = extra_statistics_moments(anchor, n_anchor, negatives, temperature, normalize)
    return moments_from_statistics(anchor, n_anchor, total, gram, n_anchor * world_size if gather else n_anchor,
                                   temperature, extra)


def all_reduced_two_view_moments(out0: Tensor, out1: Tensor, temperature: float, normalize: bool,
                                 negatives: Optional[Tensor] = None) -> ScoreMoments:
    """Global moments on every rank from all-reduced statistics (no embedding gather).

    Each rank contributes the D-vector sum and the D x D Gram matrix of its views plus a handful of
    scalars; the all-reduce traffic is O(D^2), independent of the batch size. The result equals
    the moments of the concatenated global batch, normalised by the global counts.
    """
    anchor = view_statistics(out0, out1, normalize)
    n_anchor = 2 * out0.shape[0]
    total, gram = all_reduce_sum(anchor.total), all_reduce_sum(anchor.gram)
    zero = torch.zeros((), dtype=_EXACT, device=out0.device)
    extra_sum, extra_sq = zero, zero
    extra_count: Count = 0
    if negatives is not None and negatives.shape[0] > 0:
        extra_sum, extra_sq, extra_count = extra_statistics_moments(anchor, n_anchor, negatives, temperature, normalize)
    counts = torch.stack([zero + n_anchor, zero + extra_count])  # scalar kernels: no host-to-device copy
    local = torch.cat([torch.stack([anchor.self_sum, anchor.self_sq, anchor.pos_sum, anchor.pos_sq,
                                    extra_sum, extra_sq]), counts])
    self_sum, self_sq, pos_sum, pos_sq, extra_sum, extra_sq, n_total, extra_count = all_reduce_sum(local).unbind(0)
    global_stats = AnchorSums(total, gram, self_sum, self_sq, pos_sum, pos_sq)
    return moments_from_statistics(global_stats, n_total, total, gram, n_total, temperature,
                                   (extra_sum, extra_sq, extra_count))


def _dense_cross_moments(x: Tensor, y: Tensor, temperature: float):
    all_sum, all_sq = _row_sums(x @ y.t())  # raw inner products, in the input dtype
    return all_sum / temperature, all_sq / temperature ** 2


def two_view_moments(pairs: TwoViewPairs, temperature: float, negatives: Optional[Tensor] = None,
                     method: str = "gram") -> ScoreMoments:
    """Moments of local anchors against ``pairs.candidates`` (+ extra ``negatives``), in float64.

    ``pairs`` hold already normalised views (``pairing.prepare_views``).

    >>> from rpc_plugins.pairing import two_view_pairs
    >>> m = two_view_moments(two_view_pairs(torch.eye(2), torch.eye(2)), temperature=1.0)
    >>> float(m.pos_sum), float(m.neg_sum), m.neg_count
    (4.0, 0.0, 8)
    """
    if method not in ("dense", "gram"):
        raise ValueError(f"method must be 'dense' or 'gram', got {method!r}")
    anchors, candidates = pairs.anchors, pairs.candidates
    n_anchor, n_cand = anchors.shape[0], candidates.shape[0]
    n = n_anchor // 2
    if method == "gram":
        anchor = view_statistics(anchors[:n], anchors[n:], normalize=False)
        cand = anchor if candidates is anchors else view_statistics(candidates, None, normalize=False)
        extra = None
        if negatives is not None and negatives.shape[0] > 0:
            extra = extra_statistics_moments(anchor, n_anchor, negatives, temperature, normalize=False)
        return moments_from_statistics(anchor, n_anchor, cand.total, cand.gram, n_cand, temperature, extra)
    all_sum, all_sq = _dense_cross_moments(anchors, candidates, temperature)
    self_scores = (anchors * anchors).sum(1).to(_EXACT) / temperature
    pos_scores = (anchors * pairs.partners).sum(1).to(_EXACT) / temperature
    pos_sum, pos_sq = pos_scores.sum(), (pos_scores ** 2).sum()
    moments = ScoreMoments(
        pos_sum=pos_sum,
        pos_sq_sum=pos_sq,
        pos_count=n_anchor,
        neg_sum=all_sum - self_scores.sum() - pos_sum,
        neg_sq_sum=all_sq - (self_scores ** 2).sum() - pos_sq,
        neg_count=n_anchor * (n_cand - 2),
    )
    if negatives is not None and negatives.shape[0] > 0:
        extra_sum, extra_sq = _dense_cross_moments(anchors, negatives, temperature)
        zero = torch.zeros((), dtype=_EXACT, device=anchors.device)
        moments = moments + ScoreMoments(zero, zero, 0, extra_sum, extra_sq, n_anchor * negatives.shape[0])
    return moments
