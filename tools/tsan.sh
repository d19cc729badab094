#!/usr/bin/env bash
# ThreadSanitizer pass: lmkv has several threads (one libuv loop per core, the writer, the
# engine's applier, the control loop), so data races are checked where they happen.
#
#   tools/tsan.sh [--requests N]
#
# 1. configures build-tsan (debug, -Db_sanitize=thread, g++) once and builds lmkv-server and
#    the store unit tests;
# 2. runs the store unit tests (the engine's threads);
# 3. starts the TSan lmkv-server on a free loopback port with --threads 2 and drives it with
#    redis-benchmark (-n N requests per test, default 50000; 2 x 20 clients, pipelined and
#    not; set, get, incr, mset, and a mixed rerun), then stops it with SIGTERM.
# Any ThreadSanitizer report (in the unit tests or in the server's log) or a non-zero exit
# fails the script; the server log stays in build-tsan/tsan-server.log.
set -euo pipefail
cd "$(dirname "$0")/.."

requests=50000
while [ $# -gt 0 ]; do
  case "$1" in
    --requests) requests=$2; shift 2 ;;
    *) echo "usage: tools/tsan.sh [--requests N]" >&2; exit 2 ;;
  esac
done

start=$SECONDS
if [ ! -d build-tsan ]; then
  # b_lundef=false: the sanitizer runtime resolves symbols at load time.
  meson setup build-tsan --buildtype=debug --wrap-mode=nofallback -Db_sanitize=thread \
    -Db_lundef=false
fi
ninja -C build-tsan src/lmkv-server tests/unit/store/store_test

# halt_on_error=0: collect every report of a run, then fail on the log. exitcode=66 makes a
# process that reported exit non-zero even if it otherwise succeeded.
export TSAN_OPTIONS="halt_on_error=0:exitcode=66:second_deadlock_stack=1:history_size=4"
report=build-tsan/tsan-report.txt
: >"$report"

echo "== store unit tests under TSan"
# Only races fail this pass: the plain and ASan passes run the same tests, and a check that
# assumes a speed (TSan slows threads down 5-15x) is not a race. Such failures are shown.
set +e
build-tsan/tests/unit/store/store_test --log_level=test_suite >build-tsan/tsan-unit.log 2>&1
unit_status=$?
set -e
if grep -q "WARNING: ThreadSanitizer" build-tsan/tsan-unit.log; then
  cat build-tsan/tsan-unit.log >>"$report"
elif [ "$unit_status" -ne 0 ]; then
  echo "note: store_test failed under TSan without a race report (exit $unit_status):"
  grep -a "error: in" build-tsan/tsan-unit.log | head -n 5 || true
fi

echo "== lmkv-server under TSan, --threads 2, redis-benchmark -n $requests"
dir=$(mktemp -d /tmp/lmkv-tsan.XXXXXX)
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
log=build-tsan/tsan-server.log
build-tsan/src/lmkv-server --port "$port" --bind 127.0.0.1 --dir "$dir" --threads 2 \
  --fsync everysec >"$log" 2>&1 &
pid=$!
stop_server() {
  if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; fi
}
trap 'stop_server; rm -rf "$dir"' EXIT
for _ in $(seq 1 200); do
  redis-cli -p "$port" ping >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
bench() { redis-benchmark -p "$port" -q -r 10000 "$@" | tr '\r' '\n' | grep -v '^$' | tail -n 20; }
bench -c 20 -n "$requests" -t set,get,incr,mset -d 64
# DBSIZE beside pipelined writes: a call with many writes left to sum is held while the
# counter's threads sum them, then run again on its loop (store/counter.h).
(for _ in $(seq 1 20); do redis-cli -p "$port" dbsize >/dev/null; sleep 0.2; done) &
poller=$!
bench -c 20 -n "$requests" -P 16 -t set,get,mset -d 256
wait "$poller"
echo "DBSIZE calls held: $(redis-cli -p "$port" info persistence | tr -d '\r' |
  sed -n 's/^lmkv_counts_held://p')"
# Connection commands and INFO read state the loops share (client registry, stats).
bench -c 10 -n $((requests / 10)) -t ping
redis-cli -p "$port" info >/dev/null
redis-cli -p "$port" client list >/dev/null
redis-cli -p "$port" config set timeout 100 >/dev/null
redis-cli -p "$port" config set client-output-buffer-limit "normal 0 0 0" >/dev/null
kill -TERM "$pid"
set +e
wait "$pid"
status=$?
set -e
trap 'rm -rf "$dir"' EXIT
if grep -q "WARNING: ThreadSanitizer" "$log"; then cat "$log" >>"$report"; fi
[ "$status" -ne 0 ] && echo "lmkv-server exited with status $status" >>"$report"

races=$(grep -c "WARNING: ThreadSanitizer" "$report" || true)
echo "== tsan: $races report(s), server exit status $status, took $((SECONDS - start)) s"
if [ -s "$report" ]; then
  grep -A 30 "WARNING: ThreadSanitizer" "$report" | head -n 200
  echo "tsan: FAILED (full reports in $report)"
  exit 1
fi
echo "tsan: passed"
