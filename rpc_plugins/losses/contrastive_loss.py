"""ContrastiveLoss: any registered objective on two augmented views, lightly's call convention.

Same pairing as ``RPCLoss`` (SimCLR's 2N layout, Chen et al. 2020): positives
are the cross-view pairs, each anchor's negatives are the other 2(N - 1) views (plus extra
``negatives``), f(x, y) = <x, y> / T. ``ContrastiveLoss("infonce", temperature=t)`` is NT-Xent,
numerically lightly's ``NTXentLoss(t)``; ``"rpc"`` delegates to ``RPCLoss``.

MIO (Manna et al., arXiv 2111.12664) scales positives by 1/pos_temperature and negatives by
1/neg_temperature, classifies them with binary cross-entropy and adds
``l2_weight * MSE(normalised out0, normalised out1)``.

A batch of one sample without other negatives gives the objective's value over an empty negative
set (``rpc_plugins.objectives.no_negatives``) and a one-time ``NoNegativesWarning``.
"""

from typing import Dict, Optional

import torch.nn.functional as F
from torch import Tensor

from .._dtypes import upcast
from .._validation import check_embeddings, check_values
from ..knobs import objective_options, score_options
from ..moments import rpc_loss_from_moments
from ..objectives import get_objective
from ..objectives.no_negatives import positive_only_loss
from ..pairing import prepare_views, two_view_scores
from ..two_view_moments import embedding_moments
from ._two_view import TwoViewLoss, autocast_disabled, warn_no_negatives
from .rpc_loss import RPCLoss


class ContrastiveLoss(TwoViewLoss):
    """Two-view loss for any objective in ``rpc_plugins.OBJECTIVES``.

    Args:
        objective: "rpc", "infonce", "nwj", "js", "dv", "smile" or "mio".
        temperature: critic scale T (lightly's NTXentLoss default, 0.5).
        normalize: L2-normalise outputs (cosine critic).
        gather_distributed: negatives from all ranks (lightly semantics; per-rank loss over local
            anchors; exact for objectives that average over anchors: infonce, js, mio, nwj, rpc).
        **options: the objective's knobs (``rpc_plugins.OBJECTIVE_KNOBS``, with their defaults): rpc:
            alpha, beta, gamma (and RPCLoss's distributed_mode, method); smile: clip; mio:
            pos_temperature, neg_temperature (default: temperature), l2_weight.
        check_finite: NaN/Inf policy, see ``RPCLoss``.

    ``hyperparameters`` holds the objective's resolved options; ``queue_loss`` is the MoCo /
    memory-bank layout (anchors ``out0``, positives ``out1``, negatives a queue only).

    >>> import torch
    >>> loss_fn = ContrastiveLoss("infonce", temperature=0.5)
    >>> float(loss_fn(torch.randn(4, 8), torch.randn(4, 8))) > 0
    True
    """

    def __init__(
        self,
        objective: str = "infonce",
        temperature: float = 0.5,
        normalize: bool = True,
        gather_distributed: bool = False,
        check_finite="auto",
        **options,
    ):
        super().__init__(temperature, normalize, gather_distributed, check_finite)
        self.objective = objective
        self._objective_fn = get_objective(objective)
        rpc_only = {k: options.pop(k) for k in ("distributed_mode", "method") if objective == "rpc" and k in options}
        knobs = objective_options(objective, options, temperature=self.temperature)  # ValueError on unknown keys
        self._rpc = (
            RPCLoss(
                knobs["alpha"],
                knobs["beta"],
                knobs["gamma"],
                temperature=temperature,
                normalize=normalize,
                gather_distributed=gather_distributed,
                check_finite=check_finite,
                **rpc_only,
            )
            if objective == "rpc"
            else None
        )
        self._mio = knobs if objective == "mio" else None
        self._knobs = knobs
        self.options = score_options(objective, knobs) if objective not in ("rpc", "mio") else {}

    @property
    def hyperparameters(self) -> Dict[str, float]:
        """The objective's resolved hyperparameters (``rpc_plugins.OBJECTIVE_KNOBS``: rpc: alpha, beta,
        gamma; smile: clip; mio: pos_temperature, neg_temperature, l2_weight; none for infonce, nwj, js, dv).

        >>> ContrastiveLoss("rpc", alpha=0.5).hyperparameters
        {'alpha': 0.5, 'beta': 0.01, 'gamma': 0.1}
        """
        return dict(self._knobs)

    def extra_repr(self) -> str:
        return f"objective={self.objective!r}, {super().extra_repr()}"

    def queue_loss(self, out0: Tensor, out1: Tensor, queue: Tensor) -> Tensor:
        """MoCo / memory-bank layout: anchors ``out0 (N, D)``, the positive of ``out0[i]`` is
        ``out1[i]``, the negatives are the ``queue (M, D)`` rows only (lightly's NTXentLoss with a
        memory bank). ``out0, out1`` are normalised here when ``normalize``; the queue is used as
        given (store its rows normalised, as lightly's and MoCo's banks do). RPC's moments come from
        ``rpc_plugins.embedding_moments(layout="queue")`` (fused statistics, no N x M matrix, unless the
        dense matrix is cheaper).

        >>> import torch
        >>> ContrastiveLoss("infonce").queue_loss(torch.randn(4, 8), torch.randn(4, 8), torch.randn(16, 8)).dim()
        0
        """
        check_embeddings(out0, out1, queue)
        if queue.shape[0] == 0:
            raise ValueError("queue must hold at least one negative, got shape (0, D)")
        with autocast_disabled(out0.device.type):
            check_values(self.check_finite, {"out0": out0, "out1": out1, "queue": queue})
            z0, z1 = prepare_views(out0, out1, self.normalize)
            queue = upcast(queue).to(z0.dtype)
            if self._rpc is not None:
                moments = embedding_moments(
                    z0, z1, self.temperature, False, queue, layout="queue", method=self._rpc.method
                )
                loss = rpc_loss_from_moments(moments, **self.hyperparameters)
            elif self._mio is not None:
                pos = (z0 * z1).sum(1) / self._mio["pos_temperature"]
                loss = self._objective_fn(pos, z0 @ queue.t() / self._mio["neg_temperature"])
                if self._mio["l2_weight"] > 0:
                    loss = loss + self._mio["l2_weight"] * F.mse_loss(F.normalize(z0, dim=1), F.normalize(z1, dim=1))
            else:
                pos = (z0 * z1).sum(1) / self.temperature
                loss = self._objective_fn(pos, z0 @ queue.t() / self.temperature, **self.options)
        return loss.to(self._output_dtype(out0))

    def forward(self, out0: Tensor, out1: Tensor, negatives: Optional[Tensor] = None) -> Tensor:
        """Loss of views ``out0, out1 (N, D)``; ``negatives (M, D)`` are extra negatives for all anchors."""
        if self._rpc is not None:
            return self._rpc(out0, out1, negatives)
        with autocast_disabled(out0.device.type):
            z0, z1, negatives = self._views(out0, out1, negatives)
            pairs = self._gathered_pairs(z0, z1)
            if pairs.candidates.shape[0] <= 2 and (negatives is None or negatives.shape[0] == 0):
                return self._without_negatives(z0, z1, pairs).to(self._output_dtype(out0))
            if self._mio is not None:
                pos, neg, mask = two_view_scores(
                    pairs, self._mio["neg_temperature"], negatives, pos_temperature=self._mio["pos_temperature"]
                )
                loss = self._objective_fn(pos, neg, mask)
                if self._mio["l2_weight"] > 0:
                    loss = loss + self._mio["l2_weight"] * F.mse_loss(F.normalize(z0, dim=1), F.normalize(z1, dim=1))
            else:
                pos, neg, mask = two_view_scores(pairs, self.temperature, negatives)
                loss = self._objective_fn(pos, neg, mask, **self.options)
        return loss.to(self._output_dtype(out0))

    def _without_negatives(self, z0: Tensor, z1: Tensor, pairs) -> Tensor:
        """A batch of one sample and nothing else to contrast with: negative terms over an empty set."""
        warn_no_negatives(f"ContrastiveLoss({self.objective!r})")
        pos_temperature = self._mio["pos_temperature"] if self._mio is not None else self.temperature
        pos = (pairs.anchors * pairs.partners).sum(1) / pos_temperature
        loss = positive_only_loss(self.objective, pos, **self.options)
        if self._mio is not None and self._mio["l2_weight"] > 0:
            loss = loss + self._mio["l2_weight"] * F.mse_loss(F.normalize(z0, dim=1), F.normalize(z1, dim=1))
        return loss
