#!/usr/bin/env bash
# Check method: rpc against a checkout of solo-learn's current main (hydra API) through solo's own
# main_pretrain.py: the smoke config, the loss switch, a timm backbone, and bad configs naming the key.
#   bash examples/solo/verify_main_api.sh /path/to/solo-learn [python]
# Needs an environment where `import solo` (that checkout) and `import rpc_solo` work
# (solo main wants torch>=1.10, lightning 2.x, hydra-core, torchmetrics<0.12, timm, einops).
set -u
SOLO=${1:?path to a solo-learn main checkout}
PY=${2:-python}
HERE=$(cd "$(dirname "$0")" && pwd)
SOLO=$(cd "$SOLO" && pwd)
WORK=$(mktemp -d)  # solo/Lightning write lightning_logs/ into the working directory: keep it out of the repo
trap 'rm -rf "$WORK"' EXIT
DATA=${DATA:-/tmp/rpc_digits}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} HYDRA_FULL_ERROR=1
[ -d "$DATA/train" ] || "$PY" -m rpc_solo.data --source digits --out "$DATA" --train 512 --val 256
run() {  # run NAME EXPECT(ok|"error text") [--config-path P --config-name N] OVERRIDES...
  local name=$1 expect=$2; shift 2
  local cfg=(--config-path "$HERE" --config-name rpc_cpu_smoke.yaml)
  if [ "${1:-}" = --config-path ]; then cfg=("$1" "$2" "$3" "$4"); shift 4; fi
  local log; log=$(mktemp)
  (cd "$WORK" && "$PY" -m rpc_solo.hydra_main "$SOLO/main_pretrain.py" "${cfg[@]}" \
    data.train_path="$DATA/train" data.val_path="$DATA/val" "$@") >"$log" 2>&1
  local rc=$?
  if [ "$expect" = ok ]; then
    if [ $rc -eq 0 ]; then echo "PASS $name (trained)"; else echo "FAIL $name rc=$rc"; tail -20 "$log"; fi
  else
    if [ $rc -ne 0 ] && grep -q -- "$expect" "$log"; then echo "PASS $name (error names the key: $expect)";
    else echo "FAIL $name rc=$rc, expected error '$expect'"; tail -20 "$log"; fi
  fi
  rm -f "$log"
}
run "rpc + solo kNN/linear validation" ok
run "loss switch: infonce" ok method_kwargs.loss=infonce limit_val_batches=0
run "loss switch: mio" ok method_kwargs.loss=mio limit_val_batches=0
run "timm backbone" ok backbone.name=timm_resnet18 limit_val_batches=0
run "unknown loss" "method_kwargs.loss='simclr2' is not a known objective" method_kwargs.loss=simclr2
run "negative beta" "method_kwargs.beta must be >= 0" method_kwargs.beta=-0.5
# examples/solo/rpc.yaml itself, composed with solo's own cifar augmentations/ and wandb/ groups (as if copied
# next to scripts/pretrain/cifar/simclr.yaml), overridden to a 2-step CPU run
mkdir -p "$WORK/cifar" && cp "$HERE/rpc.yaml" "$WORK/cifar/" && ln -s "$SOLO/scripts/pretrain/cifar/augmentations" \
  "$SOLO/scripts/pretrain/cifar/wandb" "$WORK/cifar/"
run "rpc.yaml with solo's cifar groups" ok --config-path "$WORK/cifar" --config-name rpc.yaml data.dataset=custom \
  data.num_workers=0 optimizer.batch_size=32 max_epochs=1 devices='"1"' \
  accelerator=cpu strategy=auto precision=32 sync_batchnorm=False checkpoint.enabled=False auto_resume.enabled=False \
  wandb.enabled=False +limit_train_batches=2 +limit_val_batches=0 +performance.disable_channel_last=True
