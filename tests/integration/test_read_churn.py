"""Slow readers must not pin pages: under overwrite churn data.mdb stops growing.

LMDB reuses a freed page only once no read transaction can still see it. lmkv's read
transactions are short (reset/renewed per batch), so a client paging slowly through the
keyspace with SCAN or RANGE must not keep an old snapshot alive. The check: overwrite the
same keys many times (redis-benchmark -t set -r KEYS) in two equal halves while a slow SCAN
client (and a RANGE client) pages with think time throughout; the file after the second half
must be at most 1.2x the file after the first half.

The same check with one LMDB read transaction held open from this process (liblmdb through
ctypes, as tools/read-churn.py --pin-reader does) must fail: every commit then needs fresh
pages and the file grows with the writes. That proves the assertion can fail.

The long version, with the numbers per 1M writes: tools/read-churn.py. lmkv_only.
"""

import importlib.util
import os
import shutil
import subprocess
import threading
import time

import pytest

from helpers import info_fields, wait_for

pytestmark = [
    pytest.mark.lmkv_only,
    pytest.mark.skipif(shutil.which("redis-benchmark") is None,
                       reason="redis-benchmark is not installed"),
]

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(REPO, "tools", "read-churn.py")

KEYS = 5_000
VALUE_SIZE = 100
WRITES_PER_HALF = KEYS * 10  # 10 overwrites per key per half


def load_tool():
    spec = importlib.util.spec_from_file_location("read_churn", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def churn(port, writes):
    """Random SETs over the loaded keys; bounded in time."""
    out = subprocess.run(
        ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-t", "set", "-r", str(KEYS),
         "-d", str(VALUE_SIZE), "-n", str(writes), "-c", "20", "-P", "16", "-q"],
        capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stdout + out.stderr


def settled(client):
    """Nothing waits to be staged but the active buffer, and no run waits to be merged."""
    fields = info_fields(client)
    return (int(fields["lmkv_live_runs"]) == 0
            and int(fields["lmkv_unapplied_bytes"]) <= int(fields["lmkv_write_buffer_size"]))


def run_halves(lmkv_factory, pin):
    """Returns (size after load, after the first half, after the second half, readers)."""
    rc = load_tool()
    # A small write buffer: frequent bulk applies (more commits to pin), little left unapplied
    # when the size is sampled. --fsync everysec only spares the log's per-group fdatasync
    # (the test is about LMDB's pages; bulk applies are synced LMDB commits in every mode).
    s = lmkv_factory(["--write-buffer-size", "1mb", "--fsync", "everysec"])
    rc.load(s.port, KEYS, VALUE_SIZE, timeout=60)
    client = s.client()
    mdb = os.path.join(s.data_dir, "data.mdb")
    pinned = rc.PinnedReader(s.data_dir) if pin else None
    stop = threading.Event()
    readers = [rc.SlowReader("scan", s.port, 100, 0.01, stop),
               rc.SlowReader("range", s.port, 100, 0.01, stop)]
    try:
        for r in readers:
            r.start()
        loaded = rc.file_sizes(mdb)[0]
        sizes, pages = [], []
        for _half in range(2):
            churn(s.port, WRITES_PER_HALF)
            # Sampled once the applier has caught up: the frozen buffers staged and their
            # runs merged (--staged-runs; idle, within a second), so both halves end in the
            # same state, whatever the machine's load did to the timing.
            assert wait_for(lambda: settled(client), timeout=30), info_fields(client)
            sizes.append(rc.file_sizes(mdb)[0])
            pages.append([r.pages for r in readers])
    finally:
        stop.set()
        for r in readers:
            r.join(30)
        if pinned is not None:
            pinned.release()
    for r in readers:
        assert r.error is None, r.error
    # The slow readers were paging during both halves.
    assert all(p > 0 for p in pages[0]), pages
    assert all(b > a for a, b in zip(pages[0], pages[1])), pages
    assert s.client().dbsize() == KEYS
    print(f"data.mdb: loaded {loaded}, after first half {sizes[0]}, after second half "
          f"{sizes[1]} (pinned reader: {pin}); reader pages {pages}")
    return loaded, sizes[0], sizes[1]


def test_file_plateaus_under_churn_with_slow_scan_and_range(lmkv_factory):
    _loaded, first, second = run_halves(lmkv_factory, pin=False)
    assert first > 0
    assert second <= 1.2 * first, (first, second)


def test_a_pinned_read_transaction_makes_the_check_fail(lmkv_factory):
    # The counterfactual: one reader that never resets. If this stopped growing, the
    # plateau above would prove nothing.
    _loaded, first, second = run_halves(lmkv_factory, pin=True)
    assert second > 1.2 * first, (first, second)
