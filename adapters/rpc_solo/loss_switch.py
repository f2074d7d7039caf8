"""The top-level ``loss:`` key of solo-learn main configs: which objective replaces a method's InfoNCE.

``loss: rpc`` (Relative Predictive Coding, Tsai et al., ICLR 2021, arXiv 2103.11275) or ``infonce | mio | nwj | js |
dv | smile`` (``rpc_plugins.OBJECTIVES``), its options in ``loss_kwargs`` (rpc: ``alpha``, ``beta``, ``gamma``, the
paper's ImageNet defaults 0.3 / 0.01 / 0.1; smile: ``clip``; mio: ``pos_temperature``, ``neg_temperature``,
``l2_weight``). The critic is the method's own: cosine similarity over its ``method_kwargs.temperature``.
Options are validated by ``rpc_plugins.ContrastiveLoss`` (the core's single source of defaults and checks);
every error names the key to fix.

>>> from omegaconf import OmegaConf
>>> cfg = OmegaConf.create({"loss": "rpc", "loss_kwargs": {"alpha": 0.5}, "method_kwargs": {"temperature": 0.2}})
>>> switch = LossSwitch.from_cfg(cfg, "simclr")
>>> switch.name, switch.knobs
('rpc', {'alpha': 0.5, 'beta': 0.01, 'gamma': 0.1})
>>> LossSwitch.from_cfg(OmegaConf.create({"method_kwargs": {"temperature": 0.2}}), "simclr") is None
True
"""

from dataclasses import dataclass, field
from typing import Dict, Optional

import rpc_plugins
import torch
import torch.nn.functional as F
from omegaconf import DictConfig, OmegaConf
from rpc_plugins.multi_positive import multi_positive_loss

# solo methods whose objective is InfoNCE, and the one that is SimCLR with ``loss: rpc`` by default
SWITCH_METHODS = ("simclr", "supcon", "mocov2plus", "mocov3", "nnclr", "rpc")
# loss_kwargs that are not the objective's: simclr/supcon's critic may score raw projections (the paper's RPC)
CRITIC_OPTIONS = {"simclr": ("normalize",), "supcon": ("normalize",), "rpc": ("normalize",)}


def loss_name(cfg: DictConfig) -> Optional[str]:
    """The ``loss`` key (None when absent or null)."""
    value = OmegaConf.select(cfg, "loss", default=None)
    return None if value is None else value


def reject_loss(cfg: DictConfig, method: str) -> None:
    """For a method without an InfoNCE objective: a set ``loss``/``loss_kwargs`` is an error naming the key."""
    for key in ("loss", "loss_kwargs"):
        if OmegaConf.select(cfg, key, default=None) is not None:
            raise ValueError(
                f"{key}: method {method!r} has no InfoNCE objective for `loss` to replace; the methods "
                f"that take `loss` are {list(SWITCH_METHODS)} (remove `{key}` to train {method})"
            )


@dataclass
class LossSwitch:
    """The resolved ``loss`` / ``loss_kwargs`` of one method; ``__call__`` scores the method's pairs."""

    name: str
    temperature: float
    knobs: Dict[str, float] = field(default_factory=dict)
    normalize: bool = True

    @classmethod
    def from_cfg(cls, cfg: DictConfig, method: str) -> Optional["LossSwitch"]:
        """Validate ``cfg.loss`` / ``cfg.loss_kwargs`` for ``method``; None when ``loss`` is not set."""
        name = loss_name(cfg)
        kwargs = OmegaConf.select(cfg, "loss_kwargs", default=None)
        if name is None:
            if kwargs is not None:
                raise ValueError(
                    f"loss_kwargs is set but loss is not; set loss to one of {sorted(rpc_plugins.OBJECTIVES)}"
                )
            return None
        if method not in SWITCH_METHODS:
            reject_loss(cfg, method)
        if not isinstance(name, str) or name not in rpc_plugins.OBJECTIVES:
            raise ValueError(f"loss={name!r} is not a known objective; choose one of {sorted(rpc_plugins.OBJECTIVES)}")
        if kwargs is None:
            kwargs = {}
        elif isinstance(kwargs, DictConfig):
            kwargs = OmegaConf.to_container(kwargs, resolve=True)
        else:
            raise ValueError(f"loss_kwargs must be a mapping of {name}'s options, got {kwargs!r}")
        critic = {k: kwargs.pop(k) for k in CRITIC_OPTIONS.get(method, ()) if k in kwargs}
        normalize = critic.get("normalize", True)
        if not isinstance(normalize, bool):
            raise ValueError(f"loss_kwargs.normalize must be true or false, got {normalize!r}")
        temperature = OmegaConf.select(cfg, "method_kwargs.temperature", default=None)
        try:
            core = rpc_plugins.ContrastiveLoss(name, temperature=temperature, **kwargs)
        except (ValueError, TypeError) as e:
            raise ValueError(
                f"loss_kwargs for loss={name!r} (method {method}, method_kwargs.temperature={temperature}): {e}"
            ) from None
        # the core accepted them, but as its own arguments (e.g. normalize, distributed_mode), not the objective's
        unknown = sorted(set(kwargs) - set(core.knobs))
        if unknown:
            raise ValueError(
                f"loss_kwargs.{unknown[0]} is not an option of loss={name!r} for method {method}; "
                f"its options: {sorted(set(core.knobs) | set(CRITIC_OPTIONS.get(method, ())))}"
            )
        return cls(name, float(temperature), core.knobs, normalize)

    def resolved_kwargs(self, method: str) -> dict:
        """What goes back into ``cfg.loss_kwargs`` (solo saves it in args.json): every option with its value."""
        extra = {"normalize": self.normalize} if method in CRITIC_OPTIONS else {}
        return {**self.knobs, **extra}

    @property
    def metric(self) -> str:
        """The logged name of the objective, e.g. ``train_rpc_loss``."""
        return f"train_{self.name}_loss"

    def __call__(
        self, anchors: torch.Tensor, candidates: torch.Tensor, pos_mask: torch.Tensor, neg_mask: torch.Tensor
    ) -> torch.Tensor:
        """Objective on f(a, c) = <a, c> / T for ``anchors (A, D)`` x ``candidates (C, D)`` (at least float32,
        outside autocast; normalise them first where the method does); ``pos_mask``/``neg_mask`` bool (A, C)."""
        with rpc_plugins.full_precision(anchors.device.type):
            dtype = torch.float64 if anchors.dtype == torch.float64 else torch.float32  # fp16/bf16: float32
            anchors, candidates = anchors.to(dtype), candidates.to(dtype)
            cosine = anchors @ candidates.t()
            if self.name != "mio":
                return multi_positive_loss(self.name, cosine / self.temperature, pos_mask, neg_mask, **self.knobs)
            h = self.knobs  # MIO: own temperatures for positives and negatives, + l2 between positives
            loss = multi_positive_loss(
                "mio", cosine / h["pos_temperature"], pos_mask, neg_mask, neg_scores=cosine / h["neg_temperature"]
            )
            if h["l2_weight"] > 0:  # MSE(normalised a, normalised c) over the positive pairs: (2 - 2 cos) / D
                unit = F.normalize(anchors, dim=1) @ F.normalize(candidates, dim=1).t()
                l2 = torch.where(pos_mask, 2 - 2 * unit, torch.zeros_like(unit)).sum() / pos_mask.sum()  # no host read
                loss = loss + h["l2_weight"] * l2 / anchors.shape[1]
            return loss
