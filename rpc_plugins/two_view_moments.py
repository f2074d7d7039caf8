"""Fill RPC's score moments for the two-view (SimCLR 2N) layout without a mask.

For the bilinear critic f(x, y) = <x, y> / T the negatives' moments are "all anchor-candidate
pairs" minus the anchor's own column and its positive's column, each O(A D):

    sum_neg   = sum_ij f_ij   - sum_i f(a_i, a_i)   - sum_i f(a_i, p_i)
    sumsq_neg = sum_ij f_ij^2 - sum_i f(a_i, a_i)^2 - sum_i f(a_i, p_i)^2

The all-pairs sums come either from the dense A x C score matrix (``method="dense"``) or, with
no A x C matrix at all, from sums and Gram matrices (``method="gram"``; O((A + C) D^2)):

    sum_ij f_ij   = (sum_i a_i) . (sum_j c_j) / T
    sum_ij f_ij^2 = <A^T A, C^T C>_F / T^2

Precision: inputs are float32 (or float64); sums, Gram matrices and score matrices are formed in
that dtype, and the scalar subtractions run in float64, so removing the large self/positive terms
does not cancel away the negatives' digits (see tests/test_gram.py for the measured error).
"""
from typing import NamedTuple, Optional

import torch
from torch import Tensor

from .distributed import all_reduce_sum
from .moments import ScoreMoments
from .pairing import TwoViewPairs

_EXACT = torch.float64


class _RemovedTerms(NamedTuple):
    self_sum: Tensor
    self_sq: Tensor
    pos_sum: Tensor
    pos_sq: Tensor


def _removed_terms(pairs: TwoViewPairs, temperature: float) -> _RemovedTerms:
    """Scores of each anchor with itself and with its positive (O(A D))."""
    self_scores = (pairs.anchors * pairs.anchors).sum(1).to(_EXACT) / temperature
    pos_scores = (pairs.anchors * pairs.partners).sum(1).to(_EXACT) / temperature
    return _RemovedTerms(self_scores.sum(), (self_scores ** 2).sum(), pos_scores.sum(), (pos_scores ** 2).sum())


def _cross_moments(x: Tensor, y: Tensor, temperature: float, method: str):
    """(sum_ij f(x_i, y_j), sum_ij f(x_i, y_j)^2) for f = <x, y>/T by the chosen method."""
    if method == "dense":
        scores = (x @ y.t()).reshape(-1)  # raw inner products, in the input dtype
        return scores.sum().to(_EXACT) / temperature, torch.dot(scores, scores).to(_EXACT) / temperature ** 2
    if x is y:  # one process: one Gram matrix serves both sides
        sx = x.sum(0).to(_EXACT)
        gx = (x.t() @ x).to(_EXACT)
        return (sx @ sx) / temperature, (gx * gx).sum() / temperature ** 2
    total = (x.sum(0).to(_EXACT) @ y.sum(0).to(_EXACT)) / temperature
    gram = ((x.t() @ x).to(_EXACT) * (y.t() @ y).to(_EXACT)).sum() / temperature ** 2
    return total, gram


def _scalar(value: float, like: Tensor) -> Tensor:
    return torch.tensor(float(value), dtype=_EXACT, device=like.device)


def two_view_moments(pairs: TwoViewPairs, temperature: float, negatives: Optional[Tensor] = None,
                     method: str = "gram") -> ScoreMoments:
    """Moments of local anchors against ``pairs.candidates`` (+ extra ``negatives``), in float64.

    >>> from rpc_plugins.pairing import two_view_pairs
    >>> m = two_view_moments(two_view_pairs(torch.eye(2), torch.eye(2)), temperature=1.0)
    >>> float(m.pos_sum), float(m.neg_sum), float(m.neg_count)
    (4.0, 0.0, 8.0)
    """
    if method not in ("dense", "gram"):
        raise ValueError(f"method must be 'dense' or 'gram', got {method!r}")
    anchors, candidates = pairs.anchors, pairs.candidates
    all_sum, all_sq = _cross_moments(anchors, candidates, temperature, method)
    removed = _removed_terms(pairs, temperature)
    n_anchor, n_cand = anchors.shape[0], pairs.candidates.shape[0]
    moments = ScoreMoments(
        pos_sum=removed.pos_sum,
        pos_sq_sum=removed.pos_sq,
        pos_count=_scalar(n_anchor, anchors),
        neg_sum=all_sum - removed.self_sum - removed.pos_sum,
        neg_sq_sum=all_sq - removed.self_sq - removed.pos_sq,
        neg_count=_scalar(n_anchor * (n_cand - 2), anchors),
    )
    if negatives is not None and negatives.shape[0] > 0:
        moments = moments + extra_negative_moments(anchors, negatives, temperature, method)
    return moments


def extra_negative_moments(anchors: Tensor, negatives: Tensor, temperature: float, method: str) -> ScoreMoments:
    """Moments of every anchor against every extra negative (memory bank), all of them valid."""
    neg_sum, neg_sq = _cross_moments(anchors, negatives, temperature, method)
    zero = _scalar(0.0, anchors)
    return ScoreMoments(zero, zero, zero, neg_sum, neg_sq, _scalar(anchors.shape[0] * negatives.shape[0], anchors))


def all_reduced_two_view_moments(pairs: TwoViewPairs, temperature: float,
                                 negatives: Optional[Tensor] = None) -> ScoreMoments:
    """Global moments on every rank from all-reduced sums and Gram matrices (no embedding gather).

    Each rank contributes the d-vector sum and the d x d Gram matrix of its views plus a handful of
    scalars; the all-reduce traffic is O(D^2), independent of the batch size. The result equals
    ``two_view_moments`` on the concatenated global batch, normalised by the global counts.
    """
    anchors = pairs.anchors
    total = all_reduce_sum(anchors.sum(0).to(_EXACT))
    gram = all_reduce_sum((anchors.t() @ anchors).to(_EXACT))
    removed = _removed_terms(pairs, temperature)
    local = torch.stack([*removed, _scalar(anchors.shape[0], anchors)])
    if negatives is not None and negatives.shape[0] > 0:
        extra = extra_negative_moments(anchors, negatives, temperature, "gram")
        local = torch.cat([local, torch.stack([extra.neg_sum, extra.neg_sq_sum, extra.neg_count])])
    else:
        local = torch.cat([local, torch.zeros(3, dtype=_EXACT, device=anchors.device)])
    self_sum, self_sq, pos_sum, pos_sq, n_anchor, extra_sum, extra_sq, extra_count = all_reduce_sum(local).unbind(0)
    return ScoreMoments(
        pos_sum=pos_sum,
        pos_sq_sum=pos_sq,
        pos_count=n_anchor,
        neg_sum=(total @ total) / temperature - self_sum - pos_sum + extra_sum,
        neg_sq_sum=(gram * gram).sum() / temperature ** 2 - self_sq - pos_sq + extra_sq,
        neg_count=n_anchor * (n_anchor - 2) + extra_count,
    )
