"""The one mechanism behind rpc-plugins' Hydra hooks: register our plugin in a host that is already running.

Every ``@hydra.main`` app imports each module of the ``hydra_plugins`` namespace package when it starts,
before it composes the config and before the task function runs (hydra-core 1.0.7: ``Plugins._scan_all_plugins``;
1.3: ``Plugins._initialize``). A host's entry point (solo-learn's ``main_pretrain.py``, fairseq's
``fairseq-hydra-train``) has imported the host package by then, so a hook module can import our adapter,
whose import registers the objective in the host's registry. In any other Hydra app the host is not imported
and the hook does nothing: it imports no host, no torch, no adapter. It never raises: a failed registration
becomes a warning (Hydra's scanner prints it), and the host's own objectives keep working.

This module holds no Hydra plugin class, so Hydra's scanner imports it and finds nothing to register.

>>> register_when_host_imported("solo", "solo.methods", "rpc_solo", lambda: True, "method 'rpc'", modules={})
False
"""

import importlib
import importlib.util
import sys
import warnings
from typing import Callable, Mapping, Optional


def register_when_host_imported(
    host: str,
    host_spec: str,
    adapter: str,
    is_registered: Callable[[], bool],
    what: str,
    modules: Optional[Mapping[str, object]] = None,
) -> bool:
    """Import ``adapter`` when ``host`` is already imported in this process; True if ``is_registered()``.

    Args:
        host: top-level name of the host package (``"solo"``, ``"fairseq"``).
        host_spec: a submodule only the real host has, to ignore unrelated packages of the same name.
        adapter: our adapter package; importing it registers the objective.
        is_registered: checks the host's registry after the import.
        what: the registered thing, for the warning (``"solo-learn method 'rpc'"``).
        modules: the modules imported so far (default ``sys.modules``).
    """
    modules = sys.modules if modules is None else modules
    if host not in modules:
        return False
    try:
        if importlib.util.find_spec(host_spec) is None:  # some other package with the host's name
            return False
        importlib.import_module(adapter)
        return bool(is_registered())
    except Exception as e:  # never break the host's own objectives
        warnings.warn(f"rpc-plugins could not register {what}: {type(e).__name__}: {e}")
        return False
