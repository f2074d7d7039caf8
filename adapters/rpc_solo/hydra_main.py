"""Run solo-learn main's own ``main_pretrain.py`` with ``method: rpc`` registered (hydra API).

solo-learn's current main is not on the package registry; with a checkout of it:

    python -m rpc_solo.hydra_main /path/to/solo-learn/main_pretrain.py \\
        --config-path /path/to/solo-learn/scripts/pretrain/cifar --config-name rpc.yaml

(after copying examples/solo/rpc.yaml there: it uses that folder's augmentations/ and wandb/ groups;
examples/solo/rpc_cpu_smoke.yaml is self-contained: ``--config-path $PWD/examples/solo``).

Importing ``rpc_solo`` first adds ``METHODS["rpc"]`` and the ``timm_<name>`` backbones; then the
script runs unchanged as ``__main__`` with the remaining arguments (hydra overrides included).
"""
import runpy
import sys

import rpc_solo  # noqa: F401  (registers method "rpc")


def main() -> None:
    if len(sys.argv) < 2 or not sys.argv[1].endswith(".py"):
        raise SystemExit("usage: python -m rpc_solo.hydra_main /path/to/main_pretrain.py [hydra args...]")
    script = sys.argv[1]
    sys.argv = [script] + sys.argv[2:]
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
