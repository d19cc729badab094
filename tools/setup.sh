#!/usr/bin/env bash
# Installs what building, running and testing lmkv needs, from Debian
# packages, if anything is missing. Idempotent; run as root (or with sudo).
set -euo pipefail
build_pkgs=(g++ meson ninja-build pkg-config libuv1-dev liblmdb-dev libfmt-dev)
test_pkgs=(libboost-test-dev python3-pytest python3-redis redis-server redis-tools lmdb-utils
           libhiredis-dev strace)
want=("${build_pkgs[@]}")
[ "${1:-}" = "--test" ] && want+=("${test_pkgs[@]}")
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
echo "installing: ${missing[*]}"
$SUDO apt-get update -qq
# A policy-rc.d that says "no" keeps Debian's redis-server package from
# starting a system service on port 6379, which lmkv's default port needs.
policy=/usr/sbin/policy-rc.d
made_policy=""
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null && $SUDO chmod +x "$policy"
  made_policy=1
fi
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
[ -n "$made_policy" ] && $SUDO rm -f "$policy"
true
