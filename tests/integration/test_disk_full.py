"""Disk full (issue 6 item 5, DESIGN.md "Durability and space", man lmkv-server(1)).

Each case mounts a small tmpfs of its own as the server's --dir (root only: skipped when mount is
not permitted), writes until writes are answered -OOM, and checks that every acknowledged write
reads back, that reads go on, and that INFO says the disk is full; then deletes a filler file it
put on the same tmpfs and checks that writes resume without a restart, and that after kill -9 and
a restart everything acknowledged is still there.

  - the log cannot grow: it reserves its space ahead of the groups that fill it, so a full disk
    refuses a group before it runs;
  - data.mdb cannot grow while the log still has room: the bulk apply fails and is retried, and
    writes are refused once more than max-unapplied-bytes waits for it.
"""

import os
import shutil
import subprocess
import tempfile

import pytest
import redis

from helpers import LmkvProcess, fill_file, info_fields, wait_for

pytestmark = pytest.mark.lmkv_only

MiB = 1 << 20
DISK_FULL = "OOM command not allowed: the disk is full"


@pytest.fixture
def small_disk(request):
    """make(size_mb, inodes=None) -> (workdir, data_dir): data_dir is a fresh tmpfs of size_mb
    MiB (and at most `inodes` files); the server log stays in workdir, off the tmpfs. Servers
    made with server() are killed by PID, then the tmpfs is unmounted and the workdir
    removed."""
    mounts, procs = [], []
    binary = request.config.getoption("--lmkv")

    def make(size_mb, inodes=None):
        workdir = tempfile.mkdtemp(prefix="lmkv-it-full-")
        data = os.path.join(workdir, "data")
        os.makedirs(data)
        options = f"size={size_mb}m" + (f",nr_inodes={inodes}" if inodes else "")
        try:
            done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", data],
                                  capture_output=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as e:
            shutil.rmtree(workdir, ignore_errors=True)
            pytest.skip(f"cannot mount a tmpfs: {e}")
        if done.returncode != 0:
            shutil.rmtree(workdir, ignore_errors=True)
            pytest.skip("cannot mount a tmpfs (needs root): "
                        + done.stderr.decode(errors="replace").strip())
        mounts.append((workdir, data))
        return workdir, data

    def server(workdir, extra_args=()):
        proc = LmkvProcess(binary, workdir, list(extra_args))
        procs.append(proc)
        return proc.start()

    make.server = server
    yield make
    for proc in procs:
        if proc.running():
            proc.kill9()
    for workdir, data in mounts:
        subprocess.run(["umount", data], capture_output=True, timeout=30)
        if not getattr(request.node, "_lmkv_failed", False):
            shutil.rmtree(workdir, ignore_errors=True)


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def value_of(i, size):
    """A distinct value per i (its index in the first bytes, so no two are equal)."""
    head = f"{i:08d}:".encode()
    return head + bytes((i * 7 + j) % 251 for j in range(256)) * (size // 256) + head


def write_until_refused(c, acked, first, size, limit):
    """SETs k<first>... until one is refused; records what was acknowledged in acked.
    Returns the refusal's text."""
    for i in range(first, first + limit):
        try:
            c.set(f"k{i}", value_of(i, size))
        except redis.ResponseError as e:
            return str(e)
        acked[f"k{i}"] = value_of(i, size)
    return None


def set_acked(c, acked, numbers, size):
    """SETs k<i> for each i in numbers, each acknowledged, and records it in acked."""
    for i in numbers:
        assert c.set(f"k{i}", value_of(i, size)) is True
        acked[f"k{i}"] = value_of(i, size)


def check_all(c, acked, proc):
    """Every acknowledged write reads back, one by one and by MGET; DBSIZE and SCAN agree."""
    for k, v in acked.items():
        assert c.get(k) == v, f"{k} lost\n" + proc.log_tail()
    keys = list(acked)
    for n in range(0, len(keys), 50):
        assert c.mget(keys[n:n + 50]) == [acked[k] for k in keys[n:n + 50]]
    assert c.dbsize() == len(acked)
    assert {k.decode() for k in c.scan_iter(count=100)} == set(acked)
    keys = c.execute_command("RANGE", "-", "+", "LIMIT", len(acked) + 10, "KEYSONLY")
    assert [k.decode() for k in keys] == sorted(acked)


def fields(c):
    f = info_fields(c, "persistence")
    return {k: f[k] for k in ("lmkv_disk_full", "lmkv_log_space_full", "lmkv_apply_failing",
                              "lmkv_apply_errors", "lmkv_space_refusals")}


def writes_resume(c):
    """Writes are accepted again (polled: space comes back on the writer's next tick and the
    applier's next retry)."""
    def ok():
        try:
            return c.set("probe", "after") is True
        except redis.ResponseError as e:
            assert str(e).startswith(DISK_FULL), e
            return False
    return wait_for(ok, timeout=8.0, interval=0.05)


def resume_and_restart(c, proc, data, fillers, acked, first, size):
    """Removes the filler files (freeing space or inodes), checks that writes resume without a
    restart and that nothing was lost, then kill -9, restarts on the same directory and checks
    again."""
    for path in fillers:
        os.remove(path)
    assert writes_resume(c), "writes did not resume after space was freed\n" + proc.log_tail()
    acked["probe"] = b"after"
    set_acked(c, acked, range(first, first + 20), size)
    assert wait_for(lambda: fields(c)["lmkv_disk_full"] == "0", timeout=8.0), fields(c)
    assert fields(c)["lmkv_apply_failing"] == "0"
    check_all(c, acked, proc)
    c.close()

    proc.kill9()
    proc.start()
    c = proc.client()
    check_all(c, acked, proc)
    assert c.set("after-restart", "1") is True
    assert fields(c)["lmkv_disk_full"] == "0", f"{fields(c)} {os.statvfs(data)}\n" + proc.log_tail()
    c.close()


def fill_the_log(small_disk):
    """A server on a 64 MiB tmpfs written until its log cannot grow. 24 MiB for the server;
    freeing the filler leaves room for what the log (one segment, not released until the next
    one starts) and data.mdb still need afterwards. Returns (proc, client, data dir, filler,
    acked)."""
    workdir, data = small_disk(64)
    filler = os.path.join(data, "filler")
    fill_file(filler, 40 * MiB)
    proc = small_disk.server(workdir)
    c = proc.client()
    acked = {}
    refusal = write_until_refused(c, acked, 0, 60_000, limit=1000)
    assert refusal is not None, "24 MiB filled without a refusal\n" + proc.log_tail()
    assert refusal.startswith(DISK_FULL), refusal
    assert len(acked) > 50  # the tmpfs had room for a good many before it filled
    return proc, c, data, filler, acked


def test_a_full_log_refuses_writes_keeps_reads_and_resumes(small_disk):
    proc, c, data, filler, acked = fill_the_log(small_disk)
    f = fields(c)
    assert f["lmkv_disk_full"] == "1" and f["lmkv_log_space_full"] == "1", f
    assert int(f["lmkv_space_refusals"]) >= 1

    # Once full, every write is refused, however small, until space comes back; a
    # transaction holding one is discarded; reads, read-only transactions included, go on.
    with pytest.raises(redis.ResponseError, match=DISK_FULL):
        c.set("small", "x")
    with pytest.raises(redis.ResponseError, match="OOM command not allowed"):
        c.delete("k0")
    p = c.pipeline(transaction=True)
    p.set("in-multi", "x")
    # (-EXECABORT, whose prefix redis-py turns into the exception's class)
    with pytest.raises(redis.exceptions.ExecAbortError,
                       match="Transaction discarded because of: " + DISK_FULL):
        p.execute()
    p = c.pipeline(transaction=True)
    p.get("k0")
    assert p.execute() == [acked["k0"]]
    check_all(c, acked, proc)
    assert c.get("in-multi") is None and c.get("small") is None

    resume_and_restart(c, proc, data, [filler], acked, len(acked) + 1, 60_000)


def test_a_data_file_that_cannot_grow_refuses_writes_and_resumes(small_disk):
    workdir, data = small_disk(64)
    # Small write buffers are applied soon; past 384 KB unapplied, a failing apply refuses
    # writes long before the log runs out of the space it reserved (8 MiB ahead).
    proc = small_disk.server(workdir, ["--write-buffer-size", "256kb",
                                       "--max-unapplied-bytes", "384kb"])
    c = proc.client()
    acked = {"warm": b"x"}
    assert c.set("warm", "x") is True  # the log reserves its space ahead now
    # Leave less room than applying a 256 KB buffer needs.
    filler = os.path.join(data, "filler")
    fill_file(filler, free_bytes(data) - 128 * 1024)

    refusal = write_until_refused(c, acked, 0, 16_000, limit=400)
    assert refusal is not None, "no refusal\n" + proc.log_tail()
    assert refusal.startswith(DISK_FULL), refusal
    f = fields(c)
    assert f["lmkv_apply_failing"] == "1" and f["lmkv_log_space_full"] == "0", f
    assert f["lmkv_disk_full"] == "1" and int(f["lmkv_apply_errors"]) >= 1, f
    # The applier keeps retrying (with backoff) and the refusal holds meanwhile.
    assert wait_for(lambda: int(fields(c)["lmkv_apply_errors"]) >= 2, timeout=5.0), fields(c)
    with pytest.raises(redis.ResponseError, match=DISK_FULL):
        c.set("small", "x")
    check_all(c, acked, proc)

    resume_and_restart(c, proc, data, [filler], acked, len(acked) + 1, 16_000)


def test_a_crash_on_a_full_disk_restarts_serving_reads(small_disk):
    # kill -9 while the disk is full, then start again before any space is freed: the server
    # must come up with everything acknowledged readable and writes refused, not fail to
    # start for want of a new log segment; once space is freed, writes resume.
    proc, c, data, filler, acked = fill_the_log(small_disk)
    c.close()

    fillers = []
    for n in range(2):  # and a second crash, before anything was written in between
        proc.kill9()
        # Whatever the kill freed, in a file of its own: writing over the first crash's
        # filler would free its bytes (a 4 KiB page that, with the log space the first
        # restart had allocated, let the second restart's writes in: 1 run in 10 under ASan).
        fillers.append(os.path.join(data, f"filler-after-kill{n}"))
        fill_file(fillers[-1], free_bytes(data))
        proc.start()
        c = proc.client()
        check_all(c, acked, proc)
        with pytest.raises(redis.ResponseError, match=DISK_FULL):
            c.set("small", "x")
        assert fields(c)["lmkv_disk_full"] == "1", fields(c)
        c.close()

    c = proc.client()
    resume_and_restart(c, proc, data, [filler] + fillers, acked, len(acked) + 1, 60_000)


def use_up_inodes(data):
    """Creates empty files in data until no inode is left; returns their paths."""
    made = []
    while True:
        path = os.path.join(data, f"inode{len(made)}")
        try:
            open(path, "wb").close()
        except OSError:
            return made
        made.append(path)


def test_a_crash_with_no_inode_left_restarts_serving_reads_and_writes(small_disk):
    # A disk can be full of files rather than bytes. After kill -9 a start appends to a new
    # log segment, which it cannot create here: it appends to the replayed one instead, and
    # serves and takes writes as usual.
    workdir, data = small_disk(64, inodes=16)
    proc = small_disk.server(workdir)
    c = proc.client()
    acked = {}
    set_acked(c, acked, range(300), 1000)
    c.close()
    fillers = use_up_inodes(data)
    assert fillers, "no inode was free to begin with"

    first = 300
    for _ in range(2):  # the second start replays the first one's appends too
        proc.kill9()
        proc.start()
        c = proc.client()
        assert int(info_fields(c, "persistence")["lmkv_replayed_frames"]) > 0
        check_all(c, acked, proc)
        set_acked(c, acked, range(first, first + 100), 1000)
        first += 100
        check_all(c, acked, proc)
        c.close()
    assert "appending to" in proc.log_tail(), proc.log_tail()

    for path in fillers:
        os.remove(path)
    proc.kill9()
    proc.start()
    c = proc.client()
    check_all(c, acked, proc)
    assert c.set("after", "1") is True
    c.close()


def reads_then_writes_once_inodes_free(proc, data, acked, fillers):
    """A server just started with no inode for its log file: everything acknowledged reads back
    and writes are refused as on a full disk, from the first one; once the inodes are freed,
    writes resume without a restart, and survive kill -9."""
    c = proc.client()
    assert fields(c)["lmkv_disk_full"] == "1", fields(c)
    check_all(c, acked, proc)
    with pytest.raises(redis.ResponseError, match=DISK_FULL):
        c.set("small", "x")
    assert "writes wait for space" in proc.log_tail(), proc.log_tail()
    resume_and_restart(c, proc, data, fillers, acked, 1000, 1000)


def test_a_snapshot_restored_with_no_inode_left_serves_reads_and_then_writes(small_disk):
    # A snapshot has no log: a server started on a copy of one creates the log's directory and
    # first segment. With no inode for them it still starts, at the snapshot's offset.
    workdir, data = small_disk(64)
    source = small_disk.server(workdir)
    c = source.client()
    acked = {}
    set_acked(c, acked, range(200), 1000)
    assert c.save() is True
    offset = info_fields(c, "persistence")["lmkv_last_snapshot_offset"]
    c.close()

    workdir2, data2 = small_disk(64, inodes=16)
    shutil.copy(os.path.join(data, "snapshot", "data.mdb"), data2)
    fillers = use_up_inodes(data2)
    os.remove(fillers.pop())  # an inode for LMDB's lock.mdb, none for the log
    proc = small_disk.server(workdir2)
    assert info_fields(proc.client(), "persistence")["lmkv_applied_offset"] == offset
    assert not os.path.exists(os.path.join(data2, "log")), os.listdir(data2)
    reads_then_writes_once_inodes_free(proc, data2, acked, fillers)


def test_a_log_that_lost_its_tail_with_no_inode_left_serves_reads_and_then_writes(small_disk):
    # With --fsync no an OS crash may lose the log's unsynced tail after the store applied it:
    # the log then continues at the store's offset, in a new segment. With no inode for that
    # file the server still starts, serving what the store holds.
    workdir, data = small_disk(64, inodes=16)
    proc = small_disk.server(workdir, ["--fsync", "no"])
    c = proc.client()
    acked = {}
    set_acked(c, acked, range(300), 1000)
    assert wait_for(lambda: info_fields(c, "persistence")["lmkv_unapplied_bytes"] == "0",
                    timeout=10.0), info_fields(c, "persistence")
    c.close()
    proc.kill9()
    log_dir = os.path.join(data, "log")
    last = sorted(os.listdir(log_dir))[-1]
    os.truncate(os.path.join(log_dir, last), 0)  # what the OS crash did not write
    fillers = use_up_inodes(data)
    assert fillers, "no inode was free to begin with"
    proc.start()
    assert "restarting the log there" in proc.log_tail(), proc.log_tail()
    reads_then_writes_once_inodes_free(proc, data, acked, fillers)
