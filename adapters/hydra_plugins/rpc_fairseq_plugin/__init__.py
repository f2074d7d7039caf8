"""Hydra plugin hook: fairseq's own ``fairseq-hydra-train`` finds ``criterion: rpc`` with nothing else to do.

Relative Predictive Coding (Tsai, Ma, Yang, Zhao, Morency, Salakhutdinov, ICLR 2021, arXiv 2103.11275)
is registered in fairseq as ``criterion: rpc`` by ``import rpc_fairseq``. fairseq imports a plugin only
through ``common.user_dir``, and only after it has composed the config: ``fairseq_cli/hydra_train.py``
calls ``add_defaults(cfg)`` (which merges the dataclass defaults of every *registered* criterion, model and
task) and resolves the interpolations before ``import_user_module``. A criterion that arrives through the user dir is therefore missing its defaults at
that point.

Every ``@hydra.main`` app imports each module of the ``hydra_plugins`` namespace package when it starts,
before the config is composed and before the task function runs (hydra-core 1.0.7, which fairseq 0.12.2
pins: ``hydra.core.plugins.Plugins._scan_all_plugins``). ``fairseq_cli.hydra_train`` has imported
``fairseq`` by then, so this hook imports ``rpc_fairseq`` and ``rpc`` is a registered criterion with its
dataclass defaults in time: ``criterion._name=rpc`` works with no ``common.user_dir``. With an editable install,
passing ``common.user_dir=<...>/rpc_fairseq`` as well still works (that folder is the imported package's
``__path__``), and the criterion is registered once.

Not covered: fairseq's argparse CLI (``fairseq-train``) starts no Hydra app, so it keeps ``--user-dir``;
and processes that fairseq itself *spawns* for multi-GPU training without ``torchrun`` do not start Hydra
either (see ``examples/fairseq/README.md``).

Any other Hydra app (solo-learn, yours) has not imported ``fairseq``: nothing is imported and nothing
happens. The hook never raises; a failed registration is reported as a warning (Hydra's plugin scanner
prints it).

>>> register_if_fairseq(modules={})  # no fairseq in this app: do nothing
False
"""

from typing import Mapping, Optional

from hydra_plugins.rpc_plugins_host_hook import register_when_host_imported


def _rpc_registered() -> bool:
    from fairseq.criterions import CRITERION_REGISTRY

    return "rpc" in CRITERION_REGISTRY


def register_if_fairseq(modules: Optional[Mapping[str, object]] = None) -> bool:
    """Import ``rpc_fairseq`` when fairseq is already imported in this process; True if ``rpc`` is registered."""
    return register_when_host_imported(
        "fairseq", "fairseq.criterions", "rpc_fairseq", _rpc_registered, "fairseq criterion 'rpc'", modules
    )


register_if_fairseq()
