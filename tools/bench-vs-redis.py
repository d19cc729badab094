#!/usr/bin/python3
"""Side-by-side benchmark: lmkv-server vs redis-server on loopback, same machine, same run.

For each durability mode and pipeline depth it runs redis-benchmark against a fresh server of
each kind (fresh temp dir each time), alternating which server goes first per round, and
prints a markdown table: median ops/s, the lmkv/redis ratio, the server's CPU time per request
(from /proc/PID/stat, utime+stime over the run) and p50/p99/p99.9 latency from
redis-benchmark's report. Scenarios: -P 1 and -P 16 at 50 clients, one connection (-c 1),
500 writing clients, and a RANGE page read over 1M keys (ZRANGEBYLEX on Redis).

Modes (lmkv flags vs redis flags):
  always    --fsync always    vs --appendonly yes --appendfsync always   --save ''
  everysec  --fsync everysec  vs --appendonly yes --appendfsync everysec --save ''
  no        --fsync no        vs --appendonly no                         --save ''

Every benchmark run has a timeout, servers are stopped by PID, temp dirs are removed.
Example:  tools/bench-vs-redis.py --modes always,everysec,no --rounds 3 --out BENCHMARKS.md
Check the harness without lmkv:  tools/bench-vs-redis.py --lmkv redis-server --rounds 1 --n16 20000 --n1 10000
"""

import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

from benchlib import (BENCH_TMP, LMKV_RELEASE, REDIS_MODE_ARGS, REPO, Server, arg_parser,
                      bench_argv, cli_pipe, fs_type, report_head, write_report)
from benchlib import run_bench as run_benchmark

LMKV_THREADS = 0  # --lmkv-threads (0: from the pinning)

# Issue 7: write runs are sustained, at least 10x the write buffer. A write buffer freezes at
# write-buffer-size bytes of entries, so a run of that many buffers' worth of entries has
# frozen and applied about as many (the last one or two may still be waiting): one spare.
SUSTAINED_BUFFERS = 11
# A write buffer's bytes per entry, measured (INFO lmkv_last_apply_bytes / _entries): a SET
# of redis-benchmark's 16-byte keys takes the value plus ~87 bytes; an INCR's counter ~91.
# The buffer counts each entry as at least MIN_ENTRY_WEIGHT (MemTable::kMinEntryWeight).
ENTRY_OVERHEAD, INCR_ENTRY_BYTES, MIN_ENTRY_WEIGHT = 87, 91, 187


def parse_args():
    p = arg_parser(__doc__, lmkv=None, redis="--redis", bench="--bench")
    p.add_argument("--lmkv", default=LMKV_RELEASE,
                   help="lmkv-server binary (default: build-release, built if missing); "
                        "'redis-server' compares Redis with itself to check the harness")
    p.add_argument("--modes", default="always,no", help="comma list of always,everysec,no")
    p.add_argument("--pipelines", default="1,16", help="comma list of -P values")
    p.add_argument("--tests", default="set,get,mset,incr", help="redis-benchmark -t tests")
    p.add_argument("--scenarios", default="pipelines,latency,clients500,range",
                   help="comma list of pipelines (every --pipelines value; or p1, p16...), "
                        "latency (-c 1 -P 1), clients500 (SET with 500 clients), range")
    p.add_argument("--n-latency", type=int, default=20000, help="-n for the -c 1 run")
    p.add_argument("--n-range", type=int, default=20000, help="-n for the RANGE page read")
    p.add_argument("--n16", type=int, default=200000, help="-n for pipelined runs (P > 1)")
    p.add_argument("--n1", type=int, default=100000, help="-n for unpipelined runs (P = 1)")
    p.add_argument("--n-writes", type=int, default=0,
                   help="-n for SET, INCR and MSET in the c50 and c500 runs (at least "
                        "--n1/--n16); 0: sustained, i.e. enough to fill lmkv's write buffer "
                        f"{SUSTAINED_BUFFERS} times over (its size read from a probe server), "
                        "for each test")
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--datasize", type=int, default=100)
    p.add_argument("--keyspace", type=int, default=1000000, help="-r")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--timeout", type=int, default=600, help="seconds per redis-benchmark run")
    p.add_argument("--workdir", default=BENCH_TMP,
                   help="parent of the servers' temp dirs; must be on a real disk for fsync "
                        "to mean anything (not tmpfs)")
    p.add_argument("--no-pin", action="store_true", help="do not use taskset")
    p.add_argument("--lmkv-threads", type=int, default=0,
                   help="lmkv's --threads (default: the cores the server is pinned to, or all)")
    p.add_argument("--out", help="also write the markdown report to this file "
                   "(e.g. BENCHMARKS.md)")
    p.add_argument("--append", action="store_true", help="append to --out")
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


def version_of(binary):
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "unknown"


# --- servers ---------------------------------------------------------------------------------

def start_server(kind, binary, mode, cpus, workdir):
    """A fresh server of this kind over a temp dir, pinned to cpus; Redis when the binary is
    redis-server (whatever the kind: the harness check runs Redis as "lmkv")."""
    is_redis = os.path.basename(binary) == "redis-server"
    extra = []
    if not is_redis:
        extra = ["--threads", str(LMKV_THREADS or (len(cpus) if cpus else os.cpu_count()))]
    server = Server.in_temp_dir(kind, binary, f"{kind}-{mode}-", workdir, redis=is_redis,
                                fsync=mode, extra=extra, wrap=taskset(cpus))
    try:
        server.start(timeout=20.0, interval=0.05)
    except BaseException:
        server.close(timeout=30.0)
        raise
    return server


# --- benchmark -------------------------------------------------------------------------------

def parse_bench_output(text):
    """Figures from redis-benchmark's full report: the test name, requests/s, the latency
    summary (avg, min, p50, p95, p99, max) and p99.9, read from the percentile
    distribution as the first bucket at or above 99.9% (so an upper estimate)."""
    text = text.replace("\r", "\n")
    figures = {}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        s = line.strip()
        if s.startswith("======") and s.endswith("======"):
            figures["name"] = s.strip("= ").strip()
        elif s.startswith("throughput summary:"):
            figures["rps"] = float(s.split(":")[1].split()[0])
        elif s.startswith("avg") and "p99" in s and i + 1 < len(lines):
            names = s.split()
            values = [float(v) for v in lines[i + 1].split()]
            for n, v in zip(names, values):
                figures[f"{n}_ms"] = v
        elif "% <= " in s and "p999_ms" not in figures and "cumulative count" in s:
            pct = float(s.split("%")[0])
            if pct >= 99.9:
                figures["p999_ms"] = float(s.split("<=")[1].split()[0])
    if "rps" not in figures:
        raise RuntimeError(f"unexpected redis-benchmark output:\n{text[-2000:]}")
    return figures


def run_bench(args, server, test, pipeline, n, cpus, clients=None, command=None):
    """One redis-benchmark run against server (a -t test, or a custom command line);
    returns its figures plus the server's CPU microseconds per request."""
    cmd = taskset(cpus) + bench_argv(args.bench, server.port, n=n, keys=args.keyspace,
                                     size=args.datasize, clients=clients or args.clients,
                                     pipeline=pipeline, tests=None if command else test,
                                     extra=command or ())
    applies_before = None if server.redis else applies(server)
    before = server.cpu_seconds()
    text, _ = run_benchmark(cmd, args.timeout)
    after = server.cpu_seconds()
    figures = parse_bench_output(text)
    figures["cpu_us"] = (after - before) * 1e6 / n
    if applies_before is not None:
        # How sustained a write run was: the write buffers it filled that LMDB took in.
        figures["applies"] = applies(server) - applies_before
    if command:
        figures["name"] = command[0]
    return figures


def applies(server):
    return int(server.info()["lmkv_bulk_applies"])


def probe_write_buffer(binary, cpus, workdir):
    """lmkv's write buffer size with the harness's flags on this machine (its default depends
    on the memory); 16 MiB when the binary is redis-server (the harness check)."""
    if os.path.basename(binary) == "redis-server":
        return 16 << 20
    server = start_server("lmkv", binary, "no", cpus, workdir)
    try:
        return int(server.info()["lmkv_write_buffer_size"])
    finally:
        server.close(timeout=30.0)


def sustained_sizes(args, buffer_bytes):
    """-n per write test that fills the write buffer SUSTAINED_BUFFERS times (MSET: commands
    of 10 keys), rounded up to 10,000."""
    entry = max(args.datasize + ENTRY_OVERHEAD, MIN_ENTRY_WEIGHT)
    per_op = {"set": entry, "incr": max(INCR_ENTRY_BYTES, MIN_ENTRY_WEIGHT), "mset": 10 * entry}
    return {t: -(-SUSTAINED_BUFFERS * buffer_bytes // b // 10000) * 10000
            for t, b in per_op.items()}


def median(values):
    return statistics.median(values) if values else float("nan")


# --- scenarios -------------------------------------------------------------------------------

RANGE_PAGE = 100
RANGE_KEYS = 1000000


def preload_range(server, kind, count):
    """Loads `count` sequential keys as redis-benchmark names them (key:%012d), through
    redis-cli --pipe: both get them as strings (100-byte values), for a GET run where every
    key exists, and Redis also as a sorted set of the same names for ZRANGEBYLEX, its closest
    ordered page read to lmkv's RANGE."""
    value = b"x" * 100

    def bulk(b):
        return b"$%d\r\n%s\r\n" % (len(b), b)

    def commands():
        for start in range(0, count, 1000):
            args = [b"MSET"]
            for i in range(start, min(count, start + 1000)):
                args += [b"key:%012d" % i, value]
            yield b"*%d\r\n" % len(args) + b"".join(bulk(a) for a in args)
        if kind != "lmkv":
            for start in range(0, count, 1000):
                args = [b"ZADD", b"zkeys"]
                for i in range(start, min(count, start + 1000)):
                    args += [b"0", b"key:%012d" % i]
                yield b"*%d\r\n" % len(args) + b"".join(bulk(a) for a in args)

    cli_pipe(server.port, commands(), timeout=600)


def scenarios(args):
    """(label, pipeline, clients, n, [(test name, -t test or None, command or None)],
    needs range preload). The issue's set: -P 1 and -P 16 at 50 clients, a latency run
    on one connection, a write run with 500 clients, and a RANGE page read."""
    tests = [t for t in args.tests.split(",") if t]
    out = []
    wanted = args.scenarios.split(",")
    for p in [int(x) for x in args.pipelines.split(",")]:
        if f"p{p}" in wanted or "pipelines" in wanted:
            out.append((f"P{p} c{args.clients}", p, args.clients,
                        args.n1 if p == 1 else args.n16, [(t, t, None) for t in tests], False))
    if "latency" in wanted:
        out.append(("P1 c1 (latency)", 1, 1, args.n_latency,
                    [(t, t, None) for t in ("set", "get")], False))
    if "clients500" in wanted:
        out.append(("P1 c500 (writes)", 1, 500, args.n1, [("set", "set", None)], False))
    return out


def run_size(args, label, test, n):
    """-n for one run: write runs are sustained (issue 7: at least 10x the write buffer), except
    on one connection, which measures the round trip."""
    if test in args.write_sizes and "latency" not in label:
        return max(n, args.write_sizes[test])
    return n


def range_command(kind):
    if kind == "lmkv":
        return ["RANGE", "[key:__rand_int__", "+", "LIMIT", str(RANGE_PAGE)]
    return ["ZRANGEBYLEX", "zkeys", "[key:__rand_int__", "+", "LIMIT", "0", str(RANGE_PAGE)]


def main():
    global LMKV_THREADS
    args = parse_args()
    LMKV_THREADS = args.lmkv_threads
    lmkv = ensure_lmkv(args.lmkv)
    modes = [m for m in args.modes.split(",") if m]
    for m in modes:
        if m not in REDIS_MODE_ARGS:
            sys.exit(f"unknown mode {m}")
    os.makedirs(args.workdir, exist_ok=True)
    server_cpus, bench_cpus = cpu_split(args.no_pin)
    kinds = [("lmkv", lmkv), ("redis", args.redis)]
    plan = scenarios(args)
    buffer_bytes = probe_write_buffer(lmkv, server_cpus, args.workdir)
    if args.n_writes:
        args.write_sizes = {t: args.n_writes for t in ("set", "incr", "mset")}
    else:
        args.write_sizes = sustained_sizes(args, buffer_bytes)

    # results[(mode, scenario label, test, kind)] -> list of figure dicts, one per round
    results = {}
    started = time.monotonic()

    def record(rnd, mode, label, test, kind, fig):
        results.setdefault((mode, label, test, kind), []).append(fig)
        print(f"round {rnd + 1}/{args.rounds} {mode:8} {label:18} {kind:5} {test:10} "
              f"{fig['rps']:>12,.0f} ops/s {fig['cpu_us']:7.2f} us/req "
              f"p99 {fig.get('p99_ms', float('nan')):.3f} ms", file=sys.stderr, flush=True)

    for rnd in range(args.rounds):
        order = kinds if rnd % 2 == 0 else kinds[::-1]
        for mode in modes:
            for label, pipeline, clients, n, tests, _ in plan:
                for kind, binary in order:
                    server = start_server(kind, binary, mode, server_cpus, args.workdir)
                    try:
                        for test, t, command in tests:
                            fig = run_bench(args, server, t, pipeline, run_size(args, label, t, n),
                                            bench_cpus, clients=clients, command=command)
                            record(rnd, mode, label, test, kind, fig)
                    finally:
                        server.close(timeout=30.0)
        # The RANGE page read does not depend on the durability mode: once per round.
        if "range" in args.scenarios.split(","):
            label = f"RANGE {RANGE_PAGE} c{args.clients}"
            for kind, binary in order:
                server = start_server(kind, binary, "no", server_cpus, args.workdir)
                try:
                    # (--lmkv redis-server checks the harness: Redis's command then)
                    flavour = "redis" if os.path.basename(binary) == "redis-server" else "lmkv"
                    preload_range(server, flavour, RANGE_KEYS)
                    saved = args.keyspace
                    args.keyspace = RANGE_KEYS
                    fig = run_bench(args, server, None, 1, args.n_range, bench_cpus,
                                    command=range_command(flavour))
                    record(rnd, "any", label, "range", kind, fig)
                    # GET where every key exists: the -P 16 GET runs above read the keys the
                    # SET run wrote, ~42% of the keyspace, so most of them miss.
                    fig = run_bench(args, server, "get", 16, args.n16, bench_cpus,
                                    clients=args.clients)
                    record(rnd, "no", f"P16 c{args.clients}, {RANGE_KEYS:,} keys (all hit)",
                           "get", kind, fig)
                    args.keyspace = saved
                finally:
                    server.close(timeout=30.0)

    lines = report_head("lmkv vs redis-server")
    out = lines.append
    out(f"- machine: {os.cpu_count()} cores ({len(os.sched_getaffinity(0))} usable), "
        f"{cpu_model()}, Linux {platform.release()}")
    out(f"- lmkv: `{lmkv}` ({version_of(lmkv)}); redis: {version_of(args.redis)}")
    if server_cpus:
        out(f"- pinned with taskset: servers on CPU {','.join(map(str, server_cpus))}, "
            f"redis-benchmark on CPU {','.join(map(str, bench_cpus))}; "
            f"lmkv --threads {LMKV_THREADS or len(server_cpus)}")
    else:
        out("- not pinned (fewer than 2 cores, taskset missing, or --no-pin); "
            f"lmkv --threads {LMKV_THREADS or os.cpu_count()}")
    out(f"- data dirs under {args.workdir} (filesystem: {fs_type(args.workdir)})")
    writes = ", ".join(f"{t.upper()} {max(n, args.n1)}+" for t, n in args.write_sizes.items())
    out(f"- redis-benchmark -n {args.n16} (P>1) / {args.n1} (P=1) / {args.n_latency} (latency) "
        f"/ {writes} (writes at c50 and c500, at least --n16 when pipelined; sustained: "
        f"lmkv's write buffer, "
        f"{buffer_bytes >> 20} MiB here, filled {SUSTAINED_BUFFERS}x) "
        f"-r {args.keyspace} -d {args.datasize}; {args.rounds} rounds, servers alternating, "
        f"median shown; a fresh server per (round, mode, scenario)")
    out("- redis flags: --save '' plus " + "; ".join(
        f"{m}: {' '.join(REDIS_MODE_ARGS[m])}" for m in modes) + "; lmkv flags: --fsync <mode>")
    out(f"- GET (all hit): after the RANGE run, on the same server (persistence off), "
        f"-P 16 GETs over the {RANGE_KEYS:,} preloaded keys")
    out(f"- RANGE: lmkv `RANGE [key:<rand> + LIMIT {RANGE_PAGE}` (keys and values) over "
        f"{RANGE_KEYS:,} keys vs redis `ZRANGEBYLEX zkeys [key:<rand> + LIMIT 0 {RANGE_PAGE}` "
        "(keys only, its closest ordered page read); ops/s are pages/s")
    out("- CPU us/req: server utime+stime over the run / requests (MSET: per 10-key command); "
        "p99.9 is the first percentile bucket of redis-benchmark's distribution at >= 99.9%")
    out(f"- total time {time.monotonic() - started:.0f} s")
    out("")
    out("| mode | run | test | lmkv ops/s | redis ops/s | lmkv/redis | lmkv CPU us/req | "
        "redis CPU us/req | lmkv p50/p99/p99.9 ms | redis p50/p99/p99.9 ms |")
    out("|---|---|---|---:|---:|---:|---:|---:|---:|---:|")

    def lat(figs):
        def m(key):
            return median([f[key] for f in figs if key in f])
        return f"{m('p50_ms'):.3f} / {m('p99_ms'):.3f} / {m('p999_ms'):.3f}"

    seen = []
    for key in results:
        if key[:3] not in seen:
            seen.append(key[:3])
    for mode, label, test in seen:
        lm = results.get((mode, label, test, "lmkv"), [])
        rd = results.get((mode, label, test, "redis"), [])
        if not lm or not rd:
            continue
        lr, rr = median([f["rps"] for f in lm]), median([f["rps"] for f in rd])
        name = "RANGE / ZRANGEBYLEX" if test == "range" else lm[0]["name"]
        out(f"| {mode} | {label} | {name} | {lr:,.0f} | {rr:,.0f} | "
            f"{lr / rr:.2f} | {median([f['cpu_us'] for f in lm]):.2f} | "
            f"{median([f['cpu_us'] for f in rd]):.2f} | {lat(lm)} | {lat(rd)} |")
    # How sustained each lmkv write run was: the write buffers LMDB took in during it.
    sustained = []
    for mode, label, test in seen:
        figs = results.get((mode, label, test, "lmkv"), [])
        if test in args.write_sizes and "latency" not in label and figs and "applies" in figs[0]:
            counts = sorted(f["applies"] for f in figs)
            sustained.append(f"{mode} {label} {figs[0]['name']} {counts[0]}-{counts[-1]}")
    if sustained:
        out("")
        out("Write buffers applied during each lmkv write run, fewest-most over the rounds "
            "(issue 7 asks for 10 or more): " + "; ".join(sustained) + ".")
    write_report(lines, args.out, mode="a" if args.append else "w", trailer="\n")


if __name__ == "__main__":
    main()
