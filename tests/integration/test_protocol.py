"""Bad and unusual input over raw sockets: protocol errors close only the offending
connection, the server keeps serving everyone else, and error texts match Redis 7."""

import pytest

from helpers import encode_command

MALFORMED = [
    pytest.param(b"*abc\r\n", id="non-numeric-multibulk-length"),
    pytest.param(b"*1x\r\n", id="garbage-after-multibulk-length"),
    pytest.param(b"*\x01\r\n", id="control-byte-after-star"),
    pytest.param(b"*3000000000\r\n", id="multibulk-length-too-big"),
    pytest.param(b"*1\r\n$-5\r\n", id="negative-bulk-length"),
    pytest.param(b"*1\r\n$abc\r\n", id="non-numeric-bulk-length"),
    pytest.param(b"*1\r\n$999999999999\r\n", id="huge-declared-bulk"),
    pytest.param(b"*2\r\n+x\r\n", id="simple-string-instead-of-bulk"),
    pytest.param(b"*2\r\n$3\r\nGET\r\n:1\r\n", id="integer-instead-of-bulk"),
    pytest.param(b'SET a "b c\r\n', id="unbalanced-quotes-inline"),
    # Redis takes any two bytes after a bulk as its CRLF; lmkv checks them.
    pytest.param(b"*1\r\n$3\r\nabcdef\r\n", id="bulk-without-crlf",
                 marks=pytest.mark.lmkv_only),
    pytest.param(b"*1\r\n$4\r\nPING\n\n", id="bulk-with-lf-lf", marks=pytest.mark.lmkv_only),
]


@pytest.mark.parametrize("data", MALFORMED)
def test_protocol_error_closes_the_connection(raw, data):
    bystander = raw()
    assert bystander.command("SET", "bystander", "1") == b"+OK\r\n"
    bad = raw()
    bad.send(data)
    reply, closed = bad.read_until_closed()
    assert reply.startswith(b"-ERR Protocol error"), reply
    assert reply.endswith(b"\r\n") and reply.count(b"\r\n") == 1, reply
    assert closed
    # The rest of the server is unaffected.
    assert bystander.command("GET", "bystander") == b"$1\r\n1\r\n"
    assert raw().command("PING") == b"+PONG\r\n"


def test_protocol_error_after_valid_commands_answers_those_first(raw):
    c = raw()
    c.send(encode_command("SET", "k", "v") + encode_command("GET", "k") + b"*x\r\n")
    data, closed = c.read_until_closed()
    assert data.startswith(b"+OK\r\n$1\r\nv\r\n-ERR Protocol error")
    assert closed


def test_request_split_into_single_bytes(raw):
    c = raw()
    req = encode_command("SET", "split", "a\r\nb") + encode_command("GET", "split")
    for i in range(len(req)):
        c.send(req[i:i + 1])
    assert c.read_exactly_reply() == b"+OK\r\n"
    assert c.read_exactly_reply() == b"$4\r\na\r\nb\r\n"


def test_wrong_number_of_arguments(raw):
    c = raw()
    assert c.command("GET") == b"-ERR wrong number of arguments for 'get' command\r\n"
    assert c.command("GET", "a", "b") == b"-ERR wrong number of arguments for 'get' command\r\n"
    assert c.command("SET", "a") == b"-ERR wrong number of arguments for 'set' command\r\n"
    assert c.command("set", "a") == b"-ERR wrong number of arguments for 'set' command\r\n"
    assert c.command("MGET") == b"-ERR wrong number of arguments for 'mget' command\r\n"
    # the connection stays usable
    assert c.command("PING") == b"+PONG\r\n"


def test_unknown_command(raw):
    c = raw()
    assert c.command("FOO", "a", "b") == (
        b"-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n")
    assert c.command("foo") == b"-ERR unknown command 'foo', with args beginning with: \r\n"
    # lists, hashes, sets, sorted sets, streams and scripting are not lmkv commands; Redis has
    # them, so only check the name is echoed with CR/LF replaced.
    reply = c.command("NO\r\nSUCH")
    assert reply.startswith(b"-ERR unknown command 'NO  SUCH'") and reply.count(b"\r\n") == 1


@pytest.mark.lmkv_only
@pytest.mark.parametrize("cmd", [["LPUSH", "l", "a"], ["HSET", "h", "f", "v"],
                                 ["SADD", "s", "m"], ["ZADD", "z", "1", "m"],
                                 ["XADD", "x", "*", "f", "v"], ["EVAL", "return 1", "0"]])
def test_other_data_types_are_unknown_commands(raw, cmd):
    reply = raw().command(*cmd)
    assert reply.startswith(b"-ERR unknown command '%s'" % cmd[0].encode()), reply


def test_inline_commands(raw):
    c = raw()
    c.send(b"PING\r\n")
    assert c.read_exactly_reply() == b"+PONG\r\n"
    c.send(b'SET inl "b c"\r\n')
    assert c.read_exactly_reply() == b"+OK\r\n"
    c.send(b"GET inl\r\n")
    assert c.read_exactly_reply() == b"$3\r\nb c\r\n"
    c.send(b"SET inl2 'x\\ny'\r\nGET inl2\n")  # single quotes are literal; bare \n ends a line
    assert c.read_exactly_reply() == b"+OK\r\n"
    assert c.read_exactly_reply() == b"$4\r\nx\\ny\r\n"
    c.send(b'SET inl3 "x\\ny\\x41"\r\nGET inl3\r\n')  # double quotes take escapes
    assert c.read_exactly_reply() == b"+OK\r\n"
    assert c.read_exactly_reply() == b"$4\r\nx\nyA\r\n"
    c.send(b"\r\n\r\nPING\r\n")  # empty lines are ignored
    assert c.read_exactly_reply() == b"+PONG\r\n"


def test_pipelined_mixed_inline_and_multibulk(raw):
    c = raw()
    c.send(b"SET a 1\r\n" + encode_command("INCR", "a") + b"GET a\r\n")
    assert c.read_exactly_reply() == b"+OK\r\n"
    assert c.read_exactly_reply() == b":2\r\n"
    assert c.read_exactly_reply() == b"$1\r\n2\r\n"


def test_big_pipelined_burst_answers_in_order(raw):
    c = raw()
    n = 20000
    c.send(b"".join(encode_command("SET", f"b{i}", str(i)) for i in range(n)))
    for _ in range(n):
        assert c.read_exactly_reply(timeout=60) == b"+OK\r\n"
    c.send(b"".join(encode_command("GET", f"b{i}") for i in range(0, n, 997)))
    for i in range(0, n, 997):
        v = str(i).encode()
        assert c.read_exactly_reply() == b"$%d\r\n%s\r\n" % (len(v), v)


def test_empty_multibulk_is_ignored(raw):
    c = raw()
    c.send(b"*0\r\n*1\r\n$4\r\nPING\r\n")
    assert c.read_exactly_reply() == b"+PONG\r\n"


def test_proto_max_bulk_len(target, raw):
    c = raw()
    old = c.command("CONFIG", "GET", "proto-max-bulk-len").split(b"\r\n")[-2]
    assert c.command("CONFIG", "SET", "proto-max-bulk-len", "1mb") == b"+OK\r\n"
    try:
        assert c.command("CONFIG", "GET", "proto-max-bulk-len") == (
            b"*2\r\n$18\r\nproto-max-bulk-len\r\n$7\r\n1048576\r\n")
        ok = b"x" * (1024 * 1024)
        assert c.command("SET", "big", ok) == b"+OK\r\n"
        bad = raw()
        bad.send(b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$1048577\r\n")
        reply, closed = bad.read_until_closed()
        assert reply == b"-ERR Protocol error: invalid bulk length\r\n" and closed
        assert c.command("STRLEN", "big") == b":1048576\r\n"
    finally:
        assert c.command("CONFIG", "SET", "proto-max-bulk-len", old) == b"+OK\r\n"
