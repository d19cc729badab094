"""RANGE min max [LIMIT count] [REV] [KEYSONLY]: lmkv's ordered range read. Bounds follow
ZRANGEBYLEX ("[k" inclusive, "(k" exclusive, "-" / "+"); the reply is a flat array in byte
order. Redis has no RANGE, so all of this is lmkv_only."""

import time

import pytest
import redis

pytestmark = pytest.mark.lmkv_only

LETTERS = [c.encode() for c in "abcdefghij"]


def rng(r, *args):
    return r.execute_command("RANGE", *args)


def pairs(keys):
    out = []
    for k in keys:
        out += [k, b"v" + k]
    return out


@pytest.fixture
def letters(r):
    r.mset({k: b"v" + k for k in LETTERS})
    return r


def test_range_whole_keyspace(letters):
    assert rng(letters, "-", "+") == pairs(LETTERS)


def test_range_inclusive_and_exclusive_bounds(letters):
    r = letters
    assert rng(r, "[c", "[e") == pairs([b"c", b"d", b"e"])
    assert rng(r, "(c", "(e") == pairs([b"d"])
    assert rng(r, "[c", "(e") == pairs([b"c", b"d"])
    assert rng(r, "(c", "[e") == pairs([b"d", b"e"])
    assert rng(r, "-", "(c") == pairs([b"a", b"b"])
    assert rng(r, "(h", "+") == pairs([b"i", b"j"])
    # bounds that are not keys
    assert rng(r, "[cc", "[ee") == pairs([b"d", b"e"])
    assert rng(r, "[", "[b") == pairs([b"a", b"b"])  # "[" alone is the empty key


def test_range_empty_results(letters):
    r = letters
    assert rng(r, "[e", "[c") == []
    assert rng(r, "(c", "(c") == []
    assert rng(r, "[c", "(c") == []
    assert rng(r, "[c", "[c") == pairs([b"c"])
    assert rng(r, "+", "-") == []
    assert rng(r, "[x", "+") == []


def test_range_limit(letters):
    r = letters
    assert rng(r, "-", "+", "LIMIT", "3") == pairs(LETTERS[:3])
    assert rng(r, "[d", "+", "LIMIT", "2") == pairs([b"d", b"e"])
    assert rng(r, "-", "+", "LIMIT", "100") == pairs(LETTERS)
    assert rng(r, "-", "+", "limit", "1") == pairs([b"a"])


def test_range_rev(letters):
    r = letters
    assert rng(r, "+", "-", "REV") == pairs(LETTERS[::-1])
    assert rng(r, "[e", "[c", "REV") == pairs([b"e", b"d", b"c"])
    assert rng(r, "(e", "(c", "REV") == pairs([b"d"])
    assert rng(r, "+", "-", "REV", "LIMIT", "2") == pairs([b"j", b"i"])
    assert rng(r, "[c", "[e", "REV") == []  # min first with REV: empty, as ZREVRANGEBYLEX


def test_range_keysonly(letters):
    r = letters
    assert rng(r, "-", "+", "KEYSONLY") == LETTERS
    assert rng(r, "[b", "[d", "KEYSONLY") == [b"b", b"c", b"d"]
    assert rng(r, "+", "-", "REV", "KEYSONLY", "LIMIT", "3") == [b"j", b"i", b"h"]
    assert rng(r, "+", "-", "KEYSONLY", "LIMIT", "3", "REV") == [b"j", b"i", b"h"]


def test_range_is_in_byte_order(r):
    keys = [b"", b"\x00", b"\x00\x00", b"A", b"Z", b"a", b"a\x00", b"ab", b"b", b"\x7f",
            b"\x80", b"\xff", b"\xff\xff"]
    for k in keys:
        r.set(k, b"v" + k)
    assert rng(r, "-", "+") == pairs(sorted(keys))
    assert rng(r, "+", "-", "REV", "KEYSONLY") == sorted(keys, reverse=True)
    assert rng(r, b"(\x7f", "+", "KEYSONLY") == [b"\x80", b"\xff", b"\xff\xff"]
    assert rng(r, b"[a", b"(b", "KEYSONLY") == [b"a", b"a\x00", b"ab"]


def test_range_binary_values_round_trip(r):
    value = bytes(range(256)) + b"\r\n\x00"
    r.set(b"k\r\n", value)
    assert rng(r, "-", "+") == [b"k\r\n", value]


def test_range_paging_through_3000_keys(r):
    keys = [f"key:{i:05d}".encode() for i in range(3000)]
    pipe = r.pipeline(transaction=False)
    for k in keys:
        pipe.set(k, k[::-1])
    pipe.execute()
    got = []
    start = b"-"
    for _ in range(100):  # bounded: 3000 / 97 pages plus an empty last one
        page = rng(r, start, "+", "LIMIT", "97")
        if not page:
            break
        assert len(page) % 2 == 0
        for i in range(0, len(page), 2):
            assert page[i + 1] == page[i][::-1]
            got.append(page[i])
        start = b"(" + page[-2]
    assert got == keys


def test_range_rev_paging_keysonly(r):
    keys = [f"k{i:04d}".encode() for i in range(1000)]
    r.mset({k: b"x" for k in keys})
    got = []
    start = b"+"
    for _ in range(100):
        page = rng(r, start, "-", "REV", "KEYSONLY", "LIMIT", "33")
        if not page:
            break
        got += page
        start = b"(" + page[-1]
    assert got == keys[::-1]


def test_range_default_and_max_limit(r):
    keys = [f"d{i:05d}".encode() for i in range(3000)]
    r.mset({k: b"1" for k in keys})
    assert rng(r, "-", "+", "KEYSONLY") == keys[:1000]  # range-default-limit 1000
    assert len(rng(r, "-", "+", "KEYSONLY", "LIMIT", "100000")) == 3000
    with pytest.raises(redis.ResponseError):
        rng(r, "-", "+", "LIMIT", "100001")  # above range-max-limit
    old = r.config_get("range-default-limit")["range-default-limit"]
    try:
        r.config_set("range-default-limit", 10)
        assert rng(r, "-", "+", "KEYSONLY") == keys[:10]
    finally:
        r.config_set("range-default-limit", old)
    old_max = r.config_get("range-max-limit")["range-max-limit"]
    try:
        r.config_set("range-max-limit", 50)
        with pytest.raises(redis.ResponseError):
            rng(r, "-", "+", "LIMIT", "51")
        assert len(rng(r, "-", "+", "KEYSONLY", "LIMIT", "50")) == 50
    finally:
        r.config_set("range-max-limit", old_max)


def test_range_skips_expired_and_deleted_keys(letters):
    r = letters
    r.set("c", "vc", px=100)
    r.delete("e")
    time.sleep(0.25)
    assert rng(r, "[b", "[f", "KEYSONLY") == [b"b", b"d", b"f"]


def test_range_sees_only_the_selected_db(target, letters):
    r1 = target.client(db=1)
    try:
        assert rng(r1, "-", "+") == []
        r1.set("b", "one")
        assert rng(r1, "-", "+") == [b"b", b"one"]
        assert rng(letters, "[b", "[b") == [b"b", b"vb"]
    finally:
        r1.close()


@pytest.mark.parametrize("args", [
    ["a", "b"],  # bounds need a prefix
    ["[a", "b"],
    ["a", "+"],
    ["", "+"],
    ["-", "+", "LIMIT"],
    ["-", "+", "LIMIT", "x"],
    ["-", "+", "LIMIT", "-1"],
    ["-", "+", "LIMIT", "1.5"],
    ["-", "+", "BOGUS"],
    ["-"],
])
def test_range_errors(r, args):
    with pytest.raises(redis.ResponseError):
        rng(r, *args)


def test_range_bad_bound_error_text(r):
    with pytest.raises(redis.ResponseError) as e:
        rng(r, "a", "+")
    assert "range" in str(e.value).lower()
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'range'"):
        rng(r, "-")


def test_range_through_a_pipeline_with_writes(r):
    pipe = r.pipeline(transaction=False)
    pipe.set("p1", "a")
    pipe.execute_command("RANGE", "-", "+", "KEYSONLY")
    pipe.set("p2", "b")
    pipe.execute_command("RANGE", "-", "+", "KEYSONLY")
    pipe.delete("p1")
    pipe.execute_command("RANGE", "-", "+")
    out = pipe.execute()
    assert out[1] == [b"p1"]
    assert out[3] == [b"p1", b"p2"]
    assert out[5] == [b"p2", b"b"]
