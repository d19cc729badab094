"""Keyspace commands beyond GET/SET: expiry (EXPIRE and friends, TTL, PERSIST), RENAME,
COPY, MOVE, TOUCH, OBJECT and MEMORY USAGE. Everything not marked lmkv_only passes against
a real Redis 7.0 too (run with --host/--port), which is what makes it a test of Redis
behaviour."""

import time

import pytest
import redis


def cmd(r, *args):
    return r.execute_command(*args)


def obj(r, *args):
    """OBJECT ...; redis-py's callback for OBJECT needs to know the subcommand."""
    return r.execute_command("OBJECT", *args, infotype=str(args[0]).lower() if args else "")


def error_of(r, *args):
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command(*args)
    return str(e.value)


@pytest.fixture
def db1(target, r):
    """A client on database 1 (r has already flushed every database)."""
    c = target.client(db=1)
    yield c
    c.close()


def error_of_obj(r, *args):
    with pytest.raises(redis.ResponseError) as e:
        obj(r, *args)
    return str(e.value)


# --- EXPIRE, TTL, PERSIST --------------------------------------------------------------------

def test_ttl_of_missing_and_persistent_keys(r):
    assert r.ttl("nosuch") == -2
    assert r.pttl("nosuch") == -2
    assert cmd(r, "EXPIRETIME", "nosuch") == -2
    assert cmd(r, "PEXPIRETIME", "nosuch") == -2
    r.set("k", "v")
    assert r.ttl("k") == -1
    assert r.pttl("k") == -1
    assert cmd(r, "EXPIRETIME", "k") == -1
    assert cmd(r, "PEXPIRETIME", "k") == -1
    assert cmd(r, "EXPIRE", "nosuch", 100) == 0


def test_ttl_decreases_over_time(r):
    r.set("k", "v")
    assert cmd(r, "PEXPIRE", "k", 2000) == 1
    first = r.pttl("k")
    assert 1900 < first <= 2000
    time.sleep(0.2)
    second = r.pttl("k")
    assert 0 < second <= first - 150
    assert r.ttl("k") in (1, 2)  # rounded to the nearest second
    assert r.get("k") == b"v"


def test_expiretime_is_absolute(r):
    r.set("k", "v")
    at = int(time.time()) + 1000
    assert cmd(r, "EXPIREAT", "k", at) == 1
    assert cmd(r, "EXPIRETIME", "k") == at
    assert cmd(r, "PEXPIRETIME", "k") == at * 1000
    assert cmd(r, "PEXPIREAT", "k", at * 1000 + 123) == 1
    assert cmd(r, "PEXPIRETIME", "k") == at * 1000 + 123
    assert 998 <= r.ttl("k") <= 1000
    assert cmd(r, "PEXPIREAT", "k", 9223372036854775807) == 1
    assert cmd(r, "PEXPIRETIME", "k") == 9223372036854775807


def test_expired_key_is_invisible(r):
    r.mset({"gone": "v", "live": "w"})
    assert cmd(r, "PEXPIRE", "gone", 50) == 1
    assert r.exists("gone") == 1
    time.sleep(0.12)
    assert r.get("gone") is None
    assert r.exists("gone", "live") == 1
    assert r.keys("*") == [b"live"]
    cursor, keys = r.scan(0, count=100)
    assert cursor == 0 and keys == [b"live"]
    assert r.ttl("gone") == -2
    assert r.type("gone") == b"none"
    assert cmd(r, "PERSIST", "gone") == 0


@pytest.mark.lmkv_only
def test_expired_key_is_invisible_to_range(r):
    r.mset({"a": "1", "b": "2", "c": "3"})
    assert cmd(r, "PEXPIRE", "b", 50) == 1
    time.sleep(0.12)
    assert cmd(r, "RANGE", "-", "+") == [b"a", b"1", b"c", b"3"]


def test_past_deadline_deletes(r):
    for args in (("EXPIRE", -1), ("PEXPIRE", 0), ("EXPIREAT", 1), ("PEXPIREAT", 1)):
        r.set("k", "v")
        assert cmd(r, args[0], "k", args[1]) == 1, args
        assert r.exists("k") == 0, args
    assert cmd(r, "EXPIRE", "k", -1) == 0


def test_expire_gt_lt_nx_xx_matrix(r):
    r.set("k", "v")
    # No deadline counts as infinite: GT never beats it, LT always does.
    assert cmd(r, "EXPIRE", "k", 100, "XX") == 0
    assert cmd(r, "EXPIRE", "k", 100, "GT") == 0
    assert r.ttl("k") == -1
    assert cmd(r, "EXPIRE", "k", 100, "LT") == 1
    assert r.persist("k") is True
    assert cmd(r, "EXPIRE", "k", 100, "NX") == 1
    assert r.ttl("k") == 100
    assert cmd(r, "EXPIRE", "k", 200, "NX") == 0
    assert cmd(r, "EXPIRE", "k", 100, "XX") == 1
    assert cmd(r, "EXPIRE", "k", 50, "GT") == 0
    assert cmd(r, "EXPIRE", "k", 200, "gt") == 1
    assert r.ttl("k") == 200
    assert cmd(r, "EXPIRE", "k", 300, "LT") == 0
    assert cmd(r, "EXPIRE", "k", 150, "lt") == 1
    assert r.ttl("k") == 150
    assert cmd(r, "EXPIRE", "k", 120, "XX", "LT") == 1
    assert cmd(r, "EXPIRE", "k", 130, "XX", "GT") == 1
    assert cmd(r, "EXPIRE", "k", -1, "GT") == 0  # refused, so not deleted either
    assert r.ttl("k") == 130
    assert cmd(r, "PEXPIRE", "k", 1, "LT") == 1
    time.sleep(0.02)
    assert r.exists("k") == 0


def test_expire_errors(r):
    r.set("k", "v")
    nx = "NX and XX, GT or LT options at the same time are not compatible"
    assert error_of(r, "EXPIRE", "k", 100, "NX", "XX") == nx
    assert error_of(r, "EXPIRE", "k", 100, "NX", "GT") == nx
    assert error_of(r, "PEXPIRE", "k", 100, "LT", "NX") == nx
    assert error_of(r, "EXPIRE", "k", 100, "GT", "LT") == \
        "GT and LT options at the same time are not compatible"
    assert error_of(r, "EXPIRE", "k", 100, "bogus") == "Unsupported option bogus"
    assert error_of(r, "EXPIRE", "k", "abc") == "value is not an integer or out of range"
    assert error_of(r, "EXPIRE", "k", 9223372036854775807) == \
        "invalid expire time in 'expire' command"
    assert error_of(r, "PEXPIRE", "k", 9223372036854775807) == \
        "invalid expire time in 'pexpire' command"
    assert error_of(r, "EXPIREAT", "k", 9223372036854775807) == \
        "invalid expire time in 'expireat' command"
    assert error_of(r, "EXPIRE", "k") == "wrong number of arguments for 'expire' command"
    assert r.ttl("k") == -1


def test_persist(r):
    assert r.persist("nosuch") is False
    r.set("k", "v", ex=100)
    assert r.persist("k") is True
    assert r.persist("k") is False
    assert r.ttl("k") == -1
    assert r.get("k") == b"v"


def test_set_clears_ttl_and_keepttl_keeps_it(r):
    r.set("k", "v")
    r.expire("k", 100)
    r.set("k", "w", keepttl=True)
    assert r.ttl("k") == 100
    r.set("k", "x")
    assert r.ttl("k") == -1


# --- RENAME, RENAMENX --------------------------------------------------------------------------

def test_rename_carries_ttl(r):
    r.set("a", "1")
    r.expire("a", 100)
    r.set("b", "old", ex=5000)
    assert r.rename("a", "b") is True
    assert r.exists("a") == 0
    assert r.get("b") == b"1"
    assert r.ttl("b") == 100  # the source's deadline, not the replaced key's
    r.set("c", "2")
    assert r.rename("c", "b") is True
    assert r.ttl("b") == -1


def test_rename_errors_and_same_key(r):
    assert error_of(r, "RENAME", "nosuch", "x") == "no such key"
    assert error_of(r, "RENAME", "nosuch", "nosuch") == "no such key"
    assert error_of(r, "RENAMENX", "nosuch", "x") == "no such key"
    r.set("a", "1")
    r.expire("a", 100)
    assert cmd(r, "RENAME", "a", "a") is True
    assert cmd(r, "RENAMENX", "a", "a") == 0
    assert r.get("a") == b"1"
    assert r.ttl("a") == 100


def test_renamenx(r):
    r.mset({"a": "1", "b": "2"})
    assert r.renamenx("a", "b") is False
    assert r.get("a") == b"1" and r.get("b") == b"2"
    assert r.renamenx("a", "c") is True
    assert r.exists("a") == 0
    assert r.get("c") == b"1"


# --- COPY, MOVE --------------------------------------------------------------------------------

def test_copy_and_replace(r, db1):
    r.set("src", "v")
    r.expire("src", 100)
    assert cmd(r, "COPY", "src", "dst") == 1
    assert r.get("dst") == b"v" and r.get("src") == b"v"
    assert r.ttl("dst") == 100
    r.set("other", "x")
    assert cmd(r, "COPY", "other", "dst") == 0
    assert r.get("dst") == b"v"
    assert cmd(r, "COPY", "other", "dst", "REPLACE") == 1
    assert r.get("dst") == b"x"
    assert r.ttl("dst") == -1
    assert cmd(r, "COPY", "nosuch", "dst", "REPLACE") == 0
    assert r.get("dst") == b"x"
    # To another database; the same name there is no conflict.
    assert cmd(r, "COPY", "src", "src", "DB", 1) == 1
    assert db1.get("src") == b"v"
    assert db1.ttl("src") == 100
    assert cmd(r, "COPY", "other", "src", "DB", 1) == 0
    assert cmd(r, "COPY", "other", "src", "db", 1, "replace") == 1
    assert db1.get("src") == b"x"


def test_copy_errors(r):
    r.set("a", "1")
    assert error_of(r, "COPY", "a", "a") == "source and destination objects are the same"
    assert error_of(r, "COPY", "nosuch", "nosuch") == "source and destination objects are the same"
    assert error_of(r, "COPY", "a", "b", "DB", 16) == "DB index is out of range"
    assert error_of(r, "COPY", "a", "b", "DB", -1) == "DB index is out of range"
    assert error_of(r, "COPY", "a", "b", "DB", "x") == "value is not an integer or out of range"
    assert error_of(r, "COPY", "a", "b", "DB", 4294967296) == \
        "value is out of range, value must between -2147483648 and 2147483647"
    assert error_of(r, "COPY", "a", "b", "DB") == "syntax error"
    assert error_of(r, "COPY", "a", "b", "bogus") == "syntax error"
    assert r.exists("b") == 0


def test_move(r, db1):
    r.set("k", "v")
    r.expire("k", 100)
    assert r.move("k", 1) is True
    assert r.exists("k") == 0
    assert db1.get("k") == b"v"
    assert db1.ttl("k") == 100
    assert r.move("k", 1) is False  # gone here


def test_move_when_destination_exists(r, db1):
    r.set("k", "here")
    db1.set("k", "there")
    assert r.move("k", 1) is False
    assert r.get("k") == b"here"
    assert db1.get("k") == b"there"


def test_move_errors(r):
    r.set("k", "v")
    assert error_of(r, "MOVE", "k", 0) == "source and destination objects are the same"
    assert error_of(r, "MOVE", "nosuch", 0) == "source and destination objects are the same"
    assert error_of(r, "MOVE", "k", 16) == "DB index is out of range"
    assert error_of(r, "MOVE", "k", -1) == "DB index is out of range"
    assert error_of(r, "MOVE", "k", "x") == "value is not an integer or out of range"
    assert error_of(r, "MOVE", "k", 4294967297) == \
        "value is out of range, value must between -2147483648 and 2147483647"
    assert r.get("k") == b"v"


# --- TOUCH, OBJECT, MEMORY ---------------------------------------------------------------------

def test_touch(r):
    r.mset({"a": "1", "b": "2"})
    assert cmd(r, "TOUCH", "a", "nosuch", "a", "b") == 3
    assert error_of(r, "TOUCH") == "wrong number of arguments for 'touch' command"


@pytest.mark.parametrize("value,encoding", [
    ("123", "int"), ("-123", "int"), ("0", "int"), ("9223372036854775807", "int"),
    ("-9223372036854775808", "int"), ("9223372036854775808", "embstr"), ("-0", "embstr"),
    ("007", "embstr"), ("+5", "embstr"), (" 1", "embstr"), ("1.5", "embstr"), ("", "embstr"),
    ("a" * 44, "embstr"), ("a" * 45, "raw"),
])
def test_object_encoding(r, value, encoding):
    r.set("e", value)
    assert obj(r, "ENCODING", "e") == encoding.encode()


def test_object_subcommands(r):
    assert obj(r, "ENCODING", "nosuch") is None
    assert obj(r, "FREQ", "nosuch") is None
    assert obj(r, "IDLETIME", "nosuch") is None
    assert obj(r, "REFCOUNT", "nosuch") is None
    r.set("k", "some text")
    assert obj(r, "REFCOUNT", "k") == 1
    assert error_of_obj(r, "FREQ", "k").startswith(
        "An LFU maxmemory policy is not selected, access frequency not tracked.")
    assert error_of_obj(r, "BOGUS", "k") == "unknown subcommand 'BOGUS'. Try OBJECT HELP."
    assert error_of_obj(r, "ENCODING") == \
        "wrong number of arguments for 'object|encoding' command"
    assert error_of_obj(r) == "wrong number of arguments for 'object' command"
    help_lines = obj(r, "HELP")
    assert help_lines[0].startswith(b"OBJECT <subcommand>")
    assert b"ENCODING <key>" in help_lines and help_lines[-2] == b"HELP"


@pytest.mark.lmkv_only
def test_object_idletime_is_not_invented(r):
    r.set("k", "v")
    assert "idle time not tracked" in error_of_obj(r, "IDLETIME", "k")


def test_memory_usage(r):
    assert cmd(r, "MEMORY", "USAGE", "nosuch") is None
    r.set("k", "v" * 1000)
    n = cmd(r, "MEMORY", "USAGE", "k")
    assert 1001 < n < 1200
    assert cmd(r, "MEMORY", "USAGE", "k", "SAMPLES", 0) == n
    assert error_of(r, "MEMORY", "USAGE", "k", "SAMPLES") == "syntax error"
    assert error_of(r, "MEMORY", "USAGE", "k", "SAMPLES", -1) == "syntax error"
    assert error_of(r, "MEMORY", "USAGE", "k", "SAMPLES", "x") == \
        "value is not an integer or out of range"
    assert error_of(r, "MEMORY", "USAGE", "k", "bogus") == "syntax error"
    assert error_of(r, "MEMORY", "USAGE") == "wrong number of arguments for 'memory|usage' command"
    assert error_of(r, "MEMORY", "BOGUS") == "unknown subcommand 'BOGUS'. Try MEMORY HELP."


@pytest.mark.lmkv_only
def test_memory_usage_is_key_value_and_overhead(r):
    r.set("key", "v" * 100)
    base = cmd(r, "MEMORY", "USAGE", "key")
    assert base == 3 + 100 + 12
    r.expire("key", 100)
    assert cmd(r, "MEMORY", "USAGE", "key") == base + 8


# --- durability of deadlines -------------------------------------------------------------------

@pytest.mark.lmkv_only
def test_kill9_keeps_ttls(lmkv_factory):
    s = lmkv_factory()
    c = s.client()
    c.set("long", "v")
    assert c.expire("long", 1000) is True
    c.set("short", "v")
    assert c.pexpire("short", 300) is True
    c.set("persisted", "v", ex=100)
    assert c.persist("persisted") is True
    c.set("renamed", "v", ex=500)
    c.rename("renamed", "renamed2")
    c.set("moved", "v", ex=700)
    assert c.move("moved", 2) is True
    deadline = cmd(c, "PEXPIRETIME", "long")
    s.kill9()
    s.start()
    c = s.client()
    assert cmd(c, "PEXPIRETIME", "long") == deadline  # absolute: replayed exactly
    assert 990 <= c.ttl("long") <= 1000
    assert c.ttl("persisted") == -1
    assert c.exists("renamed") == 0
    assert 490 <= c.ttl("renamed2") <= 500
    assert 690 <= s.client(db=2).ttl("moved") <= 700
    time.sleep(0.35)
    assert c.exists("short") == 0
    assert c.get("long") == b"v"


# --- keyspace events ---------------------------------------------------------------------------

def test_keyspace_events(r):
    r.config_set("notify-keyspace-events", "Eg")
    p = r.pubsub()
    try:
        p.psubscribe("__keyevent@*__:*")
        assert p.get_message(timeout=5)["type"] == "psubscribe"
        r.mset({"a": "1", "gone": "x"})
        r.expire("a", 100)
        r.persist("a")
        r.rename("a", "b")
        cmd(r, "COPY", "b", "c", "DB", 2)
        r.move("b", 3)
        cmd(r, "PEXPIRE", "gone", -1)  # a deadline in the past deletes: "del", not "expire"
        r.expire("nosuch", 100)  # no change, no event
        expected = [("0", "expire", "a"), ("0", "persist", "a"), ("0", "rename_from", "a"),
                    ("0", "rename_to", "b"), ("2", "copy_to", "c"), ("0", "move_from", "b"),
                    ("3", "move_to", "b"), ("0", "del", "gone")]
        got = []
        deadline = time.monotonic() + 5
        while len(got) < len(expected) and time.monotonic() < deadline:
            m = p.get_message(timeout=0.2)
            if m and m["type"] == "pmessage":
                channel = m["channel"].decode()  # __keyevent@<db>__:<event>
                db, event = channel[len("__keyevent@"):].split("__:", 1)
                got.append((db, event, m["data"].decode()))
        assert got == expected
    finally:
        r.config_set("notify-keyspace-events", "")
        p.close()
