#!/usr/bin/env bash
# transformers era: Python 3.12, torch 2.14.1 (the newest that installs here), transformers 5.24 (HF wav2vec 2.0).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
NAME=transformers; V="$VENVS/$NAME"; DEPS=("$ROOT/envs/transformers.sh" "$ROOT/envs/transformers.txt")
if env_is_current "$NAME" "${DEPS[@]}"; then install_project "$V"; exit 0; fi
start=$(date +%s); log "building $V"
rm -rf "$V"; "$(find_python 3.12)" -m venv "$V"
"$V/bin/pip" install -q --upgrade "pip<26"
"$V/bin/pip" install -q torch==2.14.1
"$V/bin/pip" install -q -r "$ROOT/envs/transformers.txt"
install_project "$V"
mark_env_current "$NAME" "${DEPS[@]}"
log "built $NAME in $(( $(date +%s) - start )) s, $(du -sh "$V" | cut -f1)"
