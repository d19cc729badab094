"""Introspection and admin commands (issue 5): CLIENT LIST/INFO/KILL/REPLY/PAUSE/NO-EVICT,
SLOWLOG, CONFIG GET/SET/RESETSTAT/REWRITE, INFO commandstats/errorstats and sections, COMMAND
GETKEYS(ANDFLAGS), LASTSAVE, DEBUG SLEEP/DIGEST.

Tests not marked lmkv_only also pass against a real Redis 7.0 (--host/--port). Tests that change
server-wide settings put them back before they end, since the server is shared."""

import os
import subprocess
import threading
import time

import pytest
import redis

from helpers import RawConn, decode_reply, encode_command, info_fields, ping_ok, wait_for


def raw_to(target):
    return RawConn(target.host, target.port)


def client_id(conn):
    return decode_reply(conn.command("CLIENT", "ID"))


def err(conn, *args):
    """The error text of a command that must fail (without the leading '-')."""
    raw = conn.command(*args)
    assert raw.startswith(b"-"), raw
    return raw[1:].rstrip(b"\r\n").decode()


@pytest.fixture
def conns(target):
    made = []

    def connect():
        c = raw_to(target)
        made.append(c)
        return c

    yield connect
    for c in made:
        c.close()


@pytest.fixture
def slowlog_settings(r):
    """Restores the slowlog directives and empties the log afterwards."""
    saved = r.config_get("slowlog-*")
    yield
    r.config_set("slowlog-log-slower-than", saved["slowlog-log-slower-than"])
    r.config_set("slowlog-max-len", saved["slowlog-max-len"])
    r.slowlog_reset()


def debug_allowed(conn):
    raw = conn.command("DEBUG", "SLEEP", "0")
    if b"DEBUG command not allowed" in raw:
        pytest.skip("DEBUG is disabled on this server")
    assert raw == b"+OK\r\n"


# --- CLIENT LIST / INFO ----------------------------------------------------------------------

def test_client_list_type_filters(conns):
    c = conns()
    me = client_id(c)
    normal = decode_reply(c.command("CLIENT", "LIST", "TYPE", "normal")).decode()
    assert f"id={me} " in normal
    for kind in ("pubsub", "master", "replica", "slave"):
        listed = decode_reply(c.command("CLIENT", "LIST", "TYPE", kind)).decode()
        assert f"id={me} " not in listed
    assert err(c, "CLIENT", "LIST", "TYPE", "foo") == "ERR Unknown client type 'foo'"


def test_client_info_is_this_clients_list_line(conns):
    c = conns()
    me = client_id(c)
    c.command("CLIENT", "SETNAME", "admin-info")
    info = decode_reply(c.command("CLIENT", "INFO")).decode()
    assert info.startswith(f"id={me} ") and info.endswith("\n")
    assert " name=admin-info " in info and " cmd=client|info " in info
    listed = decode_reply(c.command("CLIENT", "LIST", "ID", str(me))).decode()
    assert listed.split(" ")[0] == info.split(" ")[0]


def test_client_getname_setname_id(conns):
    c = conns()
    assert decode_reply(c.command("CLIENT", "GETNAME")) is None
    assert c.command("CLIENT", "SETNAME", "n1") == b"+OK\r\n"
    assert decode_reply(c.command("CLIENT", "GETNAME")) == b"n1"
    assert isinstance(client_id(c), int)


# --- CLIENT KILL ----------------------------------------------------------------------------

def test_client_kill_error_texts(conns):
    c = conns()
    assert err(c, "CLIENT", "KILL", "1.2.3.4:5") == "ERR No such client"
    assert err(c, "CLIENT", "KILL", "ID", "abc") == "ERR client-id should be greater than 0"
    assert err(c, "CLIENT", "KILL", "ID", "0") == "ERR client-id should be greater than 0"
    assert err(c, "CLIENT", "KILL", "foo", "bar") == "ERR syntax error"
    assert err(c, "CLIENT", "KILL", "ID", "1", "SKIPME") == "ERR syntax error"
    assert err(c, "CLIENT", "KILL", "TYPE", "foo") == "ERR Unknown client type 'foo'"
    assert err(c, "CLIENT", "KILL", "SKIPME", "maybe") == "ERR syntax error"
    assert err(c, "CLIENT", "KILL", "USER", "nosuch") == "ERR No such user 'nosuch'"
    assert decode_reply(c.command("CLIENT", "KILL", "ID", "999999999")) == 0
    assert decode_reply(c.command("CLIENT", "KILL", "ADDR", "1.2.3.4:5")) == 0


def test_client_kill_by_id_closes_the_other_connection(conns):
    killer, victim = conns(), conns()
    vid = client_id(victim)
    assert decode_reply(killer.command("CLIENT", "KILL", "ID", str(vid))) == 1
    # Gone at once, as in Redis, before its loop has closed the socket.
    assert decode_reply(killer.command("CLIENT", "LIST", "ID", str(vid))) == b""
    assert decode_reply(killer.command("CLIENT", "KILL", "ID", str(vid))) == 0
    _, closed = victim.read_until_closed(timeout=5)
    assert closed
    listed = decode_reply(killer.command("CLIENT", "LIST", "ID", str(vid)))
    assert listed == b""
    assert killer.command("PING") == b"+PONG\r\n"


def test_killed_clients_leave_the_list_at_once(conns):
    # The victim's loop closes it a moment later; the registry must not wait
    # for that (a race CI once caught with one victim, so try many).
    killer = conns()
    for _ in range(100):
        victim = conns()
        vid = client_id(victim)
        assert decode_reply(killer.command("CLIENT", "KILL", "ID", str(vid))) == 1
        assert decode_reply(killer.command("CLIENT", "LIST", "ID", str(vid))) == b""


def test_client_kill_old_form_by_address(conns):
    killer, victim = conns(), conns()
    vid = client_id(victim)
    line = decode_reply(killer.command("CLIENT", "LIST", "ID", str(vid))).decode()
    addr = next(f.split("=", 1)[1] for f in line.split() if f.startswith("addr="))
    assert killer.command("CLIENT", "KILL", addr) == b"+OK\r\n"
    _, closed = victim.read_until_closed(timeout=5)
    assert closed


def test_client_kill_filters_combine(conns):
    killer, victim = conns(), conns()
    vid = client_id(victim)
    line = decode_reply(killer.command("CLIENT", "LIST", "ID", str(vid))).decode()
    fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
    # Every filter must match: a wrong address keeps the victim alive.
    assert decode_reply(killer.command("CLIENT", "KILL", "ID", str(vid), "ADDR",
                                       "1.2.3.4:5")) == 0
    assert victim.command("PING") == b"+PONG\r\n"
    assert decode_reply(killer.command("CLIENT", "KILL", "ID", str(vid), "ADDR", fields["addr"],
                                       "LADDR", fields["laddr"], "TYPE", "normal", "USER",
                                       "default")) == 1
    _, closed = victim.read_until_closed(timeout=5)
    assert closed


def test_client_kill_skipme(conns):
    c = conns()
    me = client_id(c)
    # SKIPME yes (the default) spares the caller.
    assert decode_reply(c.command("CLIENT", "KILL", "ID", str(me))) == 0
    assert c.command("PING") == b"+PONG\r\n"
    # SKIPME no: the reply is sent, then the connection closes.
    c.send(encode_command("CLIENT", "KILL", "ID", str(me), "SKIPME", "no"))
    data, closed = c.read_until_closed(timeout=5)
    assert data == b":1\r\n" and closed


# --- CLIENT REPLY ----------------------------------------------------------------------------

def test_client_reply_off_skip_on(conns, r):
    c = conns()
    c.send(b"".join(encode_command(*cmd) for cmd in [
        ("CLIENT", "REPLY", "OFF"), ("SET", "rk", "1"), ("GET", "rk"), ("NOSUCH",),
        ("CLIENT", "REPLY", "ON"), ("PING", "a"),
        ("CLIENT", "REPLY", "SKIP"), ("SET", "rk2", "2"), ("GET", "rk2"),
        ("CLIENT", "REPLY", "SKIP"), ("CLIENT", "REPLY", "ON"), ("PING", "b"),
        ("CLIENT", "REPLY", "OFF"), ("CLIENT", "REPLY", "SKIP"), ("PING", "c"),
        ("CLIENT", "REPLY", "ON")]))
    expected = b"+OK\r\n$1\r\na\r\n$1\r\n2\r\n+OK\r\n$1\r\nb\r\n+OK\r\n"
    got = b""
    deadline = time.monotonic() + 5
    while len(got) < len(expected) and time.monotonic() < deadline:
        c.sock.settimeout(0.5)
        try:
            got += c.sock.recv(4096)
        except OSError:
            pass
    assert got == expected
    # The writes ran even though their replies were dropped.
    assert r.get("rk") == b"1" and r.get("rk2") == b"2"


def test_client_reply_syntax(conns):
    c = conns()
    assert err(c, "CLIENT", "REPLY", "foo") == "ERR syntax error"
    assert err(c, "CLIENT", "REPLY") == "ERR wrong number of arguments for 'client|reply' command"


# --- CLIENT PAUSE / UNPAUSE / NO-EVICT -------------------------------------------------------

def test_client_pause_errors(conns):
    c = conns()
    assert err(c, "CLIENT", "PAUSE", "abc") == "ERR timeout is not an integer or out of range"
    assert err(c, "CLIENT", "PAUSE", "-1") == "ERR timeout is negative"
    assert err(c, "CLIENT", "PAUSE", "10", "foo") == "ERR CLIENT PAUSE mode must be WRITE or ALL"


def test_client_pause_write_delays_writes_only(target, r):
    a, b = target.client(), target.client()
    try:
        b.ping()
        assert a.execute_command("CLIENT", "PAUSE", 400, "WRITE")
        t = time.monotonic()
        assert b.get("pk") is None
        assert time.monotonic() - t < 0.3
        t = time.monotonic()
        assert b.set("pk", "1") is True
        assert time.monotonic() - t >= 0.3
        assert r.get("pk") == b"1"
    finally:
        a.execute_command("CLIENT", "UNPAUSE")
        a.close()
        b.close()


def test_client_pause_all_holds_reads_and_unpause_releases(target):
    a, b = target.client(), target.client()
    released = []
    try:
        b.ping()
        assert a.execute_command("CLIENT", "PAUSE", 10000, "WRITE")

        def writer():
            released.append(b.set("pk2", "1"))

        th = threading.Thread(target=writer)
        th.start()
        time.sleep(0.3)
        assert not released  # held by the pause
        assert a.execute_command("CLIENT", "UNPAUSE") == b"OK"
        th.join(5)
        assert released == [True]
        # ALL mode holds reads too; wrong arities are refused at once.
        assert a.execute_command("CLIENT", "PAUSE", 300, "ALL")
        t = time.monotonic()
        with pytest.raises(redis.ResponseError, match="wrong number of arguments"):
            b.execute_command("GET")
        assert time.monotonic() - t < 0.25
        assert b.get("pk2") == b"1"
        assert time.monotonic() - t >= 0.25
    finally:
        a.execute_command("CLIENT", "UNPAUSE")
        a.close()
        b.close()


def test_client_no_evict(conns):
    c = conns()
    assert c.command("CLIENT", "NO-EVICT", "on") == b"+OK\r\n"
    assert c.command("CLIENT", "NO-EVICT", "OFF") == b"+OK\r\n"
    assert err(c, "CLIENT", "NO-EVICT", "maybe") == "ERR syntax error"


# --- SLOWLOG ---------------------------------------------------------------------------------

def test_slowlog_records_commands_with_client_details(r, conns, slowlog_settings):
    r.config_set("slowlog-log-slower-than", 0)
    r.slowlog_reset()
    c = conns()
    c.command("CLIENT", "SETNAME", "slowpoke")
    c.command("SET", "slowkey", "v")
    entries = decode_reply(c.command("SLOWLOG", "GET", "-1"))
    mine = [e for e in entries if e[3] == [b"SET", b"slowkey", b"v"]]
    assert len(mine) == 1
    eid, ts, usec, args, addr, name = mine[0]
    assert isinstance(eid, int) and isinstance(usec, int) and usec >= 0
    assert abs(ts - time.time()) < 60
    assert name == b"slowpoke"
    assert addr.startswith(b"127.0.0.1:")
    # Newest first, ids increasing.
    ids = [e[0] for e in entries]
    assert ids == sorted(ids, reverse=True)


def test_slowlog_truncates_arguments(r, slowlog_settings):
    r.config_set("slowlog-log-slower-than", 0)
    r.slowlog_reset()
    r.execute_command("ECHO", "x" * 200)
    r.execute_command("MGET", *[f"k{i}" for i in range(40)])
    entries = r.execute_command("SLOWLOG", "GET", "-1")
    by_cmd = {e[3][0].upper(): e[3] for e in entries}
    assert by_cmd[b"ECHO"][1] == b"x" * 128 + b"... (72 more bytes)"
    mget = by_cmd[b"MGET"]
    assert len(mget) == 32
    assert mget[30] == b"k29"
    assert mget[31] == b"... (10 more arguments)"


def test_slowlog_len_reset_max_len_and_errors(r, slowlog_settings):
    r.config_set("slowlog-log-slower-than", 0)
    r.config_set("slowlog-max-len", 3)
    for i in range(6):
        r.ping()
    assert r.slowlog_len() == 3
    assert len(r.execute_command("SLOWLOG", "GET")) == 3
    assert len(r.execute_command("SLOWLOG", "GET", "1")) == 1
    assert r.execute_command("SLOWLOG", "RESET") == b"OK"
    # SLOWLOG RESET itself is logged after it ran.
    assert r.slowlog_len() <= 1
    r.config_set("slowlog-log-slower-than", -1)
    r.slowlog_reset()
    r.ping()
    assert r.slowlog_len() == 0
    with pytest.raises(redis.ResponseError, match="count should be greater than or equal to -1"):
        r.execute_command("SLOWLOG", "GET", "-2")
    with pytest.raises(redis.ResponseError, match="count should be greater than or equal to -1"):
        r.execute_command("SLOWLOG", "GET", "abc")
    with pytest.raises(redis.ResponseError,
                       match=r"unknown subcommand 'foo'. Try SLOWLOG HELP."):
        r.execute_command("SLOWLOG", "foo")
    help_lines = r.execute_command("SLOWLOG", "HELP")
    assert help_lines[0].startswith(b"SLOWLOG <subcommand>")
    assert help_lines[-1] == b"    Prints this help."


def test_slowlog_directive_errors(r):
    with pytest.raises(redis.ResponseError) as e:
        r.config_set("slowlog-log-slower-than", "abc")
    assert str(e.value) == ("CONFIG SET failed (possibly related to argument "
                            "'slowlog-log-slower-than') - argument couldn't be parsed into an "
                            "integer")
    with pytest.raises(redis.ResponseError) as e:
        r.config_set("slowlog-max-len", "-1")
    assert str(e.value) == ("CONFIG SET failed (possibly related to argument 'slowlog-max-len') - "
                            "argument must be between 0 and 9223372036854775807 inclusive")


# --- CONFIG ----------------------------------------------------------------------------------

def test_config_get_several_patterns(r):
    got = r.execute_command("CONFIG", "GET", "maxclients", "slowlog-*", "maxclients")
    keys = got[0::2] if isinstance(got, list) else list(got)
    assert sorted(keys) == [b"maxclients", b"slowlog-log-slower-than", b"slowlog-max-len"]


def test_config_set_several_is_all_or_nothing(r, slowlog_settings):
    before = r.config_get("slowlog-max-len")["slowlog-max-len"]
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("CONFIG", "SET", "slowlog-max-len", "77", "slowlog-log-slower-than",
                          "abc")
    assert "possibly related to argument 'slowlog-log-slower-than'" in str(e.value)
    assert r.config_get("slowlog-max-len")["slowlog-max-len"] == before
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("CONFIG", "SET", "slowlog-max-len", "77", "nosuch-directive", "1")
    assert str(e.value) == "Unknown option or number of arguments for CONFIG SET - 'nosuch-directive'"
    assert r.config_get("slowlog-max-len")["slowlog-max-len"] == before
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("CONFIG", "SET", "slowlog-max-len", "1", "slowlog-max-len", "2")
    assert str(e.value) == ("CONFIG SET failed (possibly related to argument 'slowlog-max-len') - "
                            "duplicate parameter")
    assert r.execute_command("CONFIG", "SET", "slowlog-max-len", "77", "slowlog-log-slower-than",
                             "5000") == b"OK"
    got = r.config_get("slowlog-*")
    assert got == {"slowlog-max-len": "77", "slowlog-log-slower-than": "5000"}


def test_config_set_immutable(r):
    with pytest.raises(redis.ResponseError) as e:
        r.config_set("daemonize", "yes")
    assert str(e.value) == ("CONFIG SET failed (possibly related to argument 'daemonize') - "
                            "can't set immutable config")


def test_config_rewrite_without_config_file(target, r):
    if not target.managed and r.info("server").get("config_file"):
        pytest.skip("the external server has a config file")
    with pytest.raises(redis.ResponseError, match="The server is running without a config file"):
        r.config_rewrite()


# --- INFO commandstats / errorstats / sections -----------------------------------------------

def raw_info(target, *sections):
    """INFO's text over a raw connection (redis-py would parse it)."""
    c = raw_to(target)
    try:
        return decode_reply(c.command("INFO", *sections)).decode()
    finally:
        c.close()


def info_map(target, section):
    out = {}
    for line in raw_info(target, section).splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k] = v
    return out


def cmdstat(fields, name):
    return dict(kv.split("=") for kv in fields[f"cmdstat_{name}"].split(","))


def test_info_commandstats_counts_calls_rejections_and_failures(target, r):
    r.config_resetstat()
    r.set("cs", "notanumber")
    r.get("cs")
    r.get("cs")
    with pytest.raises(redis.ResponseError):
        r.execute_command("GET")
    with pytest.raises(redis.ResponseError):
        r.execute_command("INCR", "cs")  # a write that fails
    with pytest.raises(redis.ResponseError):
        r.execute_command("CONFIG", "GET")  # subcommand arity: rejected
    stats = info_map(target, "commandstats")
    get = cmdstat(stats, "get")
    assert get["calls"] == "2" and get["rejected_calls"] == "1" and get["failed_calls"] == "0"
    assert float(get["usec_per_call"]) >= 0
    incr = cmdstat(stats, "incr")
    assert incr["calls"] == "1" and incr["failed_calls"] == "1"
    assert "cmdstat_set" in stats
    cfg = cmdstat(stats, "config|get")
    assert cfg["rejected_calls"] == "1" and cfg["calls"] == "0"


def test_info_errorstats_and_resetstat(target, r):
    r.config_resetstat()
    with pytest.raises(redis.ResponseError):
        r.execute_command("NOSUCHCOMMAND")
    with pytest.raises(redis.ResponseError):
        r.execute_command("GET")
    errs = info_map(target, "errorstats")
    assert errs["errorstat_ERR"] == "count=2"
    assert info_map(target, "stats")["total_error_replies"] == "2"
    r.config_resetstat()
    assert "errorstat_ERR" not in info_map(target, "errorstats")
    cmds = info_map(target, "commandstats")
    assert "cmdstat_get" not in cmds


def section_names(target, *args):
    text = raw_info(target, *args)
    return [line[2:].strip() for line in text.splitlines() if line.startswith("# ")]


def test_info_section_selection(target):
    default = section_names(target)
    assert "Commandstats" not in default and "Errorstats" in default
    assert section_names(target, "default") == default
    for every in ("all", "everything"):
        names = section_names(target, every)
        assert "Commandstats" in names and "Errorstats" in names and "Keyspace" in names
    assert section_names(target, "server", "clients") == ["Server", "Clients"]
    assert section_names(target, "commandstats") == ["Commandstats"]
    assert section_names(target, "CPU") == ["CPU"]


# --- COMMAND ---------------------------------------------------------------------------------

def test_command_getkeys_and_getkeysandflags(conns):
    c = conns()
    cmd = lambda *a: decode_reply(c.command(*a))  # noqa: E731
    assert cmd("COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2") == [b"a", b"b"]
    assert err(c, "COMMAND", "GETKEYS", "nosuch", "x") == "ERR Invalid command specified"
    got = cmd("COMMAND", "GETKEYSANDFLAGS", "GET", "k")
    assert got[0][0] == b"k" and "RO" in got[0][1]
    got = cmd("COMMAND", "GETKEYSANDFLAGS", "MSET", "a", "1", "b", "2")
    assert [k for k, _ in got] == [b"a", b"b"]
    assert err(c, "COMMAND", "GETKEYSANDFLAGS") == \
        "ERR wrong number of arguments for 'command|getkeysandflags' command"


def test_command_list_count_info(conns):
    c = conns()
    cmd = lambda *a: decode_reply(c.command(*a))  # noqa: E731
    names = cmd("COMMAND", "LIST")
    for name in (b"get", b"client|kill", b"client|pause", b"slowlog|get", b"lastsave",
                 b"debug", b"command|getkeysandflags"):
        assert name in names
    assert sorted(cmd("COMMAND", "LIST", "FILTERBY", "PATTERN", "slowlo*")) == [
        b"slowlog", b"slowlog|get", b"slowlog|help", b"slowlog|len", b"slowlog|reset"]
    assert cmd("COMMAND", "LIST", "FILTERBY", "MODULE", "nosuch") == []
    assert cmd("COMMAND", "COUNT") >= 20
    info = cmd("COMMAND", "INFO", "lastsave", "nosuchcommand")
    assert info[0][0] == b"lastsave" and info[1] is None


# --- LASTSAVE, DEBUG -------------------------------------------------------------------------

def test_lastsave_is_a_unix_time(r):
    t = r.lastsave()
    assert abs(t.timestamp() - time.time()) < 10 * 365 * 86400


def test_debug_sleep_blocks_the_command(conns):
    c = conns()
    debug_allowed(c)
    t = time.monotonic()
    assert c.command("DEBUG", "SLEEP", "0.2") == b"+OK\r\n"
    assert time.monotonic() - t >= 0.18
    assert c.command("DEBUG", "SLEEP", "abc") == b"+OK\r\n"  # strtod: 0
    assert err(c, "DEBUG", "NOSUCH") == ("ERR unknown subcommand or wrong number of arguments "
                                         "for 'NOSUCH'. Try DEBUG HELP.")


def test_debug_digest_shape(conns, r):
    c = conns()
    debug_allowed(c)
    assert decode_reply(c.command("DEBUG", "DIGEST")) == "0" * 40
    r.set("dk", "v")
    d = decode_reply(c.command("DEBUG", "DIGEST"))
    assert len(d) == 40 and d != "0" * 40
    vals = decode_reply(c.command("DEBUG", "DIGEST-VALUE", "dk", "missing"))
    assert len(vals) == 2 and vals[1] == "0" * 40 and vals[0] != "0" * 40
    assert decode_reply(c.command("DEBUG", "DIGEST-VALUE")) == []


@pytest.mark.lmkv_only
def test_debug_digest_equal_on_two_servers_with_the_same_data(lmkv_factory):
    a, b = lmkv_factory(), lmkv_factory()
    ca, cb = a.client(), b.client()
    # Same data, written in a different order and through different databases.
    ca.mset({"k1": "v1", "k2": "v2"})
    ca.execute_command("SELECT", 3)
    ca.set("k3", "v3")
    cb.execute_command("SELECT", 3)
    cb.set("k3", "v3")
    cb.execute_command("SELECT", 0)
    cb.set("k2", "v2")
    cb.set("k1", "v1")
    da, db = ca.execute_command("DEBUG", "DIGEST"), cb.execute_command("DEBUG", "DIGEST")
    assert da == db and len(da) == 40 and da != b"0" * 40
    # A key in another database is a different dataset.
    cb.execute_command("SELECT", 4)
    cb.set("k3", "v3")
    assert cb.execute_command("DEBUG", "DIGEST") != da
    cb.delete("k3")
    assert cb.execute_command("DEBUG", "DIGEST") == da
    cb.execute_command("SELECT", 0)
    cb.set("k1", "v1!")
    assert cb.execute_command("DEBUG", "DIGEST") != da
    # The digest survives a restart.
    cb.set("k1", "v1")
    b.restart()
    assert b.client().execute_command("DEBUG", "DIGEST") == da


# --- CONFIG REWRITE --------------------------------------------------------------------------

@pytest.mark.lmkv_only
def test_config_rewrite_keeps_comments_and_updates_directives(lmkv_factory):
    proc = lmkv_factory(config_lines=[("# a comment the rewrite must keep", ""),
                                      ("slowlog-max-len", "64"),
                                      ("maxclients", "100"),
                                      ("maxclients", "200")])
    conf = os.path.join(proc.workdir, "lmkv.conf")
    c = proc.client(decode_responses=True)
    assert c.config_get("maxclients") == {"maxclients": "200"}
    c.config_set("slowlog-max-len", "7")
    c.config_set("slowlog-log-slower-than", "1234")
    assert c.config_rewrite() in (True, "OK")
    text = open(conf).read()
    lines = text.splitlines()
    assert "# written by the integration suite" in lines
    assert any(line.startswith("# a comment the rewrite must keep") for line in lines)
    assert "slowlog-max-len 7" in lines
    assert lines.count("maxclients 200") == 1 and "maxclients 100" not in lines
    assert "# Generated by CONFIG REWRITE" in lines
    assert lines.index("slowlog-log-slower-than 1234") > lines.index("# Generated by CONFIG REWRITE")
    # The rewritten file starts a server with the same settings. (The helper rewrites its
    # config file at each start, so this server is started from the file by hand.)
    proc.stop()
    with open(os.path.join(proc.workdir, "again.log"), "wb") as log:
        again = subprocess.Popen([proc.binary, conf], stdout=log, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, cwd=proc.workdir)
    try:
        assert wait_for(lambda: ping_ok(proc.host, proc.port), timeout=15)
        c2 = redis.Redis(host=proc.host, port=proc.port, decode_responses=True)
        assert c2.config_get("slowlog-*") == {"slowlog-max-len": "7",
                                              "slowlog-log-slower-than": "1234"}
        assert c2.config_get("maxclients") == {"maxclients": "200"}
        c2.close()
    finally:
        again.terminate()
        again.wait(15)
