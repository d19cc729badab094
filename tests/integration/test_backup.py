"""SAVE, BGSAVE, LASTSAVE and INFO persistence (issue 6, "Backups"), and lmkv-check.

The reply tests run against Redis 7 too; the snapshot tests are lmkv_only: they start a second
server on the snapshot (<dir>/snapshot) and compare it with what the writers were acknowledged,
and run the offline lmkv-check on the data directory, the snapshot and damaged copies.
"""

import os
import shutil
import subprocess
import threading
import time

import pytest
import redis

from helpers import RawConn, decode_reply, encode_command, info_fields, wait_for


def wait_save_done(client, timeout=30.0):
    done = wait_for(lambda: info_fields(client)["rdb_bgsave_in_progress"] == "0", timeout)
    assert done, "BGSAVE still in progress"


def check_binary(request):
    """lmkv-check next to the server binary (build/src/check/), or $LMKV_CHECK."""
    path = os.environ.get("LMKV_CHECK")
    if not path:
        server = os.path.abspath(request.config.getoption("--lmkv"))
        path = os.path.join(os.path.dirname(server), "check", "lmkv-check")
    if not os.access(path, os.X_OK):
        pytest.skip(f"no lmkv-check at {path}")
    return path


def run_check(binary, directory):
    done = subprocess.run([binary, directory], capture_output=True, text=True, timeout=60)
    return done.returncode, done.stdout + done.stderr


# ---------------------------------------------------------------------------------------------
# Replies (Redis 7 as the oracle)
# ---------------------------------------------------------------------------------------------

def test_bgsave_and_save_replies(raw, target):
    c = raw()
    # Two BGSAVEs in one pipeline: the second finds the first running.
    c.send(encode_command("BGSAVE") + encode_command("BGSAVE"))
    assert c.read_exactly_reply() == b"+Background saving started\r\n"
    assert c.read_exactly_reply() == b"-ERR Background save already in progress\r\n"
    wait_save_done(c)
    assert c.command("BGSAVE", "foo") == b"-ERR syntax error\r\n"
    assert c.command("BGSAVE", "SCHEDULE", "x") == b"-ERR syntax error\r\n"
    assert c.command("SAVE", "x") == b"-ERR wrong number of arguments for 'save' command\r\n"
    assert c.command("SAVE") == b"+OK\r\n"
    fields = info_fields(c)
    assert fields["rdb_bgsave_in_progress"] == "0"
    assert fields["rdb_last_bgsave_status"] == "ok"
    assert fields["rdb_current_bgsave_time_sec"] == "-1"
    assert int(fields["rdb_last_bgsave_time_sec"]) >= 0
    assert int(fields["rdb_last_save_time"]) == decode_reply(c.command("LASTSAVE"))
    assert abs(int(fields["rdb_last_save_time"]) - time.time()) < 60


def test_save_is_refused_inside_multi(raw):
    c = raw()
    assert c.command("MULTI") == b"+OK\r\n"
    assert c.command("SAVE") == b"-ERR Command not allowed inside a transaction\r\n"
    assert c.command("EXEC").startswith(b"-EXECABORT")


def test_save_keeps_pipelined_replies_in_order(raw, target):
    c = raw()
    c.send(encode_command("SET", "bk:order", "1") + encode_command("SAVE")
           + encode_command("SET", "bk:order", "2") + encode_command("GET", "bk:order"))
    assert [c.read_exactly_reply(timeout=30) for _ in range(4)] == [
        b"+OK\r\n", b"+OK\r\n", b"+OK\r\n", b"$1\r\n2\r\n"]


def test_changes_since_last_save(target):
    client = target.client(decode_responses=True)
    client.save()
    base = int(info_fields(client)["rdb_changes_since_last_save"])
    client.set("bk:changes", "1")
    client.set("bk:changes", "2")
    assert int(info_fields(client)["rdb_changes_since_last_save"]) == base + 2
    client.save()
    assert int(info_fields(client)["rdb_changes_since_last_save"]) == 0
    client.close()


# ---------------------------------------------------------------------------------------------
# The snapshot itself (lmkv only)
# ---------------------------------------------------------------------------------------------

class Writer(threading.Thread):
    """A client writing until `stop` (at most 200,000 acknowledged writes); acked counts what
    was acknowledged, error is what ended it early. Subclasses write one step at a time."""

    def __init__(self, proc, stop):
        super().__init__(daemon=True)
        self.client = proc.client()
        self.stop = stop
        self.acked = 0
        self.error = None

    def run(self):
        try:
            while not self.stop.is_set() and self.acked < 200000:
                self.acked += self.step()
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e


class SequentialWriter(Writer):
    """seq:0, seq:1, ... in order: a snapshot holds a prefix of them."""

    def step(self):
        self.client.set(f"seq:{self.acked}", self.acked)
        return 1


class PairWriter(Writer):
    """Pipelined MSETs of pair:a:i / pair:b:i: a snapshot holds both of a pair or neither."""

    def step(self):
        pipe = self.client.pipeline(transaction=False)
        for i in range(self.acked, self.acked + 50):
            pipe.mset({f"pair:a:{i}": i, f"pair:b:{i}": i})
        pipe.execute()
        return 50


def start_on(lmkv_factory, directory):
    """A second server whose data directory is `directory`."""
    proc = lmkv_factory(start=False)
    proc.data_dir = directory
    return proc.start()


@pytest.mark.lmkv_only
def test_bgsave_under_write_load_is_a_consistent_prefix(lmkv_factory, request):
    s = lmkv_factory(["--write-buffer-size", "64kb"])
    c = s.client(decode_responses=True)
    c.set("bk:ttl", "t", px=600000)
    lastsave_before = c.lastsave()
    stop = threading.Event()
    writers = [SequentialWriter(s, stop), PairWriter(s, stop)]
    for w in writers:
        w.start()
    # LASTSAVE has one-second resolution: let the clock pass the server's start second.
    wait_for(lambda: int(time.time()) > int(lastsave_before.timestamp()) and writers[0].acked > 300,
             timeout=10)
    acked_before = writers[0].acked
    pairs_before = writers[1].acked
    assert c.bgsave() is True  # redis-py turns "+Background saving started" into True
    wait_save_done(c)
    time.sleep(0.2)  # writes keep going after the copy too
    stop.set()
    for w in writers:
        w.join(30)
        assert w.error is None, w.error
    fields = info_fields(c)
    assert fields["rdb_last_bgsave_status"] == "ok"
    assert c.lastsave() > lastsave_before
    assert int(fields["lmkv_last_snapshot_offset"]) > 0
    snapshot = os.path.join(s.data_dir, "snapshot")
    assert os.path.exists(os.path.join(snapshot, "data.mdb"))
    assert not os.path.exists(snapshot + ".tmp")

    # A second server on (a copy of) the snapshot serves exactly the snapshot.
    copy = os.path.join(s.workdir, "snapshot-copy")
    shutil.copytree(snapshot, copy)
    t = start_on(lmkv_factory, copy)
    tc = t.client(decode_responses=True)
    assert int(info_fields(tc)["lmkv_applied_offset"]) == int(fields["lmkv_last_snapshot_offset"])
    seq_keys = tc.keys("seq:*")
    present = len(seq_keys)
    assert present >= acked_before, "a write acknowledged before BGSAVE is missing"
    assert present <= writers[0].acked
    # A prefix of the writer's order: seq:0 .. seq:present-1, each with its value.
    values = tc.mget([f"seq:{i}" for i in range(present)])
    assert values == [str(i) for i in range(present)]
    a_keys = {k.split(":")[2] for k in tc.keys("pair:a:*")}
    b_keys = {k.split(":")[2] for k in tc.keys("pair:b:*")}
    assert a_keys == b_keys, "an MSET is half in the snapshot"
    assert len(a_keys) >= pairs_before
    assert tc.get("bk:ttl") == "t" and tc.pttl("bk:ttl") > 0
    # It is a server like any other: writes and a restart keep them.
    tc.set("after", "1")
    t.restart()
    assert t.client().get("after") == b"1"
    assert t.client().dbsize() == present + 2 * len(a_keys) + 2

    # lmkv-check: the live server's data dir (a reader next to it), then after a clean stop.
    check = check_binary(request)
    code, out = run_check(check, snapshot)
    assert code == 0, out
    assert f"applied offset: {fields['lmkv_last_snapshot_offset']}" in out
    s.stop()
    code, out = run_check(check, s.data_dir)
    assert code == 0, out
    assert "OK" in out


@pytest.mark.lmkv_only
def test_save_does_not_block_other_clients(lmkv_factory):
    s = lmkv_factory()
    c = s.client()
    pipe = c.pipeline(transaction=False)
    for i in range(20000):
        pipe.set(f"k{i}", "x" * 100)
    pipe.execute()
    a = RawConn(s.host, s.port)
    b = s.client()
    saves = 0
    # While SAVE runs on its thread, another client's GET and SET are answered.
    for _ in range(3):
        a.send(encode_command("SAVE"))
        started = time.monotonic()
        assert b.get("k7") == b"x" * 100
        assert b.set("during", "1")
        other = time.monotonic() - started
        assert a.read_exactly_reply(timeout=30) == b"+OK\r\n"
        saves += 1
        assert other < 5, other
    assert int(info_fields(b)["rdb_saves"]) == saves
    a.close()


@pytest.mark.lmkv_only
def test_lmkv_check_finds_damage(lmkv_factory, request):
    check = check_binary(request)
    s = lmkv_factory()
    c = s.client()
    c.set("victim", "UNIQUEVALUEMARKER-1234567890")
    c.set("exp", "1", px=500000)
    for i in range(2000):
        c.set(f"fill:{i}", "y" * 200)
    assert c.save()
    snapshot = os.path.join(s.data_dir, "snapshot")
    code, out = run_check(check, snapshot)
    assert code == 0, out
    assert "keys=2002" in out

    # A value whose header byte is invalid. The snapshot is compacted: the value is stored
    # once, right after its header byte.
    bad = os.path.join(s.workdir, "bad-header")
    shutil.copytree(snapshot, bad)
    path = os.path.join(bad, "data.mdb")
    with open(path, "r+b") as f:
        data = f.read()
        at = data.index(b"UNIQUEVALUEMARKER")
        assert data.count(b"UNIQUEVALUEMARKER") == 1
        f.seek(at - 1)
        f.write(b"\x7f")
    code, out = run_check(check, bad)
    assert code == 1, out
    assert "'victim': value does not decode" in out

    # A truncated file.
    cut = os.path.join(s.workdir, "truncated")
    shutil.copytree(snapshot, cut)
    path = os.path.join(cut, "data.mdb")
    os.truncate(path, os.path.getsize(path) // 2)
    code, out = run_check(check, cut)
    assert code == 1, out
    assert "truncated" in out

    # No environment at all.
    code, out = run_check(check, os.path.join(s.workdir, "nothing"))
    assert code == 1, out
