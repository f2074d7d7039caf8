#!/usr/bin/env bash
# Fill .device/ (ignored by git, carried to the GPU machine) with what that machine lacks:
#   .device/wheels/        lightly, pure Python, for Python 3.12 (lightly.loss and lightly.models.modules import
#                          only torch, torchvision, timm and packages the GPU image has; pip --no-deps there)
#   .device/fashion-mnist/ the four Fashion-MNIST IDX files (Debian's dataset-fashion-mnist, from envs/system.sh)
# Run here, once, before a GPU session; then carry [".device"]. scikit-learn is not carried: the parts probe
# on the GPU with torch (and the GPU image has scikit-learn anyway).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PY=${PYTHON:-python3}
LIGHTLY=${LIGHTLY_VERSION:-1.6.0}   # the version CI tests (envs/main)
DATA=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
CARRY=$ROOT/.device
mkdir -p "$CARRY/wheels" "$CARRY/fashion-mnist"
rm -f "$CARRY"/wheels/*.whl
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  -d "$CARRY/wheels" "lightly==$LIGHTLY"
for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz; do
  if [ ! -f "$DATA/$f" ]; then
    echo "prepare.sh: $DATA/$f missing (install Debian's dataset-fashion-mnist: bash envs/system.sh); part f will skip" >&2
    continue
  fi
  cp "$DATA/$f" "$CARRY/fashion-mnist/"
done
# the wheel installs the way run.sh installs it, and its loss modules import beside this interpreter's torch
check=$(mktemp -d)
"$PY" -m pip install -q --no-index --no-deps --no-compile --target "$check" "$CARRY"/wheels/*.whl
# and which other third-party packages those imports load (each must be on the GPU image: its KINDS.md list)
PYTHONPATH="$check" "$PY" -c "
import sys
before = set(sys.modules)
import lightly.loss, lightly.models.modules
new = {m.split('.')[0] for m in set(sys.modules) - before} - set(sys.stdlib_module_names) - {'lightly'}
print('lightly', lightly.__version__, 'imports; it also loads:', ' '.join(sorted(m for m in new if not m.startswith('_'))))
" || echo "prepare.sh: the carried lightly did not import here (does this interpreter have torch/torchvision/timm?)" >&2
rm -rf "$check"
carry=$(du -sb "$CARRY" | cut -f1)
tree=$(cd "$ROOT" && { git ls-files -z; git ls-files -z --others --exclude-standard; } | xargs -0 du -cb 2>/dev/null \
  | awk '$2 == "total" {s += $1} END {print s + 0}')
echo "prepare.sh: .device holds $((carry / 1048576)) MiB ($(ls "$CARRY/wheels")); the working tree $((tree / 1048576)) MiB;" \
  "together $(((carry + tree) / 1048576)) MiB of the 64 MiB a device call carries"
if [ $((carry + tree)) -gt $((60 * 1048576)) ]; then echo "prepare.sh: too close to the 64 MiB limit" >&2; exit 1; fi
