"""Authentication and ACL (issue 2): requirepass, AUTH, HELLO AUTH, NOAUTH/WRONGPASS/NOPERM,
ACL WHOAMI/USERS/LIST/SETUSER/DELUSER, users and rename-command from the config file, protected
mode, and passwords kept out of the server log.

Against an external server (--host/--port: `redis-server --save ''`, with or without
`--requirepass lmkv-test-secret-4711`), the oracle-compatible tests set the password they need
with CONFIG SET requirepass and restore the server's own (and delete their users) afterwards."""

import socket
import subprocess

import pytest
import redis

import helpers
from helpers import RawConn, decode_reply

PW = "lmkv-test-secret-4711"
USER_PW = "reader-pass-0815"
PW_DIGEST = "30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4"  # sha256("pw")

NOAUTH = b"-NOAUTH Authentication required.\r\n"
WRONGPASS = b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
HELLO_NOAUTH = (b"-NOAUTH HELLO must be called with the client already authenticated, otherwise "
                b"the HELLO AUTH <user> <pass> option can be used to authenticate the client "
                b"and select the RESP protocol version at the same time\r\n")
NOPASS_CONFIGURED = (b"-ERR AUTH <password> called without any password configured for the "
                     b"default user. Are you sure your configuration is correct?\r\n")


def _ping_ok_or_noauth(host, port, timeout=0.5):
    """The start-up probe for a server with a password: PING answers +PONG or -NOAUTH."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            return s.recv(64).startswith((b"+PONG", b"-NOAUTH"))
    except OSError:
        return False


@pytest.fixture
def start_lmkv(lmkv_factory, monkeypatch):
    """lmkv_factory whose start-up probe accepts NOAUTH (PING needs AUTH with requirepass)."""
    monkeypatch.setattr(helpers, "ping_ok", _ping_ok_or_noauth)
    return lmkv_factory


class Server:
    """Where a test connects, and how to make a raw connection to it."""

    def __init__(self, host, port):
        self.host, self.port = host, port

    def raw(self):
        return RawConn(self.host, self.port)

    def client(self, **kw):
        kw.setdefault("socket_timeout", 10)
        return redis.Redis(host=self.host, port=self.port, **kw)


def _external_admin(target):
    """A client on the external server and the password it had (None or PW): the oracle may
    run without a password or with `--requirepass lmkv-test-secret-4711`."""
    c = target.client()
    try:
        c.ping()
        return c, None
    except redis.AuthenticationError:
        c.close()
        c = target.client(password=PW)
        c.ping()
        return c, PW


def _restore_external(target, had):
    c = target.client()
    try:
        c.ping()
    except redis.AuthenticationError:
        c.close()
        c = target.client(password=PW)
    c.execute_command("ACL", "DELUSER", "reader", "writer")
    c.config_set("requirepass", had or "")
    c.close()


@pytest.fixture
def secured(request, target, start_lmkv):
    """A server whose default user has password PW. lmkv: a private server started from a
    config file with requirepass. External: the shared server (started with or without
    --requirepass PW), given the password with CONFIG SET and restored afterwards."""
    if target.managed:
        proc = start_lmkv(config_lines=[("requirepass", PW)])
        yield Server(proc.host, proc.port)
        return
    admin, had = _external_admin(target)
    admin.config_set("requirepass", PW)
    admin.close()
    yield Server(target.host, target.port)
    _restore_external(target, had)


@pytest.fixture
def open_server(target, start_lmkv):
    """A server without a password: a private lmkv (so CONFIG SET requirepass cannot disturb
    other tests), or the external one with its password removed (restored afterwards)."""
    if target.managed:
        proc = start_lmkv()
        yield Server(proc.host, proc.port)
        return
    admin, had = _external_admin(target)
    admin.config_set("requirepass", "")
    admin.close()
    yield Server(target.host, target.port)
    _restore_external(target, had)


# --- NOAUTH, AUTH, HELLO ---------------------------------------------------------------------

def test_noauth_before_auth_for_data_commands(secured):
    c = secured.raw()
    assert c.command("GET", "k") == NOAUTH
    assert c.command("SET", "k", "v") == NOAUTH
    assert c.command("PING") == NOAUTH
    assert c.command("ACL", "WHOAMI") == NOAUTH
    # Unknown commands and arity are checked first, as in Redis.
    assert c.command("GET").startswith(b"-ERR wrong number of arguments for 'get' command")
    assert c.command("HELLO", "3") == HELLO_NOAUTH
    # QUIT is allowed before AUTH.
    c.send(helpers.encode_command("QUIT"))
    data, closed = c.read_until_closed()
    assert data == b"+OK\r\n" and closed
    c.close()


def test_wrong_password(secured):
    c = secured.raw()
    assert c.command("AUTH", "nope") == WRONGPASS
    assert c.command("AUTH", "default", "nope") == WRONGPASS
    assert c.command("AUTH", "nosuchuser", PW) == WRONGPASS
    assert c.command("AUTH", "a", "b", "c") == b"-ERR syntax error\r\n"
    assert c.command("GET", "k") == NOAUTH
    c.close()


def test_auth_password_and_auth_default_password(secured):
    c = secured.raw()
    assert c.command("AUTH", PW) == b"+OK\r\n"
    assert c.command("SET", "auth:k", "v") == b"+OK\r\n"
    assert c.command("GET", "auth:k") == b"$1\r\nv\r\n"
    assert c.command("ACL", "WHOAMI") == b"$7\r\ndefault\r\n"
    c.close()
    d = secured.raw()
    assert d.command("AUTH", "default", PW) == b"+OK\r\n"
    assert d.command("GET", "auth:k") == b"$1\r\nv\r\n"
    assert d.command("DEL", "auth:k") == b":1\r\n"
    d.close()
    # redis-py's password= sends AUTH on connect.
    r = secured.client(password=PW)
    assert r.ping()
    r.close()


def test_hello_auth_setname(secured):
    c = secured.raw()
    assert c.command("HELLO", "3", "AUTH", "default", "nope") == WRONGPASS
    assert c.command("HELLO", "3", "AUTH", "default") == (
        b"-ERR Syntax error in HELLO option 'AUTH'\r\n")
    reply = c.command("HELLO", "3", "AUTH", "default", PW, "SETNAME", "authed")
    assert reply.startswith(b"%7\r\n")
    assert b"$5\r\nproto\r\n:3\r\n" in reply
    assert c.command("CLIENT", "GETNAME") == b"$6\r\nauthed\r\n"
    assert c.command("PING") == b"+PONG\r\n"
    c.close()


def test_auth_without_a_configured_password(open_server):
    c = open_server.raw()
    assert c.command("AUTH", "whatever") == NOPASS_CONFIGURED
    assert c.command("AUTH", "default", "whatever") == b"+OK\r\n"
    assert c.command("AUTH", "nosuchuser", "whatever") == WRONGPASS
    c.close()


def test_config_set_requirepass_at_runtime(open_server):
    before = open_server.raw()
    assert before.command("PING") == b"+PONG\r\n"
    assert before.command("CONFIG", "SET", "requirepass", PW) == b"+OK\r\n"
    # The connection made before keeps working; new ones must authenticate.
    assert before.command("PING") == b"+PONG\r\n"
    assert decode_reply(before.command("CONFIG", "GET", "requirepass")) == [
        b"requirepass", PW.encode()]
    after = open_server.raw()
    assert after.command("PING") == NOAUTH
    assert after.command("AUTH", PW) == b"+OK\r\n"
    assert after.command("PING") == b"+PONG\r\n"
    # Removing the password lets everyone in again.
    assert after.command("CONFIG", "SET", "requirepass", "") == b"+OK\r\n"
    fresh = open_server.raw()
    assert fresh.command("PING") == b"+PONG\r\n"
    assert fresh.command("AUTH", "x") == NOPASS_CONFIGURED
    for c in (before, after, fresh):
        c.close()


# --- ACL -------------------------------------------------------------------------------------

def test_acl_user_with_read_only_gets_noperm_on_set(secured):
    admin = secured.raw()
    assert admin.command("AUTH", PW) == b"+OK\r\n"
    assert admin.command("ACL", "SETUSER", "reader", "on", ">" + USER_PW, "~*", "+@read") == (
        b"+OK\r\n")
    assert admin.command("SET", "acl:k", "v") == b"+OK\r\n"
    c = secured.raw()
    assert c.command("AUTH", "reader", "nope") == WRONGPASS
    assert c.command("AUTH", "reader", USER_PW) == b"+OK\r\n"
    assert c.command("ACL", "WHOAMI") == (
        b"-NOPERM this user has no permissions to run the 'acl|whoami' command\r\n")
    assert c.command("GET", "acl:k") == b"$1\r\nv\r\n"
    assert c.command("SET", "acl:k", "w") == (
        b"-NOPERM this user has no permissions to run the 'set' command\r\n")
    assert c.command("CONFIG", "GET", "maxclients") == (
        b"-NOPERM this user has no permissions to run the 'config|get' command\r\n")
    # Without ~* a user may not touch keys.
    assert admin.command("ACL", "SETUSER", "writer", "on", ">pw", "+@all") == b"+OK\r\n"
    w = secured.raw()
    assert w.command("AUTH", "writer", "pw") == b"+OK\r\n"
    assert w.command("GET", "acl:k") == (
        b"-NOPERM this user has no permissions to access one of the keys used as arguments\r\n")
    assert admin.command("DEL", "acl:k") == b":1\r\n"
    for x in (admin, c, w):
        x.close()


def test_acl_whoami_users_list_deluser(secured):
    c = secured.raw()
    assert c.command("AUTH", PW) == b"+OK\r\n"
    assert c.command("ACL", "WHOAMI") == b"$7\r\ndefault\r\n"
    assert c.command("ACL", "SETUSER", "reader", "on", ">pw", "+@read") == b"+OK\r\n"
    assert c.command("ACL", "SETUSER", "writer", "bogus") == (
        b"-ERR Error in ACL SETUSER modifier 'bogus': Syntax error\r\n")
    assert c.command("ACL", "SETUSER", "writer", "+nosuchcommand") == (
        b"-ERR Error in ACL SETUSER modifier '+nosuchcommand': Unknown command or category "
        b"name in ACL\r\n")
    users = decode_reply(c.command("ACL", "USERS"))
    assert b"reader" in users and b"default" in users and b"writer" not in users
    lines = decode_reply(c.command("ACL", "LIST"))
    assert f"user reader on #{PW_DIGEST} resetchannels -@all +@read".encode() in lines
    assert any(line.startswith(b"user default on #") and line.endswith(b" ~* &* +@all")
               for line in lines)
    assert not any(PW.encode() in line for line in lines)
    assert c.command("ACL", "DELUSER", "default") == (
        b"-ERR The 'default' user cannot be removed\r\n")
    assert c.command("ACL", "DELUSER", "reader", "nosuch") == b":1\r\n"
    assert c.command("ACL", "CAT", "nosuch") == b"-ERR Unknown category 'nosuch'\r\n"
    cats = decode_reply(c.command("ACL", "CAT"))
    assert {b"read", b"write", b"admin", b"fast", b"dangerous", b"keyspace"} <= set(cats)
    c.close()


@pytest.mark.lmkv_only
def test_users_from_the_config_file(start_lmkv):
    s = start_lmkv(config_lines=[("user", f"reader on >{USER_PW} ~* +@read"),
                                 ("user", "off-user off >x ~* +@all"),
                                 ("requirepass", PW)])
    c = RawConn(s.host, s.port)
    assert c.command("AUTH", "off-user", "x") == WRONGPASS
    assert c.command("AUTH", "reader", USER_PW) == b"+OK\r\n"
    assert c.command("GET", "k") == b"$-1\r\n"
    assert c.command("SET", "k", "v") == (
        b"-NOPERM this user has no permissions to run the 'set' command\r\n")
    c.close()


@pytest.mark.lmkv_only
def test_requirepass_flag(start_lmkv):
    s = start_lmkv(extra_args=["--requirepass", PW])
    c = RawConn(s.host, s.port)
    assert c.command("GET", "k") == NOAUTH
    assert c.command("AUTH", PW) == b"+OK\r\n"
    assert decode_reply(c.command("CONFIG", "GET", "requirepass")) == [b"requirepass",
                                                                       PW.encode()]
    c.close()


@pytest.mark.lmkv_only
def test_bad_user_line_is_refused_at_start(start_lmkv):
    s = start_lmkv(config_lines=[("user", "bad on ~foo* +@all")], start=False)
    with pytest.raises(RuntimeError):
        s.start(timeout=5)
    assert "only the ~* key pattern" in s.log_tail()


# --- rename-command --------------------------------------------------------------------------

@pytest.mark.lmkv_only
def test_rename_command_hides_flushall(start_lmkv):
    s = start_lmkv(config_lines=[("rename-command", 'FLUSHALL ""'),
                                 ("rename-command", "CONFIG lmkv-config")])
    c = RawConn(s.host, s.port)
    assert c.command("SET", "k", "v") == b"+OK\r\n"
    assert c.command("FLUSHALL").startswith(b"-ERR unknown command 'FLUSHALL'")
    assert c.command("CONFIG", "GET", "port").startswith(b"-ERR unknown command 'CONFIG'")
    assert decode_reply(c.command("lmkv-config", "GET", "port"))[0] == b"port"
    assert decode_reply(c.command("COMMAND", "INFO", "flushall")) == [None]
    info = decode_reply(c.command("COMMAND", "INFO", "lmkv-config"))
    assert info[0][0] == b"lmkv-config"
    assert c.command("GET", "k") == b"$1\r\nv\r\n"
    c.close()


@pytest.mark.lmkv_only
def test_rename_of_unknown_command_is_refused(start_lmkv):
    s = start_lmkv(config_lines=[("rename-command", "NOSUCH other")], start=False)
    with pytest.raises(RuntimeError):
        s.start(timeout=5)
    assert "No such command in rename-command" in s.log_tail()


# --- passwords stay out of the log -----------------------------------------------------------

@pytest.mark.lmkv_only
def test_password_not_in_server_log(start_lmkv):
    s = start_lmkv(config_lines=[("loglevel", "debug"), ("requirepass", PW),
                                 ("user", f"reader on >{USER_PW} ~* +@read")])
    c = RawConn(s.host, s.port)
    assert c.command("AUTH", "wrong-" + PW) == WRONGPASS
    assert c.command("AUTH", PW) == b"+OK\r\n"
    assert c.command("ACL", "SETUSER", "other", "on", ">other-" + PW) == b"+OK\r\n"
    assert c.command("CONFIG", "SET", "requirepass", "new-" + PW) == b"+OK\r\n"
    assert c.command("HELLO", "3", "AUTH", "reader", USER_PW).startswith(b"%7")
    c.close()
    assert s.stop() == 0
    with open(s.log_path, "rb") as f:
        log = f.read()
    assert b"ready to accept connections" in log
    assert PW.encode() not in log
    assert USER_PW.encode() not in log


# --- protected mode --------------------------------------------------------------------------

def non_loopback_address():
    """An IPv4 address of this machine outside 127.0.0.0/8, or None."""
    try:
        out = subprocess.run(["hostname", "-I"], capture_output=True, text=True,
                             timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for addr in out.split():
        if "." in addr and not addr.startswith("127."):
            return addr
    return None


DENIED_START = b"-DENIED Redis is running in protected mode because protected mode is enabled"


@pytest.mark.lmkv_only
def test_protected_mode_denies_non_loopback_peers(start_lmkv):
    addr = non_loopback_address()
    if addr is None:
        pytest.skip("no non-loopback local address to connect from")
    s = start_lmkv(extra_args=["--bind", "0.0.0.0"])
    # From a non-loopback address: the long DENIED text, then the connection closes.
    c = RawConn(addr, s.port)
    c.send(helpers.encode_command("PING"))
    data, closed = c.read_until_closed()
    c.close()
    assert data.startswith(DENIED_START) and data.endswith(b"outside.\r\n") and closed, data
    # Loopback is still served.
    lo = RawConn(s.host, s.port)
    assert lo.command("PING") == b"+PONG\r\n"
    # With a password for the default user, the outside may connect (and must AUTH).
    assert lo.command("CONFIG", "SET", "requirepass", PW) == b"+OK\r\n"
    c = RawConn(addr, s.port)
    assert c.command("PING") == NOAUTH
    assert c.command("AUTH", PW) == b"+OK\r\n"
    assert c.command("PING") == b"+PONG\r\n"
    c.close()
    # protected-mode no: no password needed from outside either.
    assert lo.command("AUTH", PW) == b"+OK\r\n"
    assert lo.command("CONFIG", "SET", "requirepass", "") == b"+OK\r\n"
    assert lo.command("CONFIG", "SET", "protected-mode", "no") == b"+OK\r\n"
    c = RawConn(addr, s.port)
    assert c.command("PING") == b"+PONG\r\n"
    c.close()
    lo.close()
