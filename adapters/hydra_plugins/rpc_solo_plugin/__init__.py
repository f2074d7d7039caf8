"""Hydra plugin hook: solo-learn's own ``main_pretrain.py`` finds ``method: rpc`` and the ``loss:`` key with nothing
else to do.

Relative Predictive Coding (Tsai, Ma, Yang, Zhao, Morency, Salakhutdinov, ICLR 2021, arXiv 2103.11275)
is registered in solo-learn as ``METHODS["rpc"]`` by ``import rpc_solo``. solo's scripts never import us,
but every ``@hydra.main`` app imports each module of the ``hydra_plugins`` namespace package when it starts,
before the task function runs (hydra-core 1.3, ``hydra.core.plugins.Plugins._initialize``). solo's
``main_pretrain.py`` / ``main_linear.py`` import ``solo`` at module level, so by then ``solo`` is in
``sys.modules`` and this hook imports ``rpc_solo`` (``METHODS["rpc"]``, the ``loss:`` switch in solo's simclr, supcon,
mocov2plus, mocov3 and nnclr entries, and the ``timm_<name>`` backbones).
Lightning's ``ddp`` strategy re-runs the script in each child process, which starts Hydra again: the
children register ``rpc`` the same way.

Any other Hydra app (fairseq, yours) has not imported ``solo``: nothing is imported and nothing happens.
The hook never raises; a failed registration is reported as a warning (Hydra's plugin scanner prints it).

>>> register_if_solo(modules={})  # no solo-learn in this app: do nothing
False
"""

from typing import Mapping, Optional

from hydra_plugins.rpc_plugins_host_hook import register_when_host_imported


def _rpc_registered() -> bool:
    from solo.methods import METHODS

    return "rpc" in METHODS


def register_if_solo(modules: Optional[Mapping[str, object]] = None) -> bool:
    """Import ``rpc_solo`` when solo is already imported in this process; True if ``rpc`` is registered."""
    return register_when_host_imported(
        "solo", "solo.methods", "rpc_solo", _rpc_registered, "solo-learn method 'rpc'", modules
    )


register_if_solo()
