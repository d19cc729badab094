#!/usr/bin/env bash
# Installs what building, running and testing lmkv needs, from Debian
# packages, if anything is missing. Idempotent; run as root (or with sudo).
#   --test  also what the test suite needs (g++'s ASan/UBSan runtimes come with g++)
#   --fuzz  also clang 14 and its runtimes (libFuzzer, ASan, UBSan) for tools/fuzz.sh
set -euo pipefail
build_pkgs=(g++ meson ninja-build pkg-config libuv1-dev liblmdb-dev libfmt-dev)
test_pkgs=(libboost-test-dev python3-pytest python3-redis redis-server redis-tools lmdb-utils
           libhiredis-dev strace)
fuzz_pkgs=(clang-14 libclang-rt-14-dev)
want=("${build_pkgs[@]}")
for arg in "$@"; do
  case "$arg" in
    --test) want+=("${test_pkgs[@]}") ;;
    --fuzz) want+=("${fuzz_pkgs[@]}") ;;
    *) echo "usage: tools/setup.sh [--test] [--fuzz]" >&2; exit 2 ;;
  esac
done
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
