#!/usr/bin/env bash
# The GPU checks and benchmarks in one run, each step under `timeout`:
#   1. pytest tests/gpu (the float64 reference in fp32 / bf16 / fp16 autocast, no host sync, torch.compile);
#   2. benchmarks/cost/run.py --device cuda: RPCLoss against lightly's NTXentLoss and DCLLoss, up to the
#      largest N that fits (a row past a loss's memory records CUDA's out-of-memory error);
#   3. benchmarks/cost/step.py --device cuda: ResNet-18 step time with RPC vs NT-Xent at B = 256 to 4096.
#
#   bash benchmarks/gpu.sh prepare        # here, once: .device/wheels/lightly-*.whl (the GPU machine has no registry)
#   bash benchmarks/gpu.sh run            # on the GPU machine: 8 files into $OUT (or the folder given after run)
#   bash benchmarks/gpu.sh dry-run DIR    # the same steps on the CPU at tiny sizes, no time limits (CI)
#
# Device call: command "bash benchmarks/gpu.sh run", carry [".device"], timeout_s 600. Files written:
# run.txt (machine, versions, each step's exit status and time), pytest.txt, pytest.xml, cost.md, cost.json,
# cost.png, step.md, step.json. Interpreter: $PYTHON, else python3 (on the GPU machine the one with torch).
# No GPU has run this script yet: its GPU rows are pending until it is run.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=${PYTHON:-python3}
CARRY=$ROOT/.device
MODE=${1:-}
[ $# -gt 0 ] && shift

usage() {
  sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

prepare() {
  # lightly is pure Python; its loss modules import only torch, torchvision, timm and what the GPU image has
  mkdir -p "$CARRY/wheels" && rm -f "$CARRY"/wheels/*.whl
  "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    -d "$CARRY/wheels" "lightly==${LIGHTLY_VERSION:-1.6.0}" || exit 1
  echo "gpu.sh prepare: $(ls "$CARRY/wheels") ($(du -sh "$CARRY" | cut -f1)); carry [\".device\"]"
}

case "$MODE" in
  prepare) prepare; exit 0 ;;
  run)
    OUTDIR=${1:-${OUT:-}}
    [ -n "$OUTDIR" ] || { echo "gpu.sh run: set \$OUT or give a folder" >&2; exit 2; }
    DEVICE=cuda LIMIT_TESTS=170 LIMIT_COST=260 LIMIT_STEP=130  # 560 s of the 600 a device call has
    COST=(--sizes 256 4096 16384 32768 65536 --losses NTXentLoss DCLLoss "RPCLoss dense" "RPCLoss gram"
      --gram-sizes 262144 1048576 4194304 16777216 --gram-losses "RPCLoss gram" --repeats 5
      --bf16 --bf16-sizes 4096 32768 --bf16-losses NTXentLoss "RPCLoss gram")
    STEP=(--batches 256 1024 4096)
    ;;
  dry-run)
    OUTDIR=${1:-}
    [ -n "$OUTDIR" ] || usage
    # no time limits (timeout 0): a slow machine finishes; bf16 only at sizes the CPU emulates in milliseconds
    DEVICE=cpu LIMIT_TESTS=0 LIMIT_COST=0 LIMIT_STEP=0
    COST=(--sizes 32 --losses NTXentLoss DCLLoss "RPCLoss gram" --gram-sizes 256 --gram-losses "RPCLoss gram"
      --repeats 2 --threads 1 --bf16 --bf16-sizes 32 --bf16-losses NTXentLoss "RPCLoss gram")
    STEP=(--batches 4 --image 8 --warmup 1 --rounds 1 --block 1 --threads 1)
    ;;
  *) usage ;;
esac

mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
WORK=$(mktemp -d /tmp/rpc_gpu.XXXXXX)
REPORT=$OUTDIR/run.txt
shopt -s nullglob
wheels=("$CARRY"/wheels/*.whl)
if [ ${#wheels[@]} -gt 0 ]; then
  # the machine's own torch stays: --no-deps, into a folder put first on PYTHONPATH
  "$PY" -m pip install -q --no-index --no-deps --no-compile --target "$WORK/site" "${wheels[@]}" >"$WORK/pip.log" 2>&1 \
    || echo "installing the carried wheels failed: $(tail -n 3 "$WORK/pip.log")" >>"$REPORT"
fi
export PYTHONPATH="$WORK/site:$ROOT:$ROOT/adapters${PYTHONPATH:+:$PYTHONPATH}" PYTHONDONTWRITEBYTECODE=1
cd "$ROOT" || exit 1

{
  echo "gpu.sh $MODE, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "carried wheels: ${wheels[*]##*/}"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  "$PY" - <<'EOF'
import importlib, platform, torch
cuda = torch.cuda.is_available()
print(f"Python {platform.python_version()}, torch {torch.__version__}, CUDA {torch.version.cuda}, "
      f"cuDNN {torch.backends.cudnn.version() if cuda else None}, device {torch.cuda.get_device_name() if cuda else 'cpu'}")
for name in ("lightly", "timm", "transformers", "pytest"):
    try:
        print(f"{name} {importlib.import_module(name).__version__}")
    except Exception as exc:
        print(f"{name}: not importable ({type(exc).__name__}: {exc})")
EOF
} >>"$REPORT" 2>&1

FAILED=0
step() {  # step NAME LIMIT LOG COMMAND...: run under timeout (0: none), record exit status and seconds
  local name=$1 limit=$2 log=$3 start=$SECONDS rc
  shift 3
  timeout -k 10 "$limit" "$@" >"$log" 2>&1
  rc=$?
  echo "$name: exit $rc$([ $rc -eq 124 ] && echo ' (cut off by its time limit)') in $((SECONDS - start)) s" >>"$REPORT"
  if [ $rc -ne 0 ]; then
    FAILED=1
    tail -n 15 "$log" | sed 's/^/    /' >>"$REPORT"
  fi
}

step "pytest tests/gpu" "$LIMIT_TESTS" "$OUTDIR/pytest.txt" "$PY" -m pytest -q -rA -p no:cacheprovider \
  --confcutdir tests/gpu --junitxml "$OUTDIR/pytest.xml" tests/gpu
step "cost" "$LIMIT_COST" "$WORK/cost.log" "$PY" benchmarks/cost/run.py --device "$DEVICE" "${COST[@]}" \
  --out "$WORK/cost"
for pair in results.md:cost.md results.json:cost.json cost.png:cost.png; do  # rows so far even when cut off
  [ -f "$WORK/cost/${pair%%:*}" ] && cp "$WORK/cost/${pair%%:*}" "$OUTDIR/${pair##*:}"
done
step "step" "$LIMIT_STEP" "$WORK/step.log" "$PY" benchmarks/cost/step.py --device "$DEVICE" "${STEP[@]}" \
  --out "$OUTDIR"
rm -rf "$WORK"
echo "gpu.sh $MODE: $(ls "$OUTDIR" | wc -l) files in $OUTDIR"
exit $FAILED
