#!/usr/bin/python3
"""Restart time after a crash: how long lmkv-server (and optionally redis-server) takes from
process start to serving the first real value, with a dataset of --keys keys on disk.

Steps per server:
  1. A fresh data dir (on a real disk, under --workdir) and a fresh server.
  2. A fast loader fills it: distinct keys "key:%010d" (0..KEYS-1), values of --value-size
     random printable bytes (--compressible: a repetitive filler), in pipelined MSET
     commands of --batch keys over one raw socket with --window commands in flight.
  3. --trials times: --writers client threads send random SETs over the same keys (pipelined
     --write-depth deep) for --load-seconds, the server is killed with SIGKILL by PID during
     that load, and a new server is started on the same dir. The time from Popen to the first
     GET that returns a value (an error such as -LOADING or a refused connection does not
     count; polled with ~1 ms sleeps) is the restart time. With --drain (lmkv), each trial
     first waits until lmkv_unapplied_bytes is 0, so the kill sees only the write load's own
     backlog, not what is left of the loader's. With --kill-at-unapplied BYTES (lmkv), the kill
     comes once lmkv_unapplied_bytes reaches BYTES instead (the worst case is a backlog at
     max-unapplied-bytes, which random kill moments seldom hit).

Servers (rows of the table):
  lmkv        --fsync <--fsync>: replays the unapplied log tail on start (lmkv_recovery_ms)
  redis-rdb   --save '' --appendonly no; dump.rdb written by SAVE after the load. Writes made
              after SAVE are lost on kill -9; only the load time of the RDB is measured.
  redis-aof   --save '' --appendonly yes --appendfsync everysec --aof-use-rdb-preamble no
              --auto-aof-rewrite-percentage 0: the AOF holds the plain commands that were sent
              (the loader's MSETs plus the write load), replayed on start.

Prints per-trial lines on stderr and a markdown table on stdout: server, keys, bytes on disk
(allocated blocks of the data dir after loading and at the last kill), median/max time to
first GET, and the server's own load time (lmkv_recovery_ms; redis's "DB loaded from ..." log
line).

Example: tools/restart-time.py --keys 1000000 --compare-redis
Every step has a timeout; servers are killed by PID; temp dirs are removed unless --keep.
Loopback only.
"""

import os
import random
import re
import socket
import statistics
import sys
import threading
import time

from benchlib import (BENCH_TMP, LOOPBACK, RawConn, Server, arg_parser, disk_usage,
                      encode_command, fs_type, human, log, machine, report_head, write_report)


def parse_args():
    p = arg_parser(__doc__, redis="--redis", keys=1000000, value_size=100)
    p.add_argument("--trials", type=int, default=3)
    p.add_argument("--compare-redis", action="store_true", help="also redis RDB and AOF rows")
    p.add_argument("--redis-modes", default="rdb,aof", help="with --compare-redis: rdb,aof")
    p.add_argument("--no-lmkv", action="store_true", help="skip lmkv (redis rows only)")
    p.add_argument("--fsync", default="always",
                   help="lmkv --fsync (always|everysec|no); default: the server's default")
    p.add_argument("--threads", type=int, default=0, help="lmkv --threads (0: its default)")
    p.add_argument("--lmkv-args", default="", help="extra lmkv-server arguments (split on spaces)")
    p.add_argument("--compressible", action="store_true",
                   help="repetitive values (default: random printable bytes, incompressible)")
    p.add_argument("--batch", type=int, default=100, help="keys per MSET while loading")
    p.add_argument("--window", type=int, default=256, help="MSETs in flight while loading")
    p.add_argument("--writers", type=int, default=3, help="write-load client threads")
    p.add_argument("--write-depth", type=int, default=16, help="pipelined SETs per writer")
    p.add_argument("--load-seconds", type=float, default=3.0,
                   help="write load before each kill -9")
    p.add_argument("--load-timeout", type=float, default=1800.0, help="seconds for the loader")
    p.add_argument("--restart-timeout", type=float, default=900.0,
                   help="seconds a restart may take before the trial fails")
    p.add_argument("--workdir", default=BENCH_TMP,
                   help="parent of the temp data dirs; a real disk, not tmpfs")
    p.add_argument("--drain", action="store_true",
                   help="lmkv: before the trials (and between them), wait until "
                   "lmkv_unapplied_bytes is 0, so the kill sees only the write load's backlog "
                   "(default: the loader's backlog may still be unapplied)")
    p.add_argument("--kill-at-unapplied", type=int, default=0, metavar="BYTES",
                   help="lmkv: kill once INFO's lmkv_unapplied_bytes reaches BYTES (polled "
                   "every ~5 ms; the worst case is the bound, max-unapplied-bytes), or after "
                   "--load-seconds if it never does")
    p.add_argument("--thread-stats", action="store_true",
                   help="lmkv: after each first GET, log every thread's CPU time, run-queue "
                   "wait and page faults so far (/proc/PID/task/*/schedstat, stat): who "
                   "competed for the cores during the restart")
    p.add_argument("--keep", action="store_true", help="keep the temp dirs")
    p.add_argument("--out", help="also write the markdown report to this file")
    args = p.parse_args()
    # The servers run with cwd = their data dir: relative paths would not resolve there.
    args.binary = os.path.abspath(args.binary) if os.sep in args.binary else args.binary
    args.workdir = os.path.abspath(args.workdir)
    return args


def dir_bytes(path):
    """(allocated, apparent) bytes of the regular files under path."""
    return disk_usage(path)[::-1]


def thread_stats(pid):
    """One line per thread of pid, busiest first: CPU time, run-queue wait, time slices and
    minor faults since it started (schedstat needs CONFIG_SCHEDSTATS; absent rows are
    skipped)."""
    rows = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    for tid in tids:
        base = f"/proc/{pid}/task/{tid}"
        try:
            with open(f"{base}/schedstat") as f:
                run_ns, wait_ns, slices = (int(x) for x in f.read().split())
            with open(f"{base}/comm") as f:
                comm = f.read().strip()
            with open(f"{base}/stat") as f:
                minflt = int(f.read().rsplit(")", 1)[1].split()[7])
        except (OSError, ValueError, IndexError):
            continue
        rows.append((run_ns, int(tid), comm, wait_ns, slices, minflt))
    rows.sort(reverse=True)
    return [f"{'main' if tid == pid else tid} {comm}: ran {run / 1e6:.1f} ms, waited "
            f"{wait / 1e6:.1f} ms to run, {slices} slices, {minflt} minor faults"
            for run, tid, comm, wait, slices, minflt in rows if run > 0]


def wait_first_get(server, key, t0, timeout):
    """Polls connect + GET key until a bulk value comes back. Returns seconds since t0.
    Refused connections and error replies (-LOADING) are retried after ~1 ms."""
    request = encode_command("GET", key)
    deadline = t0 + timeout
    sock = None
    buf = b""
    try:
        while time.monotonic() < deadline:
            if not server.alive():
                raise RuntimeError(f"{server.kind} exited during restart\n{server.log_tail()}")
            if sock is None:
                try:
                    sock = socket.create_connection((LOOPBACK, server.port), timeout=1.0)
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                except OSError:
                    sock = None
                    time.sleep(0.001)
                    continue
            try:
                sock.sendall(request)
                buf = b""
                while True:  # one reply; a server busy recovering may answer late
                    if time.monotonic() > deadline:
                        raise TimeoutError
                    sock.settimeout(max(0.01, min(1.0, deadline - time.monotonic())))
                    try:
                        chunk = sock.recv(65536)
                    except socket.timeout:
                        if not server.alive():
                            raise ConnectionError("server died")
                        continue
                    if not chunk:
                        raise ConnectionError("closed")
                    buf += chunk
                    if buf.startswith(b"$"):
                        nl = buf.find(b"\r\n")
                        if nl > 0 and len(buf) >= nl + 2 + max(0, int(buf[1:nl])) + 2:
                            break
                    elif b"\r\n" in buf:
                        break
            except (OSError, ConnectionError):
                sock.close()
                sock = None
                time.sleep(0.001)
                continue
            if buf.startswith(b"$") and not buf.startswith(b"$-1"):
                return time.monotonic() - t0
            time.sleep(0.001)  # -LOADING, nil (should not happen) or another error: retry
        raise TimeoutError(f"{server.kind}: no value for GET {key} within {timeout}s "
                           f"(last reply {buf[:60]!r})\n{server.log_tail()}")
    finally:
        if sock is not None:
            sock.close()


# ---------------------------------------------------------------------------------------------
# Loader and write load
# ---------------------------------------------------------------------------------------------

POOL_BYTES = 1 << 20
ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def random_pool(size, seed):
    """POOL_BYTES + size random printable bytes: values are slices of it, so they do not
    compress (a store or RDB that compresses gets no free win from a repetitive filler)."""
    rng = random.Random(seed)
    return bytes(rng.choice(ALPHABET) for _ in range(POOL_BYTES + size))


def pair_encoder(size, compressible):
    """A function (first, last) -> RESP bytes of the MSET pairs for keys first..last-1. A value
    starts with the key's index (when size >= 10) so every value is distinct."""
    head = b"$14\r\nkey:%010d\r\n$" + str(size).encode() + b"\r\n"
    if size >= 10:
        prefix, rest = b"%010d", size - 10
    else:
        prefix, rest = b"", size
    if compressible:
        tmpl = head + prefix + b"v" * rest + b"\r\n"
        if prefix:
            return lambda lo, hi: b"".join([tmpl % (k, k) for k in range(lo, hi)])
        return lambda lo, hi: b"".join([tmpl % k for k in range(lo, hi)])
    pool = random_pool(rest, 1)
    tmpl = head + prefix + b"%b\r\n"
    if prefix:
        return lambda lo, hi: b"".join(
            [tmpl % (k, k, pool[(o := (k * 7919) % POOL_BYTES):o + rest])
             for k in range(lo, hi)])
    return lambda lo, hi: b"".join(
        [tmpl % (k, pool[(o := (k * 7919) % POOL_BYTES):o + rest]) for k in range(lo, hi)])


def load_dataset(port, keys, value_size, compressible, batch, window, timeout):
    """Fills keys 0..keys-1 with pipelined MSETs; returns seconds taken. Every reply must be
    +OK."""
    encode_pairs = pair_encoder(value_size, compressible)
    t0 = time.monotonic()
    deadline = t0 + timeout
    sock = socket.create_connection((LOOPBACK, port), timeout=60.0)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    in_flight = 0
    pending = b""  # partial reply bytes
    sent_batches = 0
    total_batches = (keys + batch - 1) // batch
    send_group = max(1, min(32, window // 4))
    next_report = t0 + 10

    def read_some():
        nonlocal in_flight, pending
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection while loading")
        pending += chunk
        n = pending.count(b"\r\n")
        complete = pending[:pending.rfind(b"\r\n") + 2] if n else b""
        if complete != b"+OK\r\n" * n:
            raise RuntimeError(f"unexpected reply while loading: {complete[:200]!r}")
        pending = pending[len(complete):]
        in_flight -= n

    try:
        i = 0
        while sent_batches < total_batches:
            if time.monotonic() > deadline:
                raise TimeoutError(f"loading took over {timeout}s")
            parts = []
            for _ in range(min(send_group, total_batches - sent_batches)):
                hi = min(keys, i + batch)
                n = hi - i
                parts.append(b"*%d\r\n$4\r\nMSET\r\n" % (1 + 2 * n) + encode_pairs(i, hi))
                i = hi
                sent_batches += 1
            sock.sendall(b"".join(parts))
            in_flight += len(parts)
            while in_flight > window - send_group:
                read_some()
            now = time.monotonic()
            if now > next_report:
                log(f"  loaded {i:,}/{keys:,} keys ({i / (now - t0):,.0f} keys/s)")
                next_report = now + 10
        while in_flight > 0:
            if time.monotonic() > deadline:
                raise TimeoutError(f"loading took over {timeout}s")
            read_some()
    finally:
        sock.close()
    return time.monotonic() - t0


class Writer(threading.Thread):
    """Random SETs over the dataset's keys, pipelined, until stopped or the server dies."""

    def __init__(self, port, keys, value_size, depth, seed, stop):
        super().__init__(daemon=True)
        self.port, self.keys, self.depth, self.stop = port, keys, depth, stop
        self.rng = random.Random(seed)
        self.seed = seed
        pool = random_pool(0, seed + 2)[:64 * value_size]
        self.values = [pool[i * value_size:(i + 1) * value_size] for i in range(64)]
        self.acked = 0

    def run(self):
        try:
            conn = RawConn(LOOPBACK, self.port, timeout=10.0)
        except OSError:
            return
        try:
            for _ in range(100_000_000):  # bounded; the stop event ends it long before
                if self.stop.is_set():
                    break
                payload = b"".join(
                    encode_command("SET", b"key:%010d" % self.rng.randrange(self.keys),
                                   self.rng.choice(self.values)) for _ in range(self.depth))
                conn.send(payload)
                for _ in range(self.depth):
                    if conn.read_exactly_reply(timeout=10.0) != b"+OK\r\n":
                        return
                    self.acked += 1
        except (OSError, ConnectionError, TimeoutError):
            pass  # killed under our feet: expected
        finally:
            conn.close()


# ---------------------------------------------------------------------------------------------
# One server kind, end to end
# ---------------------------------------------------------------------------------------------

REDIS_LOAD_RE = re.compile(rb"DB loaded from (?:disk|append only file|base file [^:]*|"
                           rb"incr file [^:]*): ([0-9.]+) seconds")


def redis_load_seconds(logpath, start_marker):
    """Sum of the 'DB loaded from ...: N seconds' lines after the last start marker."""
    try:
        with open(logpath, "rb") as f:
            text = f.read()
    except OSError:
        return None
    text = text[text.rfind(start_marker):]
    found = REDIS_LOAD_RE.findall(text)
    if not found:
        return None
    # Redis 7 logs per-file lines plus a total "DB loaded from append only file"; prefer the
    # total when present.
    total = re.findall(rb"DB loaded from (?:disk|append only file): ([0-9.]+) seconds", text)
    return float(total[-1]) if total else sum(float(x) for x in found)


def wait_backlog(server, target, seconds):
    """Polls INFO until lmkv_unapplied_bytes >= target or `seconds` pass; the last INFO."""
    deadline = time.monotonic() + seconds
    info = {}
    while time.monotonic() < deadline:
        try:
            info = server.info(timeout=5.0)
        except (OSError, ConnectionError, TimeoutError):
            pass
        if int(info.get("lmkv_unapplied_bytes", 0)) >= target:
            break
        time.sleep(0.005)
    return info


def run_kind(args, kind):
    """Loads the dataset into a fresh server of this kind, then runs the trials. Returns a
    result dict for the table."""
    prefix = f"restart-{kind}-"
    if kind == "lmkv":
        threads = ["--threads", str(args.threads)] if args.threads else []
        server = Server.in_temp_dir(kind, args.binary, prefix, args.workdir, fsync=args.fsync,
                                    extra=threads + args.lmkv_args.split())
    else:
        mode = ["--appendonly", "no"] if kind == "redis-rdb" else [
            "--appendonly", "yes", "--appendfsync", "everysec", "--aof-use-rdb-preamble", "no",
            "--auto-aof-rewrite-percentage", "0"]
        server = Server.in_temp_dir(kind, args.redis, prefix, args.workdir, extra=[
            "--protected-mode", "no"] + mode + ["--dbfilename", "dump.rdb"])
    tmp, datadir, logpath = server.tmp, server.datadir, server.logpath
    server.cwd = datadir
    result = {"kind": kind, "times": [], "server_ms": [], "notes": [], "tmp": tmp}
    probe_key = "key:%010d" % (args.keys - 1)
    try:
        server.start(timeout=30.0, interval=0.01)
        log(f"{kind}: loading {args.keys:,} keys of {args.value_size} B into {datadir}")
        secs = load_dataset(server.port, args.keys, args.value_size, args.compressible,
                            args.batch, args.window, args.load_timeout)
        result["load_s"] = secs
        log(f"{kind}: loaded in {secs:.1f} s ({args.keys / secs:,.0f} keys/s)")
        if kind == "redis-rdb":
            t = time.monotonic()
            reply = server.command("SAVE", timeout=args.load_timeout)
            if reply != "OK":
                raise RuntimeError(f"SAVE failed: {reply!r}")
            log(f"{kind}: SAVE took {time.monotonic() - t:.1f} s")
        result["bytes_loaded"] = dir_bytes(datadir)

        for trial in range(args.trials):
            if kind == "lmkv" and args.drain:
                drain_s = server.wait_applied(args.load_timeout, interval=0.2)
                log(f"{kind}: drained the unapplied backlog in {drain_s:.1f} s")
            stop = threading.Event()
            writers = [Writer(server.port, args.keys, args.value_size, args.write_depth,
                              1000 * trial + w, stop) for w in range(args.writers)]
            for w in writers:
                w.start()
            before = {}
            if kind == "lmkv" and args.kill_at_unapplied > 0:
                before = wait_backlog(server, args.kill_at_unapplied, args.load_seconds)
            else:
                time.sleep(args.load_seconds)
                if kind == "lmkv":
                    try:
                        before = server.info(timeout=5.0)
                    except (OSError, ConnectionError, TimeoutError):
                        pass
            server.kill9()  # during the write load
            stop.set()
            for w in writers:
                w.join(30)
            acked = sum(w.acked for w in writers)
            result["bytes"] = dir_bytes(datadir)
            t0 = server.popen()
            marker = b"\n=== "
            elapsed = wait_first_get(server, probe_key, t0, args.restart_timeout)
            threads = thread_stats(server.pid) if args.thread_stats and kind == "lmkv" else []
            result["times"].append(elapsed)
            line = (f"{kind}: trial {trial + 1}/{args.trials}: {acked:,} SETs acked in "
                    f"{args.load_seconds:g} s of load, first GET after {elapsed * 1000:.1f} ms")
            if kind == "lmkv":
                info = server.info()
                ms = float(info.get("lmkv_recovery_ms", "nan"))
                result["server_ms"].append(ms)
                line += (f"; lmkv_recovery_ms {ms:.1f}, replayed_frames "
                         f"{info.get('lmkv_replayed_frames')}, unapplied bytes at kill "
                         f"{before.get('lmkv_unapplied_bytes', '?')}, bulk applies before "
                         f"kill {before.get('lmkv_bulk_applies', '?')}, data file "
                         f"{human(int(info.get('lmkv_data_file_bytes', 0)))}, log "
                         f"{human(int(info.get('lmkv_log_bytes', 0)))}")
            else:
                secs = redis_load_seconds(logpath, marker)
                if secs is not None:
                    result["server_ms"].append(secs * 1000)
                    line += f"; redis log: DB loaded in {secs * 1000:.0f} ms"
            alloc, apparent = result["bytes"]
            line += f"; on disk {human(alloc)} (apparent {human(apparent)})"
            log(line)
            for t in threads:
                log(f"    {t}")
        server.stop()
    finally:
        server.kill9()
        if not args.keep:
            server.remove()
    return result


def fmt_ms(values, fn):
    return f"{fn(values):,.0f}" if values else "-"


def main():
    args = parse_args()
    if not os.path.exists(args.binary) and not args.no_lmkv:
        sys.exit(f"no lmkv-server at {args.binary} (ninja -C build-release)")
    os.makedirs(args.workdir, exist_ok=True)
    fstype = fs_type(args.workdir)
    if fstype in ("tmpfs", "ramfs"):
        log(f"warning: {args.workdir} is on {fstype}; restart times will not include disk reads")
    kinds = [] if args.no_lmkv else ["lmkv"]
    if args.compare_redis:
        kinds += [f"redis-{m}" for m in args.redis_modes.split(",") if m in ("rdb", "aof")]
    started = time.monotonic()
    results = []
    for kind in kinds:
        try:
            results.append(run_kind(args, kind))
        except (RuntimeError, TimeoutError, OSError, ConnectionError) as e:
            log(f"{kind}: FAILED: {e}")
            results.append({"kind": kind, "times": [], "server_ms": [], "failed": str(e)})

    lines = report_head("Restart time after kill -9")
    out = lines.append
    out(f"- machine: {machine()}; data dirs under "
        f"{args.workdir} ({fstype})")
    out(f"- dataset: {args.keys:,} keys key:%010d, {args.value_size} B "
        f"{'repetitive' if args.compressible else 'random (incompressible)'} values, loaded with "
        f"MSET x{args.batch}, {args.window} in flight; before each kill: {args.writers} "
        f"writers x {args.write_depth} pipelined random SETs for {args.load_seconds:g} s"
        f"{'; lmkv drained to 0 unapplied bytes before each trial (--drain)' * args.drain}")
    out(f"- lmkv --fsync {args.fsync}{' --threads ' + str(args.threads) if args.threads else ''}"
        f"{' ' + args.lmkv_args if args.lmkv_args else ''}; redis-rdb: --save '' + SAVE after "
        "load (later writes lost); redis-aof: --appendfsync everysec --aof-use-rdb-preamble no "
        "--auto-aof-rewrite-percentage 0")
    out("- bytes on disk: allocated blocks of the data dir right after loading (redis-rdb: after "
        "SAVE) and at the last kill (after the write loads); lmkv: data.mdb + lock.mdb + log/")
    out("- time to first GET: Popen to the first GET returning a value (refused/-LOADING "
        "polled every ~1 ms); server load ms: lmkv_recovery_ms / redis 'DB loaded' log line")
    out(f"- total time {time.monotonic() - started:.0f} s")
    out("")
    out("| server | dataset keys | bytes on disk after load | at last kill | load (s) | trials "
        "| median time to first GET (ms) | max (ms) | server load ms (median) |")
    out("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        if r.get("failed"):
            out(f"| {r['kind']} | {args.keys:,} | - | - | - | 0 | failed | - | - |")
            continue
        loaded = r.get("bytes_loaded", (0, 0))[0]
        alloc = r.get("bytes", (0, 0))[0]
        out(f"| {r['kind']} | {args.keys:,} | {human(loaded)} | {human(alloc)} | "
            f"{r.get('load_s', 0):.1f} | "
            f"{len(r['times'])} | {fmt_ms([t * 1000 for t in r['times']], statistics.median)} | "
            f"{fmt_ms([t * 1000 for t in r['times']], max)} | "
            f"{fmt_ms(r['server_ms'], statistics.median)} |")
    failures = [r for r in results if r.get("failed")]
    for r in failures:
        out(f"\n{r['kind']} failed: {r['failed'].splitlines()[0]}")
    write_report(lines, args.out)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
