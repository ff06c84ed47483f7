#!/usr/bin/env bash
# Installs the Debian packages seer builds against, only when some are missing, so `make demo`
# and `make test` work on a fresh Debian 12 machine. Runs apt-get update first (as the guide asks).
set -euo pipefail
pkgs="build-essential cmake pkg-config libopenblas-dev libopenblas0-pthread libcjson-dev libzip-dev clang valgrind"
# `setup.sh --bench` adds the benchmark peers' needs: PyTorch 1.13 with OpenBLAS, GNU time.
[ "${1:-}" = "--bench" ] && pkgs="$pkgs python3-torch libopenblas0 time"
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "setup: installing$missing" >&2
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >&2
$SUDO apt-get install -y -q --no-install-recommends $missing >&2
