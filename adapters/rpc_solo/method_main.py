"""``method: rpc`` for solo-learn main: solo's SimCLR with ``loss: rpc`` (one implementation).

Relative Predictive Coding (Tsai et al., ICLR 2021, arXiv 2103.11275). ``method: rpc`` is
``rpc_solo.switch_methods.SimCLR`` with ``loss`` defaulting to ``rpc``: any number of crops, any objective
(``loss: mio``), options in ``loss_kwargs`` (``alpha``, ``beta``, ``gamma``, ``normalize``, ...). ``method_kwargs``
holds SimCLR's own settings only; any other key there raises a ValueError naming it. solo's cifar ``simclr.yaml``
with only ``method=rpc`` changed runs RPC.

>>> from omegaconf import OmegaConf
>>> _check_method_kwargs(OmegaConf.create({"method_kwargs": {"temperature": 0.2, "alpha": 0.5}}))
Traceback (most recent call last):
...
ValueError: method_kwargs.alpha is not a setting of method rpc; valid keys: ['proj_hidden_dim', 'proj_output_dim', \
'temperature'] (the objective and its options are the top-level `loss` and `loss_kwargs`)
"""

import omegaconf
from solo.methods.simclr import SimCLR as SoloSimCLR

from .loss_switch import LossSwitch, loss_name
from .switch_methods import SimCLR

SIMCLR_KEYS = ("proj_hidden_dim", "proj_output_dim", "temperature")


def _check_method_kwargs(cfg: omegaconf.DictConfig) -> None:
    """``method_kwargs`` holds SimCLR's settings; an objective option there is an error naming the key."""
    unknown = sorted(set(cfg.method_kwargs) - set(SIMCLR_KEYS))
    if unknown:
        raise ValueError(
            f"method_kwargs.{unknown[0]} is not a setting of method rpc; valid keys: {list(SIMCLR_KEYS)} "
            "(the objective and its options are the top-level `loss` and `loss_kwargs`)"
        )


class RPC(SimCLR):
    """solo's SimCLR with ``loss: rpc`` unless ``loss`` says otherwise; see examples/solo/rpc.yaml."""

    METHOD = "rpc"

    @staticmethod
    def add_and_assert_specific_cfg(cfg: omegaconf.DictConfig) -> omegaconf.DictConfig:
        cfg = SoloSimCLR.add_and_assert_specific_cfg(cfg)
        _check_method_kwargs(cfg)
        if loss_name(cfg) is None:
            cfg.loss = "rpc"
        cfg.loss_kwargs = LossSwitch.from_cfg(cfg, "rpc").resolved_kwargs("rpc")  # fails here, naming the key
        return cfg
