"""Objectives on a score matrix where an anchor may have several positives (multi-crop, class labels).

SimCLR with more than two crops, and SupCon, score every anchor ``a`` against every candidate ``c``
(``scores (A, C)``); ``pos_mask[a, c]`` marks the candidates that share the anchor's image (or label) and
``neg_mask[a, c]`` those that do not (the anchor itself is in neither). For each objective:

- ``infonce``: per anchor ``-log(sum_pos e^f / (sum_pos e^f + sum_neg e^f))``, averaged over the anchors that have
  a positive: the multi-positive form of solo-learn's ``simclr_loss_func`` (Khosla et al. 2020, eq. 3 "out").
  With one positive per anchor it is InfoNCE (Oord et al. 2018).
- every other objective (``rpc``, ``nwj``, ``js``, ``dv``, ``smile``, ``mio``): E_P averages ALL positive pairs and
  E_Q ALL negative pairs of the matrix, e.g. RPC (Tsai et al., ICLR 2021, arXiv 2103.11275, eq. 2)
  ``-(E_P[f] - alpha E_Q[f] - beta/2 E_P[f^2] - gamma/2 E_Q[f^2])``. With the two-view SimCLR layout this is exactly
  ``rpc_plugins.ContrastiveLoss``'s pooling (2N positive pairs, 2N * 2(N - 1) negative pairs).

The pooled objectives are the score-level ones of ``rpc_plugins.get_objective`` (their E_Q pools every valid
negative of every row), fed the P positive pairs as anchors and the M negative pairs laid out over P rows; RPC
reads its moments straight from the masks (``ScoreMoments.from_scores`` with ``pos_mask``).

>>> import torch
>>> scores = torch.tensor([[0.0, 2.0, 1.0], [2.0, 0.0, 1.0]])
>>> pos = torch.tensor([[False, True, False], [True, False, False]])
>>> neg = torch.tensor([[False, False, True], [False, False, True]])
>>> float(multi_positive_loss("rpc", scores, pos, neg, alpha=0.0, beta=0.0, gamma=0.0))  # -E_P[f]
-2.0
"""

import warnings
from typing import Optional

import torch
from torch import Tensor

from .losses import NoNegativesWarning
from .moments import ScoreMoments
from .objectives import get_objective


def _check(scores: Tensor, pos_mask: Tensor, neg_mask: Tensor, neg_scores: Optional[Tensor]) -> None:
    if not torch.is_floating_point(scores):
        raise ValueError(f"scores must be a floating-point tensor, got {scores.dtype}")
    if scores.dim() != 2:
        raise ValueError(f"scores must be 2-D (anchors, candidates), got shape {tuple(scores.shape)}")
    for name, mask in (("pos_mask", pos_mask), ("neg_mask", neg_mask)):
        if mask.dtype != torch.bool:
            raise ValueError(f"{name} must be a bool tensor, got {mask.dtype}")
        if mask.shape != scores.shape:
            raise ValueError(f"{name} shape {tuple(mask.shape)} must equal scores shape {tuple(scores.shape)}")
    if neg_scores is not None and neg_scores.shape != scores.shape:
        raise ValueError(f"neg_scores shape {tuple(neg_scores.shape)} must equal scores shape {tuple(scores.shape)}")
    if scores.device.type != "cpu":  # value checks read the device back: CPU only, as the core's other checks
        return
    if bool((pos_mask & neg_mask).any()):
        raise ValueError("pos_mask and neg_mask overlap: a pair cannot be both positive and negative")
    if not bool(pos_mask.any()):
        raise ValueError("pos_mask selects no positive pair")
    for name, values in (("scores", scores), ("neg_scores", neg_scores)):
        if values is not None and not bool(torch.isfinite(values).all()):
            raise ValueError(f"{name} contain NaN or Inf")


def multi_positive_infonce(scores: Tensor, pos_mask: Tensor, neg_mask: Tensor) -> Tensor:
    """Mean over anchors with a positive of ``logsumexp(pos ∪ neg) - logsumexp(pos)`` (stable form of solo's
    ``-log(sum_pos e^f / (sum_pos e^f + sum_neg e^f))``).

    >>> import math, torch
    >>> s = torch.zeros(1, 3); p = torch.tensor([[True, False, False]]); n = ~p
    >>> abs(float(multi_positive_infonce(s, p, n)) - math.log(3)) < 1e-6
    True
    """
    has_pos = pos_mask.any(dim=1)
    # rows without a positive are left out by the masks (no boolean indexing); their scores are replaced by
    # zeros so that no logsumexp of an all -inf row puts a NaN into the gradient
    safe = torch.where(has_pos[:, None], scores, torch.zeros_like(scores))
    minus_inf = torch.full_like(scores, float("-inf"))
    keep = ~has_pos[:, None]
    log_pos = torch.logsumexp(torch.where(pos_mask | keep, safe, minus_inf), dim=1)
    log_all = torch.logsumexp(torch.where(pos_mask | neg_mask | keep, safe, minus_inf), dim=1)
    per_anchor = torch.where(has_pos, log_all - log_pos, torch.zeros_like(log_pos))
    return per_anchor.sum() / has_pos.sum()


def multi_positive_loss(
    objective: str,
    scores: Tensor,
    pos_mask: Tensor,
    neg_mask: Tensor,
    neg_scores: Optional[Tensor] = None,
    **knobs,
) -> Tensor:
    """Loss of ``objective`` on ``scores (A, C)`` with positives ``pos_mask`` and negatives ``neg_mask`` (bool (A, C)).

    ``neg_scores`` (default ``scores``) scores the negative pairs when they use another critic scale (MIO's
    separate temperatures). ``knobs`` go to the objective (rpc: alpha, beta, gamma; smile: clip).
    Scores are accumulated in float32 (float64 inputs stay float64). Masks and values are checked on the CPU
    only (no device synchronisation on an accelerator), where a batch without any negative pair gives the
    objective's value over an empty negative set and a ``NoNegativesWarning``.

    >>> import torch
    >>> s = torch.randn(4, 6); p = torch.zeros(4, 6, dtype=torch.bool); p[:, 0] = True
    >>> one = multi_positive_loss("infonce", s, p, ~p)
    >>> bool(torch.isclose(one, torch.nn.functional.cross_entropy(s, torch.zeros(4, dtype=torch.long))))
    True
    """
    fn = get_objective(objective, **knobs)
    _check(scores, pos_mask, neg_mask, neg_scores)
    scores = scores.float() if scores.dtype != torch.float64 else scores
    neg_scores = scores if neg_scores is None else neg_scores.to(scores.dtype)
    if objective == "infonce":
        if neg_scores is not scores:
            raise ValueError("infonce scores positives and negatives together: neg_scores must not be given")
        return multi_positive_infonce(scores, pos_mask, neg_mask)
    no_negatives = scores.device.type == "cpu" and not bool(neg_mask.any())  # one image, one rank
    if no_negatives:
        warnings.warn(
            f"multi_positive_loss({objective!r}): no negative pair in this batch; the negative terms are taken as 0",
            NoNegativesWarning,
        )
    if hasattr(fn, "on_moments"):  # RPC: its moments take an empty negative set (a count of 0) themselves
        moments = ScoreMoments.from_scores(scores, neg_scores, neg_mask, pos_mask=pos_mask, check_finite=False)
        return fn.on_moments(moments).to(scores.dtype)
    if no_negatives:  # known on the CPU only
        return fn.without_negatives(scores[pos_mask])
    return fn(scores, neg_scores, neg_mask, pos_mask=pos_mask)  # pooled by the masks: no boolean indexing


__all__ = ["multi_positive_loss", "multi_positive_infonce"]
