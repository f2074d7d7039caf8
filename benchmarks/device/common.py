"""What every part script shares: the checkout on sys.path, its command line, device helpers.

Each part is ``python benchmarks/device/<part>.py --out FILE --budget SECONDS [--dry-run]``;
``--dry-run`` means tiny sizes on the CPU (what CI runs), otherwise the sizes of the GPU run on
``cuda``.
"""

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
for path in (os.path.join(ROOT, "adapters"), ROOT):  # run from a checkout without installing
    if path not in sys.path:
        sys.path.insert(0, path)


def parse(doc, extra=None):
    """The common command line; ``extra(parser)`` adds a part's own options."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="this part's results JSON")
    p.add_argument("--budget", type=float, default=60.0, help="seconds this part may take (it plans to end sooner)")
    p.add_argument("--dry-run", action="store_true", help="tiny sizes on the CPU")
    p.add_argument("--work", default=None, help="scratch folder (default: beside --out)")
    if extra:
        extra(p)
    args = p.parse_args()
    args.device = "cpu" if args.dry_run else "cuda"
    args.work = args.work or os.path.join(os.path.dirname(os.path.abspath(args.out)), "work")
    os.makedirs(args.work, exist_ok=True)
    args.deadline = time.time() + args.budget
    return args


def require_device(device):
    """Fail early, with the reason, when the GPU run finds no GPU."""
    import torch

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("no CUDA device visible to torch: this part needs the GPU (or --dry-run)")


def sync(device):
    import torch

    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def import_reason(module):
    """None when ``module`` imports, else the ImportError's text (why a row is skipped)."""
    import importlib

    try:
        importlib.import_module(module)
        return None
    except Exception as exc:  # an adapter whose host is absent raises ImportError (or worse)
        return f"import {module} failed: {type(exc).__name__}: {exc}"
