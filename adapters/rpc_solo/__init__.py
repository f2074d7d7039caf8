"""solo-learn adapter: ``import rpc_solo`` adds ``method: rpc`` and the ``loss:`` key to solo's METHODS registry.

Relative Predictive Coding (Tsai et al., ICLR 2021, arXiv 2103.11275). Works with solo-learn 1.0.2
(kwargs/argparse API, launcher ``python -m rpc_solo.pretrain``) and with solo's current main (Hydra API:
solo's own ``main_pretrain.py`` finds ``method: rpc`` because Hydra imports our
``hydra_plugins.rpc_solo_plugin`` hook, which imports this package), told apart by
``BaseMethod.add_and_assert_specific_cfg``. On main, a top-level ``loss: rpc`` (or ``infonce | mio | nwj | js | dv |
smile``) switches the objective of solo's own simclr, supcon, mocov2plus, mocov3 and nnclr
(``rpc_solo.switch_methods``); ``method: rpc`` is simclr with ``loss: rpc``.

>>> import rpc_solo
>>> from solo.methods import METHODS
>>> METHODS["rpc"] is rpc_solo.RPC
True
"""

from solo.methods import METHODS
from solo.methods.base import BaseMethod

HYDRA_API = hasattr(BaseMethod, "add_and_assert_specific_cfg")

if HYDRA_API:  # solo-learn main (1.0.6+)
    from .method_main import RPC
    from .switch_methods import register
    from .timm_backbones import register_timm_backbones

    register(METHODS)  # the `loss:` switch in simclr, supcon, mocov2plus, mocov3, nnclr; other methods refuse it
    register_timm_backbones(BaseMethod)
else:  # solo-learn 1.0.2
    from .method_v1 import RPC

METHODS.setdefault("rpc", RPC)

__all__ = ["RPC", "HYDRA_API"]
