"""``method: rpc`` for solo-learn's current main (hydra cfg API, ``BaseMethod(cfg)``).

Relative Predictive Coding (Tsai et al., ICLR 2021, arXiv 2103.11275) as a solo-learn method. Same design
as ``method_v1``: solo's SimCLR with the objective swapped. Settings live under ``method_kwargs``
(SimCLR's ``proj_hidden_dim``, ``proj_output_dim``, ``temperature``; ours ``loss``, ``alpha``, ``beta``,
``gamma``, ``normalize``, ``smile_clip``, ``mio_l2_weight``) with defaults filled by
``add_and_assert_specific_cfg``; a bad value or an unknown key raises a ValueError naming
``method_kwargs.<key>`` before training. solo's cifar ``simclr.yaml`` with only ``method=rpc`` changed runs
RPC with the defaults; override with ``+method_kwargs.loss=mio`` (``+``: the key is new to that yaml).
"""
from typing import Any, Sequence

import omegaconf
import torch
from solo.methods.base import BaseMethod
from solo.methods.simclr import SimCLR
from solo.utils.misc import omegaconf_select

from .objective import DEFAULTS, build_loss

SIMCLR_KEYS = ("proj_hidden_dim", "proj_output_dim", "temperature")


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
        unknown = sorted(set(cfg.method_kwargs) - set(DEFAULTS) - set(SIMCLR_KEYS))
        if unknown:
            raise ValueError(f"method_kwargs.{unknown[0]} is not a setting of method rpc; "
                             f"valid keys: {sorted(set(DEFAULTS) | set(SIMCLR_KEYS))}")
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
