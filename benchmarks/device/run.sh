#!/usr/bin/env bash
# Every GPU claim in one prepared run (issue 22): parts a-f on one GPU in at most 8 minutes.
#
#   benchmarks/device/run.sh                  # on the GPU machine: results into $OUT (or --out DIR)
#   benchmarks/device/run.sh --dry-run        # tiny sizes on the CPU (CI); results into a temp folder or --out
#
# Before a GPU session, once, here: benchmarks/device/prepare.sh (fills .device/ with the wheels and data
# the GPU machine lacks). The device call: carry [".device"], command "bash benchmarks/device/run.sh",
# timeout 600. Interpreter: $PYTHON, else python3 (on the GPU machine the one that holds torch).
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PY=${PYTHON:-python3}
DRY=()
OUTDIR=${OUT:-}
EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY=(--dry-run) ;;
    --out) OUTDIR=$2; shift ;;
    *) EXTRA+=("$1") ;;
  esac
  shift
done
if [ -z "$OUTDIR" ]; then
  if [ ${#DRY[@]} -eq 0 ]; then echo "run.sh: set \$OUT or pass --out DIR" >&2; exit 2; fi
  OUTDIR=$(mktemp -d /tmp/rpc_device_dry.XXXXXX)
fi
mkdir -p "$OUTDIR"
WORK=$(mktemp -d /tmp/rpc_device_work.XXXXXX)
SITE=$WORK/site
WHEELS=""
shopt -s nullglob
wheels=("$ROOT"/.device/wheels/*.whl)
if [ ${#wheels[@]} -gt 0 ]; then
  # the interpreter's own torch stays: --no-deps, into a folder put in front on PYTHONPATH
  if "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$SITE" "${wheels[@]}" \
      >"$WORK/pip.log" 2>&1; then
    WHEELS=$(for w in "${wheels[@]}"; do basename "$w"; done | paste -sd: -)
  else
    echo "run.sh: installing the carried wheels failed (parts that need them skip): $(tail -n 3 "$WORK/pip.log")" >&2
  fi
fi
export PYTHONPATH="$SITE:$ROOT:$ROOT/adapters${PYTHONPATH:+:$PYTHONPATH}"
export RPC_DEVICE_WHEELS=$WHEELS PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
"$PY" "$ROOT/benchmarks/device/run.py" --out "$OUTDIR" --work "$WORK" "${DRY[@]}" "${EXTRA[@]}"
rc=$?
if [ ${#DRY[@]} -gt 0 ] && [ -z "${RPC_DEVICE_KEEP_WORK:-}" ]; then
  rm -rf "$WORK"   # the dry run's scratch (logs, the scripts' own outputs); RPC_DEVICE_KEEP_WORK=1 keeps it
  echo "run.sh: results in $OUTDIR"
else
  echo "run.sh: results in $OUTDIR (scratch: $WORK)"
fi
exit $rc
