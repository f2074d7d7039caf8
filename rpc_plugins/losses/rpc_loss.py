"""RPCLoss: Relative Predictive Coding for two augmented views, with lightly's call convention.

Tsai et al., "Self-supervised Representation Learning with Relative Predictive Coding", ICLR 2021
(arXiv 2103.11275). With N images and views a, b, the critic f(x, y) = <h_x, h_y> / T scores
every pair of the 2N views. Positives are the cross-view pairs (a_i, b_i), (b_i, a_i); each anchor's
negatives are the other view's j != i and its own view's j != i (2(N - 1) per anchor), as in the
authors' SimCLR code. The loss is

    -J_RPC = -(E_P[f] - alpha E_Q[f] - beta/2 E_P[f^2] - gamma/2 E_Q[f^2])

with E_Q normalised by the number of negative pairs, 2N * 2(N - 1) over both directions, i.e. the
mean of the a->b and b->a directions: symmetric in (out0, out1).
"""

from typing import Optional

import torch
from torch import Tensor

from .. import distributed
from .._validation import check_embeddings, check_nonnegative, check_values
from ..knobs import RPC_DEFAULTS
from ..moments import ScoreMoments, rpc_loss_from_moments
from ..fused_statistics import METHODS
from ..two_view_moments import embedding_moments
from ._two_view import TwoViewLoss, autocast_disabled, warn_no_negatives

# The authors' released settings (vision/run.py flags of martinmamql/relative_predictive_coding):
# unnormalised projections (hidden_norm=False) and T = projection width (CIFAR) or 32 (ImageNet).
# Public through ``RPCLoss.from_paper`` only.
_PAPER_PRESETS = {
    "cifar10": dict(alpha=0.0, beta=0.001, gamma=1.0, temperature=128.0, normalize=False),
    "imagenet-resnet50": dict(alpha=0.3, beta=0.01, gamma=0.1, temperature=32.0, normalize=False),
    "imagenet-resnet152x2": dict(alpha=0.3, beta=0.001, gamma=0.01, temperature=32.0, normalize=False),
}


class RPCLoss(TwoViewLoss):
    """Relative Predictive Coding loss, ``loss(out0, out1, negatives=None) -> scalar``.

    Args:
        alpha, beta, gamma: relative parameters (>= 0). Defaults: the paper's ImageNet ResNet-50
            values (0.3, 0.01, 0.1). CIFAR-10: (0.0, 0.001, 1.0); ResNet-152 2x: (0.3, 0.001, 0.01).
        temperature: critic scale T (default 0.1 on cosine scores, so f lies in [-10, 10]; the
            paper used unnormalised projections with T = 128 on CIFAR-10 and T = 32 on ImageNet,
            see ``RPCLoss.from_paper``).
        normalize: L2-normalise the outputs before scoring (cosine critic). The paper: False.
        gather_distributed: with torch.distributed, every anchor also gets the views of all ranks
            as negatives (equal per-rank batch sizes required).
        distributed_mode: how ranks combine when ``gather_distributed``: "gather" (all-gather the
            embeddings, lightly's semantics: per-rank loss over local anchors) or "moments"
            (all-reduce one D-vector and one D x D Gram matrix; every rank gets the exact global
            loss; traffic independent of the batch size). Both normalise by global counts.
        method: "dense" (score matrix), "gram" (fused linear-time path, no N x N matrix; O(N D^2);
            ``rpc_plugins.view_statistics``) or "auto" (gram when it costs fewer multiply-adds;
            ``fused_statistics.choose_method``).
        check_finite: NaN/Inf policy ("auto": ValueError for CPU inputs, no host sync on an
            accelerator; True; False; "async").

    Precision: fp16/bf16 embeddings are upcast to float32 (chunk by chunk on the Gram path) and the
    loss runs outside autocast; every sum is accumulated in float64; the result has dtype float32
    (float64 for float64 inputs).

    A batch of one sample with no other negatives (no ``negatives``, one process) gives
    J = E_P[f] - beta/2 E_P[f^2] (the negative terms over an empty set are 0) and a one-time
    ``NoNegativesWarning``, as lightly's NTXentLoss gives a finite loss there.

    >>> import torch
    >>> loss_fn = RPCLoss(alpha=0.3, beta=0.01, gamma=0.1, temperature=0.1)
    >>> out0, out1 = torch.randn(8, 16), torch.randn(8, 16)
    >>> loss = loss_fn(out0, out1)
    >>> torch.allclose(loss, loss_fn(out1, out0))
    True
    """

    def __init__(
        self,
        alpha: float = RPC_DEFAULTS["alpha"],
        beta: float = RPC_DEFAULTS["beta"],
        gamma: float = RPC_DEFAULTS["gamma"],
        temperature: float = 0.1,
        normalize: bool = True,
        gather_distributed: bool = False,
        distributed_mode: str = "gather",
        method: str = "auto",
        check_finite="auto",
    ):
        super().__init__(temperature, normalize, gather_distributed, check_finite)
        check_nonnegative(alpha=alpha, beta=beta, gamma=gamma)
        if distributed_mode not in ("gather", "moments"):
            raise ValueError(f"distributed_mode must be 'gather' or 'moments', got {distributed_mode!r}")
        if method not in METHODS:
            raise ValueError(f"method must be 'auto', 'dense' or 'gram', got {method!r}")
        self.alpha, self.beta, self.gamma = float(alpha), float(beta), float(gamma)
        self.distributed_mode = distributed_mode
        self.method = method

    @classmethod
    def from_paper(cls, setting: str, **overrides) -> "RPCLoss":
        """The authors' released hyperparameters: "cifar10", "imagenet-resnet50", "imagenet-resnet152x2".

        >>> RPCLoss.from_paper("cifar10").temperature
        128.0
        """
        if setting not in _PAPER_PRESETS:
            raise ValueError(f"unknown paper setting {setting!r}; choose one of {sorted(_PAPER_PRESETS)}")
        return cls(**{**_PAPER_PRESETS[setting], **overrides})

    def extra_repr(self) -> str:
        return (
            f"alpha={self.alpha}, beta={self.beta}, gamma={self.gamma}, {super().extra_repr()}, "
            f"distributed_mode={self.distributed_mode!r}, method={self.method!r}"
        )

    def forward(self, out0: Tensor, out1: Tensor, negatives: Optional[Tensor] = None) -> Tensor:
        """Loss of views ``out0, out1 (N, D)``; ``negatives (M, D)`` are extra negatives for all anchors."""
        check_embeddings(out0, out1, negatives)
        with autocast_disabled(out0.device.type):
            moments = self.moments(out0, out1, negatives)
            if isinstance(moments.neg_count, int) and moments.neg_count == 0:
                warn_no_negatives(type(self).__name__)
            loss = rpc_loss_from_moments(moments, self.alpha, self.beta, self.gamma)
        return loss.to(self._output_dtype(out0))

    def moments(self, out0: Tensor, out1: Tensor, negatives: Optional[Tensor] = None) -> ScoreMoments:
        """The six score moments of this batch (``rpc_plugins.embedding_moments``: float64 sums; counts
        are Python ints from shapes, or all-reduced tensors in ``distributed_mode="moments"``). Inputs
        are checked for NaN/Inf here under the ``check_finite`` policy."""
        reduction = "local"
        if self.gather_distributed and distributed.is_distributed():
            reduction = "all_reduce" if self.distributed_mode == "moments" else "gather"
        moments = embedding_moments(
            out0, out1, self.temperature, self.normalize, negatives, reduction=reduction, method=self.method
        )
        # the moments are finite when the inputs are (the positive scores see every row of out0 and out1;
        # the negatives' sum is added since the dense path skips -inf scores): no extra pass over the batch
        witness = [moments.pos_sq_sum, moments.neg_sq_sum]
        if negatives is not None:
            witness.append(negatives.sum(dtype=torch.float64))
        check_values(
            self.check_finite, {"out0": out0, "out1": out1, "negatives": negatives}, witness=torch.stack(witness)
        )
        return moments
