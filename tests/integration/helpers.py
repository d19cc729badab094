"""Helpers shared by lmkv's integration tests: process control for lmkv-server, raw RESP
connections for byte-exact protocol tests, bounded polling."""

import os
import signal
import socket
import subprocess
import time

import redis

LOOPBACK = "127.0.0.1"


# ---------------------------------------------------------------------------------------------
# Process control
# ---------------------------------------------------------------------------------------------

def free_port():
    """A loopback port nobody listened on a moment ago (the server may still lose a race;
    LmkvProcess.start retries on a fresh port when the process dies at start-up)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def ping_ok(host, port, timeout=0.5):
    """True if a RESP PING on a fresh connection answers +PONG."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class LmkvProcess:
    """One lmkv-server process over one data directory. Restarts keep the directory (and, unless
    asked otherwise, the port), so tests can check what survives SIGTERM and kill -9."""

    def __init__(self, binary, workdir, extra_args=(), threads=2):
        self.binary = os.path.abspath(binary)
        self.workdir = workdir
        self.data_dir = os.path.join(workdir, "data")
        os.makedirs(self.data_dir, exist_ok=True)
        self.log_path = os.path.join(workdir, "server.log")
        self.extra_args = list(extra_args)
        self.threads = threads
        self.host = LOOPBACK
        self.port = None
        self.proc = None
        self.starts = 0
        self.use_config_file = False
        self.config_lines = []  # extra (directive, value) pairs for the config file
        self.preexec_fn = None  # run in the child before exec (e.g. joining a cgroup)

    # The command line the server is started with; the log goes to a file so a failing test
    # can show it (the lmkv logfile directive would work too, stderr keeps crash output).
    # With use_config_file the same settings go into a config file given as first argument,
    # as with redis-server.
    def argv(self):
        settings = [("port", str(self.port)), ("bind", LOOPBACK), ("dir", self.data_dir),
                    ("threads", str(self.threads))]
        if self.use_config_file:
            conf = os.path.join(self.workdir, "lmkv.conf")
            with open(conf, "w") as f:
                f.write("# written by the integration suite\n\n")
                f.writelines(f"{k} {v}\n" for k, v in settings + self.config_lines)
            return [self.binary, conf] + self.extra_args
        args = [self.binary]
        for k, v in settings:
            args += ["--" + k, v]
        return args + self.extra_args

    def start(self, timeout=15.0):
        assert self.proc is None or self.proc.poll() is not None, "already running"
        last_error = None
        for _attempt in range(3):
            if self.port is None:
                self.port = free_port()
            self.starts += 1
            with open(self.log_path, "ab") as log:
                log.write(f"\n=== start #{self.starts}: {' '.join(self.argv())}\n".encode())
                log.flush()
                self.proc = subprocess.Popen(self.argv(), stdout=log, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, cwd=self.workdir,
                                             preexec_fn=self.preexec_fn)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                if ping_ok(self.host, self.port):
                    return self
                time.sleep(0.02)
            if self.proc.poll() is None:
                self.kill9()
                raise RuntimeError(f"lmkv-server did not answer PING within {timeout}s\n"
                                   + self.log_tail())
            last_error = f"lmkv-server exited with {self.proc.returncode} at start-up"
            self.port = None  # maybe lost the port race: try another one
        raise RuntimeError(last_error + "\n" + self.log_tail())

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=15.0):
        """Send sig to the server's PID and wait for it; returns the exit status. A server that
        does not exit within timeout is killed and the test fails."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                raise AssertionError(f"server ignored signal {sig} for {timeout}s\n"
                                     + self.log_tail())
        return self.proc.returncode

    def kill9(self):
        return self.stop(signal.SIGKILL)

    def wait_exit(self, timeout=15.0):
        return self.proc.wait(timeout)

    def restart(self, sig=signal.SIGTERM):
        self.stop(sig)
        return self.start()

    def client(self, **kw):
        kw.setdefault("socket_timeout", 30)
        return redis.Redis(host=self.host, port=self.port, **kw)

    def log_tail(self, limit=8000):
        try:
            with open(self.log_path, "rb") as f:
                data = f.read()
        except OSError:
            return "(no server log)"
        return "--- server log (tail) ---\n" + data[-limit:].decode("utf-8", "replace")


# ---------------------------------------------------------------------------------------------
# Raw socket helpers (the tests that must see exact bytes)
# ---------------------------------------------------------------------------------------------

class RawConn:
    """A plain TCP connection to the server for byte-exact protocol tests."""

    def __init__(self, host, port, timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def read_until_closed(self, timeout=5.0):
        """Everything the server sends until it closes the connection (bounded by timeout).
        Returns (data, closed)."""
        self.sock.settimeout(0.2)
        deadline = time.monotonic() + timeout
        data, closed = self.buf, False
        self.buf = b""
        while time.monotonic() < deadline:
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            data += chunk
        return data, closed

    def read_exactly_reply(self, timeout=5.0):
        """One complete RESP2/RESP3 reply as raw bytes."""
        deadline = time.monotonic() + timeout
        while True:
            end = _reply_end(self.buf, 0)
            if end is not None:
                reply, self.buf = self.buf[:end], self.buf[end:]
                return reply
            if time.monotonic() > deadline:
                raise TimeoutError(f"incomplete reply: {self.buf!r}")
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"closed with partial reply {self.buf!r}")
            self.buf += chunk

    def command(self, *args):
        self.send(encode_command(*args))
        return self.read_exactly_reply()

    def close(self):
        self.sock.close()


def encode_command(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def _reply_end(buf, pos):
    """Offset just past the RESP reply starting at pos, or None if buf holds only part of it."""
    nl = buf.find(b"\r\n", pos)
    if nl < 0:
        return None
    kind, line = buf[pos:pos + 1], buf[pos + 1:nl]
    after = nl + 2
    if kind in (b"+", b"-", b":", b",", b"#", b"_", b"("):
        return after
    if kind in (b"$", b"=", b"!"):
        n = int(line)
        if n < 0:
            return after
        return after + n + 2 if len(buf) >= after + n + 2 else None
    if kind in (b"*", b"~", b">", b"%", b"|"):
        n = int(line)
        if n < 0:
            return after
        if kind in (b"%", b"|"):
            n *= 2
        for _ in range(n):
            after = _reply_end(buf, after)
            if after is None:
                return None
        return after
    raise ValueError(f"not a RESP reply: {buf[pos:pos + 40]!r}")


def sanitized(binary):
    """Whether the binary links AddressSanitizer's runtime (the ASan+UBSan build)."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    return "libasan" in out


def wait_for(predicate, timeout=10.0, interval=0.02):
    """Polls predicate until it is true or timeout passes; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


# ---------------------------------------------------------------------------------------------
def fill_file(path, size):
    """Writes a file of `size` bytes of zeros: a filler whose deletion frees the space (disk
    full tests, tools/crash-test.py --full-disk)."""
    chunk = b"\0" * (1 << 20)
    with open(path, "wb") as f:
        while size > 0:
            f.write(chunk[:min(size, len(chunk))])
            size -= len(chunk)


# Reply decoding and INFO fields (crash and write-path tests, tools/crash-test.py)
# ---------------------------------------------------------------------------------------------

class ErrorReply(str):
    """An error reply ("-ERR ..."), kept as a value so a pipeline's replies stay in order."""


def decode_reply(raw):
    """A complete RESP2 reply (bytes, as RawConn.read_exactly_reply returns it) as Python:
    simple strings as str, errors as ErrorReply, integers as int, bulks as bytes (None for
    nil), arrays as lists."""
    value, end = _decode_at(raw, 0)
    if end != len(raw):
        raise ValueError(f"trailing bytes after reply: {raw[end:end + 40]!r}")
    return value


def _decode_at(buf, pos):
    nl = buf.index(b"\r\n", pos)
    kind, line, after = buf[pos:pos + 1], buf[pos + 1:nl], nl + 2
    if kind == b"+":
        return line.decode(), after
    if kind == b"-":
        return ErrorReply(line.decode()), after
    if kind == b":":
        return int(line), after
    if kind == b"$":
        n = int(line)
        return (None, after) if n < 0 else (buf[after:after + n], after + n + 2)
    if kind == b"*":
        n = int(line)
        if n < 0:
            return None, after
        items = []
        for _ in range(n):
            item, after = _decode_at(buf, after)
            items.append(item)
        return items, after
    raise ValueError(f"unsupported reply type: {buf[pos:pos + 40]!r}")


def info_fields(conn, section="persistence"):
    """INFO section as {field: str} over a RawConn or a redis-py client (raw text, so lmkv's
    own fields keep their exact spelling)."""
    if isinstance(conn, RawConn):
        text = decode_reply(conn.command("INFO", section)).decode()
    else:
        text = conn.execute_command("INFO", section)
        text = text.decode() if isinstance(text, bytes) else text
        if isinstance(text, dict):  # a client that parses INFO itself
            return {k: str(v) for k, v in text.items()}
    out = {}
    for line in text.splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k] = v
    return out
