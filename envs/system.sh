#!/usr/bin/env bash
# Debian packages the tests, demo and benchmarks read: Fashion-MNIST (vision), flite + espeak-ng (speech).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
PKGS=(dataset-fashion-mnist flite espeak-ng)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
log "apt-get install ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
