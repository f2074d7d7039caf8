"""Run one of solo-learn main's scripts with ``method: rpc`` registered, for the scripts that do not start Hydra.

solo's Hydra scripts (``main_pretrain.py``, ``main_linear.py``) need nothing: Hydra imports the
``hydra_plugins.rpc_solo_plugin`` hook, which registers ``rpc`` (Relative Predictive Coding, Tsai et al.,
ICLR 2021, arXiv 2103.11275) and the ``timm_<name>`` backbones. solo's argparse scripts (``main_knn.py``,
``main_umap.py``) look up ``METHODS[method]`` to load a checkpoint but never start Hydra; run them through this
module so that an ``rpc`` checkpoint loads:

    python -m rpc_solo.hydra_main /path/to/solo-learn/main_knn.py --pretrained_checkpoint_dir ... [solo's flags]

The script runs unchanged as ``__main__`` with the remaining arguments.
"""

import runpy
import sys

import rpc_solo  # noqa: F401  (registers method "rpc" and the timm_<name> backbones)


def main() -> None:
    if len(sys.argv) < 2 or not sys.argv[1].endswith(".py"):
        raise SystemExit("usage: python -m rpc_solo.hydra_main /path/to/solo_script.py [its arguments...]")
    script = sys.argv[1]
    sys.argv = [script] + sys.argv[2:]
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
