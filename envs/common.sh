# Shared helpers for the per-era environment scripts (sourced, not run).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENVS="$ROOT/.venvs"
mkdir -p "$VENVS"

# find_python 3.9 -> path of a python3.9 interpreter (PATH first, then pyenv's versions).
find_python() {
    local v="$1" p
    if p="$(command -v "python$v" 2>/dev/null)" && "$p" --version >/dev/null 2>&1; then echo "$p"; return; fi
    for p in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$v".*/bin/"python$v"; do
        if [ -x "$p" ]; then echo "$p"; return; fi
    done
    echo "error: no python$v interpreter found (PATH or pyenv)" >&2; return 1
}

# env_is_current NAME FILES... -> true when .venvs/NAME was built from these exact files.
env_stamp() { cat "$@" | sha256sum | cut -c1-16; }
env_is_current() {
    local name="$1"; shift
    [ -f "$VENVS/$name/.stamp" ] && [ "$(cat "$VENVS/$name/.stamp")" = "$(env_stamp "$@")" ]
}
mark_env_current() { local name="$1"; shift; env_stamp "$@" > "$VENVS/$name/.stamp"; }

log() { echo "[envs $(date +%H:%M:%S)] $*" >&2; }

# install_project VENV [INSTALL COMMAND...]: (re)install this repository editable, without dependencies,
# whenever pyproject.toml or the set of package folders changed since the last install (an editable finder
# knows only the folders that existed when it was installed); the era's packages are not rebuilt for that.
# The install command defaults to VENV/bin/pip install.
install_project() {
    local v="$1"; shift
    local stamp; stamp="$( (cat "$ROOT/pyproject.toml"; ls "$ROOT" "$ROOT/adapters" "$ROOT/adapters/hydra_plugins" 2>/dev/null) | sha256sum | cut -c1-16)"
    [ -f "$v/.project-stamp" ] && [ "$(cat "$v/.project-stamp")" = "$stamp" ] && return 0
    if [ $# -eq 0 ]; then set -- "$v/bin/pip" install; fi
    "$@" -q --no-deps -e "$ROOT"
    echo "$stamp" > "$v/.project-stamp"
}
