"""RPC's score moments straight from embeddings: one function for every layout, reduction and path.

Relative Predictive Coding (Tsai et al., ICLR 2021, arXiv 2103.11275, eq. 2; ``rpc_plugins.moments``)
needs six numbers of the critic scores f(x, y) = <x, y> / T. ``embedding_moments`` fills them for

* the two-view layout (SimCLR's 2N, ``layout="two_view"``): anchors [out0; out1], each anchor's positive
  its other view, its negatives every other view (of every rank with a reduction) plus ``negatives``;
* the queue / memory-bank layout (MoCo, ``layout="queue"``): anchors out0, positives out1, negatives
  the ``negatives`` rows only;

each on one process ("local"), with the candidates of every rank ("gather", lightly's semantics: a
per-rank loss over local anchors with global counts) or as the global batch's moments on every rank
("all_reduce"). Two paths, chosen by ``fused_statistics.choose_method``:

* "dense", the reference: ``ScoreMoments.from_scores`` of the masked score matrix
  (``pairing.two_view_scores``), O(A C D);
* "gram", no A x C matrix at all (O((A + C) D^2)): from the fused statistics of
  ``view_statistics``, the negatives' moments being "all anchor-candidate pairs" minus the anchor's
  own column and its positive's column,

      sum_neg   = (sum_i a_i) . (sum_j c_j) / T   - sum_i f(a_i, a_i)   - sum_i f(a_i, p_i)
      sumsq_neg = <A^T A, C^T C>_F / T^2          - sum_i f(a_i, a_i)^2 - sum_i f(a_i, p_i)^2

Precision: products are formed in the input dtype (float32 or float64); every sum over rows or
pairs is accumulated in float64 (the dense path sums each score row in the input dtype, a short
cascade, then the rows in float64), so the result does not depend on the BLAS or the thread
count, and removing the large self/positive terms does not cancel away the negatives' digits
(tests/test_gram.py, at 1, 2 and 16 threads). Counts are Python numbers taken from shapes (tensors
once all-reduced): nothing here reads a tensor value on the host.
"""

from typing import Optional

import torch
from torch import Tensor

from .distributed import all_gather, all_reduce_sum, is_distributed, rank, world_size
from .fused_statistics import AnchorSums, choose_method, view_statistics
from .moments import Count, ScoreMoments
from .pairing import prepare_views, two_view_pairs, two_view_pairs_across_ranks, two_view_scores

_EXACT = torch.float64
REDUCTIONS = ("local", "gather", "all_reduce")
LAYOUTS = ("two_view", "queue", "cross")


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
    """ScoreMoments of the critic <x, y> / ``temperature`` on views ``out0, out1 (N, D)`` (float64 sums).

    Args:
        normalize: L2-normalise every row (out0, out1 and negatives) first: the cosine critic.
        negatives: ``(M, D)`` extra negatives of every anchor (a memory bank); with ``layout="queue"``
            the only negatives (at least one row).
        layout: "two_view" (SimCLR's 2N layout), "queue" (anchors out0, negatives the ``negatives`` rows
            only) or "cross" (CLIP: anchors out0, candidates out1, positives the pairs (out0[k], out1[k]),
            negatives every (out0[k], out1[j]), j != k; the text->image direction holds the same pairs).
        reduction: "local"; "gather" (candidates from every rank, equal batch sizes; in-batch layout
            only); "all_reduce" (the global moments on every rank; counts become tensors). Without
            torch.distributed both are "local".
        method: "auto", "dense" or "gram" (``fused_statistics.choose_method``).

    >>> m = embedding_moments(torch.eye(2), torch.eye(2), temperature=1.0, normalize=False)
    >>> float(m.pos_sum), float(m.neg_sum), m.neg_count
    (4.0, 0.0, 8)
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    if layout == "cross":
        return _cross_moments(out0, out1, temperature, normalize, negatives, reduction, method)
    in_batch = layout == "two_view"
    extra = 0 if negatives is None else negatives.shape[0]
    if not in_batch and extra == 0:
        raise ValueError("layout='queue' needs negatives with at least one row")
    if not in_batch and reduction == "gather":
        raise ValueError("reduction='gather' needs an in-batch layout: the queue layout has no in-batch candidates")
    world = world_size() if reduction != "local" and is_distributed() else 1
    reduction = reduction if world > 1 else "local"
    n_anchor = (2 if in_batch else 1) * out0.shape[0]
    n_candidate = n_anchor * world if in_batch else 0  # in-batch candidates (of every rank)
    path = choose_method(method, n_anchor, n_candidate + extra, out0.shape[1], reduction)
    if path == "dense":
        moments = _dense(out0, out1, temperature, normalize, negatives, in_batch, reduction == "gather")
        # the layout fixes the counts: Python numbers, never read from a device
        return moments._replace(neg_count=n_anchor * ((n_candidate - 2 if in_batch else 0) + extra))
    bank = negatives if extra else None
    if not in_batch:
        z0, z1 = prepare_views(out0, out1, normalize)
        positives = (z0 * z1).sum(1).to(_EXACT) / temperature
        anchor = view_statistics(z0, None, normalize=False)
        moments = ScoreMoments.from_scores(positives, positives.new_zeros(n_anchor, 0), check_finite=False)
        moments = moments + _assemble(anchor, n_anchor, temperature, None, bank, normalize)
    else:
        anchor = view_statistics(out0, out1, normalize)
        total, gram = anchor.total, anchor.gram
        count: Count = n_candidate
        if reduction == "gather":
            total, gram = all_reduce_sum(total), all_reduce_sum(gram)
        elif reduction == "all_reduce":  # the global candidate count rides with the sum vector
            packed = all_reduce_sum(torch.cat([total, (torch.zeros_like(total[:1]) + n_anchor)]))
            total, count, gram = packed[:-1], packed[-1], all_reduce_sum(gram)
        moments = _assemble(anchor, n_anchor, temperature, (total, gram, count), bank, normalize)
    if reduction == "all_reduce":  # moments add: the global batch's are the sum over ranks
        zero = torch.zeros((), dtype=_EXACT, device=out0.device)
        moments = ScoreMoments(*all_reduce_sum(torch.stack([zero + m for m in moments])).unbind(0))
    return moments


def _dense(
    out0: Tensor,
    out1: Tensor,
    temperature: float,
    normalize: bool,
    negatives: Optional[Tensor],
    in_batch: bool,
    gather: bool,
) -> ScoreMoments:
    """The reference path: ``from_scores`` of the masked score matrix (counts from the mask)."""
    z0, z1 = prepare_views(out0, out1, normalize)
    if negatives is not None:
        negatives = negatives.to(z0.dtype)
        negatives = torch.nn.functional.normalize(negatives, dim=1) if normalize else negatives
    if not in_batch and negatives is not None:
        return ScoreMoments.from_scores(
            (z0 * z1).sum(1) / temperature, z0 @ negatives.t() / temperature, check_finite=False
        )
    pairs = two_view_pairs_across_ranks(z0, z1) if gather else two_view_pairs(z0, z1)
    return ScoreMoments.from_scores(*two_view_scores(pairs, temperature, negatives), check_finite=False)


def _assemble(
    anchor: AnchorSums,
    n_anchor: int,
    temperature: float,
    candidates: Optional[tuple],
    bank: Optional[Tensor],
    normalize: bool,
) -> ScoreMoments:
    """Moments from fused sums. ``candidates = (total, gram, count)``: in-batch candidates that hold
    every anchor and its partner (positives: the partners; negatives: the rest; without candidates the
    positive moments are 0); ``bank (M, D)``: further negatives of every anchor."""
    zero = torch.zeros((), dtype=_EXACT, device=anchor.total.device)
    t = temperature
    moments = ScoreMoments(zero, zero, 0, zero, zero, 0)
    if candidates is not None:
        total, gram, count = candidates
        pos_sum, pos_sq = anchor.pos_sum / t, anchor.pos_sq / t**2
        moments = ScoreMoments(
            pos_sum=pos_sum,
            pos_sq_sum=pos_sq,
            pos_count=n_anchor,
            neg_sum=anchor.total @ total / t - anchor.self_sum / t - pos_sum,
            neg_sq_sum=(anchor.gram * gram).sum() / t**2 - anchor.self_sq / t**2 - pos_sq,
            neg_count=n_anchor * (count - 2),
        )
    if bank is not None:  # every anchor against every bank row: sum_ik f = (sum a).(sum q) / T, etc.
        q = view_statistics(bank, None, normalize)
        moments = moments + ScoreMoments(
            zero, zero, 0, anchor.total @ q.total / t, (anchor.gram * q.gram).sum() / t**2, n_anchor * bank.shape[0]
        )
    return moments


def _cross_moments(
    image: Tensor,
    text: Tensor,
    temperature: float,
    normalize: bool,
    negatives: Optional[Tensor],
    reduction: str,
    method: str,
) -> ScoreMoments:
    """The cross-modal (CLIP) layout: local rows of ``image`` against the ``text`` rows of every rank."""
    if negatives is not None:
        raise ValueError("layout='cross' takes no extra negatives")
    world = world_size() if reduction != "local" and is_distributed() else 1
    reduction = reduction if world > 1 else "local"
    n, t = image.shape[0], temperature
    path = choose_method(method, n, n * world, image.shape[1], reduction)
    u, v = prepare_views(image, text, normalize)
    if path == "dense":
        candidates, offset = v, 0
        if reduction == "gather":
            candidates, offset = all_gather(v), rank() * n
        scores = u @ candidates.t() / t
        rows = torch.arange(n, device=u.device)
        columns = torch.arange(candidates.shape[0], device=u.device)
        positive = columns[None, :] == (rows + offset)[:, None]
        pos = scores.gather(1, (rows + offset)[:, None]).squeeze(1)
        moments = ScoreMoments.from_scores(pos, scores, ~positive, check_finite=False)
        return moments._replace(neg_count=n * (n * world - 1))
    positives = (u * v).sum(1)
    pos_sum, pos_sq = positives.sum(dtype=_EXACT) / t, (positives.to(_EXACT) ** 2).sum() / t**2
    images, texts = view_statistics(u, None, normalize=False), view_statistics(v, None, normalize=False)
    total, gram, count = texts.total, texts.gram, n
    if reduction == "gather":
        total, gram, count = all_reduce_sum(total), all_reduce_sum(gram), n * world
    elif reduction == "all_reduce":  # the global text count rides with the sum vector
        packed = all_reduce_sum(torch.cat([total, torch.zeros_like(total[:1]) + n]))
        total, count, gram = packed[:-1], packed[-1], all_reduce_sum(gram)
    moments = ScoreMoments(
        pos_sum=pos_sum,
        pos_sq_sum=pos_sq,
        pos_count=n,
        neg_sum=images.total @ total / t - pos_sum,
        neg_sq_sum=(images.gram * gram).sum() / t**2 - pos_sq,
        neg_count=n * (count - 1),
    )
    if reduction == "all_reduce":  # moments add: the global batch's are the sum over ranks
        zero = torch.zeros((), dtype=_EXACT, device=image.device)
        moments = ScoreMoments(*all_reduce_sum(torch.stack([zero + m for m in moments])).unbind(0))
    return moments
