"""First and second moments of critic scores: everything RPC needs.

Relative Predictive Coding (Tsai et al., "Self-supervised Representation Learning with Relative
Predictive Coding", ICLR 2021, arXiv 2103.11275, eq. 2) maximises

    J_RPC(f) = E_P[f] - alpha E_Q[f] - beta/2 E_P[f^2] - gamma/2 E_Q[f^2]

over positive pairs P and negative pairs Q. It touches the scores only through six numbers: the
sum, the sum of squares and the count of each set. Moments add, so a batch can be filled in pieces
(dense from a score matrix, from Gram matrices without any N x N matrix, or per rank and then
all-reduced) and the pieces summed. ``rpc_loss_from_moments`` turns the moments into the loss -J.
"""

from typing import NamedTuple, Optional, Union

import torch
from torch import Tensor

from ._dtypes import upcast
from ._validation import check_nonnegative, check_scores, too_few_negatives
from .knobs import RPC_DEFAULTS

_EXACT = torch.float64


# A count: a Python number where it comes from shapes, a tensor where it was counted or all-reduced.
Count = Union[Tensor, float]


class ScoreMoments(NamedTuple):
    """Sums, sums of squares and counts of positive and negative critic scores (0-d tensors).

    Filled from scores by ``from_scores`` (the dense filler) and from embeddings by
    ``rpc_plugins.embedding_moments`` (every layout and reduction, dense or linear-time).

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
        several and only the masked entries are positives (E_P pools them, counted by the mask: the
        multi-positive layout, with no boolean indexing). A negative is valid where ``neg_mask`` is True
        (all, if None) and ``neg`` is not -inf. An empty ``neg (A, 0)`` gives the Python count 0, so that
        ``rpc_loss_from_moments`` takes the empty-set rule without reading a device tensor.
        ``check_finite``: the NaN/Inf policy for the scores (``_validation.finite_check_mode``).

        Sums are float64: each row is summed in the scores' (accumulation) dtype, the rows in float64.

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
        neg_valid = torch.where(valid, neg, torch.zeros_like(neg))
        neg_count: Count = valid.sum().to(_EXACT) if neg.shape[1] else 0
        (pos_sum, pos_sq_sum), (neg_sum, neg_sq_sum) = _sums(pos), _sums(neg_valid)
        return cls(pos_sum, pos_sq_sum, pos_count, neg_sum, neg_sq_sum, neg_count)


def _sums(scores: Tensor):
    """(sum, sum of squares) in float64; the rows of a 2-D tensor are summed in its dtype first (short sums)."""
    if scores.dim() == 1:
        scores = scores.to(_EXACT)
        return scores.sum(), (scores * scores).sum()
    return scores.sum(1).to(_EXACT).sum(), (scores * scores).sum(1).to(_EXACT).sum()


def valid_negatives(neg: Tensor, neg_mask: Optional[Tensor]) -> Tensor:
    """Bool mask of usable negatives: ``neg_mask`` (if given) and not -inf."""
    valid = neg != float("-inf")
    return valid if neg_mask is None else valid & neg_mask


def _known_value(count):
    """A count's value when reading it costs no device synchronisation (Python number or CPU tensor)."""
    if isinstance(count, Tensor):
        return float(count) if count.device.type == "cpu" and not _compiling() else None
    return float(count)


def _compiling() -> bool:
    from .fused_statistics import _is_compiling

    return _is_compiling()


def rpc_loss_from_moments(
    moments: ScoreMoments,
    alpha: float = RPC_DEFAULTS["alpha"],
    beta: float = RPC_DEFAULTS["beta"],
    gamma: float = RPC_DEFAULTS["gamma"],
) -> Tensor:
    """RPC's loss -J_RPC from the score moments (Tsai et al. 2021, eq. 2; same sign as ``RPCLoss`` and ``rpc_loss``).

    Counts may be Python numbers (the two-view losses take them from shapes) or tensors. With no
    negative pair at all (a count of exactly 0, e.g. a batch of one sample without other negatives)
    the negative terms are expectations over an empty set and count as 0:
    J = E_P[f] - beta/2 E_P[f^2]. Counts held on an accelerator are never read back to the host.

    >>> m = ScoreMoments.from_scores(torch.tensor([2.0]), torch.tensor([[0.0, 1.0]]))
    >>> float(rpc_loss_from_moments(m, alpha=0.5, beta=0.0, gamma=1.0))  # -(2 - 0.5*0.5 - 0.5*0.5)
    -1.5
    """
    check_nonnegative(alpha=alpha, beta=beta, gamma=gamma)
    pos_count, neg_count = _known_value(moments.pos_count), _known_value(moments.neg_count)
    if pos_count is not None and pos_count <= 0:
        raise ValueError("rpc: no positive pair")
    if neg_count is not None and neg_count < 0:
        raise too_few_negatives("rpc")
    mean_pos = moments.pos_sum / moments.pos_count
    mean_pos_sq = moments.pos_sq_sum / moments.pos_count
    objective = mean_pos - 0.5 * beta * mean_pos_sq
    if neg_count != 0:
        mean_neg = moments.neg_sum / moments.neg_count
        mean_neg_sq = moments.neg_sq_sum / moments.neg_count
        objective = objective - alpha * mean_neg - 0.5 * gamma * mean_neg_sq
    return -objective
