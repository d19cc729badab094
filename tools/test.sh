#!/usr/bin/env bash
# The README's second command: install what is missing, build the debug
# tree, and run every test (unit and integration). .ci/run calls exactly
# this. Extra arguments go to `meson test` (e.g. --suite unit).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh --test
[ -d build ] || meson setup build --buildtype=debug --wrap-mode=nofallback
ninja -C build
# meson's summary is not a line CI reads; end with a plain "N passed, N failed".
set +e
meson test -C build --print-errorlogs --num-processes 2 "$@" 2>&1 | tee build/test-output.txt
rc=${PIPESTATUS[0]}
set -e
ok=$(awk '/^Ok:/ {print $2}' build/test-output.txt)
failed=$(awk '/^(Fail|Timeout|Unexpected Pass):/ {n += $NF} END {print n + 0}' build/test-output.txt)
echo "tests: ${ok:-0} passed, ${failed} failed"
exit "$rc"
