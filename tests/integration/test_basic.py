"""String, keyspace and server commands through redis-py, as an application would use them.
Every test here must also pass against a real Redis 7 (--host/--port mode)."""

import re
import time

import pytest
import redis

from helpers import RawConn, encode_command


# --- strings ---------------------------------------------------------------------------------

def test_set_and_get_an_item(r):
    assert r.set("x", "foobar") is True
    assert r.get("x") == b"foobar"


def test_set_and_get_an_empty_item(r):
    r.set("x", "")
    assert r.get("x") == b""


def test_get_of_a_missing_key_is_nil(r):
    assert r.get("nokey") is None


def test_very_big_payload_in_get_set(r):
    buf = b"abcd" * 1_000_000
    r.set("foo", buf)
    assert r.get("foo") == buf


def test_binary_keys_and_values_round_trip(r):
    key = b"a\x00b\r\nc\n\r\x00\xff"
    value = bytes(range(256)) * 40 + b"\r\n\x00"
    r.set(key, value)
    assert r.get(key) == value
    assert r.exists(key) == 1
    assert r.strlen(key) == len(value)
    assert key in r.keys("*")
    r.mset({b"\r\n": b"\x00", b"\x00": b"\r\n"})
    assert r.mget([b"\r\n", b"\x00", key]) == [b"\x00", b"\r\n", value]


def test_mset_mget(r):
    assert r.mset({"a": "1", "b": "2", "c": "3"}) is True
    assert r.mget(["a", "b", "missing", "c"]) == [b"1", b"2", None, b"3"]


def test_mset_with_the_same_key_twice_keeps_the_last(r):
    r.execute_command("MSET", "k", "1", "k", "2")
    assert r.get("k") == b"2"


def test_mset_wrong_number_of_args(r):
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'mset' command"):
        r.execute_command("MSET", "a", "1", "b")


def test_setnx_against_not_expired_and_existing_key(r):
    assert r.setnx("x", "1") is True
    assert r.setnx("x", "2") is False
    assert r.get("x") == b"1"


def test_setex_and_psetex(r):
    assert r.setex("k1", 100, "v") is True
    assert r.psetex("k2", 100_000, "v") is True
    assert r.mget(["k1", "k2"]) == [b"v", b"v"]
    with pytest.raises(redis.ResponseError, match="invalid expire time in 'setex' command"):
        r.execute_command("SETEX", "k", "0", "v")
    with pytest.raises(redis.ResponseError, match="value is not an integer or out of range"):
        r.execute_command("SETEX", "k", "ten", "v")


def test_getdel(r):
    r.set("foo", "bar")
    assert r.getdel("foo") == b"bar"
    assert r.get("foo") is None
    assert r.getdel("foo") is None


def test_strlen_and_append(r):
    assert r.strlen("k") == 0
    assert r.append("k", "foo") == 3
    assert r.append("k", b"\x00bar") == 7
    assert r.get("k") == b"foo\x00bar"
    assert r.strlen("k") == 7


def test_incr_decr_family(r):
    assert r.incr("n") == 1
    assert r.incr("n") == 2
    assert r.incrby("n", 10) == 12
    assert r.decr("n") == 11
    assert r.decrby("n", 20) == -9
    assert r.get("n") == b"-9"
    r.set("big", "9223372036854775806")
    assert r.incr("big") == 9223372036854775807
    with pytest.raises(redis.ResponseError, match="increment or decrement would overflow"):
        r.incr("big")
    r.set("s", "abc")
    with pytest.raises(redis.ResponseError, match="value is not an integer or out of range"):
        r.incr("s")
    r.set("sp", " 1")
    with pytest.raises(redis.ResponseError, match="value is not an integer or out of range"):
        r.incr("sp")


# --- SET options and expiry ------------------------------------------------------------------

def test_set_nx_xx(r):
    assert r.set("k", "1", xx=True) is None
    assert r.get("k") is None
    assert r.set("k", "1", nx=True) is True
    assert r.set("k", "2", nx=True) is None
    assert r.set("k", "3", xx=True) is True
    assert r.get("k") == b"3"
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.execute_command("SET", "k", "v", "NX", "XX")


def test_set_get_returns_the_old_value(r):
    assert r.set("k", "a", get=True) is None
    assert r.set("k", "b", get=True) == b"a"
    assert r.get("k") == b"b"


def test_set_px_expires(r):
    r.set("k", "v", px=100)
    assert r.get("k") == b"v"
    time.sleep(0.2)
    assert r.get("k") is None
    assert r.exists("k") == 0
    assert r.keys("*") == []


def test_set_ex_with_a_big_value_keeps_the_key(r):
    r.set("k", "v", ex=1000)
    assert r.get("k") == b"v"


def test_set_exat_in_the_past_deletes_the_key(r):
    r.set("k", "v")
    r.set("k", "new", exat=int(time.time()) - 100)
    assert r.get("k") is None
    assert r.exists("k") == 0


def test_set_pxat_in_the_future(r):
    r.set("k", "v", pxat=int(time.time() * 1000) + 150)
    assert r.get("k") == b"v"
    time.sleep(0.3)
    assert r.get("k") is None


def test_set_keepttl_keeps_the_deadline(r):
    r.set("kept", "v", px=150)
    r.set("plain", "v", px=150)
    r.set("kept", "v2", keepttl=True)
    r.set("plain", "v2")  # a plain SET removes the TTL
    time.sleep(0.3)
    assert r.get("kept") is None
    assert r.get("plain") == b"v2"


def test_setex_expires(r):
    r.psetex("k", 100, "v")
    time.sleep(0.2)
    assert r.get("k") is None


def test_set_invalid_expire_times(r):
    for opts in (["EX", "0"], ["PX", "-1"], ["EX", "-5"]):
        with pytest.raises(redis.ResponseError, match="invalid expire time in 'set' command"):
            r.execute_command("SET", "k", "v", *opts)
    with pytest.raises(redis.ResponseError, match="value is not an integer or out of range"):
        r.execute_command("SET", "k", "v", "EX", "soon")
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.execute_command("SET", "k", "v", "EX", "10", "PX", "100")
    assert r.get("k") is None


# --- keyspace --------------------------------------------------------------------------------

def test_del_against_a_single_item_and_multiple_items(r):
    r.mset({"a": "1", "b": "2", "c": "3"})
    assert r.delete("a") == 1
    assert r.delete("a", "b", "c", "zzz") == 2
    assert r.dbsize() == 0


def test_unlink(r):
    r.mset({"a": "1", "b": "2"})
    assert r.unlink("a", "b", "c") == 2
    assert r.get("a") is None


def test_exists_counts_repeated_keys(r):
    r.set("a", "1")
    assert r.exists("a") == 1
    assert r.exists("a", "a", "b") == 2
    assert r.exists("b") == 0


def test_type(r):
    r.set("a", "1")
    assert r.type("a") == b"string"
    assert r.type("nokey") == b"none"


def test_keys_with_patterns(r):
    r.mset({k: "1" for k in ["foo_a", "foo_b", "foo_c", "key_x", "key_y", "key_z"]})
    assert sorted(r.keys("foo*")) == [b"foo_a", b"foo_b", b"foo_c"]
    assert sorted(r.keys("*")) == sorted(
        b"foo_a foo_b foo_c key_x key_y key_z".split())
    assert sorted(r.keys("key_[xy]")) == [b"key_x", b"key_y"]
    assert sorted(r.keys("?oo_?")) == [b"foo_a", b"foo_b", b"foo_c"]
    assert r.keys("nomatch*") == []


def test_dbsize(r):
    assert r.dbsize() == 0
    r.mset({f"k{i}": i for i in range(100)})
    assert r.dbsize() == 100
    r.delete("k0")
    assert r.dbsize() == 99


def test_select_separates_databases(target, r):
    r1 = target.client(db=1)
    try:
        r.set("k", "db0")
        assert r1.get("k") is None
        r1.set("k", "db1")
        assert r.get("k") == b"db0"
        assert r1.get("k") == b"db1"
        assert r1.dbsize() == 1
        # FLUSHDB clears only the selected database
        r1.flushdb()
        assert r1.get("k") is None
        assert r.get("k") == b"db0"
        # FLUSHALL clears every database
        r1.set("k", "db1")
        r.flushall()
        assert r.get("k") is None and r1.get("k") is None
    finally:
        r1.close()


def test_select_an_out_of_range_db(raw):
    c = raw()
    assert c.command("SELECT", "16") == b"-ERR DB index is out of range\r\n"
    assert c.command("SELECT", "-1") == b"-ERR DB index is out of range\r\n"
    assert c.command("SELECT", "x").startswith(b"-ERR value is not an integer")
    assert c.command("SELECT", "15") == b"+OK\r\n"


# --- SCAN ------------------------------------------------------------------------------------

def fill(r, n, fmt):
    pipe = r.pipeline(transaction=False)
    for i in range(n):
        pipe.set(fmt.format(i), i)
    pipe.execute()


def test_scan_iter_returns_every_key_once(r):
    fill(r, 5000, "key:{}")
    seen = list(r.scan_iter(count=100))
    assert len(seen) == 5000
    assert set(seen) == {f"key:{i}".encode() for i in range(5000)}


def test_scan_iter_with_match_and_count(r):
    fill(r, 5000, "user:{}")
    fill(r, 1000, "other:{}")
    seen = list(r.scan_iter(match="user:*", count=250))
    assert len(seen) == 5000
    assert set(seen) == {f"user:{i}".encode() for i in range(5000)}
    seen = list(r.scan_iter(match="user:1?", count=1000))
    assert sorted(seen) == [f"user:1{i}".encode() for i in range(10)]


def test_scan_with_type(r):
    fill(r, 50, "s:{}")
    assert len(set(r.scan_iter(_type="string", count=10))) == 50
    assert list(r.scan_iter(_type="list", count=10)) == []


def test_scan_guarantees_check_under_write_load(r):
    # Keys present for the whole scan are returned; keys added meanwhile may or may not be.
    fill(r, 1000, "k:{}")
    seen = set()
    cursor = 0
    step = 0
    while True:
        cursor, keys = r.scan(cursor, count=50)
        seen.update(keys)
        r.set(f"new:{step}", "x")
        step += 1
        assert step < 10000
        if cursor == 0:
            break
    assert {f"k:{i}".encode() for i in range(1000)} <= seen


def test_scan_syntax_errors(r):
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.execute_command("SCAN", "0", "FOO")
    with pytest.raises(redis.ResponseError, match="value is not an integer or out of range"):
        r.execute_command("SCAN", "0", "COUNT", "x")


# --- pipelines -------------------------------------------------------------------------------

def test_pipeline_of_1000_commands(r):
    pipe = r.pipeline(transaction=False)
    for i in range(500):
        pipe.set(f"p{i}", f"v{i}")
    for i in range(500):
        pipe.get(f"p{i}")
    out = pipe.execute()
    assert out[:500] == [True] * 500
    assert out[500:] == [f"v{i}".encode() for i in range(500)]


def test_pipeline_with_an_error_in_the_middle(r):
    pipe = r.pipeline(transaction=False)
    pipe.set("a", "x")
    pipe.incr("a")
    pipe.get("a")
    out = pipe.execute(raise_on_error=False)
    assert out[0] is True
    assert isinstance(out[1], redis.ResponseError)
    assert out[2] == b"x"


# --- connection and server -------------------------------------------------------------------

def test_ping_and_echo(r):
    assert r.ping() is True
    assert r.echo(b"a\x00b") == b"a\x00b"


def test_ping_with_an_argument(raw):
    c = raw()
    assert c.command("PING") == b"+PONG\r\n"
    assert c.command("PING", "hello") == b"$5\r\nhello\r\n"
    assert c.command("PING", "a", "b") == (
        b"-ERR wrong number of arguments for 'ping' command\r\n")


def test_time(r):
    secs, usecs = r.time()
    assert abs(secs + usecs / 1e6 - time.time()) < 5
    assert 0 <= usecs < 1_000_000


def test_info_parses(r):
    r.mset({"a": 1, "b": 2})
    info = r.info()
    assert re.fullmatch(r"\d+\.\d+\.\d+", info["redis_version"])
    assert re.fullmatch(r"[0-9a-f]{40}", info["run_id"])
    assert info["role"] == "master"
    assert info["connected_clients"] >= 1
    assert info["db0"]["keys"] == 2
    assert "tcp_port" in info
    for section in ("server", "clients", "memory", "persistence", "stats", "replication",
                    "keyspace"):
        assert r.info(section), section
    assert "redis_version" in r.info("server")
    assert "redis_version" not in r.info("keyspace")
    # Where writers wait on the log (man lmkv-server(1), --fsync): the MSET's group was written.
    persistence = r.info("persistence")
    assert persistence["lmkv_log_write_ms"] > 0
    assert 0 < persistence["lmkv_log_write_max_ms"] <= persistence["lmkv_log_write_ms"]
    assert isinstance(persistence["lmkv_slow_log_writes"], int)


def test_info_raw_text_has_section_headers(raw):
    reply = raw().command("INFO")
    assert reply.startswith(b"$")
    text = reply.split(b"\r\n", 1)[1].decode()
    for header in ("# Server", "# Clients", "# Memory", "# Persistence", "# Stats",
                   "# Replication", "# Keyspace"):
        assert header + "\r\n" in text
    assert all(":" in line for line in text.split("\r\n") if line and not line.startswith("#"))


def test_client_setname_getname_id_list(target):
    c = target.client(decode_responses=True)
    try:
        assert c.client_getname() is None
        assert c.client_setname("it-client") is True
        assert c.client_getname() == "it-client"
        my_id = c.client_id()
        assert isinstance(my_id, int) and my_id > 0
        listing = c.execute_command("CLIENT", "LIST")
        mine = [line for line in listing.splitlines() if f"id={my_id} " in line]
        assert len(mine) == 1 and "name=it-client" in mine[0]
        info = c.execute_command("CLIENT", "INFO")
        assert f"id={my_id} " in info and "name=it-client" in info
        with pytest.raises(redis.ResponseError):
            c.client_setname("has space")
    finally:
        c.close()


def test_client_ids_are_distinct(target):
    a, b = target.client(), target.client()
    try:
        assert a.client_id() != b.client_id()
    finally:
        a.close()
        b.close()


def test_config_get_set(rb):
    assert rb.config_get("appendonly") == {"appendonly": "no"}
    assert rb.config_get("save") == {"save": ""}
    old = rb.config_get("maxclients")["maxclients"]
    try:
        assert rb.config_set("maxclients", 500) is True
        assert rb.config_get("maxclients") == {"maxclients": "500"}
    finally:
        rb.config_set("maxclients", old)
    old = rb.config_get("loglevel")["loglevel"]
    try:
        rb.config_set("loglevel", "warning")
        assert rb.config_get("loglevel") == {"loglevel": "warning"}
    finally:
        rb.config_set("loglevel", old)
    with pytest.raises(redis.ResponseError):
        rb.config_set("loglevel", "loud")
    with pytest.raises(redis.ResponseError):
        rb.config_set("no-such-parameter", "1")
    assert rb.config_get("no-such-parameter") == {}
    assert rb.config_resetstat() is True


def test_command_count_and_info(r, raw):
    assert r.command_count() > 30
    info = r.command()  # COMMAND with no arguments, parsed by redis-py: every command
    for name in ("get", "set", "mset", "scan", "ping", "hello", "info", "config"):
        assert name in info, name
    assert info["get"]["arity"] == 2 and info["set"]["arity"] == -3
    c = raw()
    reply = c.command("COMMAND", "INFO", "get", "nosuchcommand")
    # An unknown name gives a null entry (Redis 7.0 sends a null bulk).
    assert reply.startswith(b"*2\r\n*") and reply.endswith((b"$-1\r\n", b"*-1\r\n"))
    assert b"$3\r\nget\r\n:2\r\n" in reply
    names = c.command("COMMAND", "LIST")
    assert b"$3\r\nget\r\n" in names and b"$4\r\nscan\r\n" in names


def test_hello_3_over_a_raw_socket(raw):
    c = raw()
    reply = c.command("HELLO", "3")
    assert reply.startswith(b"%")
    assert b"$5\r\nproto\r\n:3\r\n" in reply
    assert b"$4\r\nrole\r\n$6\r\nmaster\r\n" in reply
    # RESP3 from now on: null is "_", CONFIG GET is a map.
    assert c.command("GET", "nokey") == b"_\r\n"
    assert c.command("CONFIG", "GET", "appendonly") == b"%1\r\n$10\r\nappendonly\r\n$2\r\nno\r\n"
    assert c.command("HELLO", "2").startswith(b"*")
    assert c.command("GET", "nokey") == b"$-1\r\n"
    assert c.command("HELLO", "4").startswith(b"-NOPROTO")


def test_quit_closes_the_connection(raw):
    c = raw()
    c.send(encode_command("QUIT"))
    data, closed = c.read_until_closed()
    assert data == b"+OK\r\n" and closed


def test_many_clients_at_once(target, r):
    clients = [RawConn(target.host, target.port) for _ in range(200)]
    try:
        for i, c in enumerate(clients):
            c.send(encode_command("SET", f"c{i}", str(i)))
        for c in clients:
            assert c.read_exactly_reply() == b"+OK\r\n"
        assert r.dbsize() == 200
    finally:
        for c in clients:
            c.close()
