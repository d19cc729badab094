"""Pieces shared by the measurement tools (bench-vs-redis.py, expiry-cost.py, footprint.py,
read-churn.py, restart-time.py, sustained-writes.py): one Server class that starts lmkv-server
or redis-server on 127.0.0.1 over a data dir and stops or kills it by its PID; redis-benchmark
command lines, runs and CSV figures; pipelined loading; report headers; sizes on disk; Redis's
flags per durability mode; progress logging and the file system a data dir is on (fsync means
little on tmpfs).

Knows nothing of any one tool's scenario. Called from the tool's main thread (Server.info,
ping and the RawConn helpers may be called from other threads too: each opens its own
connection). Loopback only; every wait has a timeout.
"""
import argparse
import csv
import datetime
import io
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

from helpers import (RawConn, decode_reply, encode_command, free_port,  # noqa: E402,F401
                     info_fields)

LOOPBACK = "127.0.0.1"
MIB = 1024 * 1024
CLK_TCK = os.sysconf("SC_CLK_TCK")

# Defaults the tools' command lines share.
LMKV_RELEASE = os.path.join(REPO, "build-release", "src", "lmkv-server")
BENCH_TMP = os.path.join(REPO, "build-release", "bench-tmp")
REDIS_SERVER = shutil.which("redis-server") or "redis-server"
REDIS_BENCHMARK = shutil.which("redis-benchmark") or "redis-benchmark"

# redis-server flags matching lmkv's --fsync modes.
REDIS_MODE_ARGS = {
    "always": ["--appendonly", "yes", "--appendfsync", "always"],
    "everysec": ["--appendonly", "yes", "--appendfsync", "everysec"],
    "no": ["--appendonly", "no"],
}


def redis_mode_args(fsync):
    return REDIS_MODE_ARGS.get(fsync) or ["--appendonly", "yes", "--appendfsync", fsync]


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def fs_type(path):
    try:
        out = subprocess.run(["stat", "-f", "-c", "%T", path], capture_output=True, text=True,
                             timeout=10)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


# ---------------------------------------------------------------------------------------------
# Command lines and reports
# ---------------------------------------------------------------------------------------------

def arg_parser(doc, lmkv="--binary", redis=None, bench=None, keys=None, value_size=None):
    """A parser whose description is the docstring's first line and epilog the rest, with the
    options the tools share under the names given (None: not added): the lmkv-server binary
    (build-release's), redis-server, redis-benchmark, and --keys / --value-size defaults."""
    p = argparse.ArgumentParser(description=doc.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=doc.split("\n", 2)[2])
    if lmkv:
        p.add_argument(lmkv, default=LMKV_RELEASE, help="lmkv-server binary")
    if redis:
        p.add_argument(redis, default=REDIS_SERVER, help="redis-server binary")
    if bench:
        p.add_argument(bench, default=REDIS_BENCHMARK, help="redis-benchmark binary")
    if keys is not None:
        p.add_argument("--keys", type=int, default=keys, help="keys (redis-benchmark -r)")
    if value_size is not None:
        p.add_argument("--value-size", type=int, default=value_size,
                       help="value bytes (redis-benchmark -d)")
    return p


def command_line(script=None, argv=None):
    """The tool's command line as run, its path relative to the repository."""
    script = script or os.path.relpath(sys.argv[0], REPO)
    return " ".join([script] + list(sys.argv[1:] if argv is None else argv))


def report_head(title, script=None, argv=None):
    """The first lines of a markdown report: heading with the time, blank, command."""
    return [f"## {title}, {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}", "",
            f"- command: `{command_line(script, argv)}`"]


def machine():
    return f"{os.cpu_count()} cores, Linux {platform.release()}"


def write_report(lines, out_path, mode="w", trailer=""):
    """Prints the report and, with out_path, writes it there too."""
    report = "\n".join(lines) + "\n"
    print(report)
    if out_path:
        with open(out_path, mode) as f:
            f.write(report + trailer)
    return report


def human(n):
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024.0
    return str(n)


def disk_usage(path):
    """(apparent, allocated) bytes of a file, or of the regular files under a dir; (0, 0)
    when missing."""
    try:
        st = os.lstat(path)
    except OSError:
        return 0, 0
    if not os.path.isdir(path):
        return st.st_size, st.st_blocks * 512
    apparent = alloc = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            apparent += st.st_size
            alloc += st.st_blocks * 512
    return apparent, alloc


# ---------------------------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------------------------

def server_argv(binary, port, datadir, redis=False, fsync=None, extra=()):
    """lmkv-server or redis-server on 127.0.0.1:port over datadir. fsync: lmkv's --fsync, or
    for Redis the matching persistence flags (REDIS_MODE_ARGS); Redis never saves RDBs."""
    argv = [binary, "--port", str(port), "--bind", LOOPBACK, "--dir", datadir]
    if redis:
        argv += ["--save", "", "--daemonize", "no"] + (redis_mode_args(fsync) if fsync else [])
    elif fsync:
        argv += ["--fsync", fsync]
    return argv + list(extra)


class Server:
    """One lmkv-server or redis-server over one data dir, on one port. start() may follow
    stop() or kill9() (a restart on the same dir and port). Signals go to the PID it started;
    every start appends a "=== time argv" line to the log, then the server's output."""

    def __init__(self, kind, binary, datadir, *, fsync=None, extra=(), logpath=None, cwd=None,
                 wrap=(), redis=None, tmp=None, preexec_fn=None, port=None):
        """kind: a label ("lmkv", "redis", "redis-aof"...); redis: whether the binary is
        redis-server (default: kind starts with "redis"); wrap: a prefix such as taskset;
        tmp: a dir of our own that remove() deletes."""
        self.kind = kind
        self.redis = kind.startswith("redis") if redis is None else redis
        # The server may run in another cwd: a relative path would not resolve there.
        binary = os.path.abspath(binary) if os.sep in binary else binary
        datadir = os.path.abspath(datadir)
        self.datadir, self.logpath, self.cwd, self.tmp = datadir, logpath, cwd, tmp
        self.preexec_fn = preexec_fn
        self.port = port or free_port()
        self.argv = list(wrap) + server_argv(binary, self.port, datadir, self.redis, fsync,
                                             extra)
        self.proc = None

    @classmethod
    def in_temp_dir(cls, kind, binary, prefix, workdir=None, **kw):
        """A server over TMP/data with its log in TMP/server.log, TMP a fresh temp dir."""
        tmp = tempfile.mkdtemp(prefix=prefix, dir=workdir)
        datadir = os.path.join(tmp, "data")
        os.makedirs(datadir)
        return cls(kind, binary, datadir, logpath=os.path.join(tmp, "server.log"), tmp=tmp,
                   **kw)

    @property
    def pid(self):
        return self.proc.pid

    def popen(self):
        """Starts the process without waiting; returns the monotonic time just before."""
        assert not self.alive()
        if self.logpath:
            out = open(self.logpath, "ab")
            out.write(f"\n=== {datetime.datetime.now()} {' '.join(self.argv)}\n".encode())
            out.flush()
        else:
            out = subprocess.DEVNULL
        try:
            t0 = time.monotonic()
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=self.cwd,
                                         preexec_fn=self.preexec_fn)
        finally:
            if self.logpath:
                out.close()  # the child holds its own descriptor
        return t0

    def start(self, timeout=30.0, interval=0.02):
        """Starts the process and waits until it answers PING; on failure kills it and raises
        RuntimeError with the log's tail. Returns the monotonic time just before Popen."""
        t0 = self.popen()
        self.wait_ready(timeout, interval)
        return t0

    def wait_ready(self, timeout=30.0, interval=0.02):
        deadline = time.monotonic() + timeout
        while not self.ping():
            if not self.alive():
                raise RuntimeError(f"{self.kind} exited at start-up ({self.proc.returncode}): "
                                   f"{' '.join(self.argv)}\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.kill9()
                raise RuntimeError(f"{self.kind} did not answer PING within {timeout:g} s: "
                                   f"{' '.join(self.argv)}\n{self.log_tail()}")
            time.sleep(interval)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def ping(self):
        try:
            return self.command("PING", timeout=1.0) == "PONG"
        except (OSError, ConnectionError, TimeoutError, ValueError):
            return False

    def conn(self, timeout=30.0):
        return RawConn(LOOPBACK, self.port, timeout=timeout)

    def command(self, *args, timeout=30.0):
        """One command on a fresh connection; the decoded reply."""
        conn = self.conn(timeout)
        try:
            conn.send(encode_command(*args))
            return decode_reply(conn.read_exactly_reply(timeout=timeout))
        finally:
            conn.close()

    def client(self, timeout=120):
        import redis
        return redis.Redis(host=LOOPBACK, port=self.port, socket_timeout=timeout)

    def info(self, *sections, timeout=30.0):
        """INFO fields {name: str}, the sections merged (default: persistence)."""
        conn = self.conn(timeout)
        try:
            fields = {}
            for section in sections or ("persistence",):
                fields.update(info_fields(conn, section))
            return fields
        finally:
            conn.close()

    def wait_applied(self, timeout, interval=0.1):
        """Polls until lmkv_unapplied_bytes is 0 (everything in LMDB); returns seconds taken."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if int(self.info().get("lmkv_unapplied_bytes", "0")) == 0:
                return time.monotonic() - t0
            time.sleep(interval)
        raise TimeoutError(f"lmkv still had unapplied bytes after {timeout}s")

    def cpu_seconds(self):
        """utime + stime of the process (all its threads), in seconds."""
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of stat

    def rss(self):
        """{"VmRSS", "RssAnon", "RssFile"} of the process, in bytes."""
        out = {}
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "RssAnon:", "RssFile:")):
                    k, v = line.split(":", 1)
                    out[k] = int(v.split()[0]) * 1024
        return out

    def kill9(self):
        if self.alive():
            os.kill(self.proc.pid, signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(30)

    def stop(self, timeout=60.0):
        """SIGTERM, then SIGKILL after timeout seconds."""
        if self.alive():
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill9()

    def remove(self):
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def close(self, keep=False, timeout=60.0):
        """stop(), then remove() unless keep."""
        try:
            self.stop(timeout)
        finally:
            if not keep:
                self.remove()

    def log_tail(self, limit=3000):
        try:
            with open(self.logpath, "rb") as f:
                return f.read()[-limit:].decode("utf-8", "replace")
        except (OSError, TypeError):
            return "(no log)"


# ---------------------------------------------------------------------------------------------
# Loading and redis-benchmark
# ---------------------------------------------------------------------------------------------

def mset_load(port, keys, value, key_fmt, timeout, batch=100, window=64):
    """MSETs key_fmt % i = value for i in 0..keys-1 over one connection, `window` commands in
    flight; every reply must be +OK."""
    deadline = time.monotonic() + timeout
    conn = RawConn(LOOPBACK, port, timeout=60.0)
    try:
        in_flight = 0
        for lo in range(0, keys, batch):
            if time.monotonic() > deadline:
                raise TimeoutError(f"loading took over {timeout}s")
            args = ["MSET"]
            for k in range(lo, min(keys, lo + batch)):
                args += [key_fmt % k, value]
            conn.send(encode_command(*args))
            in_flight += 1
            while in_flight >= window or (in_flight and lo + batch >= keys):
                if conn.read_exactly_reply(timeout=60.0) != b"+OK\r\n":
                    raise RuntimeError("MSET failed while loading")
                in_flight -= 1
    finally:
        conn.close()


def cli_pipe(port, chunks, timeout):
    """Sends the RESP bytes of `chunks` through `redis-cli --pipe`; raises RuntimeError
    unless every reply was a success."""
    deadline = time.monotonic() + timeout
    pipe = subprocess.Popen(["redis-cli", "-h", LOOPBACK, "-p", str(port), "--pipe"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        for chunk in chunks:
            if time.monotonic() > deadline:
                raise RuntimeError("redis-cli --pipe timed out")
            pipe.stdin.write(chunk)
        pipe.stdin.close()
        out = pipe.stdout.read().decode()
        rc = pipe.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if pipe.poll() is None:
            pipe.kill()
            pipe.wait()
    if rc != 0 or "errors: 0" not in out:
        raise RuntimeError("redis-cli --pipe: " + out.strip()[-300:])


def bench_argv(bench, port, *, n, keys, size, clients, pipeline, tests=None, extra=()):
    """redis-benchmark against 127.0.0.1:port: -t tests (or a command given in extra after
    the flags), -r keys, -d size, -n, -c, -P."""
    argv = [bench, "-h", LOOPBACK, "-p", str(port)]
    if tests:
        argv += ["-t", tests]
    argv += ["-r", str(keys), "-d", str(size), "-n", str(n), "-c", str(clients),
             "-P", str(pipeline)]
    return argv + list(extra)


def run_bench(argv, timeout):
    """Runs redis-benchmark (any prefix such as taskset allowed); returns (stdout, wall
    seconds). Raises RuntimeError on a timeout or a non-zero exit."""
    t0 = time.monotonic()
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                             stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"timeout after {timeout}s: {' '.join(argv)}")
    wall = time.monotonic() - t0
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    return out.stdout, wall


def parse_csv(text):
    """redis-benchmark --csv output as {test: {column: float or str}} in the tests' order."""
    rows = [r for r in csv.reader(io.StringIO(text)) if r]
    if len(rows) < 2 or rows[0][:2] != ["test", "rps"]:
        raise RuntimeError(f"unexpected redis-benchmark output:\n{text[-2000:]}")
    out = {}
    for row in rows[1:]:
        fig = {}
        for k, v in zip(rows[0], row):
            try:
                fig[k] = float(v)
            except ValueError:
                fig[k] = v
        out[row[0]] = fig
    return out


def bench_csv(argv, timeout):
    """run_bench with --csv; returns (parse_csv figures, wall seconds)."""
    text, wall = run_bench(list(argv) + ["--csv"], timeout)
    return parse_csv(text), wall
