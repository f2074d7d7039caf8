"""ContrastiveLoss: any registered objective on two augmented views, lightly's call convention.

Same pairing as ``RPCLoss`` (SimCLR's 2N layout, Chen et al. 2020; Tsai et al. 2021): positives
are the cross-view pairs, each anchor's negatives are the other 2(N - 1) views (plus extra
``negatives``), f(x, y) = <x, y> / T. ``ContrastiveLoss("infonce", temperature=t)`` is NT-Xent,
numerically lightly's ``NTXentLoss(t)``; ``"rpc"`` delegates to ``RPCLoss``.

MIO (Manna et al., arXiv 2111.12664) scales positives by 1/pos_temperature and negatives by
1/neg_temperature, classifies them with binary cross-entropy and adds
``l2_weight * MSE(normalised out0, normalised out1)``.
"""
from typing import Optional

import torch.nn.functional as F
from torch import Tensor

from .._validation import check_nonnegative, check_positive, too_few_negatives
from ..objectives import OBJECTIVE_HYPERPARAMETERS, get_objective
from ..pairing import two_view_scores
from ._two_view import TwoViewLoss, autocast_disabled
from .rpc_loss import RPCLoss

_MIO_OPTIONS = ("pos_temperature", "neg_temperature", "l2_weight")


class ContrastiveLoss(TwoViewLoss):
    """Two-view loss for any objective in ``rpc_plugins.OBJECTIVES``.

    Args:
        objective: "rpc", "infonce", "nwj", "js", "dv", "smile" or "mio".
        temperature: critic scale T (lightly's NTXentLoss default, 0.5).
        normalize: L2-normalise outputs (cosine critic).
        gather_distributed: negatives from all ranks (lightly semantics; per-rank loss over local
            anchors; exact for objectives that average over anchors: infonce, js, mio, nwj, rpc).
        **options: the objective's hyperparameters: rpc: alpha, beta, gamma (and RPCLoss's
            distributed_mode, method); smile: clip; mio: pos_temperature, neg_temperature
            (default: temperature), l2_weight (default 1.0).

    >>> import torch
    >>> loss_fn = ContrastiveLoss("infonce", temperature=0.5)
    >>> float(loss_fn(torch.randn(4, 8), torch.randn(4, 8))) > 0
    True
    """

    def __init__(self, objective: str = "infonce", temperature: float = 0.5, normalize: bool = True,
                 gather_distributed: bool = False, **options):
        super().__init__(temperature, normalize, gather_distributed)
        self.objective = objective
        self._objective_fn = get_objective(objective)
        allowed = OBJECTIVE_HYPERPARAMETERS[objective]
        allowed = allowed + (("distributed_mode", "method") if objective == "rpc" else ())
        allowed = allowed + (_MIO_OPTIONS if objective == "mio" else ())
        unknown = sorted(set(options) - set(allowed))
        if unknown:
            raise ValueError(f"unknown option(s) {unknown} for objective {objective!r}; it accepts {list(allowed)}")
        self._rpc = RPCLoss(temperature=temperature, normalize=normalize, gather_distributed=gather_distributed,
                            **options) if objective == "rpc" else None
        self._mio = self._mio_options(options) if objective == "mio" else None
        self.options = {} if objective in ("rpc", "mio") else dict(options)

    def _mio_options(self, options: dict) -> dict:
        mio = {
            "pos_temperature": float(options.get("pos_temperature", self.temperature)),
            "neg_temperature": float(options.get("neg_temperature", self.temperature)),
            "l2_weight": float(options.get("l2_weight", 1.0)),
        }
        check_positive(pos_temperature=mio["pos_temperature"], neg_temperature=mio["neg_temperature"])
        check_nonnegative(l2_weight=mio["l2_weight"])
        return mio

    def extra_repr(self) -> str:
        return f"objective={self.objective!r}, {super().extra_repr()}"

    def forward(self, out0: Tensor, out1: Tensor, negatives: Optional[Tensor] = None) -> Tensor:
        """Loss of views ``out0, out1 (N, D)``; ``negatives (M, D)`` are extra negatives for all anchors."""
        if self._rpc is not None:
            return self._rpc(out0, out1, negatives)
        with autocast_disabled(out0.device.type):
            z0, z1, negatives = self._views(out0, out1, negatives)
            pairs = self._gathered_pairs(z0, z1)
            if pairs.candidates.shape[0] <= 2 and (negatives is None or negatives.shape[0] == 0):
                raise too_few_negatives(f"ContrastiveLoss({self.objective!r}) with batch size {out0.shape[0]}")
            if self._mio is not None:
                pos, neg, mask = two_view_scores(pairs, self._mio["neg_temperature"], negatives,
                                                 pos_temperature=self._mio["pos_temperature"])
                loss = self._objective_fn(pos, neg, mask)
                if self._mio["l2_weight"] > 0:
                    loss = loss + self._mio["l2_weight"] * F.mse_loss(F.normalize(z0, dim=1), F.normalize(z1, dim=1))
            else:
                pos, neg, mask = two_view_scores(pairs, self.temperature, negatives)
                loss = self._objective_fn(pos, neg, mask, **self.options)
        return loss.to(self._output_dtype(out0))
