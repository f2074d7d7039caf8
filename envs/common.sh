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
