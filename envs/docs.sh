#!/usr/bin/env bash
# docs tools: Python 3.11, mkdocs-material + mkdocstrings (envs/docs.txt). Small (no torch) and built in seconds.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
NAME=docs; V="$VENVS/$NAME"; DEPS=("$ROOT/envs/docs.sh" "$ROOT/envs/docs.txt")
if env_is_current "$NAME" "${DEPS[@]}"; then exit 0; fi
start=$(date +%s); log "building $V"
rm -rf "$V"; "$(find_python 3.11)" -m venv "$V"
"$V/bin/pip" install -q -r "$ROOT/envs/docs.txt"
mark_env_current "$NAME" "${DEPS[@]}"
log "built $NAME in $(( $(date +%s) - start )) s, $(du -sh "$V" | cut -f1)"
