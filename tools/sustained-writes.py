#!/usr/bin/python3
"""Sustained random writes: does lmkv keep its write rate as the data set outgrows the write
buffer, the page cache warms and LMDB grows?

Runs redis-benchmark `-t set -r KEYS -d SIZE -c CLIENTS -P PIPELINE --csv` in chunks of
--chunk writes against one fresh lmkv-server (--fsync, default always) until --total writes
or --seconds have passed (whichever comes first; with --seconds alone there is no write
limit). After every chunk it prints a row: writes so far, the chunk's ops/s and p99 latency
(redis-benchmark's CSV), lmkv_unapplied_bytes, lmkv_bulk_applies, lmkv_slowdowns, the size of
data.mdb and of the log, the server's RSS (and its anonymous part) and CPU us per write.
Final summary: overall ops/s (writes / wall time of the chunks), min and median chunk rate.

--redis runs the same sequence against redis-server with matching durability (--save '' plus
always: --appendonly yes --appendfsync always; everysec: --appendfsync everysec; no:
--appendonly no) and prints its rows and a side-by-side summary line.

Example: tools/sustained-writes.py --keys 10000000 --total 10000000 --redis
Every redis-benchmark run has a timeout, servers are stopped by PID, temp dirs are removed
unless --keep. Loopback only.
"""

import os
import statistics
import sys
import time

from benchlib import (BENCH_TMP, MIB, REDIS_MODE_ARGS, Server, arg_parser, bench_argv,
                      bench_csv, disk_usage, fs_type, log, machine, report_head, write_report)


def parse_args():
    p = arg_parser(__doc__, redis="--redis-binary", bench="--bench", keys=10_000_000,
                   value_size=100)
    p.add_argument("--redis", action="store_true", help="also run against redis-server")
    p.add_argument("--total", type=int, default=None,
                   help="writes in all (default 20,000,000 unless --seconds is given)")
    p.add_argument("--seconds", type=float, default=None, help="stop after this wall time")
    p.add_argument("--chunk", type=int, default=1_000_000, help="writes per redis-benchmark run")
    p.add_argument("--fsync", default="always", choices=sorted(REDIS_MODE_ARGS))
    p.add_argument("--clients", type=int, default=50, help="-c")
    p.add_argument("--pipeline", type=int, default=16, help="-P")
    p.add_argument("--threads", type=int, default=0, help="lmkv --threads (0: its default)")
    p.add_argument("--lmkv-args", default="", help="extra lmkv-server arguments (split on spaces)")
    p.add_argument("--chunk-timeout", type=float, default=900.0, help="seconds per chunk")
    p.add_argument("--workdir", default=BENCH_TMP,
                   help="parent of the temp data dirs; a real disk, not tmpfs")
    p.add_argument("--keep", action="store_true", help="keep the temp dirs")
    p.add_argument("--out", help="also write the markdown report to this file")
    args = p.parse_args()
    if args.total is None:
        args.total = 1 << 62 if args.seconds else 20_000_000
    return args


def start_server(args, kind):
    """A fresh server over a temp dir: lmkv with --fsync, or Redis with the matching flags."""
    if kind == "lmkv":
        extra = (["--threads", str(args.threads)] if args.threads else []) + args.lmkv_args.split()
        server = Server.in_temp_dir(kind, args.binary, "sustained-lmkv-", args.workdir,
                                    fsync=args.fsync, extra=extra)
    else:
        server = Server.in_temp_dir(kind, args.redis_binary, "sustained-redis-", args.workdir,
                                    fsync=args.fsync)
    server.cwd = server.tmp
    try:
        server.start(timeout=30.0, interval=0.05)
    except BaseException:
        server.close(keep=True)
        raise
    return server


def files(server):
    """(store bytes, log bytes): data.mdb and log/ for lmkv; RDB and AOF for redis."""
    names = ("data.mdb", "log") if server.kind == "lmkv" else ("dump.rdb", "appendonlydir")
    return tuple(disk_usage(os.path.join(server.datadir, n))[0] for n in names)


def run_chunk(args, server, n):
    figures, wall = bench_csv(bench_argv(args.bench, server.port, tests="set", keys=args.keys,
                                         size=args.value_size, n=n, clients=args.clients,
                                         pipeline=args.pipeline), args.chunk_timeout)
    fig = next(iter(figures.values()))
    return fig["rps"], fig.get("p99_latency_ms"), wall


def run_kind(args, kind, out):
    server = start_server(args, kind)
    log(f"{kind}: {' '.join(server.argv)}")
    rates, walls = [], []
    done = 0
    started = time.monotonic()
    out(f"### {kind} (--fsync {args.fsync})")
    out("")
    out("| writes | chunk ops/s | p99 ms | unapplied bytes | bulk applies | slowdowns | "
        "data MiB | log MiB | RSS MiB (anon) | CPU us/write |")
    out("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    try:
        for _ in range(100_000):  # bounded; the totals end it
            if done >= args.total:
                break
            if args.seconds is not None and time.monotonic() - started >= args.seconds:
                break
            n = min(args.chunk, args.total - done)
            cpu0 = server.cpu_seconds()
            rps, p99, wall = run_chunk(args, server, n)
            cpu = server.cpu_seconds() - cpu0
            done += n
            rates.append(rps)
            walls.append(wall)
            if kind == "lmkv":
                info = server.info("persistence")
                unapplied = info.get("lmkv_unapplied_bytes", "?")
                applies = info.get("lmkv_bulk_applies", "?")
                slowdowns = info.get("lmkv_slowdowns", "?")
            else:
                unapplied = applies = slowdowns = "-"
            store, logb = files(server)
            mem = server.rss()
            rss, anon = mem.get("VmRSS", 0), mem.get("RssAnon", 0)
            p99s = f"{p99:.3f}" if p99 is not None else "-"
            row = (f"| {done:,} | {rps:,.0f} | {p99s} | {unapplied} | {applies} | {slowdowns} | "
                   f"{store / MIB:,.0f} | {logb / MIB:,.0f} | {rss / MIB:,.0f} ({anon / MIB:,.0f}) "
                   f"| {cpu * 1e6 / n:.2f} |")
            out(row, echo=True)
    finally:
        server.close(keep=args.keep, timeout=120)
    total_wall = sum(walls)
    summary = {
        "kind": kind, "writes": done, "wall": total_wall,
        "overall": done / total_wall if total_wall else 0.0,
        "min": min(rates) if rates else 0.0,
        "median": statistics.median(rates) if rates else 0.0,
        "max": max(rates) if rates else 0.0,
    }
    out("")
    out(f"{kind}: {done:,} writes in {total_wall:.1f} s: overall {summary['overall']:,.0f} ops/s, "
        f"chunk rate min {summary['min']:,.0f} / median {summary['median']:,.0f} / "
        f"max {summary['max']:,.0f} ops/s")
    out("")
    return summary


def main():
    args = parse_args()
    if not os.path.exists(args.binary):
        sys.exit(f"no lmkv-server at {args.binary} (ninja -C build-release)")
    os.makedirs(args.workdir, exist_ok=True)
    fstype = fs_type(args.workdir)
    lines = []

    def out(line, echo=False):
        lines.append(line)
        if echo:
            log(line)

    lines += report_head("Sustained random writes")
    out(f"- machine: {machine()}; data dirs under "
        f"{args.workdir} ({fstype})")
    limit = f"{args.total:,} writes" if args.total < 1 << 62 else "no write limit"
    if args.seconds is not None:
        limit += f", at most {args.seconds:g} s"
    out(f"- redis-benchmark -t set -r {args.keys:,} -d {args.value_size} -c {args.clients} "
        f"-P {args.pipeline} --csv, chunks of {args.chunk:,}; {limit}")
    out(f"- lmkv --fsync {args.fsync}{' --threads ' + str(args.threads) if args.threads else ''}"
        f"{' ' + args.lmkv_args if args.lmkv_args else ''}"
        + (f"; redis --save '' {' '.join(REDIS_MODE_ARGS[args.fsync])}" if args.redis else ""))
    out("- ops/s and p99: redis-benchmark's figures per chunk; overall: writes / summed chunk "
        "wall time; data/log MiB: data.mdb and log/ (redis: dump.rdb and appendonlydir/)")
    out("")
    summaries = [run_kind(args, "lmkv", out)]
    if args.redis:
        summaries.append(run_kind(args, "redis", out))
    out("| server | writes | overall ops/s | min chunk ops/s | median chunk ops/s |")
    out("|---|---:|---:|---:|---:|")
    for s in summaries:
        out(f"| {s['kind']} | {s['writes']:,} | {s['overall']:,.0f} | {s['min']:,.0f} | "
            f"{s['median']:,.0f} |")
    write_report(lines, args.out)


if __name__ == "__main__":
    main()
