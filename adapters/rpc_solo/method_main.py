"""``method: rpc`` for solo-learn's current main: solo's SimCLR with ``loss: rpc`` (one implementation).

Relative Predictive Coding (Tsai et al., ICLR 2021, arXiv 2103.11275). ``method: rpc`` is
``rpc_solo.switch_methods.SimCLR`` with ``loss`` defaulting to ``rpc``: any number of crops, any objective
(``loss: mio``), options in ``loss_kwargs`` (``alpha``, ``beta``, ``gamma``, ``normalize``, ...). The spellings of
earlier releases, ``method_kwargs.loss``, ``.alpha``, ``.beta``, ``.gamma``, ``.normalize``, ``.smile_clip``,
``.mio_l2_weight``, are still read (moved to ``loss`` / ``loss_kwargs``); any other unknown ``method_kwargs`` key
raises a ValueError naming it. solo's cifar ``simclr.yaml`` with only ``method=rpc`` changed runs RPC.

>>> from omegaconf import OmegaConf
>>> cfg = OmegaConf.create({"method_kwargs": {"temperature": 0.2, "loss": "mio", "mio_l2_weight": 0.5}})
>>> _move_legacy_keys(cfg); cfg.loss, dict(cfg.loss_kwargs)
('mio', {'l2_weight': 0.5})
"""

import omegaconf
from omegaconf import OmegaConf
from solo.methods.simclr import SimCLR as SoloSimCLR

from .loss_switch import LossSwitch, loss_name
from .switch_methods import SimCLR

SIMCLR_KEYS = ("proj_hidden_dim", "proj_output_dim", "temperature")
LEGACY_KEYS = {
    "alpha": "alpha",
    "beta": "beta",
    "gamma": "gamma",
    "normalize": "normalize",
    "smile_clip": "clip",
    "mio_l2_weight": "l2_weight",
}


def _move_legacy_keys(cfg: omegaconf.DictConfig) -> None:
    """``method_kwargs.{loss, alpha, ...}`` (method rpc before the top-level ``loss`` key) to ``loss``/``loss_kwargs``."""
    kw = cfg.method_kwargs
    unknown = sorted(set(kw) - set(SIMCLR_KEYS) - set(LEGACY_KEYS) - {"loss"})
    if unknown:
        raise ValueError(
            f"method_kwargs.{unknown[0]} is not a setting of method rpc; valid keys: {list(SIMCLR_KEYS)} "
            "(objective options go in loss_kwargs)"
        )
    if "loss" in kw:
        if loss_name(cfg) not in (None, kw.loss):
            raise ValueError(f"loss={cfg.loss!r} and method_kwargs.loss={kw.loss!r} disagree; set only `loss`")
        cfg.loss = kw.pop("loss")
    moved = {LEGACY_KEYS[k]: kw.pop(k) for k in list(kw) if k in LEGACY_KEYS}
    if moved:
        if OmegaConf.select(cfg, "loss_kwargs", default=None) is None:
            cfg.loss_kwargs = {}
        for key, value in moved.items():
            if key in cfg.loss_kwargs and cfg.loss_kwargs[key] != value:
                raise ValueError(f"loss_kwargs.{key} and its older spelling in method_kwargs disagree; set loss_kwargs")
            cfg.loss_kwargs[key] = value


class RPC(SimCLR):
    """solo's SimCLR with ``loss: rpc`` unless ``loss`` says otherwise; see examples/solo/rpc.yaml."""

    METHOD = "rpc"

    @staticmethod
    def add_and_assert_specific_cfg(cfg: omegaconf.DictConfig) -> omegaconf.DictConfig:
        cfg = SoloSimCLR.add_and_assert_specific_cfg(cfg)
        _move_legacy_keys(cfg)
        if loss_name(cfg) is None:
            cfg.loss = "rpc"
        cfg.loss_kwargs = LossSwitch.from_cfg(cfg, "rpc").resolved_kwargs("rpc")  # fails here, naming the key
        return cfg
