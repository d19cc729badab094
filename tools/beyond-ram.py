#!/usr/bin/python3
"""Larger than RAM: lmkv in a memory-capped cgroup, written to many times the cap, then read.

Starts one fresh lmkv-server inside a new cgroup v1 memory controller group
(/sys/fs/cgroup/memory/<name>, memory.limit_in_bytes = --cap-mib; the child joins the group
before exec, so every byte it maps or caches is charged to it) and writes random keys with
`redis-benchmark -t set -r KEYS -d SIZE -c CLIENTS -P PIPELINE --csv` in chunks until data.mdb
is --factor times the cap. After every --step-mib of data.mdb growth it prints a row: the
step's write ops/s (writes / wall time of its chunks), worst chunk p99 and max latency
(redis-benchmark's CSV), then a random-read probe (`-t get -r KEYS`, --read-ops GETs) with its
ops/s, p99 and max; and the cgroup's memory: memory.max_usage_in_bytes (peak), usage, and
memory.stat rss (anonymous) vs cache (page cache, data.mdb's mapped pages included), failcnt.
After the last step it runs --final-reads random GETs.

Readability: after every write chunk a few "witness" keys (key:NNNNNNNNNNNNw, sorted between
redis-benchmark's key:NNNNNNNNNNNN keys, so spread over the whole tree) are written with a
value derived from their number; at the end every witness must read back exactly, a random
sample of redis-benchmark keys must be absent or hold its SIZE-byte value (one buffer for all
keys), and the cgroup's
memory.oom_control must show no OOM kill (oom_kill 0) with the server still alive.

The exit status is 0 only if those checks pass. --goal additionally requires the write rate of
the last step to be at least half the in-RAM rate (the median chunk rate while data.mdb was
below the cap) and no write chunk's max latency over 100 ms.

Examples:
  tools/beyond-ram.py                        # 256 MiB cap, 8x (2 GiB of data.mdb), 500 B values
  tools/beyond-ram.py --quick                # 96 MiB cap to 4x, for CI (< ~60 s)
  tools/beyond-ram.py --lmkv-args "--prefetch-threads 0"
Needs root and the cgroup v1 memory controller. The cgroup and temp dirs are removed at the
end (unless --keep); the server is stopped by PID. Loopback only; every run has a timeout.
"""

import os
import random
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # when loaded by a test

from benchlib import (BENCH_TMP, MIB, Server, arg_parser, bench_argv, bench_csv,  # noqa: E402
                      decode_reply, disk_usage, encode_command, fs_type, log, machine,
                      report_head, write_report)

CGROUP_ROOT = "/sys/fs/cgroup/memory"


def parse_args(argv=None):
    p = arg_parser(__doc__, lmkv="--binary", bench="--bench")
    p.add_argument("--quick", action="store_true",
                   help="CI size: 96 MiB cap, 4x, 32 MiB steps, smaller chunks and probes")
    p.add_argument("--cap-mib", type=int, default=None, help="memory.limit_in_bytes (256)")
    p.add_argument("--factor", type=float, default=None, help="stop at data.mdb >= factor*cap (8)")
    p.add_argument("--step-mib", type=int, default=None, help="row per this much growth (256)")
    p.add_argument("--value-size", type=int, default=500, help="-d")
    p.add_argument("--keys", type=int, default=None,
                   help="keyspace -r (default: about 1.3x the keys the target size holds)")
    p.add_argument("--chunk", type=int, default=None, help="writes per redis-benchmark run")
    p.add_argument("--clients", type=int, default=50, help="-c")
    p.add_argument("--pipeline", type=int, default=16, help="-P")
    p.add_argument("--read-ops", type=int, default=None, help="GETs per step probe (20000)")
    p.add_argument("--final-reads", type=int, default=None, help="GETs at the end (100000)")
    p.add_argument("--read-clients", type=int, default=50, help="-c for GETs")
    p.add_argument("--witnesses", type=int, default=200, help="witness keys per write chunk")
    p.add_argument("--sample", type=int, default=2000, help="random keys checked at the end")
    p.add_argument("--fsync", default="always", choices=["always", "everysec", "no"])
    p.add_argument("--threads", type=int, default=0, help="lmkv --threads (0: its default)")
    p.add_argument("--lmkv-args", default=None,
                   help="extra lmkv-server arguments (split on spaces; quick default: "
                        "--write-buffer-size 2 MiB --max-unapplied-bytes 8 MiB, since the "
                        "defaults' buffers alone need ~90 MiB)")
    p.add_argument("--max-seconds", type=float, default=None,
                   help="give up writing after this wall time (3600; quick: 240)")
    p.add_argument("--chunk-timeout", type=float, default=900.0)
    p.add_argument("--workdir", default=BENCH_TMP,
                   help="parent of the temp data dir; a real disk, not tmpfs")
    p.add_argument("--cgroup-name", default=None, help="default lmkv-beyond-ram-<pid>")
    p.add_argument("--goal", action="store_true",
                   help="also fail unless the last step writes >= half the in-RAM rate "
                        "and no chunk's max latency exceeds 100 ms")
    p.add_argument("--keep", action="store_true", help="keep the temp dir")
    p.add_argument("--out", help="also write the markdown report to this file")
    a = p.parse_args(argv)
    quick = a.quick
    defaults = {
        "cap_mib": 96 if quick else 256, "factor": 4.0 if quick else 8.0,
        "step_mib": 32 if quick else 256, "chunk": 25_000 if quick else 100_000,
        "read_ops": 5_000 if quick else 20_000, "final_reads": 10_000 if quick else 100_000,
        "max_seconds": 240.0 if quick else 3600.0,
        "lmkv_args": "--write-buffer-size 2097152 --max-unapplied-bytes 8388608" if quick else "",
    }
    for k, v in defaults.items():
        if getattr(a, k) is None:
            setattr(a, k, v)
    if a.keys is None:
        # data.mdb holds about (value + key + headers) / 0.7 bytes per key (half-full leaves
        # after random inserts are ~70% on average); 1.3x that keyspace leaves room for the
        # overwrites random keys bring.
        per_key = (a.value_size + 40) / 0.7
        a.keys = int(a.cap_mib * MIB * a.factor / per_key * 1.3)
    a.workdir = os.path.abspath(a.workdir)  # the server runs in its temp dir
    if os.sep in a.binary:
        a.binary = os.path.abspath(a.binary)
    if a.cgroup_name is None:
        a.cgroup_name = f"lmkv-beyond-ram-{os.getpid()}"
    return a


# ---------------------------------------------------------------------------------------------
# cgroup v1 memory controller
# ---------------------------------------------------------------------------------------------

def cgroup_available():
    """None if a memory cgroup can be made here, else the reason it cannot."""
    if os.geteuid() != 0:
        return "not root"
    if not os.path.isfile(os.path.join(CGROUP_ROOT, "memory.limit_in_bytes")):
        return f"no cgroup v1 memory controller at {CGROUP_ROOT}"
    return None


class Cgroup:
    def __init__(self, name, limit_bytes):
        self.path = os.path.join(CGROUP_ROOT, name)
        os.mkdir(self.path)
        self.write("memory.limit_in_bytes", str(limit_bytes))
        # No swap here, but cap it too where the kernel accounts it.
        try:
            self.write("memory.memsw.limit_in_bytes", str(limit_bytes))
        except OSError:
            pass

    def write(self, name, value):
        with open(os.path.join(self.path, name), "w") as f:
            f.write(value)

    def read(self, name):
        with open(os.path.join(self.path, name)) as f:
            return f.read()

    def value(self, name):
        return int(self.read(name).strip())

    def table(self, name):
        """A file of "key value" lines as {key: int}."""
        out = {}
        for line in self.read(name).splitlines():
            k, _, v = line.partition(" ")
            out[k] = int(v)
        return out

    def stat(self):
        return self.table("memory.stat")

    def oom(self):
        """memory.oom_control as a dict (oom_kill_disable, under_oom, oom_kill)."""
        return self.table("memory.oom_control")

    def join_fn(self):
        """A preexec_fn that moves the child into this group before exec."""
        procs = os.path.join(self.path, "cgroup.procs")

        def join():
            with open(procs, "w") as f:
                f.write(str(os.getpid()))
        return join

    def remove(self):
        # A group can only be removed once empty; the server was stopped before.
        for _ in range(50):
            try:
                os.rmdir(self.path)
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.1)
        log(f"could not remove cgroup {self.path}")


# ---------------------------------------------------------------------------------------------
# The server and the load
# ---------------------------------------------------------------------------------------------

def start_server(args, cgroup):
    """A fresh lmkv-server over a temp dir (its cwd), joined to the cgroup before exec."""
    extra = (["--threads", str(args.threads)] if args.threads else []) + args.lmkv_args.split()
    server = Server.in_temp_dir("lmkv", args.binary, "beyond-ram-", args.workdir,
                                fsync=args.fsync, extra=extra, preexec_fn=cgroup.join_fn())
    server.cwd = server.tmp
    try:
        server.start(timeout=30.0, interval=0.05)
    except OSError:
        server.remove()  # not started at all
        raise
    except BaseException:
        server.close(keep=True)
        raise
    return server


def data_bytes(server):
    return disk_usage(os.path.join(server.datadir, "data.mdb"))[0]


def bench(args, server, test, n, clients, pipeline):
    """One redis-benchmark run: dict with rps, p99, max (ms) and wall seconds."""
    figures, wall = bench_csv(bench_argv(args.bench, server.port, tests=test, keys=args.keys,
                                         size=args.value_size, n=n, clients=clients,
                                         pipeline=pipeline), args.chunk_timeout)
    fig = next(iter(figures.values()))
    return {"rps": float(fig["rps"]), "p99": float(fig.get("p99_latency_ms", "nan")),
            "max": float(fig.get("max_latency_ms", "nan")), "wall": wall, "n": n}


def witness_key(i):
    # Sorts right after redis-benchmark's key:%012d, which never ends in 'w'.
    return b"key:%012dw" % ((i * 2654435761) % 1_000_000_000_000)


def witness_value(i, size):
    head = b"witness:%d:" % i
    return (head * (size // len(head) + 1))[:size]


def pipeline(conn, commands, expect):
    """Sends RESP commands in one write and reads one reply per command; `expect(i, reply)`
    checks each decoded reply."""
    conn.send(b"".join(commands))
    for i in range(len(commands)):
        expect(i, decode_reply(conn.read_exactly_reply(timeout=60.0)))


def write_witnesses(server, first, count, size):
    conn = server.conn(timeout=60.0)
    try:
        cmds = [encode_command(b"SET", witness_key(i), witness_value(i, size))
                for i in range(first, first + count)]

        def ok(i, reply):
            if reply != "OK":
                raise RuntimeError(f"SET witness {first + i}: {reply!r}")
        pipeline(conn, cmds, ok)
    finally:
        conn.close()


def check_readable(args, server, witnesses):
    """Every witness key exact, and a random sample of benchmark keys absent or holding
    redis-benchmark's value (-d bytes, the same for every key).
    Returns (witness failures, sample hits, sample failures)."""
    bad = []
    conn = server.conn(timeout=60.0)
    try:
        for start in range(0, witnesses, 1000):
            idx = list(range(start, min(witnesses, start + 1000)))
            cmds = [encode_command(b"GET", witness_key(i)) for i in idx]

            def check_w(k, reply):
                want = witness_value(idx[k], args.value_size)
                if reply != want:
                    bad.append((witness_key(idx[k]).decode(), repr(reply)[:60]))
            pipeline(conn, cmds, check_w)
        rng = random.Random(12345)
        sample = [b"key:%012d" % rng.randrange(args.keys) for _ in range(args.sample)]
        hits, sample_bad = 0, []
        # redis-benchmark fills every value from one buffer (random bytes in 7.x,
        # 'x' in older versions): every key it wrote holds the same -d bytes.
        want_x = None
        for start in range(0, len(sample), 1000):
            keys = sample[start:start + 1000]

            def check_s(k, reply):
                nonlocal hits, want_x
                if reply is None:
                    return
                if want_x is None and isinstance(reply, bytes) and len(reply) == args.value_size:
                    want_x = reply
                if reply == want_x:
                    hits += 1
                else:
                    sample_bad.append((keys[k].decode(), repr(reply)[:60]))
            pipeline(conn, [encode_command(b"GET", k) for k in keys], check_s)
    finally:
        conn.close()
    return bad, hits, sample_bad


def memory_row(cg, server):
    st = cg.stat()
    rss = server.rss() if server.alive() else {}
    return {
        "peak": cg.value("memory.max_usage_in_bytes"), "usage": cg.value("memory.usage_in_bytes"),
        "rss": st.get("rss", 0), "cache": st.get("cache", 0),
        "mapped": st.get("mapped_file", 0), "failcnt": cg.value("memory.failcnt"),
        "vmrss": rss.get("VmRSS", 0), "anon": rss.get("RssAnon", 0),
        "oom_kill": cg.oom().get("oom_kill", 0),
    }


def run(args, out):
    """The whole measurement; returns (ok, summary dict)."""
    cap = args.cap_mib * MIB
    target = int(cap * args.factor)
    step = args.step_mib * MIB
    cg = Cgroup(args.cgroup_name, cap)
    server = None
    summary = {"ok": False}
    try:
        server = start_server(args, cg)
        log(f"lmkv in {cg.path} (cap {args.cap_mib} MiB): {' '.join(server.argv)}")
        out("| data MiB | writes | write ops/s | p99 ms | max ms | GET ops/s | GET p99 ms | "
            "GET max ms | cg peak MiB | rss MiB | cache MiB | failcnt | applies | "
            "last apply / commit ms |")
        out("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        writes = witnesses = 0
        in_ram_rates, all_chunks, steps = [], [], []
        next_step = step
        started = time.monotonic()
        step_chunks = []
        for _ in range(1_000_000):  # bounded; the size or time ends it
            if data_bytes(server) >= target:
                break
            if time.monotonic() - started > args.max_seconds:
                log(f"giving up after {args.max_seconds:g} s at "
                    f"{data_bytes(server) / MIB:,.0f} MiB")
                break
            try:
                c = bench(args, server, "set", args.chunk, args.clients, args.pipeline)
                writes += args.chunk
                write_witnesses(server, witnesses, args.witnesses, args.value_size)
            except (RuntimeError, OSError) as e:
                try:  # an OOM kill may still be in progress when the socket closes
                    server.proc.wait(5)
                except subprocess.TimeoutExpired:
                    raise e from None
                mem = memory_row(cg, server)
                out("")
                out(f"- SERVER DIED at {data_bytes(server) / MIB:,.0f} MiB of data.mdb after "
                    f"{writes:,} writes: oom_kill {mem['oom_kill']}, cgroup peak "
                    f"{mem['peak'] / MIB:,.0f} MiB, failcnt {mem['failcnt']:,} ({e!s:.200})")
                return False, {"ok": False, "oom_kill": mem["oom_kill"], "alive": False}
            witnesses += args.witnesses
            size = data_bytes(server)
            c["data"] = size
            step_chunks.append(c)
            all_chunks.append(c)
            if size < cap:
                in_ram_rates.append(c["rps"])
            if not server.alive():
                raise RuntimeError("server died")
            if size >= next_step or size >= target:
                wall = sum(x["wall"] for x in step_chunks)
                n = sum(x["n"] for x in step_chunks)
                r = bench(args, server, "get", args.read_ops, args.read_clients, 1)
                mem = memory_row(cg, server)
                info = server.info("persistence", timeout=60.0)
                row = {"data": size, "writes": writes, "wrate": n / wall,
                       "p99": max(x["p99"] for x in step_chunks),
                       "max": max(x["max"] for x in step_chunks), "read": r, "mem": mem}
                steps.append(row)
                out(f"| {size / MIB:,.0f} | {writes:,} | {row['wrate']:,.0f} | "
                    f"{row['p99']:.2f} | {row['max']:.1f} | {r['rps']:,.0f} | {r['p99']:.2f} | "
                    f"{r['max']:.1f} | {mem['peak'] / MIB:,.0f} | {mem['rss'] / MIB:,.0f} | "
                    f"{mem['cache'] / MIB:,.0f} | {mem['failcnt']:,} | "
                    f"{info.get('lmkv_bulk_applies', '?')} | "
                    f"{float(info.get('lmkv_last_apply_ms', 0) or 0):,.0f} / "
                    f"{float(info.get('lmkv_last_apply_commit_ms', 0) or 0):,.0f} |", echo=True)
                step_chunks = []
                while next_step <= size:
                    next_step += step
        write_wall = time.monotonic() - started
        pauses = server.info("persistence", "stats", timeout=60.0)  # stats: lmkv_log_syncs
        final = bench(args, server, "get", args.final_reads, args.read_clients, 1)
        mem = memory_row(cg, server)
        bad, hits, sample_bad = check_readable(args, server, witnesses)
        alive = server.alive()
        in_ram = statistics.median(in_ram_rates) if in_ram_rates else float("nan")
        last = steps[-1]["wrate"] if steps else float("nan")
        worst = max((c["max"] for c in all_chunks), default=float("nan"))
        out("")
        out(f"- reached {data_bytes(server) / MIB:,.0f} MiB of data.mdb "
            f"({data_bytes(server) / cap:.1f}x the cap) with {writes:,} writes in "
            f"{write_wall:.0f} s; keyspace -r {args.keys:,}")
        out(f"- in-RAM write rate (median chunk while data.mdb < cap): {in_ram:,.0f} ops/s; "
            f"last step: {last:,.0f} ops/s ({last / in_ram:.0%} of it); worst chunk max "
            f"latency {worst:.1f} ms")
        # Where writers paused (INFO lmkv_*; absent on older servers).
        # The mean only under always: the lax modes' syncs (lmkv-logsync) are counted, not timed.
        syncs = float(pauses.get("lmkv_log_syncs", 0) or 0) if args.fsync == "always" else 0
        mean_sync = float(pauses.get("lmkv_log_sync_ms", 0) or 0) / syncs if syncs else float("nan")
        out(f"- writer pauses: log writes slowest {pauses.get('lmkv_log_write_max_ms', '?')} ms, "
            f"{pauses.get('lmkv_slow_log_writes', '?')} over 100 ms; log fdatasync mean "
            f"{mean_sync:.2f} ms, slowest {pauses.get('lmkv_log_sync_max_ms', '?')} ms, "
            f"{pauses.get('lmkv_slow_log_syncs', '?')} over 100 ms; throttle waits at "
            f"max-unapplied-bytes {pauses.get('lmkv_throttle_waits', '?')} (longest "
            f"{pauses.get('lmkv_throttle_wait_max_ms', '?')} ms); slowdowns "
            f"{pauses.get('lmkv_slowdowns', '?')}")
        out(f"- final random GETs: {final['rps']:,.0f} ops/s, p99 {final['p99']:.2f} ms, max "
            f"{final['max']:.1f} ms ({args.final_reads:,} GETs, -c {args.read_clients})")
        out(f"- memory: cgroup peak {mem['peak'] / MIB:,.0f} MiB of {args.cap_mib} MiB; now rss "
            f"{mem['rss'] / MIB:,.0f} MiB, cache {mem['cache'] / MIB:,.0f} MiB (mapped "
            f"{mem['mapped'] / MIB:,.0f}); server VmRSS {mem['vmrss'] / MIB:,.0f} MiB (anon "
            f"{mem['anon'] / MIB:,.0f}); failcnt {mem['failcnt']:,}; oom_kill {mem['oom_kill']}")
        out(f"- readable: {witnesses - len(bad):,}/{witnesses:,} witness keys exact; sample of "
            f"{args.sample:,} benchmark keys: {hits:,} present with the right value, "
            f"{len(sample_bad)} wrong; server alive: {alive}")
        for k, v in (bad + sample_bad)[:10]:
            out(f"  - BAD {k}: {v}")
        ok = alive and not bad and not sample_bad and mem["oom_kill"] == 0 and hits > 0
        goal_ok = (last >= in_ram / 2) and worst <= 100.0
        if args.goal:
            out(f"- goal (last step >= half the in-RAM rate, no pause > 100 ms): "
                f"{'met' if goal_ok else 'NOT met'}")
            ok = ok and goal_ok
        summary = {"ok": ok, "oom_kill": mem["oom_kill"], "witnesses": witnesses,
                   "witness_bad": len(bad), "sample_hits": hits, "sample_bad": len(sample_bad),
                   "alive": alive, "in_ram": in_ram, "last": last, "worst_max_ms": worst,
                   "data_bytes": data_bytes(server), "peak": mem["peak"]}
        return ok, summary
    finally:
        if server is not None:
            server.close(keep=args.keep, timeout=120.0)
        cg.remove()


def main(argv=None):
    args = parse_args(argv)
    reason = cgroup_available()
    if reason:
        sys.exit(f"cannot cap memory: {reason}")
    if not os.path.exists(args.binary):
        sys.exit(f"no lmkv-server at {args.binary} (ninja -C build-release)")
    os.makedirs(args.workdir, exist_ok=True)
    lines = report_head("Larger than RAM")

    def out(line, echo=False):
        lines.append(line)
        if echo:
            log(line)

    out(f"- load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
        "(other work on the machine skews the rates)")
    out(f"- machine: {machine()}; data dir under "
        f"{args.workdir} ({fs_type(args.workdir)})")
    out(f"- cgroup v1 memory.limit_in_bytes {args.cap_mib} MiB, until data.mdb >= "
        f"{args.factor:g}x; rows every {args.step_mib} MiB of data.mdb")
    out(f"- writes: redis-benchmark -t set -r {args.keys:,} -d {args.value_size} "
        f"-c {args.clients} -P {args.pipeline} --csv, chunks of {args.chunk:,} (+{args.witnesses}"
        f" witness SETs each); GET probes: -t get -r {args.keys:,} -c {args.read_clients} "
        f"-n {args.read_ops:,}")
    out(f"- lmkv --fsync {args.fsync}{' --threads ' + str(args.threads) if args.threads else ''}"
        f"{' ' + args.lmkv_args if args.lmkv_args else ''}")
    out("- write ops/s: the step's writes / their chunks' wall time; p99/max: worst chunk's "
        "(redis-benchmark CSV, per pipeline); cg peak: memory.max_usage_in_bytes; rss/cache: "
        "memory.stat")
    out("")
    ok, _ = run(args, out)
    out(f"- load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    write_report(lines, args.out)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
