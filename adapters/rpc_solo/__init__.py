"""solo-learn adapter: ``import rpc_solo`` adds ``method: rpc`` and the ``loss:`` key to solo's METHODS registry.

Relative Predictive Coding (Tsai et al., ICLR 2021, arXiv 2103.11275) for solo-learn main (Hydra API, Lightning
2): solo's own ``main_pretrain.py`` finds ``method: rpc`` because Hydra imports our
``hydra_plugins.rpc_solo_plugin`` hook, which imports this package. A top-level ``loss: rpc`` (or ``infonce | mio
| nwj | js | dv | smile``) switches the objective of solo's own simclr, supcon, mocov2plus, mocov3 and nnclr
(``rpc_solo.switch_methods``); ``method: rpc`` is simclr with ``loss: rpc``.

>>> import rpc_solo
>>> from solo.methods import METHODS
>>> METHODS["rpc"] is rpc_solo.RPC
True
"""

from solo.methods import METHODS
from solo.methods.base import BaseMethod

from .method_main import RPC
from .switch_methods import register
from .timm_backbones import register_timm_backbones

register(METHODS)  # the `loss:` switch in simclr, supcon, mocov2plus, mocov3, nnclr; other methods refuse it
register_timm_backbones(BaseMethod)
METHODS.setdefault("rpc", RPC)

__all__ = ["RPC"]
