#!/usr/bin/env bash
# The README's first command: install what is missing, build a release
# binary, and start lmkv-server on 127.0.0.1:6379 with its data in ./data.
# Extra arguments go to lmkv-server (e.g. --port 7000 --fsync everysec).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
[ -d build-release ] || meson setup build-release --buildtype=release --wrap-mode=nofallback \
  -Dtests=false
ninja -C build-release
exec build-release/src/lmkv-server --dir ./data "$@"
