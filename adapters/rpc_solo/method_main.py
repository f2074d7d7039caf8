"""``method: rpc`` for solo-learn's current main (hydra cfg API, ``BaseMethod(cfg)``).

Same design as ``method_v1``: solo's SimCLR with the objective swapped. Settings live under
``method_kwargs`` (``loss``, ``alpha``, ``beta``, ``gamma``, ``temperature``, ``normalize``,
``smile_clip``, ``mio_l2_weight``) with defaults filled by ``add_and_assert_specific_cfg``.
"""
from typing import Any, Sequence

import omegaconf
import torch
from solo.methods.base import BaseMethod
from solo.methods.simclr import SimCLR
from solo.utils.misc import omegaconf_select

from .objective import DEFAULTS, build_loss


class RPC(SimCLR):
    """SimCLR's machinery with an rpc_plugins objective (default: RPC); see examples/solo/rpc.yaml."""

    def __init__(self, cfg: omegaconf.DictConfig):
        super().__init__(cfg)
        kw = cfg.method_kwargs
        self.loss_name = kw.loss
        self.contrastive_loss = build_loss(lambda k: f"method_kwargs.{k}", kw.loss, kw.temperature, kw.alpha,
                                           kw.beta, kw.gamma, kw.normalize, kw.smile_clip, kw.mio_l2_weight)

    @staticmethod
    def add_and_assert_specific_cfg(cfg: omegaconf.DictConfig) -> omegaconf.DictConfig:
        cfg = super(RPC, RPC).add_and_assert_specific_cfg(cfg)
        for key, default in DEFAULTS.items():
            cfg.method_kwargs[key] = omegaconf_select(cfg, f"method_kwargs.{key}", default)
        build_loss(lambda k: f"method_kwargs.{k}", **{k: cfg.method_kwargs[k] for k in DEFAULTS},
                   temperature=cfg.method_kwargs.temperature)  # fail at config time, naming the key
        return cfg

    def training_step(self, batch: Sequence[Any], batch_idx: int) -> torch.Tensor:
        if self.num_small_crops:
            raise ValueError("method rpc uses the two large crops only; set data.num_small_crops: 0")
        out = BaseMethod.training_step(self, batch, batch_idx)
        z1, z2 = out["z"][:2]
        loss = self.contrastive_loss(z1, z2)
        self.log(f"train_{self.loss_name}_loss", loss, on_epoch=True, sync_dist=True)
        return loss + out["loss"]
