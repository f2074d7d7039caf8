#!/usr/bin/env bash
# A new user's install, by hand (not in `make test`: the torch download alone takes minutes):
# a fresh clone, a fresh venv on the newest Python here, the newest versions the registry serves,
# `pip install ".[lightly]"`, the lightly quickstart's Python blocks against the installed package, then
# `pip install ".[lightly,test]"` and `pytest tests`; the plots doctest on that numpy.
#
#   bash integration_tests/packaging/fresh_venv.sh [PYTHON] [WORKDIR]
#
# PYTHON defaults to python3.13, WORKDIR to a new temporary folder. PIP_CONSTRAINT=/dev/null lifts a machine-wide
# pip constraint file, if any (this one caps torch), so pip takes what the registry serves.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY="${1:-python3.13}"
WORK="${2:-$(mktemp -d)}"
export PIP_CONSTRAINT=/dev/null OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
git clone -q "$ROOT" "$WORK/clone"
"$PY" -m venv "$WORK/venv"
V="$WORK/venv/bin"
"$V/pip" install -q --upgrade pip
cd "$WORK/clone"
s=$(date +%s); "$V/pip" install -q ".[lightly]"; echo "pip install .[lightly]: $(( $(date +%s) - s )) s"
"$V/python" -c "import sys, torch, numpy, lightly, timm; print('Python', sys.version.split()[0], 'torch', torch.__version__, 'numpy', numpy.__version__, 'lightly', lightly.__version__, 'timm', timm.__version__)"
cd "$WORK" && "$V/python" - "$WORK/clone" <<'PY'
import sys
clone = sys.argv[1]
sys.path.insert(0, f"{clone}/integration_tests/docs")
from blocks import parse  # noqa: E402

sys.path.pop(0)
page = "docs/quickstart/lightly.md"
for block in [b for b in parse(open(f"{clone}/{page}").read(), page) if b.lang == "python"]:
    exec(compile(block.code, block.id, "exec"), {"__name__": "__docs__"})
    print("ran", block.id)
import rpc_lightly  # noqa: E402

print("rpc_lightly from", rpc_lightly.__file__)
PY
cd "$WORK/clone"
"$V/pip" install -q ".[lightly,test]"
"$V/pip" check
"$V/python" -m pytest -q -p no:cacheprovider tests
"$V/python" -c "import doctest, benchmarks.harness.plots as m; print('benchmarks/harness/plots.py doctest:', doctest.testmod(m))"
