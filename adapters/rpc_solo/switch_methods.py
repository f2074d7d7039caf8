"""solo-learn main's InfoNCE methods with the ``loss:`` switch, registered in ``solo.methods.METHODS``.

``register(METHODS)`` replaces ``simclr``, ``supcon``, ``mocov2plus``, ``mocov3`` and ``nnclr`` by subclasses of
solo's own classes. With no ``loss`` key a subclass IS solo's method (every call goes to solo's code). With
``loss: rpc`` (Relative Predictive Coding, Tsai et al., ICLR 2021, arXiv 2103.11275) or any other objective of
``rpc_plugins``, ``training_step`` is solo's step with only the loss function replaced: the same forward passes,
queue updates, nearest neighbours, online classifier, and the objective scores exactly the pairs of the method's
own loss function (``rpc_solo.pairs``). It is logged as ``train_<loss>_loss``. Every other method (byol,
barlow_twins, vicreg, dino, swav, ...) gets a subclass that refuses a ``loss`` key when the method is built, i.e.
before any data is read, naming ``loss`` and listing the methods that take it.

>>> from solo.methods import METHODS
>>> import rpc_solo
>>> METHODS["mocov3"].__bases__[-1].__module__  # ours, a subclass of solo's own class
'solo.methods.mocov3'
"""

import sys
from typing import Any, Optional, Sequence

import omegaconf
import torch
from solo.methods.base import BaseMethod, BaseMomentumMethod
from solo.methods.mocov2plus import MoCoV2Plus as SoloMoCoV2Plus
from solo.methods.mocov3 import MoCoV3 as SoloMoCoV3
from solo.methods.nnclr import NNCLR as SoloNNCLR
from solo.methods.simclr import SimCLR as SoloSimCLR
from solo.methods.supcon import SupCon as SoloSupCon
from solo.utils.misc import gather

from .loss_switch import LossSwitch, reject_loss
from .pairs import offset_pairs, queue_pairs, simclr_pairs


def _switch_cfg(solo_cls, method: str):
    """``add_and_assert_specific_cfg`` of a switchable method: solo's checks, then ``loss``/``loss_kwargs``
    validated and their resolved values written back (solo saves them in args.json)."""

    def add_and_assert_specific_cfg(cfg: omegaconf.DictConfig) -> omegaconf.DictConfig:
        cfg = solo_cls.add_and_assert_specific_cfg(cfg)
        switch = LossSwitch.from_cfg(cfg, method)
        if switch is not None:
            cfg.loss_kwargs = switch.resolved_kwargs(method)
        return cfg

    return staticmethod(add_and_assert_specific_cfg)


class _Switch:
    """Mixin over one of solo's classes (the last base): with no ``loss`` every call is solo's; with ``loss`` the
    subclass's ``_switched_step`` runs instead of solo's ``training_step``. ``class X(_Switch, Solo, method=...)``."""

    METHOD = ""

    def __init_subclass__(cls, method: Optional[str] = None, **kwargs):
        super().__init_subclass__(**kwargs)
        if method is not None:  # a switchable solo method; subclasses of it (method rpc) set their own
            cls.METHOD = method
            cls.add_and_assert_specific_cfg = _switch_cfg(cls.__bases__[-1], method)

    def __init__(self, cfg: omegaconf.DictConfig):
        super().__init__(cfg)  # type: ignore[call-arg]  (solo's method class)
        self.loss_switch = LossSwitch.from_cfg(cfg, self.METHOD)

    def training_step(self, batch: Sequence[Any], batch_idx: int) -> torch.Tensor:
        if self.loss_switch is None:
            return super().training_step(batch, batch_idx)  # type: ignore[misc]
        return self._switched_step(batch, batch_idx)

    def _switched_step(self, batch: Sequence[Any], batch_idx: int) -> torch.Tensor:
        raise NotImplementedError

    def _log_loss(self, loss: torch.Tensor, **extra) -> None:
        self.log_dict({self.loss_switch.metric: loss, **extra}, on_epoch=True, sync_dist=True)


class SimCLR(_Switch, SoloSimCLR, method="simclr"):
    """solo's SimCLR; ``loss`` replaces ``simclr_loss_func`` (multi-crop: every crop of an image is a positive)."""

    def _switched_step(self, batch: Sequence[Any], batch_idx: int) -> torch.Tensor:
        out = BaseMethod.training_step(self, batch, batch_idx)
        ids = batch[0].repeat(
            self.num_large_crops + self.num_small_crops
        )  # image indexes: an image's crops are positives
        loss = self.loss_switch(*simclr_pairs(torch.cat(out["z"]), ids, self.loss_switch.normalize))
        self._log_loss(loss)
        return loss + out["loss"]


class SupCon(_Switch, SoloSupCon, method="supcon"):
    """solo's SupCon; ``loss`` replaces ``simclr_loss_func`` with the labels as positives."""

    def _switched_step(self, batch: Sequence[Any], batch_idx: int) -> torch.Tensor:
        out = BaseMethod.training_step(self, batch, batch_idx)
        targets = batch[-1].repeat(self.num_large_crops + self.num_small_crops)
        loss = self.loss_switch(*simclr_pairs(torch.cat(out["z"]), targets, self.loss_switch.normalize))
        self._log_loss(loss)
        return loss + out["loss"]


class MoCoV2Plus(_Switch, SoloMoCoV2Plus, method="mocov2plus"):
    """solo's MoCo V2+; ``loss`` replaces ``mocov2plus_loss_func`` (negatives: the queue), symmetric as solo's."""

    def _switched_step(self, batch: Sequence[Any], batch_idx: int) -> torch.Tensor:
        out = BaseMomentumMethod.training_step(self, batch, batch_idx)
        (q1, q2), (k1, k2) = out["z"], out["momentum_z"]
        queue = self.queue.clone().detach()
        loss = (self.loss_switch(*queue_pairs(q1, k2, queue[1])) + self.loss_switch(*queue_pairs(q2, k1, queue[0]))) / 2
        self._dequeue_and_enqueue(torch.stack((gather(k1), gather(k2))))
        self._log_loss(loss)
        return loss + out["loss"]


class MoCoV3(_Switch, SoloMoCoV3, method="mocov3"):
    """solo's MoCo V3; ``loss`` replaces ``mocov3_loss_func`` (keys of all ranks, no gradient), with its 2T scale."""

    def _switched_step(self, batch: Sequence[Any], batch_idx: int) -> torch.Tensor:
        out = BaseMomentumMethod.training_step(self, batch, batch_idx)
        (q1, q2), (k1, k2) = out["q"], out["momentum_k"]
        # mocov3_loss_func multiplies its cross-entropy by 2T; kept for every objective so the yaml's lr keeps its scale
        scale = 2 * self.temperature
        loss = scale * (
            self.loss_switch(*offset_pairs(q1, k2, with_grad=False))
            + self.loss_switch(*offset_pairs(q2, k1, with_grad=False))
        )
        self._log_loss(loss)
        return loss + out["loss"]


class NNCLR(_Switch, SoloNNCLR, method="nnclr"):
    """solo's NNCLR; ``loss`` replaces ``nnclr_loss_func`` (nearest neighbour vs predictions of all ranks)."""

    def _switched_step(self, batch: Sequence[Any], batch_idx: int) -> torch.Tensor:
        targets = batch[-1]
        out = BaseMethod.training_step(self, batch, batch_idx)
        (z1, z2), (p1, p2) = out["z"], out["p"]
        idx1, nn1 = self.find_nn(z1)
        _, nn2 = self.find_nn(z2)
        loss = (
            self.loss_switch(*offset_pairs(nn1, p2, with_grad=True))
            + self.loss_switch(*offset_pairs(nn2, p1, with_grad=True))
        ) / 2
        nn_acc = (targets == self.queue_y[idx1]).sum() / targets.size(0)
        self.dequeue_and_enqueue(z1, targets)
        self._log_loss(loss, train_nn_acc=nn_acc)
        return loss + out["loss"]


SWITCHED = {"simclr": SimCLR, "supcon": SupCon, "mocov2plus": MoCoV2Plus, "mocov3": MoCoV3, "nnclr": NNCLR}


def _refusing(solo_cls, method: str):
    """A subclass of ``solo_cls`` whose config check refuses ``loss`` (module-level name: picklable)."""

    def add_and_assert_specific_cfg(cfg: omegaconf.DictConfig) -> omegaconf.DictConfig:
        reject_loss(cfg, method)
        return solo_cls.add_and_assert_specific_cfg(cfg)

    name = f"{solo_cls.__name__}NoLossKey"
    cls = type(
        name,
        (solo_cls,),
        {
            "add_and_assert_specific_cfg": staticmethod(add_and_assert_specific_cfg),
            "__module__": __name__,
            "__qualname__": name,
            "__doc__": f"solo's {name}; a `loss` key is refused (no InfoNCE to replace).",
        },
    )
    setattr(sys.modules[__name__], name, cls)
    return cls


def register(methods: dict) -> None:
    """Put the switchable subclasses and the refusing ones into solo's ``METHODS`` (idempotent)."""
    for method, cls in list(methods.items()):
        if getattr(cls, "__module__", "") == __name__ or not isinstance(cls, type) or not issubclass(cls, BaseMethod):
            continue  # ours already, or not a pretraining method (LinearModel)
        if method in SWITCHED:
            if cls is SWITCHED[method].__bases__[-1]:  # solo's own class: replace by ours
                methods[method] = SWITCHED[method]
        elif method != "base" and cls.__module__.startswith("solo."):
            methods[method] = _refusing(cls, method)
