#!/usr/bin/python3
"""Write stalls: how long a pipelined write load makes other clients wait.

Per trial and server: a fresh server over an empty data dir; redis-benchmark `-t set -n
--writes -r --keys -d --value-size -c 50 -P 16` and, beside it, two probe clients that send
one `PING` and one `SET probe:x 1` every millisecond until the load ends. A probe's reply
time is what any client waits then: a stall of the server's loop shows in both, one of the
writes only in the SET probe. Servers are pinned as bench-vs-redis.py pins them (server on
CPU 0, load and probes on CPU 1) when there are two cores.

Prints one row per trial (ops/s; redis-benchmark's p50, p99 and max; the probes' slowest
replies and their 99th percentile) and the medians per server. The binaries given with
--binary (repeatable: an A/B) and, with --redis, redis-server under the matching durability,
alternate within each round.

Example: tools/write-stalls.py --binary OLD --binary NEW --modes everysec,no --trials 3
A --binary may carry server flags: --binary "B --staged-runs 4" --binary "B --staged-runs 8".
Every run has a timeout; servers are stopped by PID; temp dirs are removed unless --keep.
Loopback only.
"""

import os
import shlex
import socket
import statistics
import threading
import time

from benchlib import (BENCH_TMP, LMKV_RELEASE, LOOPBACK, REDIS_MODE_ARGS, Server, arg_parser,
                      bench_argv, bench_csv, encode_command, fs_type, log, machine, report_head,
                      write_report)


def parse_args():
    p = arg_parser(__doc__, lmkv=None, redis="--redis-binary", bench="--bench",
                   keys=1_000_000, value_size=100)
    p.add_argument("--binary", action="append",
                   help="lmkv-server binary, with any flags of its own (repeatable)")
    p.add_argument("--redis", action="store_true", help="also run redis-server")
    p.add_argument("--modes", default="everysec,no", help="--fsync modes, comma separated")
    p.add_argument("--writes", type=int, default=1_000_000, help="SETs per trial")
    p.add_argument("--trials", type=int, default=3)
    p.add_argument("--timeout", type=float, default=300.0, help="seconds per load run")
    p.add_argument("--workdir", default=BENCH_TMP,
                   help="parent of the temp data dirs; a real disk, not tmpfs")
    p.add_argument("--keep", action="store_true", help="keep the temp dirs")
    p.add_argument("--out", help="also write the markdown report to this file")
    args = p.parse_args()
    args.binary = args.binary or [LMKV_RELEASE]
    for mode in args.modes.split(","):
        if mode not in REDIS_MODE_ARGS:
            p.error(f"unknown mode {mode}")
    return args


def pinning():
    """(server prefix, client prefix): taskset on two cores, else nothing."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return [], []
    return ["taskset", "-c", str(cpus[0])], ["taskset", "-c", str(cpus[1])]


class Probe(threading.Thread):
    """Sends one command every millisecond until stopped; keeps every reply time (ms)."""

    def __init__(self, port, *args):
        super().__init__(daemon=True)
        self.port, self.request = port, encode_command(*args)
        self.times, self.error = [], None
        self.stop = threading.Event()

    def run(self):
        try:
            with socket.create_connection((LOOPBACK, self.port), timeout=30) as s:
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                while not self.stop.is_set():
                    t0 = time.monotonic()
                    s.sendall(self.request)
                    if not s.recv(256):
                        raise RuntimeError("the server closed the connection")
                    self.times.append((time.monotonic() - t0) * 1000)
                    time.sleep(0.001)
        except Exception as e:  # reported by the trial
            self.error = e

    def p99(self):
        return statistics.quantiles(self.times, n=100)[98] if len(self.times) > 100 else 0.0


def trial(args, label, binary, mode, pins):
    server_pin, client_pin = pins
    redis = label == "redis"
    binary, *flags = [binary] if redis else shlex.split(binary)
    server = Server.in_temp_dir(label, binary, "stalls-", args.workdir, fsync=mode, redis=redis,
                                wrap=server_pin,
                                extra=[] if redis else ["--threads", "1", *flags])
    try:
        server.start()
        probes = [Probe(server.port, "PING"), Probe(server.port, "SET", "probe:x", "1")]
        for p in probes:
            p.start()
        argv = client_pin + bench_argv(args.bench, server.port, n=args.writes, keys=args.keys,
                                       size=args.value_size, clients=50, pipeline=16,
                                       tests="set")
        figs, wall = bench_csv(argv, args.timeout)
        for p in probes:
            p.stop.set()
            p.join(30)
            if p.error:
                raise RuntimeError(f"probe: {p.error}")
        fig = next(iter(figs.values()))
        return {"rps": fig["rps"], "p50": fig["p50_latency_ms"], "p99": fig["p99_latency_ms"],
                "max": fig["max_latency_ms"], "ping_max": max(probes[0].times),
                "set_max": max(probes[1].times), "ping_p99": probes[0].p99(),
                "set_p99": probes[1].p99(), "wall": wall}
    finally:
        server.close(keep=args.keep)


def main():
    args = parse_args()
    pins = pinning()
    servers = [(b if len(args.binary) > 1 else "lmkv", b) for b in args.binary]
    if args.redis:
        servers.append(("redis", args.redis_binary))
    os.makedirs(args.workdir, exist_ok=True)
    lines = report_head("Write stalls: probes beside SET -P 16")
    pinned = (f"server on CPU {pins[0][2]}, load and probes on CPU {pins[1][2]}" if pins[0]
              else "no (one core)")
    lines += [f"- machine: {machine()}",
              f"- pinned: {pinned}",
              f"- data dirs under {args.workdir} (filesystem: {fs_type(args.workdir)})",
              f"- load: redis-benchmark -t set -n {args.writes} -r {args.keys} "
              f"-d {args.value_size} -c 50 -P 16; probes: PING and SET probe:x 1 every ms",
              "",
              "| mode | server | trial | SET ops/s | p50 / p99 / max ms | PING p99 / max ms "
              "| probe SET p99 / max ms |",
              "|---|---|---:|---:|---|---|---|"]
    results = {}
    for mode in args.modes.split(","):
        for t in range(args.trials):
            for label, binary in servers:
                log(f"{mode} {label} trial {t + 1}")
                r = trial(args, label, binary, mode, pins)
                results.setdefault((mode, label), []).append(r)
                lines.append(f"| {mode} | {label} | {t + 1} | {r['rps']:,.0f} | "
                             f"{r['p50']:.2f} / {r['p99']:.2f} / {r['max']:.1f} | "
                             f"{r['ping_p99']:.2f} / {r['ping_max']:.1f} | "
                             f"{r['set_p99']:.2f} / {r['set_max']:.1f} |")
    lines += ["", "Medians:", "",
              "| mode | server | SET ops/s | max ms | PING max ms | probe SET max ms |",
              "|---|---|---:|---:|---:|---:|"]
    for (mode, label), rs in results.items():
        med = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
        lines.append(f"| {mode} | {label} | {med['rps']:,.0f} | {med['max']:.1f} | "
                     f"{med['ping_max']:.1f} | {med['set_max']:.1f} |")
    write_report(lines, args.out)


if __name__ == "__main__":
    main()
