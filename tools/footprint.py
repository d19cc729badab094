#!/usr/bin/python3
"""Footprint per key and DBSIZE cost: lmkv-server vs redis-server holding the same keys.

Loads --keys distinct keys ("key:%012d", 16 bytes) with --value-size byte values into a fresh
server of each kind through `redis-cli --pipe` (plain SETs, generated here), then reports:

  * bytes on disk per key: lmkv's data.mdb + log (allocated blocks, after the write buffer
    was applied); Redis: the RDB a SAVE writes (its most compact form), for scale;
  * RSS per key (VmRSS of the server process after loading) and, for Redis, used_memory per
    key (INFO memory), the figure Redis users size machines by;
  * DBSIZE's cost: median and max of --dbsize-calls calls, idle and while a redis-benchmark
    SET load (-c 50 -P --load-pipeline over the same keys) runs, one call every
    --dbsize-interval seconds (0: back to back; 1: a monitoring poller, each of whose calls
    meets a second of writes). lmkv's DBSIZE is LMDB's O(1) entry count corrected by the keys
    of the unapplied write buffer, so it is bounded by that buffer (--max-unapplied-bytes),
    not by the dataset.
  * what DBSIZE costs the other clients: beside the DBSIZE calls under load, another
    connection sends a GET every 5 ms; its median, p99 and max latency (with
    --dbsize-calls 0, the same probe with no DBSIZE at all, for comparison). lmkv's
    DBSIZE may hold its own client instead of stalling its loop (INFO lmkv_counts_held,
    counted here).
  * --pin puts the server on CPU 0 and the load, the probe and DBSIZE on CPU 1 (taskset):
    the server's one core is then saturated, the case where lmkv's background counter gets
    no CPU and a DBSIZE finds a whole second of writes to sum.

Example: tools/footprint.py --keys 10000000 --value-size 32
Servers are stopped by PID, every step has a timeout, temp dirs are removed unless --keep.
Loopback only.
"""

import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from benchlib import (REDIS_BENCHMARK, Server, arg_parser, bench_argv, cli_pipe, disk_usage,
                      log)


def parse_args():
    p = arg_parser(__doc__, lmkv="--lmkv", redis="--redis", keys=1000000, value_size=32)
    p.add_argument("--dbsize-calls", type=int, default=20)
    p.add_argument("--dbsize-interval", type=float, default=0.0,
                   help="seconds between DBSIZE calls under load")
    p.add_argument("--load-pipeline", type=int, default=16)
    p.add_argument("--load-seconds", type=float, default=5.0,
                   help="length of the write load DBSIZE is timed under")
    p.add_argument("--workdir", default=None, help="where data dirs go (default: a temp dir)")
    p.add_argument("--timeout", type=float, default=1800.0, help="per load")
    p.add_argument("--pin", action="store_true",
                   help="server on CPU 0; load, probe and DBSIZE on CPU 1")
    p.add_argument("--skip-redis", action="store_true")
    p.add_argument("--keep", action="store_true")
    return p.parse_args()


def load(port, keys, value_size, timeout):
    """Pipes `keys` SETs through redis-cli --pipe, generated in chunks."""
    value = (b"v" * value_size)
    head = b"*3\r\n$3\r\nSET\r\n$16\r\n"
    tail = b"\r\n$%d\r\n%s\r\n" % (value_size, value)
    chunk = 100000
    cli_pipe(port, (b"".join(head + b"key:%012d" % i + tail
                             for i in range(lo, min(keys, lo + chunk)))
                    for lo in range(0, keys, chunk)), timeout)


def timed_call(sock, request):
    """Sends one command; returns (latency us, its one-line reply without CRLF)."""
    t0 = time.perf_counter()
    sock.sendall(request)
    buf = b""
    while not buf.endswith(b"\r\n"):
        buf += sock.recv(64)
    return (time.perf_counter() - t0) * 1e6, buf[:-2]


def time_dbsize(port, calls, interval=0.0):
    times, reply = [], b":0"
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        for _ in range(calls):
            time.sleep(interval)
            us, reply = timed_call(s, b"*1\r\n$6\r\nDBSIZE\r\n")
            times.append(us)
    return times, int(reply[1:])


def probe_gets(port, stop, out):
    """A GET every 5 ms until `stop` is set; appends each latency (us) to out."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        while not stop.is_set():
            out.append(timed_call(s, b"*2\r\n$3\r\nGET\r\n$5\r\nprobe\r\n")[0])
            stop.wait(0.005)


def measure(kind, args, root):
    data = os.path.join(root, kind)
    os.makedirs(data)
    wrap = ["taskset", "-c", "0"] if args.pin else []
    if kind == "lmkv":
        server = Server(kind, args.lmkv, data, logpath=os.path.join(root, "lmkv.log"),
                        wrap=wrap)
    else:
        server = Server(kind, args.redis, data, fsync="no",
                        logpath=os.path.join(root, "redis.log"), wrap=wrap)
    row = {"server": kind}
    try:
        server.start(timeout=30.0, interval=0.05)
        port = server.port
        t0 = time.monotonic()
        load(port, args.keys, args.value_size, args.timeout)
        row["load_s"] = time.monotonic() - t0
        if kind == "lmkv":  # wait for the write buffer to reach LMDB (age limit: 5 s)
            try:
                server.wait_applied(60.0, interval=0.5)
            except TimeoutError as e:
                log(f"{kind}: {e}")
        fields = server.info("everything")
        row["dbsize"] = server.command("DBSIZE")
        row["rss"] = server.rss()
        row["used_memory"] = int(fields.get("used_memory", 0)) if kind == "redis" else None
        if kind == "redis":
            server.command("SAVE", timeout=600)
        row["disk"] = disk_usage(data)[1]
        idle, _ = time_dbsize(port, max(args.dbsize_calls, 1))
        held = int(server.info().get("lmkv_counts_held", 0))
        bench = subprocess.Popen(
            (["taskset", "-c", "1"] if args.pin else []) +
            bench_argv(REDIS_BENCHMARK, port, tests="set", keys=args.keys, size=args.value_size,
                       clients=50, pipeline=args.load_pipeline, n=100000000, extra=["-q"]),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        stop, probe = threading.Event(), []
        prober = threading.Thread(target=probe_gets, args=(port, stop, probe))
        try:
            time.sleep(args.load_seconds / 2)
            prober.start()
            if args.dbsize_calls > 0:
                busy, _ = time_dbsize(port, args.dbsize_calls, args.dbsize_interval)
            else:  # the probe alone, as long as the calls would have taken
                time.sleep(8 * max(args.dbsize_interval, 0.1))
                busy = [0.0]
        finally:
            stop.set()
            if prober.is_alive():
                prober.join()
            bench.kill()
            bench.wait()
        row["dbsize_idle_us"] = (statistics.median(idle), max(idle))
        row["dbsize_busy_us"] = (statistics.median(busy), max(busy))
        probe.sort()
        row["probe_us"] = (statistics.median(probe), probe[int(len(probe) * 0.99)], probe[-1])
        row["held"] = int(server.info().get("lmkv_counts_held", 0)) - held
        if kind == "lmkv":
            row["unapplied"] = int(server.info().get("lmkv_unapplied_bytes", 0))
    finally:
        server.stop(60.0)
    return row


def main():
    args = parse_args()
    root = tempfile.mkdtemp(prefix="footprint-", dir=args.workdir)
    rows = []
    try:
        for kind in (["lmkv"] if args.skip_redis else ["lmkv", "redis"]):
            log(f"{kind}: loading {args.keys:,} keys of {args.value_size} B")
            rows.append(measure(kind, args, root))
            log(f"{kind}: {rows[-1]}")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    n = args.keys
    print(f"\n{n:,} keys (16 B names, {args.value_size} B values), "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, `{' '.join(sys.argv)}`\n")
    print("| server | DBSIZE | load s | disk B/key | RSS B/key (anon + file) | used_memory B/key | "
          "DBSIZE idle µs (median/max) | DBSIZE under SET load µs (median/max) | "
          "GET beside it µs (median/p99/max) | held |")
    print("|---|---:|---:|---:|---:|---:|---|---|---|---:|")
    for r in rows:
        um = f"{r['used_memory'] / n:.1f}" if r["used_memory"] else "-"
        disk = f"{r['disk'] / n:.1f}" + (" (RDB)" if r["server"] == "redis" else "")
        print(f"| {r['server']} | {r['dbsize']:,} | {r['load_s']:.1f} | {disk} | "
              f"{r['rss']['VmRSS'] / n:.1f} ({r['rss']['RssAnon'] / n:.1f} + "
              f"{r['rss']['RssFile'] / n:.1f}) | {um} | {r['dbsize_idle_us'][0]:.0f} / "
              f"{r['dbsize_idle_us'][1]:.0f} | {r['dbsize_busy_us'][0]:.0f} / "
              f"{r['dbsize_busy_us'][1]:.0f} | {r['probe_us'][0]:.0f} / {r['probe_us'][1]:.0f} / "
              f"{r['probe_us'][2]:.0f} | {r['held']} |")


if __name__ == "__main__":
    main()
