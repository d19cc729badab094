#!/usr/bin/python3
"""Cost of active expiry: SET/GET throughput while a large share of the keys expire, against
the same dataset without TTLs.

Per server (lmkv, and redis-server with --compare-redis) and scenario:
  none      --keys keys "key:%012d" (redis-benchmark's -r names), --value-size bytes, no TTL
  expiring  the same keys, then PEXPIREAT on each, deadlines spread evenly over --spread
            seconds starting --offset seconds after loading ends, so they expire while
            redis-benchmark runs
a fresh server and data dir is started, loaded through pipelines, and then
`redis-benchmark -t set,get -r KEYS -n --requests -c --clients -P --pipeline --csv` runs once
(its SETs overwrite random keys without a TTL, its GETs read them, expired or not). The
table gives requests/s and p99 per test and scenario, and how many keys the server expired
during the run (INFO stats expired_keys) and DBSIZE after it.

Bounded: every step has a timeout, servers are killed by PID, temp dirs are removed.
Loopback only. Example (full size; the default):
  tools/expiry-cost.py --keys 1000000 --spread 60 --compare-redis
A tiny run to see it work:
  tools/expiry-cost.py --keys 20000 --spread 5 --offset 1 --requests 20000
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from benchlib import Server, arg_parser, bench_argv, bench_csv, log  # noqa: E402  # noqa: E402


def parse_args():
    p = arg_parser(__doc__, redis="--redis", bench="--bench", keys=1_000_000, value_size=32)
    p.add_argument("--compare-redis", action="store_true")
    p.add_argument("--fsync", default="everysec", help="lmkv --fsync; redis uses the same "
                   "appendfsync (always/everysec) or no persistence (no)")
    p.add_argument("--spread", type=float, default=60.0, help="seconds the deadlines span")
    p.add_argument("--offset", type=float, default=2.0,
                   help="seconds from the end of loading to the first deadline")
    p.add_argument("--requests", type=int, default=200_000, help="redis-benchmark -n per test")
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--pipeline", type=int, default=1)
    p.add_argument("--chunk", type=int, default=10_000, help="commands per loading pipeline")
    p.add_argument("--timeout", type=int, default=900, help="seconds per step")
    p.add_argument("--workdir", default=None, help="parent of the temp data dirs")
    return p.parse_args()


def start_server(kind, args):
    """A fresh server over a temp dir; Redis with the persistence --fsync names (always,
    everysec: appendonly with that appendfsync; no: none) and no RDB saves."""
    binary = args.binary if kind == "lmkv" else args.redis
    server = Server.in_temp_dir(kind, binary, f"expiry-cost-{kind}-", args.workdir,
                                fsync=args.fsync)
    try:
        server.start(timeout=30.0, interval=0.05)
    except BaseException:
        server.close()
        raise
    return server


def load(server, args, expiring):
    """SETs every key, then (expiring) PEXPIREAT with deadlines spread over --spread seconds.
    Returns the first deadline (ms) or None."""
    c = server.client()
    value = b"x" * args.value_size
    t0 = time.monotonic()
    for start in range(0, args.keys, args.chunk):
        pipe = c.pipeline(transaction=False)
        for i in range(start, min(args.keys, start + args.chunk)):
            pipe.set(f"key:{i:012d}", value)
        pipe.execute()
        if time.monotonic() - t0 > args.timeout:
            raise RuntimeError("loading timed out")
    first = None
    if expiring:
        # Deadlines are fixed after the SETs so they all lie in the future.
        estimate = max(1.0, (time.monotonic() - t0) * 0.7)  # PEXPIREAT pass ~ as long
        first = int((time.time() + estimate + args.offset) * 1000)
        span = int(args.spread * 1000)
        for start in range(0, args.keys, args.chunk):
            pipe = c.pipeline(transaction=False)
            for i in range(start, min(args.keys, start + args.chunk)):
                pipe.pexpireat(f"key:{i:012d}", first + span * i // max(1, args.keys))
            pipe.execute()
            if time.monotonic() - t0 > 2 * args.timeout:
                raise RuntimeError("loading timed out")
    log(f"{server.kind}: loaded {args.keys} keys ({'expiring' if expiring else 'no TTL'}) "
        f"in {time.monotonic() - t0:.1f}s")
    c.close()
    return first


def bench(server, args):
    figures, _ = bench_csv(bench_argv(args.bench, server.port, tests="set,get", keys=args.keys,
                                      n=args.requests, clients=args.clients,
                                      pipeline=args.pipeline, size=args.value_size),
                           args.timeout)
    return {test: (fig["rps"], float(fig.get("p99_latency_ms", "nan")))
            for test, fig in figures.items()}


def main():
    args = parse_args()
    kinds = ["lmkv"] + (["redis"] if args.compare_redis else [])
    results = []
    for kind in kinds:
        for scenario in ("none", "expiring"):
            server = start_server(kind, args)
            try:
                first = load(server, args, scenario == "expiring")
                if first is not None:
                    wait = first / 1000 - time.time()
                    if wait > 0:
                        time.sleep(min(wait, args.timeout))  # start as expiry starts
                before = int(server.info("stats").get("expired_keys", 0))
                t0 = time.monotonic()
                rows = bench(server, args)
                elapsed = time.monotonic() - t0
                expired = int(server.info("stats").get("expired_keys", 0)) - before
                dbsize = server.command("DBSIZE")
            finally:
                server.close()
            for test, (rps, p99) in rows.items():
                results.append((kind, scenario, test, rps, p99, expired, dbsize, elapsed))
            log(f"{kind}/{scenario}: {rows}, expired {expired} during {elapsed:.1f}s")
    print(f"\nexpiry cost: {args.keys} keys, deadlines over {args.spread:g}s, "
          f"redis-benchmark -n {args.requests} -c {args.clients} -P {args.pipeline} "
          f"-d {args.value_size}, fsync {args.fsync}\n")
    print("| server | scenario | test | requests/s | p99 ms | expired during run | dbsize after |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: |")
    for kind, scenario, test, rps, p99, expired, dbsize, _ in results:
        print(f"| {kind} | {scenario} | {test} | {rps:,.0f} | {p99:.3f} | {expired} | {dbsize} |")
    base = {(k, t): rps for k, s, t, rps, *_ in results if s == "none"}
    for kind, scenario, test, rps, *_ in results:
        if scenario == "expiring" and base.get((kind, test)):
            print(f"{kind} {test}: expiring/none = {rps / base[(kind, test)]:.2f}")


if __name__ == "__main__":
    main()
