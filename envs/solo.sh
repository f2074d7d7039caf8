#!/usr/bin/env bash
# solo era: Python 3.9, solo-learn 1.0.2 with its pins (torch 1.9.1, PL 1.4.7), installed with uv.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
NAME=solo; V="$VENVS/$NAME"; DEPS=("$ROOT/envs/solo.sh" "$ROOT/envs/solo.txt")
if env_is_current "$NAME" "${DEPS[@]}"; then install_project "$V" "$V/bin/uv" pip install --python "$V/bin/python"; exit 0; fi
start=$(date +%s); log "building $V"
rm -rf "$V"; "$(find_python 3.9)" -m venv "$V"
"$V/bin/pip" install -q uv
# pip's resolver backtracks for many minutes on solo-learn's pins; uv resolves them in seconds.
"$V/bin/uv" pip install -q --python "$V/bin/python" -r "$ROOT/envs/solo.txt"
# The solo-learn wheel installs a top-level `tests` package that would shadow ours.
rm -rf "$("$V/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/tests"
install_project "$V" "$V/bin/uv" pip install --python "$V/bin/python"
mark_env_current "$NAME" "${DEPS[@]}"
log "built $NAME in $(( $(date +%s) - start )) s, $(du -sh "$V" | cut -f1)"
