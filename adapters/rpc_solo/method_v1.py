"""``method: rpc`` for solo-learn 1.0.2 (kwargs + argparse API).

Relative Predictive Coding (Tsai et al., ICLR 2021, arXiv 2103.11275) in solo-learn: solo's own
SimCLR (encoder, projector, online linear classifier, kNN, optimisers) with only the objective
replaced; ``--loss`` switches to any rpc_plugins objective (``infonce`` is SimCLR's NT-Xent).
"""

import argparse
from typing import Any, Sequence

import torch
from solo.methods.base import BaseMethod
from solo.methods.simclr import SimCLR

from .objective import DEFAULTS, build_loss
from .timm_backbones import timm_encoder


class RPC(SimCLR):
    """SimCLR's machinery with an rpc_plugins objective (default: RPC).

    >>> # python -m rpc_solo.pretrain --method rpc --loss rpc --alpha 0.3 --beta 0.01 --gamma 0.1 ...
    """

    def __init__(
        self,
        loss: str = DEFAULTS["loss"],
        alpha: float = DEFAULTS["alpha"],
        beta: float = DEFAULTS["beta"],
        gamma: float = DEFAULTS["gamma"],
        no_normalize: bool = False,
        smile_clip: float = DEFAULTS["smile_clip"],
        mio_l2_weight: float = DEFAULTS["mio_l2_weight"],
        timm_encoder_name: str = None,
        **kwargs,
    ):
        temperature = kwargs.get("temperature", 0.1)
        loss_fn = build_loss(
            lambda k: f"--{k}", loss, temperature, alpha, beta, gamma, not no_normalize, smile_clip, mio_l2_weight
        )
        super().__init__(**kwargs)
        self.contrastive_loss = loss_fn
        self.loss_name = loss
        if timm_encoder_name:
            self.encoder, self.features_dim = timm_encoder(timm_encoder_name, small_input=kwargs.get("cifar", False))
            self.classifier = torch.nn.Linear(self.features_dim, self.classifier.out_features)
            self.projector[0] = torch.nn.Linear(self.features_dim, self.projector[0].out_features)

    @staticmethod
    def add_model_specific_args(parent_parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parent_parser = super(RPC, RPC).add_model_specific_args(parent_parser)
        parser = parent_parser.add_argument_group("rpc")
        parser.add_argument(
            "--loss",
            type=str,
            default=DEFAULTS["loss"],
            help="objective: rpc, infonce (SimCLR), mio, nwj, js, dv, smile",
        )
        parser.add_argument("--alpha", type=float, default=DEFAULTS["alpha"], help="RPC relative parameter alpha")
        parser.add_argument("--beta", type=float, default=DEFAULTS["beta"], help="RPC relative parameter beta")
        parser.add_argument("--gamma", type=float, default=DEFAULTS["gamma"], help="RPC relative parameter gamma")
        parser.add_argument("--no_normalize", action="store_true", help="score raw projections (the paper's RPC)")
        parser.add_argument("--smile_clip", type=float, default=DEFAULTS["smile_clip"])
        parser.add_argument("--mio_l2_weight", type=float, default=DEFAULTS["mio_l2_weight"])
        parser.add_argument(
            "--timm_encoder_name",
            type=str,
            default=None,
            help="replace --encoder by timm.create_model(NAME, num_classes=0)",
        )
        return parent_parser

    def training_step(self, batch: Sequence[Any], batch_idx: int) -> torch.Tensor:
        """solo's base step (online classifier, kNN) + the objective on the two large crops."""
        if self.multicrop:
            raise ValueError("method rpc uses the two large crops only; drop --num_small_crops / multicrop")
        out = BaseMethod.training_step(self, batch, batch_idx)
        feats1, feats2 = out["feats"][:2]
        loss = self.contrastive_loss(self.projector(feats1), self.projector(feats2))
        self.log_dict({f"train_{self.loss_name}_loss": loss}, on_epoch=True, sync_dist=True)
        return loss + out["loss"]
