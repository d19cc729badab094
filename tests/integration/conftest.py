"""Fixtures for lmkv's integration suite.

Two modes:
  --lmkv PATH           start the real lmkv-server binary on a free loopback port with a
                        temporary --dir and --threads 2, stop it by PID at the end.
  --host H --port P     external (oracle) mode: run against an already-running server, for
                        example a real redis-server; tests marked lmkv_only are skipped.

The suite is written so that every test not marked lmkv_only passes against Redis 7: that
is what proves it tests Redis behaviour rather than lmkv's own idea of it.
"""

import os
import re
import shutil
import tempfile

import pytest
import redis

from helpers import LOOPBACK, LmkvProcess, RawConn


def pytest_addoption(parser):
    group = parser.getgroup("lmkv")
    group.addoption("--lmkv", action="store", default=os.environ.get("LMKV_SERVER"),
                    help="path to the lmkv-server binary to start (env LMKV_SERVER)")
    group.addoption("--host", action="store", default=None,
                    help="external mode: host of an already-running server")
    group.addoption("--port", action="store", type=int, default=None,
                    help="external mode: port of an already-running server")


def external_mode(config):
    return config.getoption("--port") is not None


def pytest_collection_modifyitems(config, items):
    if external_mode(config):
        skip = pytest.mark.skip(reason="lmkv_only: skipped in external (--host/--port) mode")
        for item in items:
            if "lmkv_only" in item.keywords:
                item.add_marker(skip)
    elif not config.getoption("--lmkv"):
        skip = pytest.mark.skip(reason="neither --lmkv PATH nor --host/--port given")
        for item in items:
            item.add_marker(skip)


class Target:
    """Where the tests connect: the suite's own lmkv process, or an external server."""

    def __init__(self, host, port, process=None):
        self.host = host
        self.port = port
        self.process = process

    @property
    def managed(self):
        return self.process is not None

    def client(self, **kw):
        kw.setdefault("socket_timeout", 30)
        return redis.Redis(host=self.host, port=self.port, **kw)


# What ASan, LSan and UBSan print when they report; the sanitized build's server writes it to
# stderr, which goes to its log. A report fails the test even when the server kept running
# (UBSan without halt_on_error) or only reported at exit (LeakSanitizer after SIGTERM).
_SANITIZER_REPORT = re.compile(rb"ERROR: (?:Address|Leak|Thread|Memory)Sanitizer|runtime error:")


def check_sanitizer_report(proc):
    """Fails if proc's log (all its starts) holds a sanitizer report."""
    try:
        with open(proc.log_path, "rb") as f:
            data = f.read()
    except OSError:
        return
    m = _SANITIZER_REPORT.search(data)
    if m:
        start = max(0, m.start() - 200)
        raise AssertionError(f"sanitizer report in {proc.log_path}\n"
                             + data[start:start + 8000].decode("utf-8", "replace"))


@pytest.fixture(scope="session")
def target(request):
    """The server shared by the ordinary tests (one per session)."""
    config = request.config
    if external_mode(config):
        yield Target(config.getoption("--host") or LOOPBACK, config.getoption("--port"))
        return
    workdir = tempfile.mkdtemp(prefix="lmkv-it-")
    proc = LmkvProcess(config.getoption("--lmkv"), workdir)
    proc.start()  # on failure the workdir stays for inspection
    _live_processes.append(proc)
    yield Target(proc.host, proc.port, proc)
    crashed = not proc.running()
    status = proc.stop()
    _live_processes.remove(proc)
    if crashed:
        raise AssertionError(f"shared lmkv-server died during the session (status {status})\n"
                             + proc.log_tail())
    check_sanitizer_report(proc)
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def r(target):
    """A redis-py client on a freshly flushed server (db 0)."""
    client = target.client()
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def rb(target):
    """Same as r but decoding replies to str."""
    client = target.client(decode_responses=True)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def lmkv_factory(request):
    """Starts private lmkv-server processes (own dir, own port) for tests that stop, kill or
    restart the server. Every process is stopped by PID at the end of the test."""
    binary = request.config.getoption("--lmkv")
    made = []

    def make(extra_args=(), threads=2, start=True, config_lines=None):
        """extra_args go on the command line; config_lines (a list of (directive, value)),
        when given, start the server from a config file instead of --flags."""
        workdir = tempfile.mkdtemp(prefix="lmkv-it-own-")
        proc = LmkvProcess(binary, workdir, extra_args, threads)
        if config_lines is not None:
            proc.use_config_file = True
            proc.config_lines = list(config_lines)
        made.append(proc)
        _live_processes.append(proc)
        if start:
            proc.start()
        return proc

    yield make
    for proc in made:
        try:
            proc.kill9() if proc.running() else None
        finally:
            _live_processes.remove(proc)
    for proc in made:
        check_sanitizer_report(proc)
    if not getattr(request.node, "_lmkv_failed", False):
        for proc in made:
            shutil.rmtree(proc.workdir, ignore_errors=True)


# Processes alive during the current test, so a failure report can include their logs.
_live_processes = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        item._lmkv_failed = True
        for i, proc in enumerate(_live_processes):
            report.sections.append((f"lmkv-server log #{i} ({proc.log_path})", proc.log_tail()))


@pytest.fixture
def raw(target):
    """Factory for raw connections to the shared server; all closed at the end."""
    conns = []

    def connect():
        c = RawConn(target.host, target.port)
        conns.append(c)
        return c

    yield connect
    for c in conns:
        c.close()
