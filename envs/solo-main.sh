#!/usr/bin/env bash
# solo-main era: Python 3.11, torch 2.14.1 + torchvision 0.29.1, solo-learn main (commit 9187ea3) with its pins
# (lightning 2.1.2, torchmetrics<0.12, hydra-core 1.3). solo-learn main is not on the package registry: CI installs
# the unchanged archive ../shared/hosts/solo-learn-9187ea3.tar.gz (users: pip install
# "solo-learn @ git+https://github.com/vturrisi/solo-learn@9187ea3"). The archive is also unpacked to
# .venvs/solo-main/solo-learn/ because solo's main_pretrain.py and scripts/ are not in its wheel; the tests run them.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
NAME=solo-main; V="$VENVS/$NAME"
ARCHIVE="$ROOT/../shared/hosts/solo-learn-9187ea3.tar.gz"
if [ ! -f "$ARCHIVE" ]; then
    echo "error: solo-learn main archive not found at $ARCHIVE" >&2
    echo "       (CI keeps shared/hosts/ beside the checkout; elsewhere install solo-learn from git, see examples/solo/README.md)" >&2
    exit 1
fi
DEPS=("$ROOT/envs/solo-main.sh" "$ROOT/envs/solo-main.txt" "$ARCHIVE")
if env_is_current "$NAME" "${DEPS[@]}"; then install_project "$V"; exit 0; fi
start=$(date +%s); log "building $V"
rm -rf "$V"; "$(find_python 3.11)" -m venv "$V"
"$V/bin/pip" install -q --upgrade "pip<26"
# pip on 3.11 takes torch 2.14.1 / torchvision 0.29.1 from this machine's local wheel cache.
"$V/bin/pip" install -q torch==2.14.1 torchvision==0.29.1
"$V/bin/pip" install -q -r "$ROOT/envs/solo-main.txt"
mkdir -p "$V/solo-learn"; tar -xzf "$ARCHIVE" -C "$V/solo-learn" --strip-components=1
# solo's setup.py imports pkg_resources (gone from setuptools >= 81): build it with the venv's setuptools<81.
"$V/bin/pip" install -q --no-build-isolation "$V/solo-learn"
rm -rf "$V/solo-learn/build" "$V/solo-learn"/*.egg-info
# solo's setup.py excludes "tests" but not "tests.*": its wheel installs a top-level `tests` folder that would
# shadow ours.
rm -rf "$("$V/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/tests"
install_project "$V"
mark_env_current "$NAME" "${DEPS[@]}"
log "built $NAME in $(( $(date +%s) - start )) s, $(du -sh "$V" | cut -f1)"
