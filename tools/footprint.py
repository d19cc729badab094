#!/usr/bin/python3
"""Footprint per key and DBSIZE cost: lmkv-server vs redis-server holding the same keys.

Loads --keys distinct keys ("key:%012d", 16 bytes) with --value-size byte values into a fresh
server of each kind through `redis-cli --pipe` (plain SETs, generated here), then reports:

  * bytes on disk per key: lmkv's data.mdb + log (allocated blocks, after the write buffer
    was applied); Redis: the RDB a SAVE writes (its most compact form), for scale;
  * RSS per key (VmRSS of the server process after loading) and, for Redis, used_memory per
    key (INFO memory), the figure Redis users size machines by;
  * DBSIZE's cost: median and max of --dbsize-calls calls, idle and while a redis-benchmark
    SET load (-c 50 -P 16 over the same keys) runs. lmkv's DBSIZE is LMDB's O(1) entry count
    corrected by the keys of the unapplied write buffer, so it is bounded by that buffer
    (--max-unapplied-bytes), not by the dataset.

Example: tools/footprint.py --keys 10000000 --value-size 32
Servers are stopped by PID, every step has a timeout, temp dirs are removed unless --keep.
Loopback only.
"""

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import log

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n", 2)[2])
    p.add_argument("--lmkv", default=os.path.join(REPO, "build-release", "src", "lmkv-server"))
    p.add_argument("--redis", default=shutil.which("redis-server") or "redis-server")
    p.add_argument("--keys", type=int, default=1000000)
    p.add_argument("--value-size", type=int, default=32)
    p.add_argument("--dbsize-calls", type=int, default=20)
    p.add_argument("--load-seconds", type=float, default=5.0,
                   help="length of the write load DBSIZE is timed under")
    p.add_argument("--workdir", default=None, help="where data dirs go (default: a temp dir)")
    p.add_argument("--timeout", type=float, default=1800.0, help="per load")
    p.add_argument("--skip-redis", action="store_true")
    p.add_argument("--keep", action="store_true")
    return p.parse_args()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(port, *args, timeout=60):
    out = subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True,
                         timeout=timeout)
    return out.stdout.strip()


def info(port):
    fields = {}
    for line in cli(port, "INFO", "everything").splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            fields[k] = v.strip()
    return fields


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def allocated(path):
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except FileNotFoundError:
                pass
    return total


def start(kind, args, port, data):
    if kind == "lmkv":
        cmd = [args.lmkv, "--port", str(port), "--bind", "127.0.0.1", "--dir", data]
    else:
        cmd = [args.redis, "--port", str(port), "--bind", "127.0.0.1", "--dir", data,
               "--save", "", "--appendonly", "no", "--daemonize", "no"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if cli(port, "PING") == "PONG":
            return proc
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{kind} did not start")


def load(port, keys, value_size, timeout):
    """Pipes `keys` SETs through redis-cli --pipe, generated in chunks."""
    value = (b"v" * value_size)
    pipe = subprocess.Popen(["redis-cli", "-p", str(port), "--pipe"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    head = b"*3\r\n$3\r\nSET\r\n$16\r\n"
    tail = b"\r\n$%d\r\n%s\r\n" % (value_size, value)
    deadline = time.monotonic() + timeout
    chunk = 100000
    for start_key in range(0, keys, chunk):
        if time.monotonic() > deadline:
            pipe.kill()
            raise RuntimeError("load timed out")
        end = min(keys, start_key + chunk)
        pipe.stdin.write(b"".join(head + b"key:%012d" % i + tail for i in range(start_key, end)))
    pipe.stdin.close()
    out = pipe.stdout.read().decode()
    pipe.wait(timeout=max(1.0, deadline - time.monotonic()))
    if "errors: 0" not in out:
        raise RuntimeError("redis-cli --pipe: " + out.strip()[-300:])


def time_dbsize(port, calls):
    times = []
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        for _ in range(calls):
            t0 = time.perf_counter()
            s.sendall(b"*1\r\n$6\r\nDBSIZE\r\n")
            buf = b""
            while not buf.endswith(b"\r\n"):
                buf += s.recv(64)
            times.append((time.perf_counter() - t0) * 1e6)
    return times, int(buf[1:-2])


def measure(kind, args, root):
    port = free_port()
    data = os.path.join(root, kind)
    os.makedirs(data)
    proc = start(kind, args, port, data)
    row = {"server": kind}
    try:
        t0 = time.monotonic()
        load(port, args.keys, args.value_size, args.timeout)
        row["load_s"] = time.monotonic() - t0
        if kind == "lmkv":  # wait for the write buffer to reach LMDB (age limit: 5 s)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and info(port).get("lmkv_unapplied_bytes") != "0":
                time.sleep(0.5)
        fields = info(port)
        row["dbsize"] = int(cli(port, "DBSIZE"))
        row["rss"] = rss_bytes(proc.pid)
        row["used_memory"] = int(fields.get("used_memory", 0)) if kind == "redis" else None
        if kind == "lmkv":
            row["disk"] = allocated(data)
        else:
            cli(port, "SAVE", timeout=600)
            row["disk"] = allocated(data)
        idle, _ = time_dbsize(port, args.dbsize_calls)
        bench = subprocess.Popen(
            ["redis-benchmark", "-p", str(port), "-t", "set", "-r", str(args.keys), "-d",
             str(args.value_size), "-c", "50", "-P", "16", "-n", "100000000", "-q"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(args.load_seconds / 2)
            busy, _ = time_dbsize(port, args.dbsize_calls)
        finally:
            bench.kill()
            bench.wait()
        row["dbsize_idle_us"] = (statistics.median(idle), max(idle))
        row["dbsize_busy_us"] = (statistics.median(busy), max(busy))
        if kind == "lmkv":
            row["unapplied"] = int(info(port).get("lmkv_unapplied_bytes", 0))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
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
    print("| server | DBSIZE | load s | disk B/key | RSS B/key | used_memory B/key | "
          "DBSIZE idle µs (median/max) | DBSIZE under SET load µs (median/max) |")
    print("|---|---:|---:|---:|---:|---:|---|---|")
    for r in rows:
        um = f"{r['used_memory'] / n:.1f}" if r["used_memory"] else "-"
        disk = f"{r['disk'] / n:.1f}" + (" (RDB)" if r["server"] == "redis" else "")
        print(f"| {r['server']} | {r['dbsize']:,} | {r['load_s']:.1f} | {disk} | "
              f"{r['rss'] / n:.1f} | {um} | {r['dbsize_idle_us'][0]:.0f} / "
              f"{r['dbsize_idle_us'][1]:.0f} | {r['dbsize_busy_us'][0]:.0f} / "
              f"{r['dbsize_busy_us'][1]:.0f} |")


if __name__ == "__main__":
    main()
