#!/usr/bin/env bash
# The README's second command: install what is missing, then run every test
# (unit and integration) in two builds, as .ci/run does:
#   1. the debug build `build`;
#   2. once that passed, `build-asan` (debug, ASan+UBSan, built with g++): the
#      same suite, where any sanitizer report -- in a test binary or in the
#      lmkv-server the integration suite starts -- fails the run.
#      LMKV_SKIP_ASAN=1 skips this pass (for quick local runs; CI runs it).
#   3. only if LMKV_FUZZ_SECONDS=N is set (.ci/run sets 30): each libFuzzer
#      target for N seconds (tools/fuzz.sh, clang 14 in build-fuzz).
# Extra arguments go to `meson test` (e.g. --suite unit).
set -euo pipefail
cd "$(dirname "$0")/.."
fuzz_seconds=${LMKV_FUZZ_SECONDS:-0}
setup_args=(--test)
[ "$fuzz_seconds" -gt 0 ] && setup_args+=(--fuzz)
tools/setup.sh "${setup_args[@]}"

passed=0
failed=0
rc=0

# run_suite DIR [meson test args]: builds DIR, runs its tests and adds their
# counts to the totals. meson's summary is not a line CI reads, so the
# script ends with a plain "N passed, N failed" over all passes.
run_suite() {
  local dir=$1 start=$SECONDS
  shift
  ninja -C "$dir"
  set +e
  meson test -C "$dir" --print-errorlogs --num-processes 2 "$@" 2>&1 | tee "$dir/test-output.txt"
  local r=${PIPESTATUS[0]}
  set -e
  local ok bad
  ok=$(awk '/^Ok:/ {print $2}' "$dir/test-output.txt")
  bad=$(awk '/^(Fail|Timeout|Unexpected Pass):/ {n += $NF} END {print n + 0}' \
    "$dir/test-output.txt")
  # A failure meson does not count as a test (a setup error) still counts.
  [ "$r" -ne 0 ] && [ "$bad" -eq 0 ] && bad=1
  passed=$((passed + ${ok:-0}))
  failed=$((failed + bad))
  [ "$r" -ne 0 ] && rc=$r
  echo "== $dir: ${ok:-0} passed, ${bad} failed; build and tests took $((SECONDS - start)) s"
  return 0
}

[ -d build ] || meson setup build --buildtype=debug --wrap-mode=nofallback
run_suite build "$@"

if [ "$rc" -eq 0 ] && [ "${LMKV_SKIP_ASAN:-0}" != 1 ]; then
  # b_lundef=false: the sanitizer runtimes resolve symbols at load time.
  [ -d build-asan ] || meson setup build-asan --buildtype=debug --wrap-mode=nofallback \
    -Db_sanitize=address,undefined -Db_lundef=false
  # Any report is fatal: ASan stops at the first error, LeakSanitizer checks
  # every process at exit (test binaries, and each lmkv-server the
  # integration suite stops with SIGTERM, whose log the suite then reads),
  # and UBSan, which g++ builds to carry on, stops instead.
  # tests/sanitizers/lsan.supp: the suppressed leaks, each with its reason.
  export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:detect_stack_use_after_return=1"
  export LSAN_OPTIONS="suppressions=$PWD/tests/sanitizers/lsan.supp:print_suppressions=0"
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
  echo "== the same suite under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan)"
  run_suite build-asan "$@"
  unset ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS
fi

if [ "$rc" -eq 0 ] && [ "$fuzz_seconds" -gt 0 ]; then
  start=$SECONDS
  for t in resp dispatcher; do
    if tools/fuzz.sh --seconds "$fuzz_seconds" --target "$t"; then
      passed=$((passed + 1))
    else
      failed=$((failed + 1))
      rc=1
    fi
  done
  echo "== fuzzing: building and running took $((SECONDS - start)) s"
fi

echo "tests: ${passed} passed, ${failed} failed"
exit "$rc"
