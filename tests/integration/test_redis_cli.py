"""redis-cli against the server, unchanged: one-shot commands, --pipe mass insert, --scan,
RESP3 (-3) and an interactive session on a pseudo-terminal."""

import fcntl
import os
import re
import select
import shutil
import struct
import subprocess
import termios
import time

import pytest

CLI = shutil.which("redis-cli")
pytestmark = pytest.mark.skipif(CLI is None, reason="redis-cli not installed")

ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")


def cli(target, *args, stdin=None, timeout=60):
    """Runs redis-cli with args; returns (exit code, stdout, stderr) as text."""
    p = subprocess.run([CLI, "-h", target.host, "-p", str(target.port), *args], input=stdin,
                       capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def test_one_shot_commands(target, r):
    assert cli(target, "SET", "a", "b")[:2] == (0, "OK\n")
    assert cli(target, "GET", "a")[:2] == (0, "b\n")
    assert cli(target, "--no-raw", "GET", "a")[:2] == (0, '"b"\n')
    assert cli(target, "--no-raw", "GET", "nokey")[:2] == (0, "(nil)\n")
    assert cli(target, "MSET", "k1", "v1", "k2", "v2")[:2] == (0, "OK\n")
    assert cli(target, "--no-raw", "MGET", "k1", "nokey", "k2")[1] == (
        '1) "v1"\n2) (nil)\n3) "v2"\n')
    assert cli(target, "--no-raw", "INCR", "n")[1] == "(integer) 1\n"
    assert cli(target, "DBSIZE")[1] == "4\n"
    code, out, _ = cli(target, "--no-raw", "GET")
    assert "(error) ERR wrong number of arguments for 'get' command" in out
    assert cli(target, "-n", "3", "SET", "in3", "x")[1] == "OK\n"
    assert cli(target, "-n", "3", "GET", "in3")[1] == "x\n"
    assert cli(target, "GET", "in3")[1] == "\n"


def test_commands_from_stdin(target, r):
    code, out, _ = cli(target, stdin=b"SET s 1\nINCRBY s 41\nGET s\n")
    assert code == 0 and out == "OK\n42\n42\n"


@pytest.mark.lmkv_only
def test_range_output(target, r):
    r.mset({"a": "1", "b": "2", "c": "3"})
    assert cli(target, "RANGE", "-", "+")[1] == "a\n1\nb\n2\nc\n3\n"
    assert cli(target, "--no-raw", "RANGE", "[b", "+", "KEYSONLY")[1] == '1) "b"\n2) "c"\n'
    assert cli(target, "--no-raw", "RANGE", "[x", "+")[1] == "(empty array)\n"


def test_pipe_mass_insert_of_10000_sets(target, r):
    payload = b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (
        len(k), k, len(v), v) for k, v in
        ((b"key:%d" % i, b"value:%d" % i) for i in range(10000)))
    code, out, err = cli(target, "--pipe", stdin=payload, timeout=120)
    assert code == 0, out + err
    assert "errors: 0, replies: 10000" in out, out + err
    assert r.dbsize() == 10000
    assert r.get("key:9999") == b"value:9999"


def test_pipe_reports_errors(target, r):
    payload = b"SET a 1\r\nINCR a\r\nGET\r\nSET b 2\r\n"
    code, out, err = cli(target, "--pipe", stdin=payload)
    assert "errors: 1, replies: 4" in out, out + err
    assert code == 1


def test_scan_with_pattern(target, r):
    r.mset({f"user:{i}": i for i in range(300)})
    r.mset({f"item:{i}": i for i in range(300)})
    code, out, _ = cli(target, "--scan", "--pattern", "user:*")
    keys = out.split()
    assert code == 0
    assert len(keys) == 300 and set(keys) == {f"user:{i}" for i in range(300)}
    code, out, _ = cli(target, "--scan", "--pattern", "item:1?")
    assert sorted(out.split()) == sorted(f"item:1{i}" for i in range(10))
    assert len(cli(target, "--scan")[1].split()) == 600


def test_resp3_output(target, r):
    code, out, _ = cli(target, "-3", "--no-raw", "HELLO", "3")
    assert code == 0
    assert '"proto" => (integer) 3' in out
    assert '"role" => "master"' in out
    assert cli(target, "-3", "--no-raw", "GET", "nokey")[1] == "(nil)\n"
    r.set("k", "v")
    assert cli(target, "-3", "--no-raw", "GET", "k")[1] == '"v"\n'
    assert cli(target, "-3", "--no-raw", "CONFIG", "GET", "appendonly")[1] == (
        '1# "appendonly" => "no"\n')
    assert cli(target, "-3", "HELLO", "3")[1].splitlines()[2] == "proto 3"


# --- interactive session on a pty ------------------------------------------------------------

class PtySession:
    """redis-cli in interactive mode on a pseudo-terminal, driven like a user would."""

    def __init__(self, target, timeout=20):
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        env = dict(os.environ, TERM="xterm", HOME=os.environ.get("HOME", "/tmp"))
        env.pop("REDISCLI_HISTFILE", None)
        env["REDISCLI_HISTFILE"] = "/dev/null"
        self.proc = subprocess.Popen([CLI, "-h", target.host, "-p", str(target.port)],
                                     stdin=slave, stdout=slave, stderr=slave, env=env,
                                     start_new_session=True)
        os.close(slave)
        self.out = b""
        self.seen = 0  # offset (in the escape-free text) up to which expect() has matched
        self.timeout = timeout

    def expect(self, pattern):
        """Reads until pattern (bytes regex, matched on output without ANSI escapes) appears after
        the previous match."""
        deadline = time.monotonic() + self.timeout
        while True:
            m = re.compile(pattern).search(ANSI.sub(b"", self.out), self.seen)
            if m:
                self.seen = m.end()
                return m
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {pattern!r} in redis-cli output: {self.out!r}")
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:  # EIO: the child closed the pty
                    chunk = b""
                if not chunk:
                    raise AssertionError(f"redis-cli exited; output: {self.out!r}")
                self.out += chunk

    def send_line(self, line):
        os.write(self.master, line.encode() + b"\r")

    def drain_until_exit(self):
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:
                    chunk = b""
                self.out += chunk
                if not chunk and self.proc.poll() is not None:
                    break
            elif self.proc.poll() is not None:
                break
        return self.proc.wait(5)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        os.close(self.master)

    def text(self):
        return ANSI.sub(b"", self.out).decode(errors="replace")


@pytest.fixture
def pty_cli(target):
    sessions = []

    def start():
        s = PtySession(target)
        sessions.append(s)
        return s

    yield start
    for s in sessions:
        s.close()


def test_interactive_session(target, r, pty_cli):
    s = pty_cli()
    prompt = rb"127\.0\.0\.1:%d> " % target.port
    s.expect(prompt)
    # Wait for each prompt before typing, as typed-ahead input would be echoed by the tty.
    s.send_line("SET greeting hello")
    s.expect(rb"\r\nOK\r\n" + prompt)
    s.send_line("GET greeting")
    s.expect(rb'\r\n"hello"\r\n' + prompt)
    s.send_line("GET nokey")
    s.expect(rb"\r\n\(nil\)\r\n" + prompt)
    s.send_line("SELECT 2")
    s.expect(rb"127\.0\.0\.1:%d\[2\]> " % target.port)
    s.send_line("QUIT")
    assert s.drain_until_exit() == 0
    text = s.text()
    assert "COMMAND DOCS" not in text.upper()
    assert "ERR" not in text, text
    assert "Could not connect" not in text
    assert r.get("greeting") == b"hello"


@pytest.mark.lmkv_only
def test_interactive_range(target, r, pty_cli):
    r.mset({"a": "1", "b": "2"})
    s = pty_cli()
    s.expect(rb"127\.0\.0\.1:%d> " % target.port)
    s.send_line("RANGE - + KEYSONLY")
    s.expect(rb'1\) "a"\r\n2\) "b"\r\n127')
    s.send_line("QUIT")
    assert s.drain_until_exit() == 0
    assert "ERR" not in s.text()
