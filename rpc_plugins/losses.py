"""Two-view losses with lightly's call convention, ``loss(out0, out1, negatives=None) -> scalar``.

Tsai et al., "Self-supervised Representation Learning with Relative Predictive Coding", ICLR 2021
(arXiv 2103.11275). With N images and views a, b, the critic f(x, y) = <h_x, h_y> / T scores every
pair of the 2N views (SimCLR's layout, Chen et al. 2020, and that of the authors' released code):
positives are the cross-view pairs (a_i, b_i), (b_i, a_i); each anchor's negatives are the other
view's j != i and its own view's j != i (2(N - 1) per anchor), plus any extra ``negatives`` (a
memory bank). E_P and E_Q average over both directions, so every loss is symmetric in (out0, out1).

* ``RPCLoss``: -J_RPC from the score moments (``rpc_plugins.embedding_moments``: linear time, no N x N
  matrix; across ranks it can all-reduce a D-vector and a D x D matrix instead of gathering embeddings);
* ``ContrastiveLoss``: any objective of ``rpc_plugins.OBJECTIVES`` (``"infonce"`` is NT-Xent, lightly's
  ``NTXentLoss``), with ``queue_loss`` for the MoCo / memory-bank layout.

Precision: fp16/bf16 embeddings are upcast to float32 and the loss runs outside autocast; the result
has dtype float32 (float64 for float64 inputs). A batch of one sample with nothing else to contrast
with gives the objective's value over an empty negative set (``Objective.without_negatives``) and a
one-time ``NoNegativesWarning``, as lightly's NTXentLoss gives a finite loss there.
"""

import warnings
from typing import Any, Dict, Optional, Set, Union

import torch
from torch import Tensor, nn

from . import distributed

from ._validation import accumulation_dtype, check_embeddings, check_finite_option, check_positive, check_values
from ._validation import full_precision, upcast
from .moments import METHODS, embedding_moments, prepare_views
from .objectives import RPC, Objective, get_objective

# The authors' released settings (vision/run.py flags of martinmamql/relative_predictive_coding):
# unnormalised projections (hidden_norm=False) and T = projection width (CIFAR) or 32 (ImageNet).
_PAPER_PRESETS = {
    "cifar10": dict(alpha=0.0, beta=0.001, gamma=1.0, temperature=128.0, normalize=False),
    "imagenet-resnet50": dict(alpha=0.3, beta=0.01, gamma=0.1, temperature=32.0, normalize=False),
    "imagenet-resnet152x2": dict(alpha=0.3, beta=0.001, gamma=0.01, temperature=32.0, normalize=False),
}


class NoNegativesWarning(UserWarning):
    """A two-view batch had no negative pair (a batch of one sample without other negatives)."""


_warned: Set[str] = set()


def warn_no_negatives(where: str) -> None:
    """Warn once per loss: the negative terms of this batch are taken over an empty set (0)."""
    if where not in _warned:
        _warned.add(where)
        warnings.warn(
            f"{where}: a batch of one sample has no negative pair; its negative terms are taken as 0 "
            "(expectations over an empty set), as lightly's NTXentLoss gives a finite loss there. "
            "Use drop_last=True, a memory bank or gather_distributed to avoid such batches.",
            NoNegativesWarning,
            stacklevel=3,
        )


class ContrastiveLoss(nn.Module):
    """Two-view loss for any objective in ``rpc_plugins.OBJECTIVES``, in SimCLR's 2N layout.

    Args:
        objective: "rpc", "infonce", "nwj", "js", "dv", "smile" or "mio", or a declaration with its knobs
            set (``rpc_plugins.OBJECTIVES[name](...)``, e.g. ``RPC(alpha=0.5)``; then no ``**knobs``).
        temperature: critic scale T in f(x, y) = <x, y> / T (lightly's NTXentLoss default, 0.5).
        normalize: L2-normalise the outputs first (cosine critic).
        gather_distributed: with torch.distributed, anchors also see every other rank's views as negatives.
        distributed_mode: how ranks combine when ``gather_distributed``: "gather" (all-gather the
            embeddings, lightly's semantics: per-rank loss over the local anchors, global counts; equal
            batch sizes) or, for objectives that need only the score moments (RPC), "moments" (all-reduce
            one D-vector and one D x D matrix; every rank gets the exact global loss; traffic independent
            of the batch size).
        method: for moment objectives: "gram" (linear time, no N x N matrix), "dense" (score matrix) or
            "auto" (the cheaper, ``rpc_plugins.moments.choose_method``).
        check_finite: NaN/Inf policy for the inputs: "auto" (a ValueError for CPU inputs, no host
            synchronisation on an accelerator), True, False or "async" (``torch._assert_async``).
        **knobs: the objective's knobs over its declared defaults (``rpc_plugins.OBJECTIVE_KNOBS``): rpc:
            alpha, beta, gamma; smile: clip; mio: pos_temperature, neg_temperature (default: temperature),
            l2_weight.

    >>> loss_fn = ContrastiveLoss("infonce", temperature=0.5)
    >>> float(loss_fn(torch.randn(4, 8), torch.randn(4, 8))) > 0
    True
    """

    def __init__(
        self,
        objective: Union[str, Objective] = "infonce",
        temperature: float = 0.5,
        normalize: bool = True,
        gather_distributed: bool = False,
        distributed_mode: str = "gather",
        method: str = "auto",
        check_finite="auto",
        **knobs,
    ):
        super().__init__()
        check_positive(temperature=temperature)
        check_finite_option(check_finite)
        if isinstance(objective, Objective):  # a declaration with its knobs, e.g. RPC(alpha=0.5)
            if knobs:
                raise ValueError(f"{sorted(knobs)}: set the knobs in the declaration, {type(objective).__name__}(...)")
            self.objective: Any = objective
        else:  # a name and its knobs over the declared defaults: a ValueError names a bad one
            self.objective = get_objective(objective, float(temperature), **knobs)
        moments_only = hasattr(self.objective, "on_moments")
        if distributed_mode not in ("gather", "moments") or (distributed_mode == "moments" and not moments_only):
            raise ValueError(
                f"distributed_mode must be 'gather' or, for an objective of the score moments (rpc), 'moments'; "
                f"got {distributed_mode!r} for {objective!r}"
            )
        if method not in METHODS:
            raise ValueError(f"method must be 'auto', 'dense' or 'gram', got {method!r}")
        if gather_distributed and not torch.distributed.is_available():
            raise ValueError("gather_distributed is True but torch.distributed is not available")
        self.temperature, self.normalize = float(temperature), bool(normalize)
        self.gather_distributed, self.distributed_mode = bool(gather_distributed), distributed_mode
        self.method, self.check_finite = method, check_finite

    @property
    def knobs(self) -> Dict[str, float]:
        """The objective's resolved knobs.

        >>> ContrastiveLoss("rpc", alpha=0.5).knobs
        {'alpha': 0.5, 'beta': 0.01, 'gamma': 0.1}
        """
        return self.objective.knobs()

    def extra_repr(self) -> str:
        knobs = "".join(f", {k}={v}" for k, v in self.knobs.items())
        return (
            f"objective={self.objective.name!r}{knobs}, temperature={self.temperature}, normalize={self.normalize}, "
            f"gather_distributed={self.gather_distributed}, distributed_mode={self.distributed_mode!r}"
        )

    def forward(self, out0: Tensor, out1: Tensor, negatives: Optional[Tensor] = None) -> Tensor:
        """Loss of views ``out0, out1 (N, D)``; ``negatives (M, D)`` are extra negatives for all anchors."""
        check_embeddings(out0, out1, negatives)
        with full_precision(out0.device.type):
            if hasattr(self.objective, "on_moments"):
                loss = self._from_moments(out0, out1, negatives, layout="two_view")
            else:
                loss = self._from_scores(out0, out1, negatives)
        return loss.to(accumulation_dtype(out0.dtype))

    def queue_loss(self, out0: Tensor, out1: Tensor, queue: Tensor) -> Tensor:
        """MoCo / memory-bank layout: anchors ``out0 (N, D)``, the positive of ``out0[i]`` is ``out1[i]``, the
        negatives are the ``queue (M, D)`` rows only (lightly's NTXentLoss with a memory bank). ``out0, out1``
        are normalised here when ``normalize``; the queue is used as given (store its rows normalised, as
        lightly's and MoCo's banks do).

        >>> ContrastiveLoss("infonce").queue_loss(torch.randn(4, 8), torch.randn(4, 8), torch.randn(16, 8)).dim()
        0
        """
        check_embeddings(out0, out1, queue)
        if queue.shape[0] == 0:
            raise ValueError("queue must hold at least one negative, got shape (0, D)")
        with full_precision(out0.device.type):
            if hasattr(self.objective, "on_moments"):
                loss = self._from_moments(out0, out1, queue, layout="queue")
            else:
                check_values(self.check_finite, {"out0": out0, "out1": out1, "queue": queue})
                z0, z1, _ = prepare_views(out0, out1, self.normalize)
                queue = upcast(queue).to(z0.dtype)  # used as given
                pos_t, neg_t = self._temperatures()
                loss = self.objective((z0 * z1).sum(1) / pos_t, z0 @ queue.t() / neg_t) + self._pair_term(z0, z1)
        return loss.to(accumulation_dtype(out0.dtype))

    def _from_moments(self, out0: Tensor, out1: Tensor, negatives: Optional[Tensor], layout: str) -> Tensor:
        """Objectives of the score moments (RPC): linear time, no score matrix (``embedding_moments``)."""
        reduction = "local"  # the queue layout: every rank contrasts with its own queue, as lightly's bank
        if layout != "queue" and self.gather_distributed and distributed.is_distributed():
            reduction = "all_reduce" if self.distributed_mode == "moments" else "gather"
        normalize = self.normalize
        if layout == "queue":  # the queue is used as given: normalise the views only
            assert negatives is not None
            out0, out1, _ = prepare_views(out0, out1, normalize)
            negatives, normalize = upcast(negatives).to(out0.dtype), False
        moments = embedding_moments(
            out0, out1, self.temperature, normalize, negatives, layout=layout, reduction=reduction, method=self.method
        )
        # the moments are finite when the inputs are (the positives see every row of out0 and out1; the
        # negatives' sum is added since the dense path skips -inf scores): no extra pass over the batch
        witness = [moments.pos_sq_sum, moments.neg_sq_sum]
        if negatives is not None:
            witness.append(negatives.sum(dtype=torch.float64))
        check_values(self.check_finite, {"out0": out0, "out1": out1, "negatives": negatives}, torch.stack(witness))
        if isinstance(moments.neg_count, int) and moments.neg_count == 0:
            warn_no_negatives(type(self).__name__)
        return self.objective.on_moments(moments)

    def _from_scores(self, out0: Tensor, out1: Tensor, negatives: Optional[Tensor]) -> Tensor:
        """Every other objective: the dense scores of the 2N layout (``rpc_plugins.pairing``)."""
        from .pairing import two_view_pairs, two_view_pairs_across_ranks, two_view_scores

        check_values(self.check_finite, {"out0": out0, "out1": out1, "negatives": negatives})
        z0, z1, negatives = prepare_views(out0, out1, self.normalize, negatives)
        gather = self.gather_distributed and distributed.is_distributed()
        pairs = two_view_pairs_across_ranks(z0, z1) if gather else two_view_pairs(z0, z1)
        pos_t, neg_t = self._temperatures()
        if pairs.candidates.shape[0] <= 2 and (negatives is None or negatives.shape[0] == 0):
            warn_no_negatives(f"ContrastiveLoss({self.objective.name!r})")
            loss = self.objective.without_negatives((pairs.anchors * pairs.partners).sum(1) / pos_t)
        else:
            loss = self.objective(*two_view_scores(pairs, neg_t, negatives, pos_temperature=pos_t))
        return loss + self._pair_term(z0, z1)

    def _temperatures(self):
        knobs = self.objective.knobs()
        return knobs.get("pos_temperature", self.temperature), knobs.get("neg_temperature", self.temperature)

    def _pair_term(self, z0: Tensor, z1: Tensor) -> Tensor:
        """Terms an objective adds on the views themselves (MIO's L2 term), else 0."""
        return self.objective.l2_term(z0, z1) if hasattr(self.objective, "l2_term") else z0.new_zeros(())


class RPCLoss(ContrastiveLoss):
    """Relative Predictive Coding loss -J_RPC = -(E_P[f] - alpha E_Q[f] - beta/2 E_P[f^2] - gamma/2 E_Q[f^2]).

    Args:
        alpha, beta, gamma: the relative parameters (>= 0), declared by ``rpc_plugins.objectives.RPC``;
            defaults: the paper's ImageNet ResNet-50 values. ``RPCLoss.from_paper`` has the others.
        temperature: critic scale T (default 0.1 on cosine scores, so f lies in [-10, 10]; the paper used
            unnormalised projections with T = 128 on CIFAR-10 and T = 32 on ImageNet).
        normalize: L2-normalise the outputs before scoring (cosine critic). The paper: False.
        gather_distributed, distributed_mode, method, check_finite: see ``ContrastiveLoss``.

    E_Q is normalised by the number of negative pairs, 2N * 2(N - 1) over both directions. The moments
    come from ``rpc_plugins.embedding_moments`` (float64 sums, no N x N matrix on the "gram" path).

    >>> loss_fn = RPCLoss(alpha=0.3, beta=0.01, gamma=0.1, temperature=0.1)
    >>> out0, out1 = torch.randn(8, 16), torch.randn(8, 16)
    >>> loss = loss_fn(out0, out1)
    >>> torch.allclose(loss, loss_fn(out1, out0))
    True
    """

    def __init__(
        self,
        alpha: float = RPC.alpha,
        beta: float = RPC.beta,
        gamma: float = RPC.gamma,
        temperature: float = 0.1,
        normalize: bool = True,
        gather_distributed: bool = False,
        distributed_mode: str = "gather",
        method: str = "auto",
        check_finite="auto",
    ):
        objective = RPC(alpha, beta, gamma)
        super().__init__(objective, temperature, normalize, gather_distributed, distributed_mode, method, check_finite)

    @classmethod
    def from_paper(cls, setting: str, **overrides) -> "RPCLoss":
        """The authors' released hyperparameters: "cifar10", "imagenet-resnet50", "imagenet-resnet152x2".

        >>> RPCLoss.from_paper("cifar10").temperature
        128.0
        """
        if setting not in _PAPER_PRESETS:
            raise ValueError(f"unknown paper setting {setting!r}; choose one of {sorted(_PAPER_PRESETS)}")
        return cls(**{**_PAPER_PRESETS[setting], **overrides})
