#!/usr/bin/env bash
# main era: Python 3.11, torch 2.14.1 + torchvision 0.29.1, lightly 1.6.0, timm 1.0.31, PL 2.6.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
NAME=main; V="$VENVS/$NAME"; DEPS=("$ROOT/envs/main.sh" "$ROOT/envs/main.txt")
if env_is_current "$NAME" "${DEPS[@]}"; then install_project "$V"; exit 0; fi
start=$(date +%s); log "building $V"
rm -rf "$V"; "$(find_python 3.11)" -m venv "$V"
"$V/bin/pip" install -q --upgrade "pip<26"
# pip on 3.11 takes torch 2.14.1 / torchvision 0.29.1 from this machine's local wheel cache.
"$V/bin/pip" install -q torch==2.14.1 torchvision==0.29.1
"$V/bin/pip" install -q -r "$ROOT/envs/main.txt"
install_project "$V"
mark_env_current "$NAME" "${DEPS[@]}"
log "built $NAME in $(( $(date +%s) - start )) s, $(du -sh "$V" | cut -f1)"
