#!/usr/bin/env bash
# fairseq era: Python 3.10, torch 1.12.1 + torchaudio 0.12.1, fairseq 0.12.2, pip < 24.1.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
NAME=fairseq; V="$VENVS/$NAME"; DEPS=("$ROOT/envs/fairseq.sh" "$ROOT/envs/fairseq.txt")
if env_is_current "$NAME" "${DEPS[@]}"; then install_project "$V"; exit 0; fi
start=$(date +%s); log "building $V"
rm -rf "$V"; "$(find_python 3.10)" -m venv "$V"
# fairseq pins omegaconf<2.1, whose metadata pip >= 24.1 rejects.
"$V/bin/pip" install -q "pip<24.1"
"$V/bin/pip" install -q torch==1.12.1 torchaudio==0.12.1 "numpy<2"
"$V/bin/pip" install -q -r "$ROOT/envs/fairseq.txt"
install_project "$V"
mark_env_current "$NAME" "${DEPS[@]}"
log "built $NAME in $(( $(date +%s) - start )) s, $(du -sh "$V" | cut -f1)"
