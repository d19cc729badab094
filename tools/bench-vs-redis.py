#!/usr/bin/python3
"""Side-by-side benchmark: lmkv-server vs redis-server on loopback, same machine, same run.

For each durability mode and pipeline depth it runs redis-benchmark against a fresh server of
each kind (fresh temp dir each time), alternating which server goes first per round, and
prints a markdown table: median ops/s, the lmkv/redis ratio, the server's CPU time per request
(from /proc/PID/stat, utime+stime over the run) and p50/p99 latency from --csv.

Modes (lmkv flags vs redis flags):
  always    --fsync always    vs --appendonly yes --appendfsync always   --save ''
  everysec  --fsync everysec  vs --appendonly yes --appendfsync everysec --save ''
  no        --fsync no        vs --appendonly no                         --save ''

Every benchmark run has a timeout, servers are stopped by PID, temp dirs are removed.
Example:  tools/bench-vs-redis.py --modes always,no --rounds 3
Check the harness without lmkv:  tools/bench-vs-redis.py --lmkv redis-server --rounds 1 --n16 20000 --n1 10000
"""

import argparse
import csv
import datetime
import io
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from benchlib import REDIS_MODE_ARGS, fs_type  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLK_TCK = os.sysconf("SC_CLK_TCK")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n", 2)[2])
    p.add_argument("--lmkv", default=os.path.join(REPO, "build-release", "src", "lmkv-server"),
                   help="lmkv-server binary (default: build-release, built if missing); "
                        "'redis-server' compares Redis with itself to check the harness")
    p.add_argument("--redis", default=shutil.which("redis-server") or "redis-server")
    p.add_argument("--bench", default=shutil.which("redis-benchmark") or "redis-benchmark")
    p.add_argument("--modes", default="always,no", help="comma list of always,everysec,no")
    p.add_argument("--pipelines", default="1,16", help="comma list of -P values")
    p.add_argument("--tests", default="set,get,mset", help="redis-benchmark -t tests")
    p.add_argument("--n16", type=int, default=200000, help="-n for pipelined runs (P > 1)")
    p.add_argument("--n1", type=int, default=100000, help="-n for unpipelined runs (P = 1)")
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--datasize", type=int, default=100)
    p.add_argument("--keyspace", type=int, default=1000000, help="-r")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--timeout", type=int, default=600, help="seconds per redis-benchmark run")
    p.add_argument("--workdir", default=os.path.join(REPO, "build-release", "bench-tmp"),
                   help="parent of the servers' temp dirs; must be on a real disk for fsync "
                        "to mean anything (not tmpfs)")
    p.add_argument("--no-pin", action="store_true", help="do not use taskset")
    p.add_argument("--out", help="also write the markdown report to this file")
    return p.parse_args()


# --- environment -----------------------------------------------------------------------------

def ensure_lmkv(path):
    if os.path.basename(path) == "redis-server" or os.path.exists(path):
        return path
    build = os.path.join(REPO, "build-release")
    if not os.path.exists(os.path.join(build, "build.ninja")):
        subprocess.run(["meson", "setup", build, "--buildtype=release"], cwd=REPO, check=True)
    subprocess.run(["ninja", "-C", build, "src/lmkv-server"], cwd=REPO, check=True)
    return path


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_split(no_pin):
    """(server cpus, benchmark cpus) as lists, or (None, None) when not pinning. The load
    generator gets the last usable core, the server the rest."""
    cpus = sorted(os.sched_getaffinity(0))
    if no_pin or len(cpus) < 2 or not shutil.which("taskset"):
        return None, None
    return cpus[:-1], cpus[-1:]


def taskset(cpus):
    return ["taskset", "-c", ",".join(map(str, cpus))] if cpus else []


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def version_of(binary):
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "unknown"


# --- servers ---------------------------------------------------------------------------------

class Server:
    """One server process on a fresh temp dir; stopped by PID."""

    def __init__(self, kind, binary, mode, cpus, workdir):
        self.kind, self.binary, self.mode, self.cpus = kind, binary, mode, cpus
        self.dir = tempfile.mkdtemp(prefix=f"{kind}-{mode}-", dir=workdir)
        self.port = free_port()
        is_redis = os.path.basename(binary) == "redis-server"
        if is_redis:
            args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
                    "--save", "", "--daemonize", "no"] + REDIS_MODE_ARGS[mode]
        else:
            threads = len(cpus) if cpus else os.cpu_count()
            args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
                    "--fsync", mode, "--threads", str(threads)]
        self.argv = taskset(cpus) + args
        self.log = open(os.path.join(self.dir, "server.log"), "wb")
        self.proc = subprocess.Popen(self.argv, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while not self.ping():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{kind} did not start: {' '.join(self.argv)}")
            time.sleep(0.05)

    def ping(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def cpu_seconds(self):
        """utime + stime of the server process (all its threads), in seconds."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of stat

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


# --- benchmark -------------------------------------------------------------------------------

def run_bench(args, server, test, pipeline, n, cpus):
    """One redis-benchmark test against server; returns a dict of the CSV figures plus the
    server's CPU microseconds per request."""
    cmd = taskset(cpus) + [args.bench, "-p", str(server.port), "-t", test, "-n", str(n),
                           "-r", str(args.keyspace), "-d", str(args.datasize),
                           "-c", str(args.clients), "-P", str(pipeline), "--csv"]
    before = server.cpu_seconds()
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"timeout after {args.timeout}s: {' '.join(cmd)}")
    after = server.cpu_seconds()
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stdout}\n{out.stderr}")
    rows = [r for r in csv.reader(io.StringIO(out.stdout)) if r]
    header, data = rows[0], rows[1:]
    if not data or header[:2] != ["test", "rps"]:
        raise RuntimeError(f"unexpected redis-benchmark output:\n{out.stdout}\n{out.stderr}")
    result = dict(zip(header, data[0]))
    figures = {"rps": float(result["rps"])}
    for key in ("p50_latency_ms", "p99_latency_ms"):
        if key in result:
            figures[key] = float(result[key])
    figures["cpu_us"] = (after - before) * 1e6 / n
    figures["name"] = data[0][0]
    return figures


def median(values):
    return statistics.median(values) if values else float("nan")


def main():
    args = parse_args()
    lmkv = ensure_lmkv(args.lmkv)
    modes = [m for m in args.modes.split(",") if m]
    for m in modes:
        if m not in REDIS_MODE_ARGS:
            sys.exit(f"unknown mode {m}")
    pipelines = [int(p) for p in args.pipelines.split(",")]
    tests = [t for t in args.tests.split(",") if t]
    os.makedirs(args.workdir, exist_ok=True)
    server_cpus, bench_cpus = cpu_split(args.no_pin)
    kinds = [("lmkv", lmkv), ("redis", args.redis)]

    # results[(mode, P, test, kind)] -> list of figure dicts, one per round
    results = {}
    names = {}
    started = time.monotonic()
    for rnd in range(args.rounds):
        order = kinds if rnd % 2 == 0 else kinds[::-1]
        for mode in modes:
            for pipeline in pipelines:
                n = args.n1 if pipeline == 1 else args.n16
                for kind, binary in order:
                    server = Server(kind, binary, mode, server_cpus, args.workdir)
                    try:
                        for test in tests:
                            fig = run_bench(args, server, test, pipeline, n, bench_cpus)
                            names[test] = fig["name"]
                            results.setdefault((mode, pipeline, test, kind), []).append(fig)
                            print(f"round {rnd + 1}/{args.rounds} {mode:8} P{pipeline:<3} "
                                  f"{kind:5} {fig['name']:16} {fig['rps']:>12,.0f} ops/s "
                                  f"{fig['cpu_us']:7.2f} us/req", file=sys.stderr, flush=True)
                    finally:
                        server.stop()

    lines = []
    out = lines.append
    out(f"## lmkv vs redis-server, {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}")
    out("")
    out(f"- command: `{' '.join([os.path.relpath(sys.argv[0], REPO)] + sys.argv[1:])}`")
    out(f"- machine: {os.cpu_count()} cores ({len(os.sched_getaffinity(0))} usable), "
        f"{cpu_model()}, Linux {platform.release()}")
    out(f"- lmkv: `{lmkv}` ({version_of(lmkv)}); redis: {version_of(args.redis)}")
    if server_cpus:
        out(f"- pinned with taskset: servers on CPU {','.join(map(str, server_cpus))}, "
            f"redis-benchmark on CPU {','.join(map(str, bench_cpus))}; "
            f"lmkv --threads {len(server_cpus)}")
    else:
        out("- not pinned (fewer than 2 cores, taskset missing, or --no-pin)")
    out(f"- data dirs under {args.workdir} (filesystem: {fs_type(args.workdir)})")
    out(f"- redis-benchmark -t <test> -n {args.n16} (P>1) / {args.n1} (P=1) -r {args.keyspace} "
        f"-d {args.datasize} -c {args.clients} -P <P> --csv; {args.rounds} rounds, servers "
        f"alternating, median shown; a fresh server per (round, mode, P)")
    out("- redis flags: --save '' plus " + "; ".join(
        f"{m}: {' '.join(REDIS_MODE_ARGS[m])}" for m in modes) + "; lmkv flags: --fsync <mode>")
    out("- CPU us/req: server utime+stime over the test / requests (MSET: per 10-key command)")
    out(f"- total time {time.monotonic() - started:.0f} s")
    out("")
    out("| mode | P | test | lmkv ops/s | redis ops/s | lmkv/redis | lmkv CPU us/req | "
        "redis CPU us/req | lmkv p50/p99 ms | redis p50/p99 ms |")
    out("|---|---|---|---:|---:|---:|---:|---:|---:|---:|")

    def lat(figs):
        p50 = median([f["p50_latency_ms"] for f in figs if "p50_latency_ms" in f])
        p99 = median([f["p99_latency_ms"] for f in figs if "p99_latency_ms" in f])
        return f"{p50:.3f} / {p99:.3f}"

    for mode in modes:
        for pipeline in pipelines:
            for test in tests:
                lm = results[(mode, pipeline, test, "lmkv")]
                rd = results[(mode, pipeline, test, "redis")]
                lr, rr = median([f["rps"] for f in lm]), median([f["rps"] for f in rd])
                out(f"| {mode} | {pipeline} | {names[test]} | {lr:,.0f} | {rr:,.0f} | "
                    f"{lr / rr:.2f} | {median([f['cpu_us'] for f in lm]):.2f} | "
                    f"{median([f['cpu_us'] for f in rd]):.2f} | {lat(lm)} | {lat(rd)} |")
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        with open(args.out, "w") as f:
            f.write(report)


if __name__ == "__main__":
    main()
