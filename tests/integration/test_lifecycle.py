"""Server lifecycle and durability: clean shutdown (SIGTERM, SIGINT, SHUTDOWN), kill -9 with
every --fsync mode, restart over the same --dir, configuration from a file, limits. These need
a server process the suite controls, so they are lmkv_only."""

import os
import signal
import socket
import threading
import time

import pytest
import redis

from helpers import RawConn, encode_command, wait_for

pytestmark = pytest.mark.lmkv_only

FSYNC_MODES = ["always", "everysec", "no"]


def write_acknowledged(client, n, prefix="k"):
    """Writes n keys in several ways (single SETs, a pipeline, MSETs); returns what the server
    acknowledged as {key: value}."""
    acked = {}
    for i in range(n // 4):
        k, v = f"{prefix}:s:{i}", f"single-{i}"
        assert client.set(k, v)
        acked[k] = v
    pipe = client.pipeline(transaction=False)
    batch = {f"{prefix}:p:{i}": f"piped-{i}" for i in range(n // 4)}
    for k, v in batch.items():
        pipe.set(k, v)
    assert all(pipe.execute())
    acked.update(batch)
    for j in range(0, n - len(acked), 50):
        group = {f"{prefix}:m:{j + i}": f"multi-{j + i}" for i in range(50)}
        assert client.mset(group)
        acked.update(group)
    return acked


def assert_present(client, acked):
    keys = list(acked)
    for i in range(0, len(keys), 500):
        chunk = keys[i:i + 500]
        got = client.mget(chunk)
        missing = [k for k, v in zip(chunk, got) if v != acked[k].encode()]
        assert not missing, f"{len(missing)} acknowledged keys lost, e.g. {missing[:5]}"


# --- clean shutdown --------------------------------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_shuts_down_cleanly_and_keeps_data(lmkv_factory, sig):
    s = lmkv_factory()
    c = s.client()
    acked = write_acknowledged(c, 1000)
    c.close()
    assert s.stop(sig) == 0
    s.start()
    c = s.client()
    assert c.dbsize() == 1000
    assert_present(c, acked)
    c.close()


def test_signal_the_moment_the_server_answers_is_a_clean_shutdown(lmkv_factory):
    # The handlers must be in place before any loop accepts: CI once saw a SIGTERM sent right
    # after the first PONG end the process by the default action (exit -15).
    s = lmkv_factory(start=False)
    for _ in range(20):
        s.start()
        assert s.stop() == 0


def test_shutdown_command_stops_the_server(lmkv_factory):
    s = lmkv_factory()
    c = s.client()
    c.set("before", "shutdown")
    raw = RawConn(s.host, s.port)
    raw.send(encode_command("SHUTDOWN"))
    data, closed = raw.read_until_closed(timeout=15)
    raw.close()
    assert closed and not data.startswith(b"-"), data
    assert s.wait_exit(15) == 0
    with pytest.raises(OSError):
        socket.create_connection((s.host, s.port), timeout=1).close()
    s.start()
    assert s.client().get("before") == b"shutdown"


def test_clients_are_closed_on_shutdown(lmkv_factory):
    s = lmkv_factory()
    idle = RawConn(s.host, s.port)
    assert idle.command("PING") == b"+PONG\r\n"
    assert s.stop(signal.SIGTERM) == 0
    _, closed = idle.read_until_closed(timeout=5)
    assert closed


# --- kill -9 ---------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", FSYNC_MODES)
def test_kill9_keeps_every_acknowledged_write(lmkv_factory, mode):
    # Every mode commits a write to the OS before replying, so a process crash loses nothing
    # that was acknowledged.
    s = lmkv_factory(["--fsync", mode])
    c = s.client()
    assert c.config_get("fsync") == {"fsync": mode}
    acked = write_acknowledged(c, 1000)
    c.incrby("counter", 7)
    c.delete("k:s:0")
    del acked["k:s:0"]
    c1 = s.client(db=3)
    c1.set("in-db3", "x")
    s.kill9()
    s.start()
    c = s.client()
    assert_present(c, acked)
    assert c.get("counter") == b"7"
    assert c.get("k:s:0") is None
    assert c.dbsize() == len(acked) + 1  # + counter
    assert s.client(db=3).get("in-db3") == b"x"


@pytest.mark.slow
@pytest.mark.parametrize("mode", FSYNC_MODES)
def test_kill9_under_concurrent_write_load(lmkv_factory, mode):
    s = lmkv_factory(["--fsync", mode])
    acked = [{} for _ in range(4)]
    stop = threading.Event()

    def writer(slot):
        c = s.client(socket_timeout=5)
        i = 0
        try:
            while not stop.is_set() and i < 1_000_000:
                if slot % 2:
                    pipe = c.pipeline(transaction=False)
                    batch = {f"w{slot}:{i + j}": f"{slot}-{i + j}" for j in range(20)}
                    for k, v in batch.items():
                        pipe.set(k, v)
                    pipe.execute()
                    acked[slot].update(batch)
                    i += 20
                else:
                    k, v = f"w{slot}:{i}", f"{slot}-{i}"
                    c.set(k, v)
                    acked[slot][k] = v
                    i += 1
        except (redis.ConnectionError, redis.TimeoutError):
            pass  # the server was killed mid-request: that write is unacknowledged

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    s.kill9()
    stop.set()
    for t in threads:
        t.join(30)
        assert not t.is_alive()
    total = sum(len(a) for a in acked)
    assert total > 0
    s.start()
    c = s.client()
    for a in acked:
        assert_present(c, a)
    assert c.dbsize() >= total


def test_restart_after_repeated_kills(lmkv_factory):
    s = lmkv_factory()
    expected = {}
    for round_ in range(3):
        c = s.client()
        expected.update(write_acknowledged(c, 200, prefix=f"r{round_}"))
        s.kill9()
        s.start()
    assert_present(s.client(), expected)
    assert s.client().dbsize() == len(expected)


def test_expiry_and_flush_survive_restart(lmkv_factory):
    s = lmkv_factory()
    c = s.client()
    c.set("short", "v", px=300)
    c.set("long", "v", ex=1000)
    c.set("gone", "v")
    c.flushdb()
    c.set("kept", "v")
    c.set("long", "v", ex=1000)
    c.set("short", "v", px=300)
    s.kill9()
    time.sleep(0.4)
    s.start()
    c = s.client()
    assert c.get("short") is None
    assert c.get("gone") is None
    assert c.get("long") == b"v" and c.get("kept") == b"v"
    c.set("k", "v", keepttl=True)
    assert sorted(c.keys("*")) == [b"k", b"kept", b"long"]


# --- SCAN cursors ----------------------------------------------------------------------------

def test_unknown_scan_cursor_is_an_error(target, r):
    with pytest.raises(redis.ResponseError, match="invalid cursor"):
        r.scan(123456789)
    r.mset({f"k{i}": i for i in range(100)})
    cursor, keys = r.scan(0, count=10)
    assert cursor != 0 and keys
    # A valid cursor keeps working from any connection (redis-py pools connections).
    other = target.client()
    cursor2, keys2 = other.scan(cursor, count=10)
    assert not set(keys) & set(keys2)
    other.close()


def test_scan_cursor_from_before_a_restart_is_invalid(lmkv_factory):
    s = lmkv_factory()
    c = s.client()
    c.mset({f"k{i}": i for i in range(100)})
    cursor, _ = c.scan(0, count=10)
    assert cursor != 0
    s.restart()
    with pytest.raises(redis.ResponseError, match="invalid cursor"):
        s.client().scan(cursor, count=10)


# --- key length limit ------------------------------------------------------------------------

def test_key_length_limit(r):
    ok, long = b"k" * 510, b"k" * 511
    assert r.set(ok, "v") is True
    assert r.get(ok) == b"v"
    with pytest.raises(redis.ResponseError) as e:
        r.set(long, "v")
    assert str(e.value) == "key too long (lmkv keys are at most 510 bytes)"
    for cmd in (["SETNX", long, "v"], ["APPEND", long, "v"], ["INCR", long],
                ["SETEX", long, "10", "v"], ["MSET", "a", "1", long, "v"]):
        with pytest.raises(redis.ResponseError, match="key too long"):
            r.execute_command(*cmd)
    assert r.get("a") is None  # MSET is all or nothing
    assert r.get(long) is None
    assert r.exists(long) == 0
    assert r.delete(long) == 0
    assert r.mget([ok, long]) == [b"v", None]
    assert r.dbsize() == 1


# --- configuration ---------------------------------------------------------------------------

def test_config_file_and_flags(lmkv_factory):
    s = lmkv_factory(config_lines=[("maxclients", "77"), ("range-default-limit", "5"),
                                   ("loglevel", "warning")],
                     extra_args=["--databases", "4"])
    c = s.client(decode_responses=True)
    assert c.config_get("maxclients") == {"maxclients": "77"}
    assert c.config_get("range-default-limit") == {"range-default-limit": "5"}
    assert c.config_get("loglevel") == {"loglevel": "warning"}
    with pytest.raises(redis.ResponseError, match="DB index is out of range"):
        c.execute_command("SELECT", "4")
    c.mset({f"k{i}": i for i in range(10)})
    assert len(c.execute_command("RANGE", "-", "+", "KEYSONLY")) == 5


def test_config_option_after_file_overrides_it(lmkv_factory):
    s = lmkv_factory(config_lines=[("maxclients", "77")], extra_args=["--maxclients", "88"])
    assert s.client().config_get("maxclients") == {"maxclients": "88"}


def test_bad_config_is_refused_at_start(lmkv_factory):
    s = lmkv_factory(["--fsync", "sometimes"], start=False)
    with pytest.raises(RuntimeError):
        s.start(timeout=5)
    s2 = lmkv_factory(["--no-such-directive", "1"], start=False)
    with pytest.raises(RuntimeError):
        s2.start(timeout=5)


def test_pidfile_and_logfile(lmkv_factory, tmp_path):
    pidfile, logfile = tmp_path / "lmkv.pid", tmp_path / "lmkv.log"
    s = lmkv_factory(["--pidfile", str(pidfile), "--logfile", str(logfile),
                      "--loglevel", "notice"])
    assert pidfile.read_text().strip() == str(s.proc.pid)
    assert s.stop() == 0
    assert logfile.stat().st_size > 0
    assert not pidfile.exists()  # removed on a clean shutdown, as Redis does


def test_maxclients(lmkv_factory):
    s = lmkv_factory(["--maxclients", "3"])
    # The start-up PING connection may still count until its loop has seen it close.
    probe = RawConn(s.host, s.port)
    assert wait_for(lambda: b"connected_clients:1\r\n" in probe.command("INFO", "clients"), 5)
    probe.close()
    time.sleep(0.2)
    conns = [RawConn(s.host, s.port) for _ in range(3)]
    try:
        for c in conns:
            assert c.command("PING") == b"+PONG\r\n"
        extra = RawConn(s.host, s.port)
        data, closed = extra.read_until_closed(timeout=5)
        assert data == b"-ERR max number of clients reached\r\n" and closed
        extra.close()
        conns.pop().close()
        time.sleep(0.2)
        again = RawConn(s.host, s.port)
        assert again.command("PING") == b"+PONG\r\n"
        conns.append(again)
    finally:
        for c in conns:
            c.close()


def test_config_set_fsync_at_runtime(lmkv_factory):
    s = lmkv_factory()
    c = s.client(decode_responses=True)
    assert c.config_get("fsync") == {"fsync": "always"}
    c.config_set("fsync", "no")
    assert c.config_get("fsync") == {"fsync": "no"}
    c.set("k", "v")
    s.kill9()
    s.start()
    assert s.client().get("k") == b"v"


def test_data_dir_is_created_and_used(lmkv_factory):
    s = lmkv_factory()
    s.client().set("k", "v")
    assert s.stop() == 0
    assert os.listdir(s.data_dir), "nothing written to --dir"


def test_config_flag_reads_a_file(lmkv_factory, tmp_path):
    conf = tmp_path / "lmkv.conf"
    conf.write_text('# comment\n\nmaxclients 55\nloglevel "verbose"\n')
    s = lmkv_factory(["--config", str(conf)])
    c = s.client(decode_responses=True)
    assert c.config_get("maxclients") == {"maxclients": "55"}
    assert c.config_get("loglevel") == {"loglevel": "verbose"}


def thread_nices(pid):
    """[(thread name, nice)] for the threads of pid, the main thread first."""
    rows = []
    for tid in sorted(os.listdir(f"/proc/{pid}/task"), key=lambda t: int(t) != pid):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                stat = f.read()
        except OSError:
            continue  # a thread that just ended
        rows.append((stat[stat.index("(") + 1:stat.rindex(")")],
                     int(stat[stat.rindex(")") + 2:].split()[16])))
    return rows


def test_background_threads_yield_to_the_loops(lmkv_factory):
    # Bulk applies and their read-ahead run at nice 19; the loops and the writer keep the
    # server's own priority: a loop sharing a core with an apply is not kept waiting behind it
    # (src/base/thread.h).
    server = lmkv_factory(extra_args=["--prefetch-threads", "4"])
    c = server.client()
    for i in range(100):
        c.set(f"k{i}", "v")
    rows = thread_nices(server.proc.pid)
    background = {"lmkv-applier", "lmkv-prefetch", "lmkv-filter"}
    assert {name for name, _ in rows} >= {"lmkv-applier", "lmkv-prefetch"}, rows
    main_nice = rows[0][1]
    for name, nice in rows:
        assert nice == (19 if name in background else main_nice), rows
    c.close()
