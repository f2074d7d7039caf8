"""Run solo-learn's own ``main_pretrain.py`` (current main, hydra API) with ``method: rpc`` registered.

solo-learn main is not on the package registry and its entry point is a script in the repository
root, so this does exactly two things: ``import rpc_solo`` (which adds ``"rpc"`` to
``solo.methods.METHODS`` and the ``timm_*`` backbones to ``BaseMethod._BACKBONES``), then executes
the given ``main_pretrain.py`` unchanged as ``__main__`` with the remaining arguments, so hydra sees
the usual command line. Relative Predictive Coding: Tsai et al., ICLR 2021, arXiv 2103.11275.

    python -m rpc_solo.hydra_main /path/to/solo-learn/main_pretrain.py \\
        --config-path /path/to/solo-learn/scripts/pretrain/cifar --config-name rpc.yaml

>>> from rpc_solo.hydra_main import split_argv
>>> split_argv(["solo/main_pretrain.py", "--config-name", "rpc.yaml"])
('solo/main_pretrain.py', ['--config-name', 'rpc.yaml'])
"""
import os
import runpy
import sys
from typing import List, Sequence, Tuple


def split_argv(argv: Sequence[str]) -> Tuple[str, List[str]]:
    """(path of solo's main_pretrain.py, hydra arguments); ValueError when the script is missing."""
    if not argv or not argv[0].endswith(".py"):
        raise ValueError("usage: python -m rpc_solo.hydra_main /path/to/solo-learn/main_pretrain.py [hydra args]")
    script = argv[0]
    if not os.path.isfile(script):
        raise ValueError(f"solo-learn entry point {script!r} does not exist (clone solo-learn main first)")
    return script, list(argv[1:])


def main(argv: Sequence[str] = None) -> None:
    script, rest = split_argv(sys.argv[1:] if argv is None else argv)
    script = os.path.abspath(script)
    sys.path.insert(0, os.path.dirname(script))  # as `python main_pretrain.py` would
    import rpc_solo  # noqa: F401  (registers method "rpc" and the timm backbones)

    if not rpc_solo.HYDRA_API:
        raise ValueError("the installed solo-learn has the 1.0.2 argparse API; use `python -m rpc_solo.pretrain`")
    sys.argv = [script] + rest
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
