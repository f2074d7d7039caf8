"""Hydra plugin hook: solo-learn's own ``main_pretrain.py`` finds ``method: rpc`` with nothing else to do.

Relative Predictive Coding (Tsai, Ma, Yang, Zhao, Morency, Salakhutdinov, ICLR 2021, arXiv 2103.11275)
is registered in solo-learn as ``METHODS["rpc"]`` by ``import rpc_solo``. solo's scripts never import us,
but every ``@hydra.main`` app imports each module of the ``hydra_plugins`` namespace package when it starts,
before the task function runs (hydra-core 1.3, ``hydra.core.plugins.Plugins._initialize``). solo's
``main_pretrain.py`` / ``main_linear.py`` import ``solo`` at module level, so by then ``solo`` is in
``sys.modules`` and this hook imports ``rpc_solo`` (``METHODS["rpc"]`` and the ``timm_<name>`` backbones).
Lightning's ``ddp`` strategy re-runs the script in each child process, which starts Hydra again: the
children register ``rpc`` the same way.

Any other Hydra app (fairseq, yours) has not imported ``solo``: nothing is imported and nothing happens.
The hook never raises; a failed registration is reported as a warning (Hydra's plugin scanner prints it).

>>> register_if_solo(modules={})  # no solo-learn in this app: do nothing
False
"""
import importlib.util
import sys
import warnings
from typing import Mapping, Optional


def register_if_solo(modules: Optional[Mapping[str, object]] = None) -> bool:
    """Import ``rpc_solo`` when solo-learn is already imported in this process; True if ``rpc`` is registered."""
    modules = sys.modules if modules is None else modules
    if "solo" not in modules:
        return False
    try:
        if importlib.util.find_spec("solo.methods") is None:  # some other package called "solo"
            return False
        import rpc_solo  # noqa: F401  (adds METHODS["rpc"] and the timm_<name> backbones)

        from solo.methods import METHODS

        return "rpc" in METHODS
    except Exception as e:  # never break the host's own methods
        warnings.warn(f"rpc-plugins could not register solo-learn method 'rpc': {type(e).__name__}: {e}")
        return False


register_if_solo()
