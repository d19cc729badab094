"""Acknowledge-after-sync, proven from the server's system calls.

Under --fsync always a reply to a write must not leave before the fdatasync of the log
group that holds the write: that is what makes an acknowledged write survive power loss.
These tests trace the real server with strace while several clients send SETs with unique
values, then check, for every acknowledged SET, the order of three system calls:

    writev/pwrite64(log fd, ...value...)  returns   <  fdatasync(log fd) starts
    fdatasync(log fd)            returns   <  write(client fd, "+OK")  starts

strace prints a thread's syscall exit before that thread can go on, and the reply is
handed to the loop only after the writer's fdatasync returned, so the trace's line order
is a sound order of these events. The same checker run on --fsync everysec must find
replies that left before any sync: proof that it can fail.
"""

import os
import re
import shutil
import signal
import subprocess
import threading
import time

import pytest

pytestmark = [
    pytest.mark.lmkv_only,
    pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed"),
]

CONNECTIONS = 4
SETS_PER_CONNECTION = 150

# "1234 writev(7, [...], 2) = 90" / "1234 fdatasync(7 <unfinished ...>" /
# "1234 <... fdatasync resumed>) = 0"
LINE = re.compile(r"^(\d+)\s+(?:<\.\.\. (\w+) resumed>(.*)|(\w+)\((\d+),?(.*))$")


def parse_trace(path):
    """Events in trace order: (kind, tid, syscall, fd, text) with kind 'enter', 'exit' or
    'both' (a syscall printed whole). An unfinished syscall's fd and text are carried to
    its exit."""
    events = []
    pending = {}
    with open(path, errors="replace") as f:
        for raw in f:
            m = LINE.match(raw.rstrip("\n"))
            if not m:
                continue
            tid = m.group(1)
            if m.group(2):  # resumed
                call = m.group(2)
                fd, text = pending.pop((tid, call), (None, ""))
                events.append(("exit", tid, call, fd, text + m.group(3)))
                continue
            call, fd, text = m.group(4), int(m.group(5)), m.group(6)
            if text.endswith("<unfinished ...>"):
                pending[(tid, call)] = (fd, text)
                events.append(("enter", tid, call, fd, text))
            else:
                events.append(("both", tid, call, fd, text))
    return events


def check_order(events, values_by_fd):
    """Returns the violations: acknowledged SETs whose reply left before the log group
    holding them was synced. values_by_fd: client fd -> its SET values in order."""
    log_fds = {fd for kind, _, call, fd, _ in events if call == "fdatasync"}
    # Index of the exit of the log write that carried each value.
    logged_at = {}
    # Index of the exit of each fdatasync, and of its entry.
    syncs = []  # (enter index, exit index)
    sync_enter = {}
    replies = {fd: [] for fd in values_by_fd}  # fd -> entry index of each "+OK"
    for i, (kind, tid, call, fd, text) in enumerate(events):
        # The log is written with writev, pwritev (buffered) or pwrite64 (direct, --fsync
        # always).
        if call in ("writev", "pwritev", "pwrite64") and kind in ("exit", "both") \
                and fd in log_fds:
            for v in re.findall(r"val-\d+-\d+", text):
                logged_at.setdefault(v, i)
        elif call == "fdatasync":
            if kind == "enter":
                sync_enter[tid] = i
            elif kind == "exit":
                syncs.append((sync_enter.pop(tid, i), i))
            else:
                syncs.append((i, i))
        elif call in ("write", "writev", "sendmsg") and kind in ("enter", "both") \
                and fd in replies:
            replies[fd].extend([i] * text.count("+OK"))

    violations = []
    for fd, values in values_by_fd.items():
        assert len(replies[fd]) >= len(values), \
            f"fd {fd}: {len(replies[fd])} replies traced for {len(values)} SETs"
        for value, reply_at in zip(values, replies[fd]):
            written = logged_at.get(value)
            if written is None:
                violations.append(f"{value}: never written to the log before its reply")
                continue
            if not any(enter > written and exit_ < reply_at for enter, exit_ in syncs):
                violations.append(f"{value}: reply at trace event {reply_at} before a sync "
                                  f"of its log write at {written}")
    return violations


def wait_attached(client, trace_path):
    """strace prints nothing once attached: waits until a PING shows in its trace (which
    must trace read)."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        client.ping()
        if trace_path.exists() and "PING" in trace_path.read_text(errors="replace"):
            return
        time.sleep(0.1)
    pytest.fail("strace did not attach")


def traced_run(lmkv_factory, tmp_path, fsync):
    server = lmkv_factory(extra_args=["--fsync", fsync], threads=2)
    tids = os.listdir(f"/proc/{server.proc.pid}/task")
    trace_path = tmp_path / "trace.txt"
    attach = []
    for tid in tids:
        attach += ["-p", tid]
    strace = subprocess.Popen(
        ["strace", "-f", "-qq", "-s", "65536", "-e", "signal=none",
         "-e", "trace=read,readv,recvfrom,write,writev,pwrite64,pwritev,sendmsg,fdatasync,"
               "fsync",
         "-o", str(trace_path), *attach],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_attached(server.client(), trace_path)

        values = {}
        errors = []

        def client(n):
            try:
                c = server.client()
                fd_values = []
                for i in range(SETS_PER_CONNECTION):
                    v = f"val-{n}-{i}"
                    assert c.set(f"key-{n}-{i % 20}", v)
                    fd_values.append(v)
                values[n] = fd_values
                c.connection_pool.disconnect()
            except Exception as e:  # reported below
                errors.append(e)

        threads = [threading.Thread(target=client, args=(n,)) for n in range(CONNECTIONS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not errors, errors
    finally:
        strace.send_signal(signal.SIGINT)
        strace.wait(30)
    events = parse_trace(trace_path)
    # Each client's fd: the one its first SET was read from.
    values_by_fd = {}
    for n, vals in values.items():
        first = vals[0]
        fd = next(fd for kind, _, call, fd, text in events
                  if call in ("read", "readv", "recvfrom") and first in text)
        values_by_fd[fd] = vals
    assert len(values_by_fd) == CONNECTIONS
    return events, values_by_fd


def test_no_reply_before_its_log_group_is_synced(lmkv_factory, tmp_path):
    events, values_by_fd = traced_run(lmkv_factory, tmp_path, "always")
    assert any(call == "fdatasync" for _, _, call, _, _ in events)
    violations = check_order(events, values_by_fd)
    assert not violations, f"{len(violations)} replies left before their sync: {violations[:5]}"


def test_checker_catches_replies_before_sync_under_everysec(lmkv_factory, tmp_path):
    # everysec acknowledges after the log write and syncs once a second: most replies of
    # this short run must be flagged, or the checker above proves nothing.
    events, values_by_fd = traced_run(lmkv_factory, tmp_path, "everysec")
    violations = check_order(events, values_by_fd)
    total = sum(len(v) for v in values_by_fd.values())
    assert len(violations) > total // 2, f"only {len(violations)} of {total} flagged"


# "1234 fdatasync(9</tmp/.../log/00000000000000000000.log>) = 0" (strace -y); an unfinished
# call prints its path too.
SYNC_LINE = re.compile(r"^(\d+)\s+(fdatasync|fsync)\(\d+<([^>]*)>")


def thread_names(pid):
    names = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/comm") as f:
            names[tid] = f.read().strip()
    return names


@pytest.mark.parametrize("fsync", ["everysec", "no"])
def test_lax_policies_sync_the_log_off_the_write_path(lmkv_factory, tmp_path, fsync):
    # Under everysec and no no reply waits for a log sync, so no writer or loop may either:
    # closing a full 64 MiB segment and everysec's once-a-second sync belong to the log
    # syncer's thread (store/log_sync.cc). The log's syncs, traced, must all be that thread's,
    # and must still cover the closed segments (and under everysec the current one).
    server = lmkv_factory(extra_args=["--fsync", fsync])
    pid = server.proc.pid
    log_dir = os.path.realpath(os.path.join(server.data_dir, "log"))
    trace_path = tmp_path / "syncs.txt"
    strace = subprocess.Popen(
        ["strace", "-f", "-qq", "-y", "-e", "signal=none",
         "-e", "trace=read,fdatasync,fsync", "-o", str(trace_path), "-p", str(pid)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    c = server.client()
    try:
        wait_attached(c, trace_path)
        # 150 MB of log: two full segments closed, the third current.
        value = b"v" * 100_000
        for batch in range(15):
            p = c.pipeline(transaction=False)
            for i in range(100):
                p.set(f"key-{batch}-{i}", value)
            p.execute()
        if fsync == "everysec":
            time.sleep(2.5)  # its once-a-second sync of the current segment
        else:
            time.sleep(0.5)  # the syncer looks for closed segments every 100 ms
    finally:
        strace.send_signal(signal.SIGINT)
        strace.wait(30)
    names = thread_names(pid)
    syncs = []  # (thread name, path)
    with open(trace_path, errors="replace") as f:
        for line in f:
            m = SYNC_LINE.match(line)
            if m and os.path.realpath(m.group(3)).startswith(log_dir):
                syncs.append((names.get(m.group(1), m.group(1)), os.path.realpath(m.group(3))))
    off_thread = [s for s in syncs if s[0] != "lmkv-logsync"]
    assert not off_thread, f"log syncs on other threads: {off_thread[:5]}"
    segments = sorted({path for _, path in syncs if path.endswith(".log")})
    assert len(segments) >= (3 if fsync == "everysec" else 2), syncs
    assert log_dir in {path for _, path in syncs}, "the new segments' names were not synced"
    # What the syncer held is all there after a crash.
    server.kill9()
    server.start()
    c = server.client()
    assert c.dbsize() == 1500
    assert c.get("key-14-99") == value
    c.close()
