"""Active expiry and SWAPDB (issue 5).

Keys with a TTL must become unreadable at their deadline and be reclaimed by active expiry
(DBSIZE drops without anyone reading them) while other clients keep writing and reading;
keys without a TTL are never lost; TTLs and SWAPDB survive kill -9. Everything not marked
lmkv_only also passes against a real redis-server (--host/--port).
"""

import random
import threading
import time

import pytest
import redis

from helpers import info_fields, wait_for


def now_ms():
    return int(time.time() * 1000)


class Load:
    """Writes and reads keys without a TTL from another connection until stopped, checking
    that each read returns the value last written."""

    def __init__(self, target, prefix="keep:", keys=500):
        self.client = target.client()
        self.prefix = prefix
        self.keys = keys
        self.values = {}
        self.errors = []
        self.ops = 0
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        rng = random.Random(5)
        try:
            deadline = time.monotonic() + 120  # bounded whatever happens
            while not self.stop_flag.is_set() and time.monotonic() < deadline:
                k = f"{self.prefix}{rng.randrange(self.keys)}"
                if rng.random() < 0.5 or k not in self.values:
                    v = str(self.ops).encode()
                    self.client.set(k, v)
                    self.values[k] = v
                else:
                    got = self.client.get(k)
                    if got != self.values[k]:
                        self.errors.append((k, got, self.values[k]))
                self.ops += 1
        except Exception as e:  # reported by stop()
            self.errors.append(repr(e))

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        self.thread.join(30)
        self.client.close()


def set_with_deadlines(client, keys, deadline_of, chunk=1000):
    for i in range(0, len(keys), chunk):
        pipe = client.pipeline(transaction=False)
        for k in keys[i:i + chunk]:
            pipe.execute_command("SET", k, b"v", "PXAT", deadline_of[k])
        assert all(pipe.execute())


# ---------------------------------------------------------------------------------------------
# Active expiry
# ---------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_many_short_ttls_expire_actively_under_load(target, r):
    n = 20000
    start = now_ms()
    keys = [f"ttl:{i}" for i in range(n)]
    # Deadlines spread over 1.5-3.5 s from now (PXAT: each deadline is known exactly).
    deadline_of = {k: start + 1500 + (i * 2000) // n for i, k in enumerate(keys)}
    with Load(target) as load:
        set_with_deadlines(r, keys, deadline_of)
        permanent = r.dbsize() - n
        assert permanent >= 0

        # While they expire: no key is readable after its deadline. Reads here go to a
        # sample only, taken while the load keeps writing.
        checker = target.client()
        rng = random.Random(1)
        late_reads = []
        while now_ms() < start + 3600:
            sample = rng.sample(keys, 50)
            sent = now_ms()
            got = checker.mget(sample)
            for k, v in zip(sample, got):
                if v is not None and sent > deadline_of[k]:
                    late_reads.append((k, sent - deadline_of[k]))
            time.sleep(0.05)
        assert not late_reads, late_reads[:10]

        # Active expiry reclaims the rest without anyone reading them: DBSIZE drops to the
        # keys without a TTL (which the load may still be adding to, up to its key count).
        def settled():
            return r.dbsize() <= load.keys

        assert wait_for(settled, timeout=30, interval=0.2), (r.dbsize(), load.keys)
    assert not load.errors, load.errors[:5]
    assert load.ops > 100
    # Nothing with a TTL is left, and nothing without one was lost.
    for i in range(0, n, 5000):
        assert r.mget(keys[i:i + 5000]) == [None] * len(keys[i:i + 5000])
    assert r.dbsize() == len(load.values)
    for k, v in load.values.items():
        assert r.get(k) == v


def test_expired_keys_are_counted_in_info_stats(target, r):
    before = int(info_fields(r, "stats")["expired_keys"])
    pipe = r.pipeline(transaction=False)
    for i in range(100):
        pipe.set(f"short:{i}", "v", px=50)
    pipe.set("long", "v")
    pipe.execute()
    assert wait_for(lambda: r.dbsize() == 1, timeout=30, interval=0.1), r.dbsize()
    after = int(info_fields(r, "stats")["expired_keys"])
    assert after - before >= 100
    assert r.get("long") == b"v"


def test_short_ttls_are_reclaimed_promptly(target, r):
    # Redis reclaims a handful of expired keys within its next active expiry cycle (10 per
    # second); lmkv must not wait for the keys' write buffer to reach LMDB (seconds).
    r.set("stay", "v")
    pipe = r.pipeline(transaction=False)
    for i in range(50):
        pipe.set(f"prompt:{i}", "v", px=100)
    pipe.execute()
    set_at = time.monotonic()
    assert wait_for(lambda: r.dbsize() == 1, timeout=10, interval=0.02), r.dbsize()
    assert time.monotonic() - set_at < 1.5
    assert r.get("stay") == b"v"


def test_expiry_raises_keyspace_events(target, r):
    try:
        old = r.config_get("notify-keyspace-events").get("notify-keyspace-events", "")
        r.config_set("notify-keyspace-events", "Ex")
    except redis.ResponseError as e:
        pytest.skip(f"notify-keyspace-events not settable: {e}")
    sub = target.client()
    p = sub.pubsub()
    try:
        p.subscribe("__keyevent@0__:expired")
        assert p.get_message(timeout=5)["type"] == "subscribe"
        r.set("ev:a", "1", px=30)
        r.set("ev:b", "1", px=30)
        got = set()
        deadline = time.monotonic() + 20
        while len(got) < 2 and time.monotonic() < deadline:
            m = p.get_message(timeout=1)
            if m and m["type"] == "message":
                got.add(m["data"])
        assert got == {b"ev:a", b"ev:b"}
    finally:
        p.close()
        sub.close()
        r.config_set("notify-keyspace-events", old)


@pytest.mark.lmkv_only
def test_ttls_survive_kill9(lmkv_factory):
    proc = lmkv_factory()
    c = proc.client()
    base = now_ms()
    pipe = c.pipeline(transaction=False)
    for i in range(200):
        pipe.execute_command("SET", f"long:{i}", "v", "PXAT", base + 600_000 + i)
        pipe.execute_command("SET", f"short:{i}", "v", "PXAT", base + 1000)
        pipe.set(f"plain:{i}", "v")
    pipe.execute()
    c.pexpireat("plain:0", base + 700_000)  # a deadline given later, by PEXPIREAT
    c.close()
    proc.kill9()
    proc.start()
    c = proc.client()
    for i in range(200):
        assert c.execute_command("PEXPIRETIME", f"long:{i}") == base + 600_000 + i
        if i:
            assert c.ttl(f"plain:{i}") == -1
    assert c.execute_command("PEXPIRETIME", "plain:0") == base + 700_000
    # The short ones expire after the restart too, read or not.
    assert wait_for(lambda: c.dbsize() == 400, timeout=30, interval=0.1), c.dbsize()
    assert 0 < int(info_fields(c, "stats")["expired_keys"]) <= 200
    proc.kill9()
    proc.start()
    c = proc.client()
    assert c.dbsize() == 400
    assert c.get("short:7") is None
    assert c.execute_command("PEXPIRETIME", "long:7") == base + 600_007
    c.close()


# ---------------------------------------------------------------------------------------------
# INFO keyspace: keys= and expires=
# ---------------------------------------------------------------------------------------------

def keyspace(client, db=0):
    """(keys, expires) of db from INFO keyspace; (0, 0) when the line is missing."""
    line = client.info("keyspace").get(f"db{db}", {})
    return line.get("keys", 0), line.get("expires", 0)


def test_info_keyspace_counts_keys_with_a_deadline(target, r):
    for i in range(10):
        r.set(f"plain:{i}", "v")
    for i in range(5):
        r.set(f"ttl:{i}", "v", ex=600)
    assert keyspace(r) == (15, 5)
    r.expire("plain:0", 600)                   # a deadline given later
    assert keyspace(r) == (15, 6)
    r.persist("ttl:0")                         # one taken away
    r.set("ttl:1", "w")                        # SET without KEEPTTL drops it
    r.set("ttl:2", "w", keepttl=True)          # ... with KEEPTTL keeps it
    assert keyspace(r) == (15, 4)
    r.delete("ttl:3", "plain:9")               # a key with one, a key without
    assert keyspace(r) == (13, 3)
    r.getex("plain:1", ex=100)
    r.getex("ttl:4", persist=True)
    assert keyspace(r) == (13, 3)
    other = target.client(db=4)
    try:
        other.set("x", "v", ex=100)
        r.swapdb(0, 4)                         # the counts move with the data
        assert keyspace(r) == (1, 1)
        assert keyspace(r, 4) == (13, 3)
        r.swapdb(0, 4)
        other.flushdb()
        assert keyspace(r, 4) == (0, 0)
        assert keyspace(r) == (13, 3)
    finally:
        other.flushdb()
        other.close()


@pytest.mark.lmkv_only
def test_info_keyspace_expires_through_applies_and_restarts(lmkv_factory):
    """Counts kept by the bulk apply in LMDB plus the write buffer's changes, exact across
    many applies (a small buffer), a FLUSHDB, kill -9 and a clean restart."""
    proc = lmkv_factory(["--write-buffer-size", "64kb"])
    c = proc.client()
    pipe = c.pipeline(transaction=False)
    for i in range(3000):                      # small pipelines: many groups, many freezes
        if i % 3 == 0:
            pipe.set(f"k:{i}", "v" * 200, ex=3600)
        else:
            pipe.set(f"k:{i}", "v" * 200)
        if i % 100 == 99:
            pipe.execute()
    for i in range(0, 3000, 2):                # half of each kind overwritten...
        pipe.set(f"k:{i}", "w", ex=3600) if i % 4 == 0 else pipe.set(f"k:{i}", "w")
    for i in range(1, 600, 2):                 # ... some deleted
        pipe.delete(f"k:{i}")
    pipe.execute()
    expected_expires = sum(
        1 for i in range(3000)
        if not (i % 2 == 1 and i < 600) and ((i % 4 == 0) if i % 2 == 0 else (i % 3 == 0)))
    expected = (2700, expected_expires)
    assert keyspace(c) == expected
    # Several applies; how many depends on the machine: an applier that falls
    # behind takes a few frozen buffers at once (4 of them on a loaded ASan run).
    assert int(c.info("persistence")["lmkv_bulk_applies"]) > 1
    c.close()
    for how in ("kill9", "term"):
        proc.kill9() if how == "kill9" else proc.stop()
        proc.start()
        c = proc.client()
        assert keyspace(c) == expected, how
        c.close()
    c = proc.client(db=1)
    c.set("other", "v", ex=100)
    c.flushdb()
    c.set("after", "v", px=100_000)
    assert keyspace(c, 1) == (1, 1)
    assert keyspace(c) == expected
    c.close()


# ---------------------------------------------------------------------------------------------
# SWAPDB
# ---------------------------------------------------------------------------------------------

def test_swapdb_is_seen_by_another_connection(target, r):
    a = target.client(db=0)
    b = target.client(db=1)
    watcher = target.client(db=0)
    try:
        a.set("k", "in0")
        a.set("only0", "x")
        b.set("k", "in1")
        assert watcher.get("k") == b"in0"
        assert a.swapdb(0, 1) is True
        assert watcher.get("k") == b"in1"
        assert watcher.dbsize() == 1
        assert b.get("k") == b"in0"
        assert b.get("only0") == b"x"
        assert b.dbsize() == 2
        assert r.swapdb(1, 1) is True  # a database with itself: nothing changes
        assert watcher.get("k") == b"in1"
    finally:
        for c in (a, b, watcher):
            c.close()


def test_swapdb_errors(r):
    cases = [
        (("a", 1), "invalid first DB index"),
        ((0, "b"), "invalid second DB index"),
        (("1.5", 0), "invalid first DB index"),
        (("99999999999999", 0), "invalid first DB index"),
        ((0, 16), "DB index is out of range"),
        ((-1, 0), "DB index is out of range"),
        ((0, -1), "DB index is out of range"),
    ]
    for args, text in cases:
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command("SWAPDB", *args)
        assert str(e.value) == text, args
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("SWAPDB", 0)
    assert "wrong number of arguments" in str(e.value)


def test_swapdb_inside_multi_is_atomic(target, r):
    r.set("k", "in0")
    t = r.pipeline(transaction=True)
    t.set("before", "x")
    t.swapdb(0, 1)
    t.set("after", "y")
    t.execute()
    one = target.client(db=1)
    try:
        assert one.get("k") == b"in0"
        assert one.get("before") == b"x"
        assert r.get("after") == b"y"
        assert r.get("k") is None
    finally:
        one.close()


def test_ttls_move_with_swapdb(target, r):
    r.set("t", "v", px=200)
    r.set("p", "v")
    r.swapdb(0, 3)
    three = target.client(db=3)
    try:
        assert 0 < three.pttl("t") <= 200
        assert wait_for(lambda: three.dbsize() == 1, timeout=30, interval=0.1), three.dbsize()
        assert three.get("p") == b"v"
    finally:
        three.flushdb()
        three.close()


@pytest.mark.lmkv_only
def test_swapdb_survives_restarts(lmkv_factory):
    proc = lmkv_factory()
    c0 = proc.client(db=0)
    c1 = proc.client(db=1)
    for i in range(100):
        c0.set(f"a{i}", "0")
    c1.set("b", "1")
    c0.swapdb(0, 1)
    c0.set("after", "new0")
    c0.close()
    c1.close()
    for how in ("kill9", "term", "kill9"):
        proc.kill9() if how == "kill9" else proc.stop()
        proc.start()
        c0 = proc.client(db=0)
        c1 = proc.client(db=1)
        assert c0.get("b") == b"1", how
        assert c0.get("after") == b"new0", how
        assert c0.dbsize() == 2, how
        assert c1.dbsize() == 100, how
        assert c1.get("a7") == b"0", how
        c0.close()
        c1.close()
