#!/usr/bin/env bash
# lint tools: Python 3.11, ruff + mypy (envs/lint.txt). Small (about 60 MB) and built in seconds.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
NAME=lint; V="$VENVS/$NAME"; DEPS=("$ROOT/envs/lint.sh" "$ROOT/envs/lint.txt")
if env_is_current "$NAME" "${DEPS[@]}"; then exit 0; fi
start=$(date +%s); log "building $V"
rm -rf "$V"; "$(find_python 3.11)" -m venv "$V"
"$V/bin/pip" install -q -r "$ROOT/envs/lint.txt"
mark_env_current "$NAME" "${DEPS[@]}"
log "built $NAME in $(( $(date +%s) - start )) s, $(du -sh "$V" | cut -f1)"
