"""Pub/sub, keyspace notifications and MONITOR (issue 5), against Redis 7.0's behaviour.

Everything not marked lmkv_only passes on a real redis-server too (--host/--port). Channel
names carry a per-test prefix so leftovers of one test never count in another's numbers."""

import re
import socket
import time
import uuid

import pytest

from helpers import RawConn, decode_reply, encode_command, info_fields, wait_for


def unique(name):
    return f"{name}-{uuid.uuid4().hex[:8]}"


def next_message(p, timeout=5.0):
    """The next non-confirmation message of a redis-py PubSub, or None after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = p.get_message(ignore_subscribe_messages=True, timeout=0.1)
        if m is not None:
            return m
    return None


def read_push(conn, timeout=5.0):
    """One reply from a RawConn, decoded (RESP2 arrays; RESP3 pushes are read as arrays)."""
    raw = conn.read_exactly_reply(timeout)
    if raw.startswith(b">"):
        raw = b"*" + raw[1:]
    return decode_reply(raw)


# ---------------------------------------------------------------------------------------------
# SUBSCRIBE / UNSUBSCRIBE / PSUBSCRIBE / PUNSUBSCRIBE replies
# ---------------------------------------------------------------------------------------------

def test_subscribe_replies_count_channels_and_patterns(raw):
    a, b = unique("a"), unique("b")
    c = raw()
    c.send(encode_command("SUBSCRIBE", a, b, a))
    assert read_push(c) == [b"subscribe", a.encode(), 1]
    assert read_push(c) == [b"subscribe", b.encode(), 2]
    assert read_push(c) == [b"subscribe", a.encode(), 2]  # a repeat still answers
    c.send(encode_command("PSUBSCRIBE", a + "*"))
    assert read_push(c) == [b"psubscribe", (a + "*").encode(), 3]
    c.send(encode_command("UNSUBSCRIBE", "never-subscribed"))
    assert read_push(c) == [b"unsubscribe", b"never-subscribed", 3]
    c.send(encode_command("UNSUBSCRIBE"))  # all channels, patterns stay
    got = sorted([read_push(c), read_push(c)], key=lambda m: m[2], reverse=True)
    assert got[0][0] == b"unsubscribe" and got[0][2] == 2
    assert got[1][0] == b"unsubscribe" and got[1][2] == 1
    assert {got[0][1], got[1][1]} == {a.encode(), b.encode()}
    c.send(encode_command("PUNSUBSCRIBE"))
    assert read_push(c) == [b"punsubscribe", (a + "*").encode(), 0]
    # Out of the subscribed state: ordinary commands work again.
    assert c.command("PING") == b"+PONG\r\n"


def test_unsubscribe_without_subscriptions_replies_null(raw):
    c = raw()
    assert c.command("UNSUBSCRIBE") == b"*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n"
    assert c.command("PUNSUBSCRIBE") == b"*3\r\n$12\r\npunsubscribe\r\n$-1\r\n:0\r\n"


def test_subscribed_state_allows_only_pubsub_commands(raw):
    c = raw()
    ch = unique("state")
    c.send(encode_command("SUBSCRIBE", ch))
    read_push(c)
    assert c.command("GET", "x") == (
        b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / "
        b"RESET are allowed in this context\r\n")
    assert c.command("CLIENT", "ID").startswith(b"-ERR Can't execute 'client|id': only")
    # PING answers as a message in the RESP2 subscribed state.
    assert c.command("PING") == b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"
    assert c.command("PING", "hi") == b"*2\r\n$4\r\npong\r\n$2\r\nhi\r\n"
    # Unknown commands and arity errors come first, as in Redis.
    assert c.command("GET").startswith(b"-ERR wrong number of arguments for 'get'")
    # RESET leaves the subscribed state (and unsubscribes).
    assert c.command("RESET") == b"+RESET\r\n"
    assert c.command("GET", unique("nokey")) == b"$-1\r\n"


# ---------------------------------------------------------------------------------------------
# PUBLISH and delivery
# ---------------------------------------------------------------------------------------------

def test_publish_reaches_channel_and_pattern_subscribers(target):
    ch = unique("news")
    pub = target.client()
    p = target.client().pubsub()
    p.subscribe(ch)
    p.psubscribe(ch[:6] + "*")
    # Wait for both confirmations so the subscriptions are in place.
    for _ in range(2):
        assert p.get_message(timeout=5) is not None
    assert pub.publish(ch, "hello") == 2
    got = [next_message(p), next_message(p)]
    kinds = {m["type"]: m for m in got}
    assert kinds["message"]["channel"] == ch.encode()
    assert kinds["message"]["data"] == b"hello"
    assert kinds["pmessage"]["pattern"] == (ch[:6] + "*").encode()
    assert kinds["pmessage"]["channel"] == ch.encode()
    assert kinds["pmessage"]["data"] == b"hello"
    assert pub.publish(unique("nobody"), "x") == 0
    p.close()
    pub.close()


def test_publish_binary_payload_and_order(target):
    ch = unique("bin")
    pub = target.client()
    p = target.client().pubsub()
    p.subscribe(ch)
    assert p.get_message(timeout=5)["type"] == "subscribe"
    payloads = [b"\x00\r\n\xff", b"", b"x" * 10000] + [str(i).encode() for i in range(50)]
    for m in payloads:
        assert pub.publish(ch, m) == 1
    assert [next_message(p)["data"] for _ in payloads] == payloads
    p.close()
    pub.close()


def test_resp3_pushes(raw):
    ch = unique("r3")
    sub = raw()
    sub.command("HELLO", "3")
    assert sub.command("SUBSCRIBE", ch) == b">3\r\n$9\r\nsubscribe\r\n$%d\r\n%s\r\n:1\r\n" % (
        len(ch), ch.encode())
    # RESP3 has no subscribed state: other commands still run.
    assert sub.command("PING") == b"+PONG\r\n"
    assert sub.command("PUBSUB", "NUMSUB", ch) == b"*2\r\n$%d\r\n%s\r\n:1\r\n" % (
        len(ch), ch.encode())  # a flat array, not a map, in Redis 7.0
    assert sub.command("GET", unique("nokey")) == b"_\r\n"
    pub = raw()
    assert pub.command("PUBLISH", ch, "m1") == b":1\r\n"
    assert sub.read_exactly_reply() == b">3\r\n$7\r\nmessage\r\n$%d\r\n%s\r\n$2\r\nm1\r\n" % (
        len(ch), ch.encode())
    assert sub.command("UNSUBSCRIBE", ch) == (
        b">3\r\n$11\r\nunsubscribe\r\n$%d\r\n%s\r\n:0\r\n" % (len(ch), ch.encode()))


# ---------------------------------------------------------------------------------------------
# PUBSUB introspection and INFO
# ---------------------------------------------------------------------------------------------

def test_pubsub_channels_numsub_numpat(target):
    r = target.client()
    base_pat = r.pubsub_numpat()
    prefix = unique("intro")
    c1, c2 = prefix + ":one", prefix + ":two"
    p1, p2 = target.client().pubsub(), target.client().pubsub()
    p1.subscribe(c1, c2)
    p2.subscribe(c1)
    p2.psubscribe(prefix + ":*", prefix + ":?ne")
    p1.psubscribe(prefix + ":*")  # the same pattern twice counts once
    for p, n in ((p1, 3), (p2, 3)):
        for _ in range(n):
            assert p.get_message(timeout=5) is not None
    assert sorted(r.pubsub_channels(prefix + "*")) == [c1.encode(), c2.encode()]
    assert r.pubsub_channels(prefix + ":t*") == [c2.encode()]
    assert r.pubsub_numsub(c1, c2, prefix + ":none") == [
        (c1.encode(), 2), (c2.encode(), 1), ((prefix + ":none").encode(), 0)]
    assert r.pubsub_numpat() == base_pat + 2
    assert r.execute_command("PUBSUB", "NUMSUB") == []
    info = info_fields(r, "stats")
    assert int(info["pubsub_channels"]) >= 2
    assert int(info["pubsub_patterns"]) >= 2
    with pytest.raises(Exception, match="unknown subcommand 'NOSUCH'. Try PUBSUB HELP."):
        r.execute_command("PUBSUB", "NOSUCH")
    help_lines = r.execute_command("PUBSUB", "HELP")
    assert help_lines[0].startswith(b"PUBSUB <subcommand>")
    # Closing the connections unsubscribes them (no leak).
    p1.close()
    p2.close()
    assert wait_for(lambda: r.pubsub_numsub(c1) == [(c1.encode(), 0)], timeout=5)
    assert wait_for(lambda: r.pubsub_numpat() == base_pat, timeout=5)
    assert wait_for(lambda: r.pubsub_channels(prefix + "*") == [], timeout=5)
    r.close()


# ---------------------------------------------------------------------------------------------
# Keyspace notifications
# ---------------------------------------------------------------------------------------------

@pytest.fixture
def notify_config(target):
    r = target.client()
    old = r.config_get("notify-keyspace-events")["notify-keyspace-events"]
    yield r
    r.config_set("notify-keyspace-events", old)
    r.close()


def test_notify_keyspace_events_config(notify_config):
    r = notify_config
    for given, canonical in (("KEA", "AKE"), ("Kx", "xK"), ("Kgmn", "gnKm"), ("$sE", "$sE"),
                             ("KEAn", "AKE"), ("g$lshzxetd", "A"), ("", "")):
        assert r.config_set("notify-keyspace-events", given)
        assert r.config_get("notify-keyspace-events") == {"notify-keyspace-events": canonical}
    with pytest.raises(Exception, match="Invalid event class character. Use 'Ag\\$lshzxeKEtmdn'."):
        r.config_set("notify-keyspace-events", "gq")


def collect_events(p, n, timeout=5.0):
    out = []
    for _ in range(n):
        m = next_message(p, timeout)
        assert m is not None, f"only {len(out)} of {n} events arrived: {out}"
        out.append((m["channel"].decode(), m["data"].decode()))
    return out


def test_keyspace_events_for_writes(notify_config, target):
    r = notify_config
    r.config_set("notify-keyspace-events", "KEA")
    db = 0
    k = unique("ks")
    p = target.client().pubsub()
    p.psubscribe(f"__key*@{db}__:*")
    assert p.get_message(timeout=5)["type"] == "psubscribe"

    def expect(*events):
        want = []
        for event, key in events:
            want += [(f"__keyspace@{db}__:{key}", event), (f"__keyevent@{db}__:{event}", key)]
        assert collect_events(p, len(want)) == want

    r.set(k, "v")
    expect(("set", k))
    r.set(k, "v", ex=100)
    expect(("set", k), ("expire", k))
    r.incr(k + ":n")
    expect(("incrby", k + ":n"))
    r.decrby(k + ":n", 3)
    expect(("incrby", k + ":n"))
    r.mset({k + ":a": "1", k + ":b": "2"})
    expect(("set", k + ":a"), ("set", k + ":b"))
    r.append(k, "x")
    expect(("append", k))
    assert r.delete(k + ":a", k + ":b", k + ":missing") == 2
    expect(("del", k + ":a"), ("del", k + ":b"))
    r.expire(k, 100)
    expect(("expire", k))
    r.set(k + ":n", "1", nx=True)  # exists: no event
    r.delete(k)
    expect(("del", k))
    # Only the selected classes: "$" alone with K drops generic events and keyevent.
    r.config_set("notify-keyspace-events", "K$")
    r.set(k, "1")
    r.delete(k)
    r.incr(k)
    assert collect_events(p, 2) == [(f"__keyspace@{db}__:{k}", "set"),
                                    (f"__keyspace@{db}__:{k}", "incrby")]
    r.config_set("notify-keyspace-events", "")
    r.set(k, "2")
    assert next_message(p, timeout=0.5) is None
    p.close()


def test_keyspace_new_event(notify_config, target):
    r = notify_config
    r.config_set("notify-keyspace-events", "KEAn")
    k = unique("new")
    p = target.client().pubsub()
    p.psubscribe("__keyspace@0__:" + k)
    assert p.get_message(timeout=5)["type"] == "psubscribe"
    r.set(k, "1")
    r.set(k, "2")
    assert collect_events(p, 3) == [("__keyspace@0__:" + k, "new"), ("__keyspace@0__:" + k, "set"),
                                    ("__keyspace@0__:" + k, "set")]
    p.close()


# ---------------------------------------------------------------------------------------------
# MONITOR
# ---------------------------------------------------------------------------------------------

MONITOR_LINE = re.compile(rb'^\+(\d+)\.(\d{6}) \[(\d+) ([0-9.:]+)\] (.*)\r\n$')


def test_monitor_streams_commands(raw):
    mon = raw()
    assert mon.command("MONITOR") == b"+OK\r\n"
    cli = raw()
    k = unique("mon")
    cli.command("set", k, 'a b"\n\x01')
    cli.command("GET", k)
    cli.command("CONFIG", "GET", "maxclients")  # admin: hidden
    cli.command("AUTH", "secret")  # redacted (the reply is an error either way)
    cli.command("ECHO", "done")
    lines = [mon.read_exactly_reply() for _ in range(4)]
    parsed = [MONITOR_LINE.match(line) for line in lines]
    assert all(parsed), lines
    assert abs(int(parsed[0].group(1)) - time.time()) < 60
    assert {m.group(3) for m in parsed} == {b"0"}
    assert len({m.group(4) for m in parsed}) == 1
    assert [m.group(5) for m in parsed] == [
        b'"set" "%s" "a b\\"\\n\\x01"' % k.encode(),
        b'"GET" "%s"' % k.encode(),
        b'"AUTH" "(redacted)"',
        b'"ECHO" "done"',
    ]


def test_monitor_connection_close_stops_feed(raw, target):
    mon = raw()
    assert mon.command("MONITOR") == b"+OK\r\n"
    mon.close()
    r = target.client()
    assert r.ping()  # the server keeps serving with the monitor gone
    r.close()


# ---------------------------------------------------------------------------------------------
# lmkv only: loops and backpressure
# ---------------------------------------------------------------------------------------------

@pytest.mark.lmkv_only
def test_publish_reaches_subscribers_on_every_loop(lmkv_factory):
    proc = lmkv_factory(threads=3)
    ch = unique("loops")
    subs = []
    for _ in range(9):  # connections land on the loops as the kernel balances accepts
        c = RawConn(proc.host, proc.port)
        c.send(encode_command("SUBSCRIBE", ch))
        assert read_push(c) == [b"subscribe", ch.encode(), 1]
        subs.append(c)
    pub = proc.client()
    assert pub.execute_command("PUBSUB", "NUMSUB", ch) == [ch.encode(), 9]
    for i in range(20):
        assert pub.publish(ch, f"m{i}") == 9
    for c in subs:
        assert [read_push(c) for _ in range(20)] == [
            [b"message", ch.encode(), f"m{i}".encode()] for i in range(20)]
        c.close()
    assert wait_for(lambda: pub.execute_command("PUBSUB", "NUMSUB", ch) == [ch.encode(), 0])
    pub.close()


@pytest.mark.lmkv_only
def test_slow_subscriber_never_stalls_publisher(lmkv_factory):
    proc = lmkv_factory(threads=2)
    ch = unique("slow")
    # A subscriber that never reads, with a small receive buffer.
    slow = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.connect((proc.host, proc.port))
    slow.sendall(encode_command("SUBSCRIBE", ch))
    pub = proc.client()
    assert wait_for(lambda: pub.execute_command("PUBSUB", "NUMSUB", ch) == [ch.encode(), 1])
    start = time.monotonic()
    payload = "p" * 100
    total = 0
    for _batch in range(20):
        pipe = pub.pipeline(transaction=False)
        for _ in range(1000):
            pipe.publish(ch, payload)
        results = pipe.execute()
        total += sum(results)
    elapsed = time.monotonic() - start
    assert total == 20000  # the subscriber stays subscribed (3 MB is under the pubsub limit)
    assert elapsed < 30, f"publisher stalled: {elapsed:.1f}s for 20k publishes"
    # Other clients are served promptly while the subscriber's output piles up.
    t0 = time.monotonic()
    other = proc.client()
    assert other.ping()
    assert other.set("k", "v") and other.get("k") == b"v"
    assert time.monotonic() - t0 < 5
    slow.close()
    assert wait_for(lambda: pub.execute_command("PUBSUB", "NUMSUB", ch) == [ch.encode(), 0])
    other.close()
    pub.close()
