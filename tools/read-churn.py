#!/usr/bin/python3
"""Overwrite churn under slow readers: does data.mdb stop growing?

LMDB never overwrites a page a live read transaction may still see; it reuses a freed page
only once every reader that could see it has ended. A reader that keeps one snapshot open
while the writer commits makes every commit allocate fresh pages, so the file grows with the
number of writes. lmkv's read transactions are short (reset/renewed per command batch), so a
client paging slowly through the keyspace (SCAN, RANGE) must not pin anything: under
steady overwrite churn the file should plateau.

Steps:
  1. A fresh lmkv-server (its own temp --dir on a real disk, default settings unless
     --lmkv-args) and a loader: keys "key:%012d" 0..KEYS-1 (the names redis-benchmark -r
     KEYS uses), --value-size bytes each, by pipelined MSET.
  2. Churn: redis-benchmark -t set -r KEYS -d VALUE_SIZE -n WRITES (-c --clients, -P
     --pipeline), WRITES = KEYS x --overwrites-per-key (random keys, so each key is
     overwritten that many times on average). Meanwhile, for the whole churn:
       * a SCAN client: SCAN cursor COUNT --page, sleeping --think-ms between pages, restarting
         at cursor 0 after each full pass;
       * a RANGE client: RANGE ("(last" or -) + LIMIT --page, same think time, values
         included;
       * --pin-reader (counterfactual): a process of our own opens the environment with
         liblmdb (ctypes, MDB_RDONLY) and holds ONE read transaction open for the whole churn,
         which is what a reader that never resets would do. With it the file must grow.
  3. Every --interval seconds: data.mdb size (apparent and allocated), INFO persistence's
     lmkv_* fields, the write rate (lmkv_write_commands delta / interval), reader pages.

Output (stdout, markdown): the samples, then the summary: size after load, after the first
and second half of the churn (by writes), growth per 1M writes in each half and their ratio,
and the size projected for an hour of writes at the measured rate (last-half growth rate
extrapolated). The plateau verdict is "second-half growth per 1M writes <= --plateau-ratio x
first-half growth" or "size after second half <= 1.2 x size after first half".

"An hour-equivalent": an hour at the write rate measured here (~R writes/s with -P 1) is
3600 x R writes, i.e. 3600 x R / KEYS overwrites per key. What decides whether the file can
grow is whether freed pages are reused, which is visible after a few overwrites per key; the
tool runs --overwrites-per-key (default 50) and projects the hour from the last-half growth
rate (0 growth projects to the same size).

Examples:
  tools/read-churn.py --binary build-release/src/lmkv-server            # 200k keys x 50
  tools/read-churn.py --quick                                           # ~15 s
  tools/read-churn.py --quick --pin-reader                              # counterfactual
Every step is bounded in time; the server is stopped by PID; loopback only; the temp dir is
removed unless --keep.
"""

import ctypes
import ctypes.util
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # when loaded by a test

from benchlib import (BENCH_TMP, LOOPBACK, REPO, RawConn, Server, arg_parser,  # noqa: E402
                      bench_argv, decode_reply, disk_usage, fs_type, human, log, machine,
                      mset_load, report_head)

KEY_FMT = b"key:%012d"  # redis-benchmark's __rand_int__ is 12 zero-padded digits
file_sizes = disk_usage  # (apparent, allocated) of a file; the tests' name


def parse_args(argv=None):
    p = arg_parser(__doc__, bench="--benchmark", keys=200_000, value_size=100)
    p.add_argument("--overwrites-per-key", type=float, default=50.0)
    p.add_argument("--clients", type=int, default=50, help="redis-benchmark -c")
    p.add_argument("--pipeline", type=int, default=1, help="redis-benchmark -P")
    p.add_argument("--page", type=int, default=100, help="SCAN COUNT / RANGE LIMIT per page")
    p.add_argument("--think-ms", type=float, default=50.0, help="sleep between pages")
    p.add_argument("--no-scan", action="store_true", help="no SCAN client")
    p.add_argument("--no-range", action="store_true", help="no RANGE client")
    p.add_argument("--pin-reader", action="store_true",
                   help="counterfactual: hold one LMDB read transaction open during the churn")
    p.add_argument("--interval", type=float, default=5.0, help="seconds between samples")
    p.add_argument("--lmkv-args", default="", help="extra lmkv-server arguments (split on spaces)")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds the churn may take")
    p.add_argument("--plateau-ratio", type=float, default=0.25,
                   help="pass if second-half growth per 1M writes <= this x first-half growth")
    p.add_argument("--quick", action="store_true",
                   help="20k keys x 100 B, 30 overwrites/key, -P 16, 1 s samples (~15 s)")
    p.add_argument("--workdir", default=BENCH_TMP,
                   help="parent of the temp data dir; a real disk, not tmpfs")
    p.add_argument("--keep", action="store_true", help="keep the temp dir")
    p.add_argument("--out", help="also write the markdown report to this file")
    args = p.parse_args(argv)
    if args.quick:
        defaults = {"keys": 200_000, "value_size": 100, "overwrites_per_key": 50.0,
                    "pipeline": 1, "interval": 5.0, "think_ms": 50.0}
        quick = {"keys": 20_000, "value_size": 100, "overwrites_per_key": 30.0,
                 "pipeline": 16, "interval": 1.0, "think_ms": 20.0}
        for name, value in quick.items():  # only where the user kept the default
            if getattr(args, name) == defaults[name]:
                setattr(args, name, value)
    return args


# ---------------------------------------------------------------------------------------------
# Loader
# ---------------------------------------------------------------------------------------------

def load(port, keys, value_size, timeout, batch=100, window=64):
    """MSETs keys 0..keys-1 (pipelined, `window` in flight); every reply must be +OK."""
    mset_load(port, keys, b"v" * value_size, KEY_FMT, timeout, batch, window)


def lmkv_info(server):
    """INFO persistence (lmkv_* store fields) merged with INFO stats (lmkv_write_commands)."""
    return server.info("stats", "persistence", timeout=10.0)


# ---------------------------------------------------------------------------------------------
# Slow readers
# ---------------------------------------------------------------------------------------------

class SlowReader(threading.Thread):
    """Pages through the keyspace with SCAN or RANGE, sleeping think_s between pages, until
    stopped; counts pages, keys and full passes. Any error reply or failure is recorded."""

    def __init__(self, kind, port, page, think_s, stop):
        super().__init__(daemon=True)
        self.kind, self.port, self.page, self.think_s, self.stop = kind, port, page, think_s, stop
        self.pages = self.keys = self.passes = 0
        self.error = None

    def run(self):
        try:
            conn = RawConn(LOOPBACK, self.port, timeout=30.0)
        except OSError as e:
            self.error = str(e)
            return
        try:
            cursor = b"0"
            last = None
            for _ in range(100_000_000):  # bounded; stop ends it long before
                if self.stop.is_set():
                    break
                if self.kind == "scan":
                    reply = decode_reply(conn.command("SCAN", cursor, "COUNT", str(self.page)))
                    if not isinstance(reply, list):
                        self.error = f"SCAN: {reply!r}"
                        return
                    cursor, found = reply[0], reply[1]
                    self.keys += len(found)
                    if cursor == b"0":
                        self.passes += 1
                else:
                    low = b"-" if last is None else b"(" + last
                    reply = decode_reply(conn.command("RANGE", low, "+", "LIMIT",
                                                      str(self.page)))
                    if not isinstance(reply, list):
                        self.error = f"RANGE: {reply!r}"
                        return
                    self.keys += len(reply) // 2
                    if len(reply) < 2 * self.page:
                        last = None
                        self.passes += 1
                    else:
                        last = reply[-2]
                self.pages += 1
                self.stop.wait(self.think_s)
        except (OSError, ConnectionError, TimeoutError) as e:
            if not self.stop.is_set():
                self.error = f"{type(e).__name__}: {e}"
        finally:
            conn.close()


class PinnedReader:
    """The counterfactual: one read transaction on the server's environment, opened through
    liblmdb from this process and held until release(). LMDB then cannot reuse any page freed
    after it began."""

    MDB_RDONLY = 0x20000

    def __init__(self, datadir):
        path = ctypes.util.find_library("lmdb")
        if not path:
            raise RuntimeError("--pin-reader needs liblmdb.so")
        lib = ctypes.CDLL(path)
        lib.mdb_strerror.restype = ctypes.c_char_p
        self.lib = lib
        self.env = ctypes.c_void_p()
        self.txn = ctypes.c_void_p()
        self._check(lib.mdb_env_create(ctypes.byref(self.env)), "env_create")
        self._check(lib.mdb_env_set_maxdbs(self.env, ctypes.c_uint(64)), "set_maxdbs")
        self._check(lib.mdb_env_open(self.env, datadir.encode(), ctypes.c_uint(self.MDB_RDONLY),
                                     ctypes.c_int(0o644)), "env_open")
        self._check(lib.mdb_txn_begin(self.env, None, ctypes.c_uint(self.MDB_RDONLY),
                                      ctypes.byref(self.txn)), "txn_begin")
        lib.mdb_txn_id.restype = ctypes.c_size_t
        self.txn_id = lib.mdb_txn_id(self.txn)

    def _check(self, rc, what):
        if rc:
            raise RuntimeError(f"liblmdb {what}: {self.lib.mdb_strerror(rc).decode()}")

    def release(self):
        if self.txn:
            self.lib.mdb_txn_abort(self.txn)
            self.txn = ctypes.c_void_p()
        if self.env:
            self.lib.mdb_env_close(self.env)
            self.env = ctypes.c_void_p()


# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------

def run(args):
    """Returns a result dict: samples, sizes at load/half/end, writes, readers, verdict."""
    os.makedirs(args.workdir, exist_ok=True)
    server = Server.in_temp_dir("lmkv", args.binary, "read-churn-", args.workdir,
                                extra=args.lmkv_args.split())
    tmp, datadir = server.tmp, server.datadir
    mdb = os.path.join(datadir, "data.mdb")
    writes = int(args.keys * args.overwrites_per_key)
    res = {"tmp": tmp, "writes": writes, "samples": [], "fs": fs_type(args.workdir)}
    stop = threading.Event()
    readers, pinned, bench = [], None, None
    try:
        server.start()
        t = time.monotonic()
        load(server.port, args.keys, args.value_size, timeout=args.timeout)
        res["load_s"] = time.monotonic() - t
        # The loaded data reaches data.mdb by bulk applies (a non-empty buffer is frozen after
        # at most buffer-max-age): wait, so "after load" is the size of the whole dataset.
        res["drain_s"] = server.wait_applied(timeout=120.0)
        info = lmkv_info(server)
        base_writes = int(info.get("lmkv_write_commands", 0))
        res["size_loaded"] = file_sizes(mdb)
        log(f"loaded {args.keys:,} keys in {res['load_s']:.1f} s; data.mdb "
            f"{human(res['size_loaded'][0])}")

        if args.pin_reader:
            pinned = PinnedReader(datadir)
            log(f"pinned a read transaction at txn id {pinned.txn_id}")
        think = args.think_ms / 1000.0
        if not args.no_scan:
            readers.append(SlowReader("scan", server.port, args.page, think, stop))
        if not args.no_range:
            readers.append(SlowReader("range", server.port, args.page, think, stop))
        for r in readers:
            r.start()
        cmd = bench_argv(args.benchmark, server.port, tests="set", keys=args.keys,
                         size=args.value_size, n=writes, clients=args.clients,
                         pipeline=args.pipeline, extra=["-q"])
        res["bench_cmd"] = " ".join(cmd[:3] + ["-p", "PORT"] + cmd[5:])
        # To a file, not a pipe: redis-benchmark prints progress all along and would block on
        # a full pipe nobody reads until the end.
        bench_log = open(os.path.join(tmp, "redis-benchmark.out"), "w+b")
        bench = subprocess.Popen(cmd, stdout=bench_log, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL)
        t0 = time.monotonic()
        deadline = t0 + args.timeout
        prev_t, prev_w = t0, 0
        half_done = False
        for _ in range(10_000_000):  # bounded by the deadline
            finished = bench.poll() is not None
            if not finished:
                stop.wait(min(args.interval, max(0.0, deadline - time.monotonic())))
                finished = bench.poll() is not None
            now = time.monotonic()
            info = lmkv_info(server)
            w = int(info.get("lmkv_write_commands", 0)) - base_writes
            size = file_sizes(mdb)
            sample = {"t": now - t0, "writes": w, "rate": (w - prev_w) / max(1e-6, now - prev_t),
                      "size": size[0], "alloc": size[1],
                      "unapplied": int(info.get("lmkv_unapplied_bytes", 0)),
                      "applies": int(info.get("lmkv_bulk_applies", 0)),
                      "scan_pages": sum(r.pages for r in readers if r.kind == "scan"),
                      "range_pages": sum(r.pages for r in readers if r.kind == "range")}
            res["samples"].append(sample)
            log(f"t={sample['t']:6.1f}s writes {w:>11,} ({sample['rate']:>9,.0f}/s) data.mdb "
                f"{human(size[0])} alloc {human(size[1])} applies {sample['applies']} "
                f"scan pages {sample['scan_pages']} range pages {sample['range_pages']}")
            if not half_done and w >= writes // 2:
                half_done = True
                res["half"] = sample
            prev_t, prev_w = now, w
            if finished:
                break
            if now > deadline:
                raise TimeoutError(f"churn did not finish within {args.timeout}s")
            if not server.alive():
                raise RuntimeError(f"lmkv-server died\n{server.log_tail()}")
        bench.wait(30)
        bench_log.seek(0)
        out = bench_log.read().decode("utf-8", "replace").replace("\r", "\n")
        bench_log.close()
        res["bench_out"] = out.strip().splitlines()[-1].strip() if out.strip() else ""
        if bench.returncode != 0:
            raise RuntimeError(f"redis-benchmark exited {bench.returncode}: {out[-500:]}")
        res["churn_s"] = time.monotonic() - t0
        stop.set()
        for r in readers:
            r.join(60)
        # The last writes may still sit in the write buffer; let them reach LMDB so the end
        # size counts them (bounded wait on lmkv_unapplied_bytes).
        server.wait_applied(timeout=120.0)
        info = lmkv_info(server)
        res["end"] = {"writes": int(info.get("lmkv_write_commands", 0)) - base_writes,
                      "size": file_sizes(mdb)[0], "alloc": file_sizes(mdb)[1],
                      "applies": int(info.get("lmkv_bulk_applies", 0))}
        res["readers"] = [(r.kind, r.pages, r.keys, r.passes, r.error) for r in readers]
        if "half" not in res:
            res["half"] = res["samples"][len(res["samples"]) // 2]
        res["dbsize"] = server.command("DBSIZE", timeout=10.0)
    finally:
        stop.set()
        if bench is not None and bench.poll() is None:
            bench.kill()
            bench.wait(10)
        if pinned is not None:
            pinned.release()
        server.close(keep=args.keep)
    return summarize(args, res)


def summarize(args, res):
    loaded = res["size_loaded"][0]
    half, end = res["half"], res["end"]
    first_w = max(1, half["writes"])
    second_w = max(1, end["writes"] - half["writes"])
    g1 = (half["size"] - loaded) / first_w * 1e6
    g2 = (end["size"] - half["size"]) / second_w * 1e6
    rates = [s["rate"] for s in res["samples"][1:-1]] or [s["rate"] for s in res["samples"]]
    rate = sorted(rates)[len(rates) // 2] if rates else 0.0
    hour_writes = 3600.0 * rate
    projected = end["size"] + max(0.0, g2) * max(0.0, hour_writes - end["writes"]) / 1e6
    res.update(g1=g1, g2=g2, rate=rate, hour_writes=hour_writes, projected=projected,
               size_ratio=end["size"] / max(1, half["size"]))
    res["plateau"] = (g2 <= args.plateau_ratio * max(g1, 0.0)) or res["size_ratio"] <= 1.2
    res["reader_errors"] = [f"{k}: {e}" for k, _p, _n, _s, e in res["readers"] if e]
    return res


def report(args, res, argv):
    lines = report_head("Read churn: file size under overwrite churn with slow readers",
                        script="tools/read-churn.py", argv=argv)
    out = lines.append
    out(f"- machine: {machine()}; data dir on {res['fs']}")
    out(f"- dataset: {args.keys:,} keys key:%012d x {args.value_size} B, loaded in "
        f"{res['load_s']:.1f} s (+{res['drain_s']:.1f} s until all applied); lmkv args: "
        f"`{args.lmkv_args or '(defaults)'}`")
    out(f"- churn: `{res['bench_cmd']}` = {res['writes']:,} SETs = "
        f"{args.overwrites_per_key:g} overwrites per key, {res['churn_s']:.1f} s "
        f"({res.get('bench_out', '')})")
    rd = ", ".join(f"{k}: {p:,} pages / {n:,} keys / {s} full passes" for k, p, n, s, _e in
                   res["readers"]) or "none"
    pin = "; PLUS one LMDB read transaction held open all along (--pin-reader)"
    out(f"- slow readers (page {args.page}, think {args.think_ms:g} ms): {rd}"
        f"{pin if args.pin_reader else ''}")
    out(f"- DBSIZE at end: {res['dbsize']}")
    out("")
    out("| t (s) | writes | writes/s | data.mdb | allocated | unapplied | bulk applies "
        "| SCAN pages | RANGE pages |")
    out("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for s in res["samples"]:
        out(f"| {s['t']:.1f} | {s['writes']:,} | {s['rate']:,.0f} | {human(s['size'])} | "
            f"{human(s['alloc'])} | {human(s['unapplied'])} | {s['applies']:,} | "
            f"{s['scan_pages']:,} | {s['range_pages']:,} |")
    out("")
    half, end = res["half"], res["end"]
    out("| after load | after first half (writes) | after second half (writes) | growth per 1M "
        "writes, first half | second half | end/half size | median writes/s | projected "
        "after 1 h at that rate | plateau |")
    out("|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    out(f"| {human(res['size_loaded'][0])} | {human(half['size'])} ({half['writes']:,}) | "
        f"{human(end['size'])} ({end['writes']:,}) | {human(res['g1'])} | {human(res['g2'])} | "
        f"{res['size_ratio']:.2f} | {res['rate']:,.0f} | {human(res['projected'])} "
        f"({res['hour_writes'] / args.keys:,.0f} overwrites/key) | "
        f"{'yes' if res['plateau'] else 'NO'} |")
    for e in res["reader_errors"]:
        out(f"\nreader error: {e}")
    return "\n".join(lines) + "\n"


def main():
    argv = sys.argv[1:]
    args = parse_args(argv)
    if not os.path.exists(args.binary):
        sys.exit(f"no lmkv-server at {args.binary}")
    if fs_type(args.workdir if os.path.exists(args.workdir) else REPO) in ("tmpfs", "ramfs"):
        log("warning: the work dir is on tmpfs")
    res = run(args)
    text = report(args, res, argv)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    sys.exit(0 if res["plateau"] and not res["reader_errors"] else 1)


if __name__ == "__main__":
    main()
