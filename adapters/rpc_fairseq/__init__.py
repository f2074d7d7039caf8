"""fairseq adapter: the ``rpc`` criterion for wav2vec 2.0 and wav2vec (CPC) pretraining.

With ``rpc-plugins`` installed, ``fairseq-hydra-train ... criterion._name=rpc`` needs nothing else: the Hydra
plugin ``hydra_plugins.rpc_fairseq_plugin`` imports this package before fairseq composes its config.
As a classic fairseq plugin it also works from a checkout: ``common.user_dir=<repo>/adapters/rpc_fairseq``
(hydra) or ``--user-dir`` (``fairseq-train``); fairseq imports the folder as the top-level module
``rpc_fairseq``.

Both at once: fairseq's ``import_user_module`` accepts an already imported ``rpc_fairseq`` only when the user
dir is in ``rpc_fairseq.__path__`` (otherwise it raises "not globally unique"). An editable install imports
this very folder, so the paths match. A regular install imports the copy in site-packages, while an older
command line may still name the checkout's folder: ``__path__`` below also answers "yes" for a directory that
holds an identical copy of this package, so that command keeps working and ``rpc`` is registered once. A
directory with *different* sources (another version) is refused with a warning that says which copy is loaded.
"""

import logging
import os

_HERE = os.path.dirname(os.path.abspath(__file__))
_SOURCES = ("__init__.py", "criterion.py")


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def same_package(path) -> bool:
    """True if directory ``path`` is this package's folder or an identical copy of it (same sources)."""
    path = os.path.abspath(str(path))
    try:
        if os.path.samefile(path, _HERE):
            return True
    except OSError:
        return False
    if os.path.basename(path) != os.path.basename(_HERE):
        return False
    if all(_read(os.path.join(path, f)) == _read(os.path.join(_HERE, f)) for f in _SOURCES):
        return True
    logging.getLogger(__name__).warning(
        f"user dir {path} is another version of rpc_fairseq than the one already imported from {_HERE} "
        "(the installed rpc-plugins, loaded by its Hydra plugin): drop common.user_dir / --user-dir, or point it "
        f"to {_HERE}"
    )
    return False


class _PackagePath(list):
    """``__path__`` whose membership test also accepts identical copies of this package (see the docstring)."""

    def __contains__(self, path):
        return super().__contains__(path) or (isinstance(path, (str, os.PathLike)) and same_package(path))


__path__ = _PackagePath(__path__)  # noqa: F821  (set by the import system)

from . import criterion  # noqa: E402,F401  (registers "rpc")
