"""MULTI/EXEC/DISCARD/WATCH/UNWATCH (issue 5), Redis 7.0 semantics and texts.

Everything not marked lmkv_only also passes against a real redis-server (--host/--port).
The lmkv_only tests run several clients at once on a server with two loops: optimistic
transfers under WATCH must keep their sum, and no reader may see part of an EXEC.
"""

import threading
import time

import pytest
import redis

from helpers import decode_reply, encode_command

EXECABORT = "Transaction discarded because of previous errors."


def raw_pipeline(raw_conn, *commands):
    """Sends all commands in one write, then reads one reply per command (decoded)."""
    raw_conn.send(b"".join(encode_command(*c) for c in commands))
    return [decode_reply(raw_conn.read_exactly_reply()) for _ in commands]


def test_multi_exec_basics(raw, r):
    c = raw()
    assert raw_pipeline(c, ("MULTI",), ("SET", "k", "1"), ("INCR", "k"), ("GET", "k"),
                        ("PING",), ("EXEC",)) == \
        ["OK", "QUEUED", "QUEUED", "QUEUED", "QUEUED", ["OK", 2, b"2", "PONG"]]
    assert raw_pipeline(c, ("MULTI",), ("EXEC",)) == ["OK", []]
    assert r.get("k") == b"2"


def test_state_errors(raw):
    c = raw()
    replies = raw_pipeline(c, ("EXEC",), ("DISCARD",), ("UNWATCH",), ("MULTI",), ("MULTI",),
                           ("WATCH", "x"), ("SET", "a", "1"), ("EXEC",))
    assert replies[:3] == ["ERR EXEC without MULTI", "ERR DISCARD without MULTI", "OK"]
    assert replies[3:] == ["OK", "ERR MULTI calls can not be nested",
                           "ERR WATCH inside MULTI is not allowed", "QUEUED", ["OK"]]


def test_execabort_after_unknown_command(raw, r):
    c = raw()
    replies = raw_pipeline(c, ("MULTI",), ("NOSUCHCMD", "x"), ("SET", "a", "1"), ("EXEC",))
    assert replies[0] == "OK"
    assert replies[1].startswith("ERR unknown command 'NOSUCHCMD'")
    assert replies[2:] == ["QUEUED", "EXECABORT " + EXECABORT]
    assert r.get("a") is None
    # The transaction is over.
    assert raw_pipeline(c, ("EXEC",)) == ["ERR EXEC without MULTI"]


def test_execabort_after_wrong_arity(raw, r):
    c = raw()
    assert raw_pipeline(c, ("MULTI",), ("GET",), ("SET", "a", "1"), ("EXEC",)) == \
        ["OK", "ERR wrong number of arguments for 'get' command", "QUEUED",
         "EXECABORT " + EXECABORT]
    assert r.get("a") is None


def test_execabort_redis_py(r):
    p = r.pipeline(transaction=True)
    p.set("a", "1")
    p.execute_command("NOSUCHCMD")
    with pytest.raises(redis.exceptions.ResponseError):
        p.execute()
    assert r.get("a") is None


def test_runtime_error_inside_exec_does_not_roll_back(raw, r):
    r.set("s", "text")
    c = raw()
    replies = raw_pipeline(c, ("MULTI",), ("SET", "a", "1"), ("INCR", "s"), ("INCR", "a"),
                           ("EXEC",))
    assert replies[:4] == ["OK", "QUEUED", "QUEUED", "QUEUED"]
    assert replies[4] == ["OK", "ERR value is not an integer or out of range", 2]
    assert r.get("a") == b"2"
    assert r.get("s") == b"text"


def test_runtime_error_redis_py(r):
    r.set("s", "text")
    p = r.pipeline(transaction=True)
    p.set("a", "1").incr("s").incr("a")
    out = p.execute(raise_on_error=False)
    assert out[0] is True and out[2] == 2
    assert isinstance(out[1], redis.exceptions.ResponseError)


def test_discard(raw, r):
    c = raw()
    assert raw_pipeline(c, ("MULTI",), ("SET", "a", "1"), ("DISCARD",), ("GET", "a"),
                        ("EXEC",)) == ["OK", "QUEUED", "OK", None, "ERR EXEC without MULTI"]
    assert r.get("a") is None


def test_select_inside_multi(raw, target):
    c = raw()
    assert raw_pipeline(c, ("MULTI",), ("SELECT", "1"), ("SET", "sel", "in1"), ("EXEC",),
                        # pipelined behind EXEC: must run in db 1
                        ("SET", "after", "x"), ("GET", "sel")) == \
        ["OK", "QUEUED", "QUEUED", ["OK", "OK"], "OK", b"in1"]
    db0 = target.client(db=0)
    db1 = target.client(db=1)
    try:
        assert db0.get("sel") is None and db0.get("after") is None
        assert db1.get("sel") == b"in1" and db1.get("after") == b"x"
    finally:
        db1.flushdb()
        db0.close()
        db1.close()


def test_select_out_of_range_inside_exec(raw):
    c = raw()
    assert raw_pipeline(c, ("MULTI",), ("PING",), ("ECHO", "hi"), ("SELECT", "99"),
                        ("EXEC",)) == \
        ["OK", "QUEUED", "QUEUED", "QUEUED", ["PONG", b"hi", "ERR DB index is out of range"]]


def test_pipeline_transaction_true(r):
    r.set("n", "10")
    p = r.pipeline(transaction=True)
    p.incr("n").get("n").mset({"x": "1", "y": "2"}).mget("x", "y", "n")
    assert p.execute() == [11, b"11", True, [b"1", b"2", b"11"]]


def test_watch_abort_by_another_client(target, r):
    r.set("k", "1")
    other = target.client()
    try:
        with r.pipeline() as p:
            p.watch("k")
            assert p.get("k") == b"1"
            other.set("k", "2")
            p.multi()
            p.set("k", "3")
            with pytest.raises(redis.WatchError):
                p.execute()
        assert r.get("k") == b"2"
    finally:
        other.close()


def test_watch_untouched_passes(target, r):
    r.set("k", "1")
    other = target.client()
    try:
        with r.pipeline() as p:
            p.watch("k", "absent")
            other.set("unrelated", "x")
            other.delete("absent")  # deletes nothing: no change
            p.multi()
            p.set("k", "mine")
            assert p.execute() == [True]
        assert r.get("k") == b"mine"
    finally:
        other.close()


def test_unwatch_forgets(target, raw, r):
    c = raw()
    other = target.client()
    try:
        assert raw_pipeline(c, ("WATCH", "k"), ("UNWATCH",)) == ["OK", "OK"]
        other.set("k", "x")
        assert raw_pipeline(c, ("MULTI",), ("SET", "k", "y"), ("EXEC",)) == \
            ["OK", "QUEUED", ["OK"]]
        # EXEC also unwatches: a change after it does not affect the next one.
        assert raw_pipeline(c, ("WATCH", "k"), ("MULTI",), ("EXEC",)) == ["OK", "OK", []]
        other.set("k", "z")
        assert raw_pipeline(c, ("MULTI",), ("EXEC",)) == ["OK", []]
    finally:
        other.close()


def test_watch_abort_resp3_null(target, raw, r):
    r.set("k", "1")
    c = raw()
    c.command("HELLO", "3")
    assert c.command("WATCH", "k") == b"+OK\r\n"
    r.set("k", "2")
    assert c.command("MULTI") == b"+OK\r\n"
    assert c.command("EXEC") == b"_\r\n"
    c2 = raw()
    assert c2.command("WATCH", "k") == b"+OK\r\n"
    r.set("k", "3")
    assert c2.command("MULTI") == b"+OK\r\n"
    assert c2.command("EXEC") == b"*-1\r\n"


def test_watch_and_expiry(r):
    r.set("k", "v", px=100)
    with r.pipeline() as p:
        p.watch("k")
        time.sleep(0.3)  # expires between WATCH and EXEC: Redis 7 aborts
        p.multi()
        p.set("z", "1")
        with pytest.raises(redis.WatchError):
            p.execute()
    assert r.get("z") is None
    # Already expired when watched and untouched since: no change.
    r.set("k2", "v", px=50)
    time.sleep(0.15)
    with r.pipeline() as p:
        p.watch("k2")
        p.multi()
        p.set("z", "1")
        assert p.execute() == [True]


def test_watch_and_flushdb(target, r):
    other = target.client()
    try:
        r.set("k", "1")
        with r.pipeline() as p:
            p.watch("k")
            other.flushdb()
            p.multi()
            p.set("z", "1")
            with pytest.raises(redis.WatchError):
                p.execute()
        # A flush that does not remove the watched key changes nothing.
        with r.pipeline() as p:
            p.watch("absent")
            other.flushdb()
            p.multi()
            p.set("z", "1")
            assert p.execute() == [True]
        # FLUSHALL also reaches other databases.
        r.set("k", "1")
        with r.pipeline() as p:
            p.watch("k")
            other.flushall()
            p.multi()
            p.set("z", "2")
            with pytest.raises(redis.WatchError):
                p.execute()
    finally:
        other.close()


def test_watch_inside_multi_and_transaction_helper(r):
    r.set("counter", "5")

    def double(pipe):
        value = int(pipe.get("counter"))
        pipe.multi()
        pipe.set("counter", value * 2)

    r.transaction(double, "counter")
    assert r.get("counter") == b"10"


def test_closed_watcher_is_forgotten(target, raw, r):
    """A connection that closes while watching must not disturb anyone (and the server
    must forget it: on lmkv the writer's table is cleaned on close)."""
    for _ in range(20):
        c = raw()
        assert c.command("WATCH", "k", "k2") == b"+OK\r\n"
        c.close()
    for _ in range(20):  # closed with the WATCH still in flight
        c = raw()
        c.send(encode_command("WATCH", "k") + encode_command("MULTI"))
        c.close()
    r.set("k", "1")
    with r.pipeline() as p:
        p.watch("k")
        p.multi()
        p.set("k", "2")
        assert p.execute() == [True]


# ---------------------------------------------------------------------------------------------
# Concurrency (lmkv_only: the shared server runs with --threads 2)
# ---------------------------------------------------------------------------------------------

ACCOUNTS = 5
START = 100


@pytest.mark.lmkv_only
def test_optimistic_transfers_keep_the_sum(target, r):
    for i in range(ACCOUNTS):
        r.set(f"acct:{i}", START)
    clients_n, transfers_each = 6, 40
    results = {"done": 0, "conflicts": 0, "errors": []}
    lock = threading.Lock()

    def worker(seed):
        # Separate connections, so they spread over both loops.
        c = target.client()
        try:
            done = conflicts = 0
            step = seed
            while done < transfers_each and conflicts < 5000:
                step += 1
                src, dst = step % ACCOUNTS, (step * 7 + seed) % ACCOUNTS
                if src == dst:
                    dst = (dst + 1) % ACCOUNTS
                with c.pipeline() as p:
                    try:
                        p.watch(f"acct:{src}", f"acct:{dst}")
                        a, b = int(p.get(f"acct:{src}")), int(p.get(f"acct:{dst}"))
                        p.multi()
                        # Blind SETs of values computed by the client: a conflict
                        # that WATCH missed would break the sum.
                        p.set(f"acct:{src}", a - 1)
                        p.set(f"acct:{dst}", b + 1)
                        p.execute()
                        done += 1
                    except redis.WatchError:
                        conflicts += 1
            with lock:
                results["done"] += done
                results["conflicts"] += conflicts
        except Exception as e:  # noqa: BLE001 - reported below
            with lock:
                results["errors"].append(repr(e))
        finally:
            c.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert results["errors"] == []
    assert results["done"] == clients_n * transfers_each
    total = sum(int(v) for v in r.mget([f"acct:{i}" for i in range(ACCOUNTS)]))
    assert total == ACCOUNTS * START
    # Six clients on five keys: some optimistic transactions must have collided.
    assert results["conflicts"] > 0


@pytest.mark.lmkv_only
def test_reader_never_sees_a_partial_exec(target, r):
    keys = [f"atom:{i}" for i in range(10)]
    r.mset({k: 0 for k in keys})
    stop = threading.Event()
    seen = {"reads": 0, "torn": []}

    def reader():
        c = target.client()
        try:
            while not stop.is_set() and seen["reads"] < 100000:
                values = c.mget(keys)
                seen["reads"] += 1
                if len(set(values)) != 1:
                    seen["torn"].append(values)
                    return
        finally:
            c.close()

    readers = [threading.Thread(target=reader) for _ in range(2)]
    for t in readers:
        t.start()
    w = target.client()
    try:
        for n in range(1, 151):
            p = w.pipeline(transaction=True)
            for k in keys:
                p.set(k, n)
            assert p.execute() == [True] * len(keys)
    finally:
        stop.set()
        for t in readers:
            t.join(timeout=30)
        w.close()
    assert seen["torn"] == []
    assert seen["reads"] > 0
    assert r.mget(keys) == [b"150"] * len(keys)


@pytest.mark.lmkv_only
def test_watch_on_one_loop_sees_write_from_the_other(target, r):
    """Many watcher/writer pairs, so both loop assignments occur; every change made between
    WATCH's reply and EXEC must abort the EXEC."""
    r.set("w", "0")
    for i in range(20):
        watcher, writer = target.client(), target.client()
        try:
            with watcher.pipeline() as p:
                p.watch("w")
                writer.set("w", str(i + 1))  # acknowledged before EXEC is sent
                p.multi()
                p.set("w", "lost")
                with pytest.raises(redis.WatchError):
                    p.execute()
        finally:
            watcher.close()
            writer.close()
    assert r.get("w") == b"20"


def test_reset_ends_the_transaction_and_its_watches(target, raw, r):
    c = raw()
    other = target.client()
    try:
        assert raw_pipeline(c, ("WATCH", "k"), ("MULTI",), ("SET", "k", "1"), ("RESET",)) == \
            ["OK", "OK", "QUEUED", "RESET"]
        other.set("k", "changed")
        # No watch survives RESET: this EXEC must run.
        assert raw_pipeline(c, ("MULTI",), ("SET", "k", "2"), ("EXEC",)) == \
            ["OK", "QUEUED", ["OK"]]
        assert r.get("k") == b"2"
    finally:
        other.close()


def test_replies_keep_command_order_behind_writes(raw):
    # Errors answered before a command runs (unknown command, arity) must not overtake the
    # replies of writes sent before them.
    c = raw()
    replies = raw_pipeline(c, ("SET", "k", "v"), ("NOSUCHCOMMAND",), ("SET", "k2", "v"),
                           ("GET",), ("INCR", "k3"), ("EXEC",))
    assert replies[0] == "OK" and replies[2] == "OK" and replies[4] == 1
    assert replies[1].startswith("ERR unknown command")
    assert replies[3].startswith("ERR wrong number of arguments")
    assert replies[5] == "ERR EXEC without MULTI"
