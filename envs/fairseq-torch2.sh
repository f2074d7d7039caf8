#!/usr/bin/env bash
# fairseq on torch 2: Python 3.10, torch 2.11.0 + torchaudio 2.11.0 (torchaudio's last release, so the newest
# torch with a matching torchaudio), fairseq 0.12.2 built from its sdist, pip < 24.1.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
NAME=fairseq-torch2; V="$VENVS/$NAME"; DEPS=("$ROOT/envs/fairseq-torch2.sh" "$ROOT/envs/fairseq-torch2.txt")
if env_is_current "$NAME" "${DEPS[@]}"; then install_project "$V"; exit 0; fi
start=$(date +%s); log "building $V"
rm -rf "$V"; "$(find_python 3.10)" -m venv "$V"
# fairseq pins omegaconf<2.1, whose metadata pip >= 24.1 rejects.
"$V/bin/pip" install -q "pip<24.1"
"$V/bin/pip" install -q torch==2.11.0 torchaudio==2.11.0 "numpy<2"
"$V/bin/pip" install -q -r "$ROOT/envs/fairseq-torch2.txt"
install_project "$V"
mark_env_current "$NAME" "${DEPS[@]}"
log "built $NAME in $(( $(date +%s) - start )) s, $(du -sh "$V" | cut -f1)"
