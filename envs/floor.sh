#!/usr/bin/env bash
# floor era: the oldest torch rpc-plugins supports, Python 3.11, torch 2.4.1, no host: the core's tests only.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
NAME=floor; V="$VENVS/$NAME"; DEPS=("$ROOT/envs/floor.sh" "$ROOT/envs/floor.txt")
if env_is_current "$NAME" "${DEPS[@]}"; then install_project "$V"; exit 0; fi
start=$(date +%s); log "building $V"
rm -rf "$V"; "$(find_python 3.11)" -m venv "$V"
"$V/bin/pip" install -q --upgrade "pip<26"
"$V/bin/pip" install -q torch==2.4.1 -r "$ROOT/envs/floor.txt"
install_project "$V"
mark_env_current "$NAME" "${DEPS[@]}"
log "built $NAME in $(( $(date +%s) - start )) s, $(du -sh "$V" | cut -f1)"
