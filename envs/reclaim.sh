#!/usr/bin/env bash
# reclaim.sh ERA: after ERA's tests, free its disk when the disk is short. Removes .venvs/ERA (rebuilt by the
# next `make test-ERA`) and pytest's temporary folders if fewer than RPC_MIN_FREE_GB (default 16) GB stay
# free on the filesystem of .venvs/; with room to spare nothing is touched.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
era="$1"; min_gb="${RPC_MIN_FREE_GB:-16}"
free_gb() { df -Pk "$VENVS" | awk 'NR == 2 { print int($4 / 1048576) }'; }
before=$(free_gb)
if [ "$before" -ge "$min_gb" ]; then exit 0; fi
rm -rf "$VENVS/$era" "${TMPDIR:-/tmp}/pytest-of-$(id -un)"
log "disk: $before GB free < $min_gb GB; removed .venvs/$era and pytest's tmp: $(free_gb) GB free"
