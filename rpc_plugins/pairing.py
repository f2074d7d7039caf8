"""Pairings: which critic scores are positives and which are negatives.

Two layouts are supported:

* **Two views, SimCLR's 2N layout** (Chen et al. 2020; the layout of Tsai et al. 2021's released
  vision code): anchors are all 2N views; anchor i's positive is the other view of the same image;
  its negatives are every other view of the batch except itself and its positive (2(N-1) of them),
  plus any extra negatives (a memory bank). With several ranks the candidates are the views of all
  ranks while the anchors stay local.
* **Positive in column 0** (fairseq's wav2vec / wav2vec 2.0 and CPC logits): each row holds the
  positive then K distractors; ``-inf`` marks a distractor that equals the positive and must be
  dropped.
"""

from typing import NamedTuple, Optional, Tuple

import torch
from torch import Tensor

from . import distributed
from ._validation import check_floating


class TwoViewPairs(NamedTuple):
    """Embeddings arranged as anchors against candidates (all already normalised/upcast).

    anchors:   (A, D) local views [z0; z1]
    partners:  (A, D) each anchor's positive [z1; z0]
    candidates:(C, D) every view that can be a negative (local, or gathered from all ranks),
               containing each anchor at ``self_index`` and its partner at ``partner_index``
    """

    anchors: Tensor
    partners: Tensor
    candidates: Tensor
    self_index: Tensor
    partner_index: Tensor


def two_view_pairs(
    z0: Tensor, z1: Tensor, all_z0: Optional[Tensor] = None, all_z1: Optional[Tensor] = None, offset: int = 0
) -> TwoViewPairs:
    """Arrange local views ``z0, z1 (n, D)`` against candidates.

    ``all_z0, all_z1 (N_total, D)`` are the views of every rank (default: the local ones) and
    ``offset`` is the position of this rank's first pair in them.

    >>> p = two_view_pairs(torch.zeros(3, 2), torch.ones(3, 2))
    >>> p.self_index.tolist(), p.partner_index.tolist()
    ([0, 1, 2, 3, 4, 5], [3, 4, 5, 0, 1, 2])
    """
    anchors = torch.cat([z0, z1], dim=0)
    single = all_z0 is None and all_z1 is None
    all_z0 = z0 if all_z0 is None else all_z0
    all_z1 = z1 if all_z1 is None else all_z1
    n, total = z0.shape[0], all_z0.shape[0]
    local = torch.arange(n, device=z0.device) + offset
    return TwoViewPairs(
        anchors=anchors,
        partners=torch.cat([z1, z0], dim=0),
        # one process: the candidates are the anchors themselves (the same tensor, no copy)
        candidates=anchors if single else torch.cat([all_z0, all_z1], dim=0),
        self_index=torch.cat([local, local + total]),
        partner_index=torch.cat([local + total, local]),
    )


def two_view_pairs_across_ranks(z0: Tensor, z1: Tensor) -> TwoViewPairs:
    """Local views against the candidates of every rank (all-gathered, differentiable; equal batch sizes),
    or against the local ones without torch.distributed.

    >>> two_view_pairs_across_ranks(torch.zeros(3, 2), torch.ones(3, 2)).candidates.shape
    torch.Size([6, 2])
    """
    if distributed.is_distributed():
        offset = distributed.rank() * z0.shape[0]
        return two_view_pairs(z0, z1, distributed.all_gather(z0), distributed.all_gather(z1), offset)
    return two_view_pairs(z0, z1)


def two_view_scores(
    pairs: TwoViewPairs, temperature: float, negatives: Optional[Tensor] = None, pos_temperature: Optional[float] = None
) -> Tuple[Tensor, Tensor, Tensor]:
    """Dense scores of the 2N layout: ``pos (A,)``, ``neg (A, C [+ M])``, ``neg_mask``.

    f(x, y) = <x, y> / temperature; positives may use their own ``pos_temperature`` (MIO).
    Self and partner columns stay in ``neg`` but are masked out.

    >>> z = torch.eye(2)
    >>> pos, neg, mask = two_view_scores(two_view_pairs(z, z), temperature=1.0)
    >>> pos.tolist(), mask.sum().item()
    ([1.0, 1.0, 1.0, 1.0], 8)
    """
    scores = pairs.anchors @ pairs.candidates.t()  # (A, C) raw inner products
    rows = torch.arange(scores.shape[0], device=scores.device)
    pos = scores[rows, pairs.partner_index] / (pos_temperature or temperature)
    mask = torch.ones_like(scores, dtype=torch.bool)
    mask[rows, pairs.self_index] = False
    mask[rows, pairs.partner_index] = False
    neg = scores / temperature
    if negatives is not None:
        neg = torch.cat([neg, pairs.anchors @ negatives.t() / temperature], dim=1)
        mask = torch.cat(
            [mask, torch.ones(mask.shape[0], negatives.shape[0], dtype=torch.bool, device=mask.device)], dim=1
        )
    return pos, neg, mask


def split_column0_logits(logits: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """Split fairseq/CPC logits ``(A, 1 + K)`` into ``pos (A,)``, ``neg (A, K)``, ``neg_mask``.

    Column 0 is the positive; a ``-inf`` distractor (fairseq's mark for a negative identical to
    the positive) is invalid.

    >>> pos, neg, mask = split_column0_logits(torch.tensor([[2.0, 0.5, float("-inf")]]))
    >>> pos.tolist(), mask.tolist()
    ([2.0], [[True, False]])
    """
    check_floating("logits", logits)
    if logits.dim() != 2 or logits.shape[1] < 2:
        raise ValueError(
            f"logits must be 2-D (anchors, 1 + negatives) with the positive in column 0 and at least "
            f"one negative, got shape {tuple(logits.shape)}"
        )
    pos, neg = logits[:, 0], logits[:, 1:]
    return pos, neg, neg != float("-inf")
