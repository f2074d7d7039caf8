"""open_clip losses for RPC and its peers: ``loss(image_features, text_features, logit_scale, logit_bias=None)``.

Relative Predictive Coding (Tsai, Ma, Yang, Zhao, Morency, Salakhutdinov, "Self-supervised Representation
Learning with Relative Predictive Coding", ICLR 2021, arXiv 2103.11275, eq. 2) maximises

    J_RPC = E_P[f] - alpha E_Q[f] - beta/2 E_P[f^2] - gamma/2 E_Q[f^2]

over the critic f. Here f is open_clip's: ``f(i, t) = logit_scale * <i, t> (+ logit_bias)``. The pairs
are cross-modal only, as in ``open_clip.ClipLoss``: image k with text k is positive (P), image k with
text j != k negative (Q); the text -> image direction holds the same pairs, so RPC's two directions
agree and one set of moments serves both.

RPC needs only the first two moments of the scores, and with this critic those come from the d x d
cross-Gram statistics of the features. Distributed, ``reduction="all_reduce"`` (RPC's default)
all-reduces a d-vector, a d x d matrix and six numbers per step: no rank gathers another's features and
no N x N score matrix exists. ``reduction="gather"`` gathers the texts (local images against every
rank's texts), as the objectives on scores must.

The other objectives (``infonce``, ``nwj``, ``js``, ``dv``, ``smile``, ``mio``) work on the scores and
reproduce ClipLoss's distributed semantics exactly, ``local_loss`` and ``gather_with_grad`` included
(open_clip's own ``gather_features``); ``infonce`` is ClipLoss. Every use of the core ``rpc_plugins``
by this adapter is in this module.

>>> import torch, torch.nn.functional as F
>>> from rpc_open_clip import ObjectiveClipLoss
>>> image, text = F.normalize(torch.randn(8, 16), dim=1), F.normalize(torch.randn(8, 16), dim=1)
>>> loss = ObjectiveClipLoss("rpc")(image, text, logit_scale=torch.tensor(10.0))
>>> loss.dim()
0
>>> out = ObjectiveClipLoss("infonce")(image, text, torch.tensor(10.0), output_dict=True)
>>> sorted(out)
['contrastive_loss']
"""

from typing import Any, Dict, Mapping, Optional, Tuple

import torch
from open_clip.loss import gather_features
from torch import Tensor, nn

import rpc_plugins

OBJECTIVE_KNOBS = rpc_plugins.OBJECTIVE_KNOBS
OBJECTIVES: Tuple[str, ...] = tuple(rpc_plugins.OBJECTIVES)
# Objectives that depend on the scores only through RPC's six moments: they can all-reduce.
MOMENT_OBJECTIVES: Tuple[str, ...] = ("rpc",)
REDUCTIONS: Tuple[str, ...] = ("auto", "all_reduce", "gather")
METHODS: Tuple[str, ...] = ("auto", "dense", "gram")


def objective_options(objective: str, options: Mapping[str, float]) -> Dict[str, float]:
    """Every knob of ``objective`` resolved over its defaults and checked (ValueError naming a bad one).

    MIO's temperatures divide the critic's scores, so their default is 1 (the critic as it is).

    >>> objective_options("rpc", {"alpha": 0.5})
    {'alpha': 0.5, 'beta': 0.01, 'gamma': 0.1}
    """
    if objective in OBJECTIVE_KNOBS and "temperature" in options:  # the core's own argument: refuse it by name
        raise ValueError(
            f"unknown knob 'temperature' for objective {objective!r}; it takes {list(OBJECTIVE_KNOBS[objective])} "
            "(open_clip's temperature is 1 / logit_scale)"
        )
    return rpc_plugins.objective_options(objective, options, temperature=1.0)


def resolve_reduction(objective: str, reduction: str) -> str:
    """``auto`` -> all_reduce for moment objectives (RPC), gather for the others; checks the pairing.

    >>> resolve_reduction("rpc", "auto"), resolve_reduction("infonce", "auto")
    ('all_reduce', 'gather')
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if reduction == "auto":
        return "all_reduce" if objective in MOMENT_OBJECTIVES else "gather"
    if reduction == "all_reduce" and objective not in MOMENT_OBJECTIVES:
        raise ValueError(
            f"reduction='all_reduce' needs an objective of the moments only {MOMENT_OBJECTIVES}; "
            f"{objective!r} needs the scores: use reduction='gather'"
        )
    return reduction


def score_objective(objective: str, knobs: Mapping[str, float]):
    """``objective`` with its knobs bound: ``(pos (A,), neg (A, K), neg_mask (A, K)) -> loss`` (MIO's act on the
    pairs as well: its temperatures in ``ObjectiveClipLoss``, its L2 term through ``l2_term``)."""
    return rpc_plugins.get_objective(objective, **knobs)


def _check_inputs(image_features: Tensor, text_features: Tensor, logit_scale: Tensor) -> None:
    if image_features.dim() != 2 or text_features.dim() != 2:
        raise ValueError(
            "image_features and text_features must be (N, D), got "
            f"{tuple(image_features.shape)} and {tuple(text_features.shape)}"
        )
    if image_features.shape != text_features.shape:
        raise ValueError(
            "image_features and text_features must have the same shape (row k of each is a pair), got "
            f"{tuple(image_features.shape)} and {tuple(text_features.shape)}"
        )
    if image_features.shape[0] < 1:
        raise ValueError("image_features has no rows")
    if torch.is_tensor(logit_scale) and logit_scale.numel() != 1:
        raise ValueError(f"logit_scale must be a scalar, got shape {tuple(logit_scale.shape)}")


class ObjectiveClipLoss(nn.Module):
    """A drop-in for ``open_clip.ClipLoss`` that trains with ``objective`` (default RPC).

    Args:
        objective: "rpc" or any name of ``rpc_plugins.OBJECTIVES`` ("infonce" is ClipLoss).
        reduction: across ranks, "all_reduce" (moment objectives: the global batch's moments on every
            rank, nothing gathered), "gather" (texts and images gathered) or "auto" (all_reduce for RPC,
            gather otherwise). Alone, every reduction is the local one.
        method: RPC's moments from the "dense" score matrix or the "gram" statistics ("auto" picks;
            all_reduce always takes gram).
        local_loss, gather_with_grad, rank, world_size: open_clip's, with ClipLoss's meaning for the
            objectives on scores. RPC's reductions always carry gradients to every rank's features
            (each rank's loss is the global one; DDP's averaging gives the global batch's gradient).
        cache_labels: accepted for open_clip's call signature (no labels are cached).
        use_horovod: not supported (ValueError).
        **knobs: the objective's knobs (``rpc_plugins.OBJECTIVE_KNOBS[objective]``).
    """

    def __init__(
        self,
        objective: str = "rpc",
        *,
        reduction: str = "auto",
        method: str = "auto",
        local_loss: bool = False,
        gather_with_grad: bool = False,
        cache_labels: bool = False,
        rank: int = 0,
        world_size: int = 1,
        use_horovod: bool = False,
        **knobs: float,
    ) -> None:
        super().__init__()
        self.knobs = objective_options(objective, knobs)
        if use_horovod:
            raise ValueError("use_horovod: horovod is not supported; use torch.distributed")
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, world_size), got rank={rank}, world_size={world_size}")
        self.objective = objective
        self.reduction = resolve_reduction(objective, reduction)
        self.method = method
        self.local_loss, self.gather_with_grad = local_loss, gather_with_grad
        self.rank, self.world_size = rank, world_size
        if objective not in MOMENT_OBJECTIVES:
            self._score_fn = score_objective(objective, self.knobs)

    def extra_repr(self) -> str:
        knobs = ", ".join(f"{k}={v}" for k, v in self.knobs.items())
        return f"objective={self.objective!r}, reduction={self.reduction!r}" + (f", {knobs}" if knobs else "")

    def forward(
        self,
        image_features: Tensor,
        text_features: Tensor,
        logit_scale: Tensor,
        logit_bias: Optional[Tensor] = None,
        output_dict: bool = False,
    ):
        _check_inputs(image_features, text_features, logit_scale)
        if self.objective in MOMENT_OBJECTIVES:
            loss = self._rpc(image_features, text_features, logit_scale, logit_bias)
        else:
            loss = self._scores(image_features, text_features, logit_scale, logit_bias)
        return {"contrastive_loss": loss} if output_dict else loss

    def _rpc(self, image: Tensor, text: Tensor, logit_scale: Tensor, logit_bias: Optional[Tensor]) -> Tensor:
        reduction = self.reduction if self.world_size > 1 else "local"
        moments = rpc_plugins.embedding_moments(
            image, text, 1.0, False, layout="cross", reduction=reduction, method=self.method
        )
        moments = moments.affine(logit_scale, 0.0 if logit_bias is None else logit_bias)  # f = s <i, t> + b
        # float64 moments; the loss in the features' dtype, at least float32 (as ClipLoss's cross-entropy under autocast)
        return rpc_plugins.rpc_loss_from_moments(moments, **self.knobs).to(
            torch.promote_types(image.dtype, torch.float32)
        )

    def _scores(self, image: Tensor, text: Tensor, logit_scale: Tensor, logit_bias: Optional[Tensor]) -> Tensor:
        offset = 0
        if self.world_size > 1:
            all_image, all_text = gather_features(
                image, text, self.local_loss, self.gather_with_grad, self.rank, self.world_size
            )
            if self.local_loss:
                per_image, per_text = image @ all_text.T, text @ all_image.T
                offset = self.rank * image.shape[0]
            else:
                per_image = all_image @ all_text.T
                per_text = per_image.T
        else:
            per_image = image @ text.T
            per_text = per_image.T
        loss = (self._direction(per_image, offset, logit_scale, logit_bias)
                + self._direction(per_text, offset, logit_scale, logit_bias)) / 2  # fmt: skip
        if self.objective == "mio":  # l2_weight * MSE between the modalities' normalised embeddings
            loss = loss + self._score_fn.l2_term(image, text)
        return loss

    def _direction(self, cosines: Tensor, offset: int, logit_scale: Tensor, logit_bias: Optional[Tensor]) -> Tensor:
        """The objective of one direction: anchors the rows, row a's positive in column a + offset."""
        scores = logit_scale * cosines
        if logit_bias is not None:
            scores = scores + logit_bias
        rows = torch.arange(scores.shape[0], device=scores.device)
        columns = torch.arange(scores.shape[1], device=scores.device)
        positive = columns[None, :] == (rows + offset)[:, None]
        pos, neg = scores[rows, rows + offset], scores
        if self.objective == "mio":
            pos, neg = pos / self.knobs["pos_temperature"], neg / self.knobs["neg_temperature"]
        return self._score_fn(pos, neg, ~positive)


def create_loss(args: Any, objective: str, knobs: Mapping[str, float], reduction: str = "auto", method: str = "auto"):
    """``open_clip.create_loss``'s replacement: ``objective`` with open_clip_train's distributed args."""
    return ObjectiveClipLoss(
        objective,
        reduction=reduction,
        method=method,
        local_loss=args.local_loss,
        gather_with_grad=args.gather_with_grad,
        cache_labels=True,
        rank=args.rank,
        world_size=args.world_size,
        use_horovod=args.horovod,
        **knobs,
    )
