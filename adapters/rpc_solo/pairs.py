"""The positives and negatives of solo-learn main's InfoNCE losses, as (anchors, candidates, pos_mask, neg_mask).

Each builder reads what the method's own loss function reads and lays it out the way that function does, with
solo's own cross-rank helpers, so that ``loss:`` (``rpc_solo.loss_switch``; RPC: Tsai et al., ICLR 2021,
arXiv 2103.11275) scores exactly the same pairs:

- ``simclr_pairs``: ``solo.losses.simclr.simclr_loss_func`` (SimCLR with any number of crops; SupCon with the
  labels as ``indexes``): every crop of every rank is a candidate (``gather``, with gradients); positives share the
  index, the anchor itself excluded.
- ``queue_pairs``: ``mocov2plus_loss_func``: positive the key of the same image, negatives the queue only.
- ``offset_pairs``: ``mocov3_loss_func`` (keys gathered without gradients) and ``nnclr_loss_func`` (predictions
  gathered with gradients): the positive of local row i is global column ``rank * n + i``, all other columns are
  negatives.

>>> import torch
>>> a, c, pos, neg = simclr_pairs(torch.randn(4, 3), torch.tensor([0, 1, 0, 1]))
>>> pos.int().tolist()
[[0, 0, 1, 0], [0, 0, 0, 1], [1, 0, 0, 0], [0, 1, 0, 0]]
"""

from typing import Tuple

import torch
import torch.nn.functional as F
from solo.utils.misc import concat_all_gather_no_grad, gather, get_rank

Pairs = Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def simclr_pairs(z: torch.Tensor, indexes: torch.Tensor, normalize: bool = True) -> Pairs:
    """``z (crops * N, D)`` and ``indexes (crops * N,)`` as solo's SimCLR/SupCon pass them to ``simclr_loss_func``."""
    if normalize:
        z = F.normalize(z, dim=-1)
    candidates, candidate_ids = gather(z), gather(indexes)
    pos = indexes[:, None] == candidate_ids[None, :]
    pos[:, z.size(0) * get_rank() :].fill_diagonal_(False)  # the anchor itself
    neg = indexes[:, None] != candidate_ids[None, :]
    return z, candidates, pos, neg


def queue_pairs(query: torch.Tensor, key: torch.Tensor, queue: torch.Tensor) -> Pairs:
    """MoCo v2+: ``query``, ``key (N, D)`` (normalised by the method), ``queue (D, K)``; no gather (the method
    enqueues gathered keys itself)."""
    n, k = query.shape[0], queue.shape[1]
    candidates = torch.cat([key, queue.t()])
    pos = torch.zeros(n, n + k, dtype=torch.bool, device=query.device)
    pos[:, :n] = torch.eye(n, dtype=torch.bool, device=query.device)
    neg = torch.zeros_like(pos)
    neg[:, n:] = True
    return query, candidates, pos, neg


def offset_pairs(anchors: torch.Tensor, targets: torch.Tensor, with_grad: bool) -> Pairs:
    """MoCo v3 (``with_grad=False``: ``concat_all_gather_no_grad``) and NNCLR (``True``: ``gather``); both
    normalise first, as their loss functions do."""
    anchors, targets = F.normalize(anchors, dim=-1), F.normalize(targets, dim=-1)
    candidates = gather(targets) if with_grad else concat_all_gather_no_grad(targets)
    n = anchors.shape[0]
    pos = torch.zeros(n, candidates.shape[0], dtype=torch.bool, device=anchors.device)
    pos[torch.arange(n, device=anchors.device), torch.arange(n, device=anchors.device) + n * get_rank()] = True
    return anchors, candidates, pos, ~pos
