"""String and bitmap commands (issue 5): GETSET, GETEX, GETRANGE/SUBSTR, SETRANGE, INCRBYFLOAT,
LCS, SET's options, SETBIT/GETBIT, BITCOUNT, BITPOS, BITOP, their keyspace events, and what
survives kill -9. Everything not marked lmkv_only passes against redis-server 7.0 too
(--host/--port), which is what proves the expectations are Redis's."""

import hashlib

import pytest
import redis

from helpers import wait_for


def error_of(r, *args):
    """The error text (without "ERR ") of a command that must fail."""
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command(*args)
    return str(e.value)


NOT_INT = "value is not an integer or out of range"
NOT_FLOAT = "value is not a valid float"
SYNTAX = "syntax error"
TOO_BIG = "string exceeds maximum allowed size (proto-max-bulk-len)"
BIT_OFFSET = "bit offset is not an integer or out of range"


# ---------------------------------------------------------------------------------------------
# SET and friends
# ---------------------------------------------------------------------------------------------

def test_set_options(r):
    r.set_response_callback("SET", lambda response, **options: response)  # raw replies
    assert r.execute_command("SET", "k", "v", "XX") is None
    assert r.execute_command("SET", "k", "v", "NX") == b"OK"
    assert r.execute_command("SET", "k", "w", "NX", "GET") == b"v"
    assert r.get("k") == b"v"
    assert r.execute_command("SET", "k", "w", "XX", "GET") == b"v"
    assert r.execute_command("SET", "k", "x", "GET", "EX", "100") == b"w"
    assert 98 <= r.ttl("k") <= 100
    assert r.execute_command("SET", "k", "y", "KEEPTTL") == b"OK"
    assert 98 <= r.ttl("k") <= 100
    assert r.execute_command("SET", "k", "z") == b"OK"
    assert r.ttl("k") == -1
    assert r.execute_command("SET", "k", "v", "PXAT", "4102444800000") == b"OK"
    assert r.pttl("k") > 10**11
    assert r.execute_command("SET", "k", "v", "EXAT", "1") == b"OK"
    assert r.exists("k") == 0


def test_set_errors(r):
    for opt, val in [("EX", "0"), ("PX", "-5"), ("EXAT", "0"), ("PXAT", "-1"),
                     ("EX", "9223372036854775807"), ("PX", "9223372036854775000")]:
        assert error_of(r, "SET", "k", "v", opt, val) == "invalid expire time in 'set' command"
    assert error_of(r, "SET", "k", "v", "EX", "abc") == NOT_INT
    assert error_of(r, "SET", "k", "v", "EX") == SYNTAX
    assert error_of(r, "SET", "k", "v", "NX", "XX") == SYNTAX
    assert error_of(r, "SET", "k", "v", "EX", "10", "PX", "10") == SYNTAX
    assert error_of(r, "SET", "k", "v", "KEEPTTL", "EX", "10") == SYNTAX
    assert error_of(r, "SET", "k", "v", "EX", "abc", "NX", "XX") == SYNTAX
    assert error_of(r, "SET", "k") == "wrong number of arguments for 'set' command"
    assert error_of(r, "SETEX", "k", "0", "v") == "invalid expire time in 'setex' command"
    assert error_of(r, "PSETEX", "k", "-1", "v") == "invalid expire time in 'psetex' command"
    assert r.exists("k") == 0


def test_setnx_setex_psetex_msetnx(r):
    assert r.execute_command("SETNX", "k", "1") == 1
    assert r.execute_command("SETNX", "k", "2") == 0
    assert r.execute_command("SETEX", "e", "100", "v") is True
    assert 98 <= r.ttl("e") <= 100
    assert r.execute_command("PSETEX", "p", "100000", "v") is True
    assert 98000 <= r.pttl("p") <= 100000
    assert r.execute_command("MSETNX", "a", "1", "b", "2") == 1
    assert r.execute_command("MSETNX", "b", "x", "c", "3") == 0
    assert r.mget("a", "b", "c") == [b"1", b"2", None]
    assert error_of(r, "MSETNX", "a", "1", "b") == "wrong number of arguments for 'msetnx' command"


def test_getset_getdel_append_strlen(r):
    assert r.execute_command("GETSET", "k", "1") is None
    r.set("k", "1", ex=100)
    assert r.execute_command("GETSET", "k", "2") == b"1"
    assert r.ttl("k") == -1
    assert r.append("k", "34") == 3
    assert r.strlen("k") == 3
    assert r.strlen("nokey") == 0
    assert r.execute_command("GETDEL", "k") == b"234"
    assert r.execute_command("GETDEL", "k") is None
    assert error_of(r, "GETSET", "k") == "wrong number of arguments for 'getset' command"


def test_incr_family(r):
    assert r.incr("n") == 1
    assert r.decrby("n", 5) == -4
    r.set("s", "abc")
    assert error_of(r, "INCR", "s") == NOT_INT
    r.set("big", "9223372036854775807")
    assert error_of(r, "INCR", "big") == "increment or decrement would overflow"
    assert error_of(r, "DECRBY", "n", "-9223372036854775808") == "decrement would overflow"
    r.set("t", "5", ex=100)
    assert r.incr("t") == 6
    assert 98 <= r.ttl("t") <= 100


# ---------------------------------------------------------------------------------------------
# GETEX
# ---------------------------------------------------------------------------------------------

def test_getex(r):
    assert r.execute_command("GETEX", "nokey") is None
    assert r.execute_command("GETEX", "nokey", "EX", "0") is None
    r.set("k", "hello")
    assert error_of(r, "GETEX", "k", "EX", "0") == "invalid expire time in 'getex' command"
    assert error_of(r, "GETEX", "k", "EX", "abc") == NOT_INT
    for bad in (["KEEPTTL"], ["NX"], ["GET"], ["EX"], ["PERSIST", "EX", "10"],
                ["EX", "10", "PERSIST"], ["EX", "10", "PX", "10"], ["bogus"]):
        assert error_of(r, "GETEX", "k", *bad) == SYNTAX, bad
    assert r.ttl("k") == -1
    assert r.execute_command("GETEX", "k", "EX", "10", "EX", "100") == b"hello"
    assert 98 <= r.ttl("k") <= 100
    assert r.execute_command("GETEX", "k", "PXAT", "4102444800000") == b"hello"
    assert r.pttl("k") > 10**11
    assert r.execute_command("GETEX", "k", "PERSIST") == b"hello"
    assert r.ttl("k") == -1
    assert r.execute_command("GETEX", "k", "PX", "100000") == b"hello"
    assert 98000 <= r.pttl("k") <= 100000
    assert r.execute_command("GETEX", "k", "EXAT", "1") == b"hello"
    assert r.exists("k") == 0


# ---------------------------------------------------------------------------------------------
# GETRANGE / SUBSTR / SETRANGE
# ---------------------------------------------------------------------------------------------

def test_getrange_substr(r):
    r.set("mykey", "This is a string")
    assert r.getrange("mykey", 0, 3) == b"This"
    assert r.getrange("mykey", -3, -1) == b"ing"
    assert r.getrange("mykey", 0, -1) == b"This is a string"
    assert r.getrange("mykey", 10, 100) == b"string"
    assert r.getrange("mykey", -1, -5) == b""
    assert r.getrange("mykey", 5, 2) == b""
    assert r.getrange("mykey", -100, -50) == b"T"
    assert r.getrange("mykey", 100, 200) == b""
    assert r.getrange("mykey", -9223372036854775808, 9223372036854775807) == b"This is a string"
    assert r.getrange("nokey", 0, 1) == b""
    assert r.execute_command("SUBSTR", "mykey", 0, 3) == b"This"
    assert error_of(r, "GETRANGE", "mykey", "a", 1) == NOT_INT
    assert error_of(r, "GETRANGE", "mykey", 0) == "wrong number of arguments for 'getrange' command"


def test_setrange(r):
    r.set("key1", "Hello World")
    assert r.setrange("key1", 6, "Redis") == 11
    assert r.get("key1") == b"Hello Redis"
    assert r.setrange("key2", 6, "Redis") == 11
    assert r.get("key2") == b"\x00" * 6 + b"Redis"
    assert r.setrange("key2", 100, "") == 11
    assert r.setrange("nokey", 5, "") == 0
    assert r.exists("nokey") == 0
    assert error_of(r, "SETRANGE", "key1", -1, "x") == "offset is out of range"
    assert error_of(r, "SETRANGE", "key1", "abc", "x") == NOT_INT
    assert error_of(r, "SETRANGE", "key1", "99999999999999999999", "x") == NOT_INT
    assert error_of(r, "SETRANGE", "key1", 536870912, "x") == TOO_BIG
    assert error_of(r, "SETRANGE", "key1", 536870911, "xy") == TOO_BIG
    assert error_of(r, "SETRANGE", "nokey", 536870912, "x") == TOO_BIG
    assert r.setrange("nokey", 536870912, "") == 0
    assert r.get("key1") == b"Hello Redis"
    r.set("t", "ab", ex=100)
    assert r.setrange("t", 1, "z") == 2
    assert 98 <= r.ttl("t") <= 100


# ---------------------------------------------------------------------------------------------
# INCRBYFLOAT
# ---------------------------------------------------------------------------------------------

def incrbyfloat(r, key, incr):
    # The raw bulk reply: redis-py would parse it as a float and hide the formatting.
    r.set_response_callback("INCRBYFLOAT", lambda response, **options: response)
    return r.execute_command("INCRBYFLOAT", key, incr)


def test_incrbyfloat_formatting(r):
    r.set("mykey", "10.50")
    assert incrbyfloat(r, "mykey", "0.1") == b"10.6"
    assert incrbyfloat(r, "mykey", "-5") == b"5.6"
    r.set("mykey", "5.0e3")
    assert incrbyfloat(r, "mykey", "2.0e2") == b"5200"
    assert r.get("mykey") == b"5200"
    r.set("h", "3.0e3")
    assert incrbyfloat(r, "h", "2.0e2") == b"3200"
    assert incrbyfloat(r, "a", "1.23e-10") == b"0.000000000123"
    assert incrbyfloat(r, "b", "1e20") == b"100000000000000000000"
    assert incrbyfloat(r, "c", "0x10") == b"16"
    assert incrbyfloat(r, "d", "5") == b"5"
    assert incrbyfloat(r, "d", "-5") == b"0"
    assert incrbyfloat(r, "d", "-0.5") == b"-0.5"
    assert incrbyfloat(r, "d", "0.5") == b"0"
    assert incrbyfloat(r, "e", ".5") == b"0.5"
    big = incrbyfloat(r, "f", "1e400")
    assert big.startswith(b"10000000000000000000281880683947586514586453433629") and len(big) == 401
    r.set("t", "1.5", ex=100)
    assert incrbyfloat(r, "t", "1") == b"2.5"
    assert 98 <= r.ttl("t") <= 100


def test_incrbyfloat_errors(r):
    for bad in ["abc", " 1", "1 ", "", "nan", "1e-5000", "1e5000"]:
        assert error_of(r, "INCRBYFLOAT", "x", bad) == NOT_FLOAT, bad
    r.set("s", "  1")
    assert error_of(r, "INCRBYFLOAT", "s", "1") == NOT_FLOAT
    nan_inf = "increment would produce NaN or Infinity"
    assert error_of(r, "INCRBYFLOAT", "x", "inf") == nan_inf
    assert error_of(r, "INCRBYFLOAT", "x", "-inf") == nan_inf
    # Near the top of the long double range: every digit printed, as Redis does.
    big = incrbyfloat(r, "big", "1e4932")
    assert len(big) == 4933 and big.endswith(b"163141086538418113791886622720")
    assert hashlib.sha1(big).hexdigest() == "c85784f4c36c0ad69d20e9488dda0bc56eb2f8bd"
    assert error_of(r, "INCRBYFLOAT", "big", "1e4932") == nan_inf
    assert r.exists("x") == 0
    assert error_of(r, "INCRBYFLOAT", "x") == "wrong number of arguments for 'incrbyfloat' command"


# ---------------------------------------------------------------------------------------------
# LCS
# ---------------------------------------------------------------------------------------------

def test_lcs_docs_examples(r):
    r.mset({"key1": "ohmytext", "key2": "mynewtext"})
    assert r.execute_command("LCS", "key1", "key2") == b"mytext"
    assert r.execute_command("LCS", "key1", "key2", "LEN") == 6
    assert r.execute_command("LCS", "key1", "key2", "IDX") == [
        b"matches", [[[4, 7], [5, 8]], [[2, 3], [0, 1]]], b"len", 6]
    assert r.execute_command("LCS", "key1", "key2", "IDX", "MINMATCHLEN", "4",
                             "WITHMATCHLEN") == [b"matches", [[[4, 7], [5, 8], 4]], b"len", 6]
    assert r.execute_command("LCS", "key1", "key2", "IDX", "MINMATCHLEN", "-5",
                             "WITHMATCHLEN") == [
        b"matches", [[[4, 7], [5, 8], 4], [[2, 3], [0, 1], 2]], b"len", 6]
    assert r.execute_command("LCS", "key1", "nokey") == b""
    assert r.execute_command("LCS", "nokey", "nokey2", "IDX") == [b"matches", [], b"len", 0]


def test_lcs_errors(r):
    r.mset({"key1": "ohmytext", "key2": "mynewtext"})
    both = "If you want both the length and indexes, please just use IDX."
    assert error_of(r, "LCS", "key1", "key2", "IDX", "LEN") == both
    assert error_of(r, "LCS", "key1", "key2", "bogus") == SYNTAX
    assert error_of(r, "LCS", "key1", "key2", "MINMATCHLEN") == SYNTAX
    assert error_of(r, "LCS", "key1", "key2", "MINMATCHLEN", "x") == NOT_INT
    assert error_of(r, "LCS", "key1") == "wrong number of arguments for 'lcs' command"
    r.mset({"big1": "a" * 12000, "big2": "b" * 12000})
    assert error_of(r, "LCS", "big1", "big2") == (
        "Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")


# ---------------------------------------------------------------------------------------------
# Bitmaps
# ---------------------------------------------------------------------------------------------

def test_setbit_getbit(r):
    assert r.setbit("mykey", 7, 1) == 0
    assert r.setbit("mykey", 7, 0) == 1
    assert r.get("mykey") == b"\x00"
    assert r.setbit("b", 100, 1) == 0
    assert r.strlen("b") == 13
    assert r.getbit("b", 100) == 1
    assert r.getbit("b", 1000) == 0
    assert r.getbit("nokey", 0) == 0
    assert r.getbit("b", 4294967295) == 0
    for off in (-1, 4294967296, "a"):
        assert error_of(r, "SETBIT", "b", off, 1) == BIT_OFFSET
        assert error_of(r, "GETBIT", "b", off) == BIT_OFFSET
    for bit in (2, -1, "a"):
        assert error_of(r, "SETBIT", "b", 1, bit) == "bit is not an integer or out of range"
    assert error_of(r, "SETBIT", "b", 1) == "wrong number of arguments for 'setbit' command"
    r.set("t", "ab", ex=100)
    assert r.setbit("t", 100, 1) == 0
    assert 98 <= r.ttl("t") <= 100


def test_bitcount_docs_examples(r):
    r.set("mykey", "foobar")
    assert r.bitcount("mykey") == 26
    assert r.bitcount("mykey", 0, 0) == 4
    assert r.bitcount("mykey", 1, 1) == 6
    assert r.execute_command("BITCOUNT", "mykey", 1, 1, "BYTE") == 6
    assert r.execute_command("BITCOUNT", "mykey", 5, 30, "BIT") == 17
    assert r.execute_command("BITCOUNT", "mykey", 0, -1, "bit") == 26
    assert r.bitcount("mykey", -1, -5) == 0
    assert r.bitcount("mykey", -2, -1) == 7
    assert r.bitcount("nokey") == 0
    assert error_of(r, "BITCOUNT", "mykey", 1) == SYNTAX
    assert error_of(r, "BITCOUNT", "mykey", 0, 1, "bogus") == SYNTAX
    assert error_of(r, "BITCOUNT", "mykey", "a", 1) == NOT_INT
    assert error_of(r, "BITCOUNT") == "wrong number of arguments for 'bitcount' command"


def test_bitpos_docs_examples(r):
    r.set("mykey", b"\xff\xf0\x00")
    assert r.bitpos("mykey", 0) == 12
    r.set("mykey", b"\x00\xff\xf0")
    assert r.bitpos("mykey", 1, 0) == 8
    assert r.bitpos("mykey", 1, 2) == 16
    assert r.execute_command("BITPOS", "mykey", 1, 2, -1, "BYTE") == 16
    assert r.execute_command("BITPOS", "mykey", 1, 7, 15, "BIT") == 8
    r.set("mykey", b"\x00\x00\x00")
    assert r.bitpos("mykey", 1) == -1
    assert r.execute_command("BITPOS", "mykey", 1, 7, -3, "BIT") == -1
    assert r.execute_command("BITPOS", "mykey", 0, -3, -1, "BIT") == 21


def test_bitpos_special_cases(r):
    r.set("ones", b"\xff\xff\xff")
    # No end given: the string counts as zero-padded on the right.
    assert r.bitpos("ones", 0) == 24
    assert r.bitpos("ones", 0, 0) == 24
    # An explicit end: no clear bit in the range.
    assert r.bitpos("ones", 0, 0, -1) == -1
    assert r.execute_command("BITPOS", "ones", 0, 0, -1, "BIT") == -1
    assert r.bitpos("ones", 0, 3) == -1
    r.set("m", b"\xff\x7f")
    assert r.bitpos("m", 0, 1) == 8
    assert r.execute_command("BITPOS", "m", 0, 9, -1, "BIT") == -1
    assert r.execute_command("BITPOS", "m", 1, 9, -1, "BIT") == 9
    assert r.bitpos("nokey", 1) == -1
    assert r.bitpos("nokey", 0) == 0
    r.set("e", "")
    assert r.bitpos("e", 0) == -1
    assert r.bitpos("e", 1) == -1
    assert error_of(r, "BITPOS", "m", 2) == "The bit argument must be 1 or 0."
    assert error_of(r, "BITPOS", "m", "x") == NOT_INT
    assert error_of(r, "BITPOS", "m", 1, 0, 0, "bogus") == SYNTAX
    assert error_of(r, "BITPOS", "m") == "wrong number of arguments for 'bitpos' command"


def test_bitop(r):
    r.mset({"a": "foobar", "b": "abcdef"})
    assert r.bitop("AND", "dest", "a", "b") == 6
    assert r.get("dest") == b"`bc`ab"
    assert r.bitop("OR", "dest", "a", "b") == 6
    assert r.get("dest") == b"goofev"
    assert r.bitop("XOR", "dest", "a", "b", "nokey") == 6
    assert r.get("dest") == b"\x07\r\x0c\x06\x04\x14"
    assert r.bitop("NOT", "dest", "a") == 6
    assert r.get("dest") == b"\x99\x90\x90\x9d\x9e\x8d"
    r.set("s1", b"\xff\xff")
    r.set("s2", b"\x0f")
    assert r.bitop("AND", "d", "s1", "s2") == 2
    assert r.get("d") == b"\x0f\x00"
    r.set("t", "x", ex=100)
    assert r.bitop("NOT", "t", "a") == 6
    assert r.ttl("t") == -1
    assert r.bitop("AND", "t", "nokey", "nokey2") == 0
    assert r.exists("t") == 0
    assert error_of(r, "BITOP", "NOT", "dest", "a", "b") == (
        "BITOP NOT must be called with a single source key.")
    assert error_of(r, "BITOP", "bogus", "dest", "a") == SYNTAX
    assert error_of(r, "BITOP", "AND", "dest") == "wrong number of arguments for 'bitop' command"


def test_bitfield(r):
    assert r.execute_command("BITFIELD", "bf", "INCRBY", "u2", "100", "1", "OVERFLOW", "SAT",
                             "INCRBY", "u2", "102", "1") == [1, 1]
    assert r.execute_command("BITFIELD", "bf", "SET", "i8", "#1", "200", "GET", "u8", "8",
                             "OVERFLOW", "FAIL", "SET", "i8", "0", "200", "GET", "i8", "0") == [
        0, 200, None, 0]
    assert r.execute_command("BITFIELD_RO", "bf", "GET", "u8", "8") == [200]
    assert r.execute_command("BITFIELD", "bf") == []
    assert r.execute_command("BITFIELD", "w", "SET", "i64", "0", "-1", "GET", "u63", "0", "GET",
                             "i64", "0", "INCRBY", "i64", "0", "-9223372036854775808") == [
        0, 9223372036854775807, -1, 9223372036854775807]
    assert r.execute_command("BITFIELD", "w", "OVERFLOW", "SAT", "INCRBY", "i64", "0",
                             "-9223372036854775808", "INCRBY", "i8", "100", "-200", "INCRBY", "u8",
                             "100", "-300", "OVERFLOW", "WRAP", "INCRBY", "u8", "100", "-300",
                             "INCRBY", "i5", "200", "100") == [-1, -128, 0, 212, 4]
    assert r.execute_command("BITFIELD", "nb", "OVERFLOW", "FAIL", "INCRBY", "u8", "0", "300") == [
        None]
    assert r.get("nb") == b"\x00"
    bad_type = ("Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported "
                "but i64 is.")
    for t in ("I8", "u64", "i65", "i0", "x8"):
        assert error_of(r, "BITFIELD", "bf", "GET", t, "0") == bad_type
    assert error_of(r, "BITFIELD", "bf", "GET", "i8") == SYNTAX
    assert error_of(r, "BITFIELD", "bf", "OVERFLOW", "bogus") == "Invalid OVERFLOW type specified"
    assert error_of(r, "BITFIELD", "bf", "GET", "i8", "#-1") == BIT_OFFSET
    assert error_of(r, "BITFIELD", "bf", "GET", "u8", "4294967296") == BIT_OFFSET
    assert error_of(r, "BITFIELD", "bf", "SET", "i8", "0", "a") == NOT_INT
    assert error_of(r, "BITFIELD_RO", "bf", "SET", "i8", "0", "1") == (
        "BITFIELD_RO only supports the GET subcommand")


# ---------------------------------------------------------------------------------------------
# Keyspace events
# ---------------------------------------------------------------------------------------------

def test_keyspace_events(target, r):
    r.config_set("notify-keyspace-events", "KEA")
    sub = target.client()
    ps = sub.pubsub()
    try:
        ps.psubscribe("__keyevent@0__:*")
        assert wait_for(lambda: ps.get_message(timeout=0.1) is not None, timeout=5)
        r.set("k", "v", ex=100)
        r.execute_command("GETEX", "k", "PERSIST")
        r.execute_command("GETEX", "k", "PERSIST")  # no TTL left: no event
        r.setrange("k", 1, "x")
        r.append("k", "y")
        r.incr("n")
        r.decrby("n", 2)
        r.execute_command("INCRBYFLOAT", "f", "1.5")
        r.setbit("b", 1, 1)
        r.setbit("b", 1, 1)  # unchanged: no event
        r.bitop("NOT", "d", "b")
        r.execute_command("BITFIELD", "b", "GET", "u8", "0")  # read only: no event
        r.execute_command("BITFIELD", "b", "INCRBY", "u8", "0", "1")
        r.execute_command("GETSET", "n", "0")
        r.execute_command("GETDEL", "n")
        r.execute_command("GETEX", "k", "EXAT", "1")
        r.execute_command("MSETNX", "m1", "1", "m2", "2")
        r.set("end", "1")
        events = []

        def collect():
            m = ps.get_message(timeout=0.1)
            if m and m["type"] == "pmessage":
                events.append((m["channel"].decode().split(":", 1)[1], m["data"].decode()))
            return events and events[-1] == ("set", "end")

        assert wait_for(collect, timeout=10), events
        assert events == [
            ("set", "k"), ("expire", "k"), ("persist", "k"), ("setrange", "k"), ("append", "k"),
            ("incrby", "n"), ("incrby", "n"), ("incrbyfloat", "f"), ("setbit", "b"), ("set", "d"),
            ("setbit", "b"),
            ("set", "n"), ("del", "n"), ("del", "k"), ("set", "m1"), ("set", "m2"), ("set", "end"),
        ]
    finally:
        ps.close()
        sub.close()
        r.config_set("notify-keyspace-events", "")


# ---------------------------------------------------------------------------------------------
# Durability (lmkv only: needs a server process the suite controls)
# ---------------------------------------------------------------------------------------------

@pytest.mark.lmkv_only
def test_kill9_keeps_setrange_incrbyfloat_setbit(lmkv_factory):
    s = lmkv_factory(["--fsync", "always"])
    c = s.client()
    assert c.setrange("sr", 5, "hi") == 7
    assert incrbyfloat(c, "f", "10.5") == b"10.5"
    assert incrbyfloat(c, "f", "0.1") == b"10.6"
    assert c.setbit("bits", 100, 1) == 0
    assert c.setbit("bits", 3, 1) == 0
    assert c.bitop("NOT", "inv", "bits") == 13
    c.set("t", "1.5", px=1000000)
    assert incrbyfloat(c, "t", "1") == b"2.5"
    assert c.execute_command("GETEX", "t", "PXAT", "4102444800000") == b"2.5"
    c.close()
    s.kill9()
    s.start()
    c = s.client()
    assert c.get("sr") == b"\x00" * 5 + b"hi"
    assert c.get("f") == b"10.6"
    assert c.getbit("bits", 100) == 1 and c.getbit("bits", 3) == 1
    assert c.bitcount("bits") == 2
    assert c.bitcount("inv") == 13 * 8 - 2
    assert c.get("t") == b"2.5"
    assert c.pttl("t") > 10**11
    c.close()
