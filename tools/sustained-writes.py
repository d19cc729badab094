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

import argparse
import csv
import datetime
import io
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

from helpers import RawConn, decode_reply, free_port, info_fields  # noqa: E402
from benchlib import REDIS_MODE_ARGS, log, fs_type  # noqa: E402

LOOPBACK = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")
MIB = 1024 * 1024


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n", 2)[2])
    p.add_argument("--binary", default=os.path.join(REPO, "build-release", "src", "lmkv-server"))
    p.add_argument("--redis", action="store_true", help="also run against redis-server")
    p.add_argument("--redis-binary", default=shutil.which("redis-server") or "redis-server")
    p.add_argument("--bench", default=shutil.which("redis-benchmark") or "redis-benchmark")
    p.add_argument("--keys", type=int, default=10_000_000, help="keyspace (-r)")
    p.add_argument("--value-size", type=int, default=100, help="-d")
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
    p.add_argument("--workdir", default=os.path.join(REPO, "build-release", "bench-tmp"),
                   help="parent of the temp data dirs; a real disk, not tmpfs")
    p.add_argument("--keep", action="store_true", help="keep the temp dirs")
    p.add_argument("--out", help="also write the markdown report to this file")
    args = p.parse_args()
    if args.total is None:
        args.total = 1 << 62 if args.seconds else 20_000_000
    return args


def tree_bytes(path):
    """Apparent bytes of the regular files under path (0 if missing)."""
    if os.path.isfile(path):
        return os.path.getsize(path)
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:
                pass
    return total


class Server:
    """One server process over a fresh temp dir; stopped by PID."""

    def __init__(self, kind, args):
        self.kind = kind
        self.tmp = tempfile.mkdtemp(prefix=f"sustained-{kind}-", dir=args.workdir)
        self.dir = os.path.join(self.tmp, "data")
        os.makedirs(self.dir)
        self.port = free_port()
        if kind == "lmkv":
            self.argv = [args.binary, "--port", str(self.port), "--bind", LOOPBACK, "--dir",
                         self.dir, "--fsync", args.fsync]
            if args.threads:
                self.argv += ["--threads", str(args.threads)]
            self.argv += args.lmkv_args.split()
        else:
            self.argv = ([args.redis_binary, "--port", str(self.port), "--bind", LOOPBACK,
                          "--dir", self.dir, "--save", "", "--daemonize", "no"]
                         + REDIS_MODE_ARGS[args.fsync])
        self.logf = open(os.path.join(self.tmp, "server.log"), "wb")
        self.proc = subprocess.Popen(self.argv, stdout=self.logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.tmp)
        deadline = time.monotonic() + 30
        while not self.ping():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop(keep=True)
                raise RuntimeError(f"{kind} did not start: {' '.join(self.argv)}")
            time.sleep(0.05)

    def ping(self):
        try:
            conn = RawConn(LOOPBACK, self.port, timeout=0.5)
            try:
                return decode_reply(conn.command("PING")) == "PONG"
            finally:
                conn.close()
        except (OSError, ConnectionError, TimeoutError):
            return False

    def info(self, section):
        conn = RawConn(LOOPBACK, self.port, timeout=30.0)
        try:
            return info_fields(conn, section)
        finally:
            conn.close()

    def cpu_seconds(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def rss(self):
        """(VmRSS, RssAnon) in bytes."""
        out = {}
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "RssAnon:")):
                    k, v = line.split(":", 1)
                    out[k] = int(v.split()[0]) * 1024
        return out.get("VmRSS", 0), out.get("RssAnon", 0)

    def files(self):
        """(store bytes, log bytes): data.mdb and log/ for lmkv; RDB and AOF for redis."""
        if self.kind == "lmkv":
            return (tree_bytes(os.path.join(self.dir, "data.mdb")),
                    tree_bytes(os.path.join(self.dir, "log")))
        return (tree_bytes(os.path.join(self.dir, "dump.rdb")),
                tree_bytes(os.path.join(self.dir, "appendonlydir")))

    def stop(self, keep=False):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)
        self.logf.close()
        if not keep:
            shutil.rmtree(self.tmp, ignore_errors=True)


def run_chunk(args, server, n):
    cmd = [args.bench, "-h", LOOPBACK, "-p", str(server.port), "-t", "set", "-r",
           str(args.keys), "-d", str(args.value_size), "-n", str(n), "-c", str(args.clients),
           "-P", str(args.pipeline), "--csv"]
    t0 = time.monotonic()
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.chunk_timeout)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"timeout after {args.chunk_timeout}s: {' '.join(cmd)}")
    wall = time.monotonic() - t0
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    rows = [r for r in csv.reader(io.StringIO(out.stdout)) if r]
    if len(rows) < 2 or rows[0][:2] != ["test", "rps"]:
        raise RuntimeError(f"unexpected redis-benchmark output:\n{out.stdout}\n{out.stderr}")
    fig = dict(zip(rows[0], rows[1]))
    p99 = float(fig["p99_latency_ms"]) if "p99_latency_ms" in fig else None
    return float(fig["rps"]), p99, wall


def run_kind(args, kind, out):
    server = Server(kind, args)
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
            store, logb = server.files()
            rss, anon = server.rss()
            p99s = f"{p99:.3f}" if p99 is not None else "-"
            row = (f"| {done:,} | {rps:,.0f} | {p99s} | {unapplied} | {applies} | {slowdowns} | "
                   f"{store / MIB:,.0f} | {logb / MIB:,.0f} | {rss / MIB:,.0f} ({anon / MIB:,.0f}) "
                   f"| {cpu * 1e6 / n:.2f} |")
            out(row, echo=True)
    finally:
        server.stop(keep=args.keep)
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

    out(f"## Sustained random writes, {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}")
    out("")
    out(f"- command: `{' '.join([os.path.relpath(sys.argv[0], REPO)] + sys.argv[1:])}`")
    out(f"- machine: {os.cpu_count()} cores, Linux {platform.release()}; data dirs under "
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
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        with open(args.out, "w") as f:
            f.write(report)


if __name__ == "__main__":
    main()
