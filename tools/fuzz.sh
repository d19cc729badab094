#!/usr/bin/env bash
# Runs lmkv's libFuzzer targets (tests/fuzz) for a chosen time each.
#
#   tools/fuzz.sh [--seconds N] [--target resp|dispatcher] [--seed S] [-- libFuzzer flags...]
#
# Installs clang 14 if missing (tools/setup.sh --fuzz), configures build-fuzz with
# CXX=clang++-14 -Dfuzz=true, builds the fuzzers, then runs each one for N seconds (default
# 60; both targets unless --target) over the seed corpus in tests/fuzz/corpus/<target>/. New
# inputs go to build-fuzz/corpus/<target>/, never into the source tree. A crash, leak,
# sanitizer report or timeout stops that target and leaves its reproducer in
# build-fuzz/artifacts/<target>/; save it under tests/fuzz/regressions/<target>/ and it
# replays in every test build from then on. Exits non-zero if any target found something.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60
targets=(resp dispatcher)
seed=""
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --target) targets=("$2"); shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "usage: tools/fuzz.sh [--seconds N] [--target resp|dispatcher] [--seed S]" \
            "[-- libFuzzer flags]" >&2; exit 2 ;;
  esac
done
for t in "${targets[@]}"; do
  case "$t" in
    resp|dispatcher) ;;
    *) echo "unknown target '$t' (resp or dispatcher)" >&2; exit 2 ;;
  esac
done

tools/setup.sh --test --fuzz
if [ ! -d build-fuzz ]; then
  CXX=clang++-14 meson setup build-fuzz --buildtype=debugoptimized -Dfuzz=true \
    --wrap-mode=nofallback
fi
binaries=()
for t in "${targets[@]}"; do binaries+=("tests/fuzz/${t}_fuzz"); done
ninja -C build-fuzz "${binaries[@]}"

# UBSan already aborts (-fno-sanitize-recover); LeakSanitizer runs after every input.
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
# The dispatcher target opens a fresh environment per input: in memory when
# /dev/shm exists, so inputs do not wait on disk syncs.
[ -d /dev/shm ] && [ -w /dev/shm ] && export TMPDIR=/dev/shm

status=0
for t in "${targets[@]}"; do
  work=build-fuzz/corpus/$t
  artifacts=build-fuzz/artifacts/$t
  log=build-fuzz/fuzz-$t.log
  mkdir -p "$work" "$artifacts"
  rm -f "$artifacts"/*  # what is left there is this run's finding only
  # -timeout: one input running this long is a finding (a hang); -max_len bounds an input.
  flags=(-max_total_time="$seconds" -timeout=10 -max_len=4096 -print_final_stats=1
         -artifact_prefix="$artifacts/")
  [ -n "$seed" ] && flags+=(-seed="$seed")
  echo "fuzz $t: ${seconds}s over tests/fuzz/corpus/$t (log: $log)"
  set +e
  build-fuzz/tests/fuzz/"$t"_fuzz "${flags[@]}" "${extra[@]}" "$work" "tests/fuzz/corpus/$t" \
    >"$log" 2>&1
  rc=$?
  set -e
  # The final stats name the executions and their rate; the last status line the coverage.
  execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log")
  rate=$(awk '/stat::average_exec_per_sec/ {print $2}' "$log")
  cov=$(grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -n 1 | grep -oE 'cov: [0-9]+' || true)
  if [ "$rc" -eq 0 ]; then
    echo "fuzz $t: ok, ${execs:-?} executions, ${rate:-?} exec/s, ${cov:-cov: ?}"
  else
    status=1
    echo "fuzz $t: FAILED (exit $rc), ${execs:-?} executions; the end of $log:"
    tail -n 60 "$log"
    for f in "$artifacts"/*; do
      [ -f "$f" ] || continue
      # The bytes go into the log too: a CI machine's build dir does not survive the run.
      echo "reproducer $f ($(stat -c %s "$f") bytes), base64:"
      base64 -w 0 "$f" | head -c 20000
      echo
      echo "replay: build-fuzz/tests/fuzz/${t}_fuzz $f; keep it: cp $f tests/fuzz/regressions/$t/"
    done
  fi
done
exit "$status"
