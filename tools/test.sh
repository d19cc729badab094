#!/usr/bin/env bash
# The README's second command: install what is missing, build the debug
# tree, and run every test (unit and integration). .ci/run calls exactly
# this. Extra arguments go to `meson test` (e.g. --suite unit).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh --test
[ -d build ] || meson setup build --buildtype=debug --wrap-mode=nofallback
ninja -C build
meson test -C build --print-errorlogs --num-processes 2 "$@"
