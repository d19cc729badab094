"""Predictable under load (issue 2): many connections, connection floods, slowloris, a huge
upload, a client that never reads, SIGTERM during writes. Each test starts its own server
(lmkv_factory, --threads 2, loopback only) and runs for a bounded time; the figures (p99,
per-client ops, RSS) are printed (pytest -s shows them)."""

import ctypes
import os
import resource
import selectors
import signal
import socket
import threading
import time

import pytest
import redis

from helpers import RawConn, encode_command, sanitized, wait_for

pytestmark = pytest.mark.lmkv_only


@pytest.fixture(autouse=True)
def enough_descriptors():
    """1,000+ client sockets in this process: raise the soft descriptor limit if needed."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 8192) if hard != resource.RLIM_INFINITY else 8192
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < 2500:
        pytest.skip("cannot raise the open-file limit to 2500")
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def report(name, **figures):
    print(f"\n[load] {name}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))


def open_many(host, port, n):
    socks = []
    for _ in range(n):
        s = socket.create_connection((host, port), timeout=10)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        socks.append(s)
    return socks


def ping_each(socks):
    """Sends PING on every socket, then reads each reply: (served, refused), refused being
    -ERR max number of clients reached and then the close."""
    served = refused = 0
    for sock in socks:
        sock.settimeout(5)
        sock.sendall(encode_command("PING"))
    for sock in socks:
        data = b""
        while not data.endswith(b"\r\n"):
            chunk = sock.recv(100)
            assert chunk, f"closed without a reply after {data!r}"
            data += chunk
        if data == b"-ERR max number of clients reached\r\n":
            try:  # and closed: a FIN, or a reset when our PING was still unread
                assert sock.recv(100) == b""
            except ConnectionResetError:
                pass
            refused += 1
        else:
            assert data == b"+PONG\r\n", data
            served += 1
    return served, refused


class Prober(threading.Thread):
    """A well-behaved client doing GETs in a loop, recording each latency."""

    def __init__(self, server, key):
        super().__init__(daemon=True)
        self.conn = RawConn(server.host, server.port, timeout=30)
        self.key = key
        self.latencies = []
        self.stop = threading.Event()
        self.error = None

    def run(self):
        try:
            while not self.stop.is_set():
                t0 = time.monotonic()
                reply = self.conn.command("GET", self.key)
                self.latencies.append(time.monotonic() - t0)
                assert reply.startswith(b"$"), reply
                time.sleep(0.005)
        except Exception as e:  # reported by finish()
            self.error = e

    def finish(self):
        self.stop.set()
        self.join(30)
        self.conn.close()
        assert self.error is None, self.error
        assert self.latencies, "the prober made no request"
        return self.latencies


# --- 1,000 connections -----------------------------------------------------------------------

def test_thousand_connections_all_make_progress(lmkv_factory):
    """1,000 connections, each a closed loop of SET/GET on its own key, for 4 s, driven from
    one selector: every client must make progress and the p99 latency stays bounded."""
    s = lmkv_factory(["--maxclients", "2000", "--fsync", "everysec"])
    n, seconds = 1000, 4.0
    socks = open_many(s.host, s.port, n)
    sel = selectors.DefaultSelector()
    ops = [0] * n
    sent_at = [0.0] * n
    bufs = [b""] * n
    latencies = []

    def request(i):
        k = f"c{i}"
        cmd = encode_command("SET", k, str(ops[i])) if ops[i] % 2 == 0 else encode_command("GET", k)
        sent_at[i] = time.monotonic()
        socks[i].sendall(cmd)

    for i, sock in enumerate(socks):
        sock.setblocking(False)
        sel.register(sock, selectors.EVENT_READ, i)
        request(i)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.5):
            i = key.data
            chunk = socks[i].recv(65536)
            assert chunk, f"client {i} was closed"
            bufs[i] += chunk
            if bufs[i].endswith(b"\r\n") and (bufs[i][:1] in b"+-:" or bufs[i].count(b"\r\n") == 2
                                              or bufs[i] == b"$-1\r\n"):
                assert not bufs[i].startswith(b"-"), bufs[i]
                latencies.append(time.monotonic() - sent_at[i])
                bufs[i] = b""
                ops[i] += 1
                request(i)
    sel.close()
    rss = rss_bytes(s.proc.pid)
    for sock in socks:
        sock.close()
    total = sum(ops)
    p99 = percentile(latencies, 0.99)
    report("1000 connections", seconds=seconds, total_ops=total, ops_per_s=int(total / seconds),
           min_client_ops=min(ops), median_client_ops=sorted(ops)[n // 2],
           max_client_ops=max(ops), p50_ms=round(percentile(latencies, 0.5) * 1000, 2),
           p99_ms=round(p99 * 1000, 2), max_ms=round(max(latencies) * 1000, 2),
           rss_mb=round(rss / 2**20, 1))
    assert min(ops) > 0, "a client was starved"
    # No client gets far less than its share (the driver itself is one Python thread).
    assert min(ops) >= sorted(ops)[n // 2] // 4, (min(ops), sorted(ops)[n // 2])
    # Generous: CI shares two cores between this driver, the server and another test binary.
    assert p99 < 2.0, p99
    assert s.client().ping()


# --- connection flood ------------------------------------------------------------------------

def test_flood_beyond_maxclients_is_refused_cleanly(lmkv_factory):
    s = lmkv_factory(["--maxclients", "100"])
    keeper = s.client()
    keeper.set("k", "v")
    wait_for(lambda: keeper.info("clients")["connected_clients"] == 1, timeout=5)
    socks = open_many(s.host, s.port, 300)
    served, refused = ping_each(socks)
    report("flood", opened=300, maxclients=100, served=served, refused=refused)
    assert served == 99 and refused == 201  # the keeper holds one slot
    assert keeper.get("k") == b"v"
    for sock in socks:
        sock.close()
    assert wait_for(lambda: keeper.info("clients")["connected_clients"] == 1, timeout=5)
    again = [s.client() for _ in range(50)]
    assert all(c.ping() for c in again)
    assert int(keeper.info("stats")["rejected_connections"]) >= 201


# --- the descriptor limit ----------------------------------------------------------------------

PR_CAPBSET_DROP, CAP_SYS_RESOURCE = 24, 24


def descriptor_limit(soft, hard, privileged=True):
    """A preexec_fn: the server starts with RLIMIT_NOFILE (soft, hard); unless privileged, also
    without CAP_SYS_RESOURCE, with which root may raise its hard limit again (dropped from the
    bounding set, exec leaves it out of root's capabilities; a non-root runner has none)."""
    def apply():
        if not privileged:
            ctypes.CDLL(None, use_errno=True).prctl(PR_CAPBSET_DROP, CAP_SYS_RESOURCE, 0, 0, 0)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return apply


def server_nofile(pid):
    """The server's (soft, hard) open-files limit, from /proc/PID/limits."""
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                soft, hard = line.split()[3:5]
                return int(soft), int(hard)
    raise AssertionError("no 'Max open files' line")


def test_a_low_descriptor_limit_shrinks_maxclients_and_the_log_still_rolls(lmkv_factory):
    # Redis's adjustOpenFilesLimit: the limit cannot be raised, so maxclients shrinks to what
    # it leaves after the server's own descriptors. Before, a flood of clients took every
    # descriptor and the log could not open its next segment: writes were refused as "disk full".
    s = lmkv_factory(start=False)
    s.preexec_fn = descriptor_limit(128, 128, privileged=False)
    s.start()
    assert server_nofile(s.proc.pid) == (128, 128)
    keeper = s.client()
    maxclients = int(keeper.config_get("maxclients")["maxclients"])
    assert 0 < maxclients < 128
    assert int(keeper.info("clients")["maxclients"]) == maxclients
    log = open(s.log_path).read()
    assert "You requested maxclients of 10000 requiring at least" in log
    assert f"maxclients has been reduced to {maxclients} to compensate for low ulimit" in log
    # More clients than the limit: each is served or told why, none takes a log descriptor.
    wait_for(lambda: keeper.info("clients")["connected_clients"] == 1, timeout=5)
    socks = open_many(s.host, s.port, 200)
    served, refused = ping_each(socks)
    report("descriptor limit", nofile=128, maxclients=maxclients, served=served, refused=refused)
    assert served == maxclients - 1 and refused == 200 - served  # the keeper holds one slot
    # With the served clients still connected, 80 MB of writes roll the log past a 64 MiB
    # segment: the next segment's descriptor was kept back from the clients.
    value = b"v" * 1_000_000
    for batch in range(8):
        p = keeper.pipeline(transaction=False)
        for i in range(10):
            p.set(f"big-{batch}-{i}", value)
        assert p.execute() == [True] * 10
    assert len(os.listdir(os.path.join(s.data_dir, "log"))) >= 2
    assert keeper.get("big-7-9") == value
    # More clients than the descriptors allow are refused, with the number that fits.
    with pytest.raises(redis.ResponseError, match=(
            "The operating system is not able to handle the specified number of clients, "
            f"try with {maxclients}$")):
        keeper.config_set("maxclients", maxclients + 100)
    assert int(keeper.config_get("maxclients")["maxclients"]) == maxclients
    assert keeper.config_set("maxclients", maxclients - 10) is True
    for sock in socks:
        sock.close()


def test_the_descriptor_limit_is_raised_for_maxclients(lmkv_factory):
    # Up to the hard limit no privilege is needed (root's CAP_SYS_RESOURCE is not always held
    # in a container), so the test stays under it.
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard < 15_100:
        pytest.skip(f"a hard open-files limit of {hard}: the test raises the soft one to 15,000+")
    s = lmkv_factory(start=False)
    s.preexec_fn = descriptor_limit(256, hard)
    s.start()
    raised, _ = server_nofile(s.proc.pid)
    assert 10_000 < raised < 10_200  # maxclients 10000 and the server's own
    assert (f"Increased maximum number of open files to {raised} (it was originally set to 256)"
            in open(s.log_path).read())
    c = s.client()
    assert c.config_get("maxclients") == {"maxclients": "10000"}
    assert c.config_set("maxclients", 15_000) is True
    assert server_nofile(s.proc.pid) == (raised + 5_000, hard)


def test_out_of_descriptors_for_the_log_is_told_apart_from_a_full_disk(lmkv_factory, request):
    # A limit lowered under a running server (or a system out of files, ENFILE) leaves the log
    # no descriptor for its next segment. Writes are refused as on a full disk, but saying why.
    if sanitized(request.config.getoption("--lmkv")):
        pytest.skip("the sanitizer runtime needs descriptors of its own (a pipe per memory check "
                    "it prints), so with none left it reports false errors (the debug pass runs "
                    "this test)")
    s = lmkv_factory()
    c = s.client()
    assert c.set("before", "1") is True
    soft, hard = server_nofile(s.proc.pid)
    in_use = {int(fd) for fd in os.listdir(f"/proc/{s.proc.pid}/fd")}
    lowest_free = min(set(range(len(in_use) + 1)) - in_use)
    resource.prlimit(s.proc.pid, resource.RLIMIT_NOFILE, (lowest_free, hard))
    # 1 MB values past the 64 MiB segment: the next one cannot be opened.
    value = b"v" * 1_000_000
    acknowledged = []
    refusal = None
    for i in range(100):
        try:
            c.set(f"big-{i}", value)
            acknowledged.append(f"big-{i}")
        except redis.ResponseError as e:
            refusal = str(e)
            break
    assert refusal == ("OOM command not allowed: lmkv is out of file descriptors "
                       "(it cannot open its next log file)"), refusal
    assert 60 <= len(acknowledged) < 100
    persistence = c.info("persistence")
    assert persistence["lmkv_log_out_of_descriptors"] == 1
    assert persistence["lmkv_log_space_full"] == 1 and persistence["lmkv_disk_full"] == 0
    assert c.get("before") == b"1"  # reads go on
    with pytest.raises(redis.ResponseError, match="discarded because of: OOM .*out of file descriptors"):
        p = c.pipeline(transaction=True)
        p.set("in-multi", "x")
        p.execute()
    # A descriptor again: writes resume without a restart, and nothing acknowledged is lost.
    resource.prlimit(s.proc.pid, resource.RLIMIT_NOFILE, (soft, hard))

    def accepted():
        try:
            return c.set("after", "1")
        except redis.ResponseError:
            return False
    assert wait_for(accepted, timeout=5)
    assert c.info("persistence")["lmkv_log_out_of_descriptors"] == 0
    assert all(c.get(k) == value for k in acknowledged)
    log = open(s.log_path).read()
    assert "out of file descriptors: log open" in log and "Too many open files" in log
    assert "a file descriptor is available again for the log" in log
    assert "disk full" not in log


def test_too_low_a_descriptor_limit_refuses_to_start(lmkv_factory):
    s = lmkv_factory(start=False)
    s.preexec_fn = descriptor_limit(40, 40, privileged=False)
    with pytest.raises(RuntimeError, match="exited with 1"):
        s.start(timeout=5)
    assert ("Your current 'ulimit -n' of 40 is not enough for the server to start. "
            "Please increase your open file limit to at least 10") in open(s.log_path).read()


# --- slowloris -------------------------------------------------------------------------------

def test_slowloris_costs_bounded_memory(lmkv_factory, monkeypatch):
    # meson test sets MALLOC_PERTURB_, which makes glibc fill every allocation (touching each
    # read buffer's pages): measure the server as it runs in production.
    monkeypatch.delenv("MALLOC_PERTURB_", raising=False)
    s = lmkv_factory(["--maxclients", "2000"])
    s.client().set("probe", "v")
    prober = Prober(s, "probe")
    prober.start()
    half = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000\r\nabc"
    # Two waves of 250 half-sent requests; the cost per connection is the smaller growth of
    # the two, so a one-off allocation elsewhere in the server (a buffer freezing on age, the
    # first bulk apply) landing in one wave does not count as the connections' cost.
    rss = [rss_bytes(s.proc.pid)]
    socks = []
    for _wave in range(2):
        wave = open_many(s.host, s.port, 250)
        for sock in wave:
            sock.sendall(half)
        socks += wave
        time.sleep(1.0)
        rss.append(rss_bytes(s.proc.pid))
    lat = prober.finish()
    per_conn = min(rss[1] - rss[0], rss[2] - rss[1]) / 250
    report("slowloris", connections=500, rss_before_mb=round(rss[0] / 2**20, 1),
           rss_during_mb=round(rss[2] / 2**20, 1), growth_kb_per_conn=round(per_conn / 1024, 1),
           prober_p99_ms=round(percentile(lat, 0.99) * 1000, 2))
    # Each half request holds a few pages, not the 100 KB it announced.
    assert per_conn < 40 * 1024, rss
    assert percentile(lat, 0.99) < 0.1
    for sock in socks:
        sock.close()
    assert s.client().get("k") is None


# --- a client that never reads ---------------------------------------------------------------

def test_pipelining_client_that_never_reads_holds_bounded_output(lmkv_factory):
    """400,000 GETs of a 10 KB value, never read: 4 GB of replies if the server buffered them.
    It stops parsing that client's requests instead (more than the kernel's socket buffers
    hold, so the client's sends block), so its memory stays bounded and other clients keep
    being served."""
    s = lmkv_factory()
    c = s.client()
    c.set("ten", b"x" * 10_000)
    before = rss_bytes(s.proc.pid)
    prober = Prober(s, "ten")
    prober.start()
    hog = socket.create_connection((s.host, s.port))
    hog.setblocking(False)
    data = encode_command("GET", "ten") * 400_000
    sent, deadline = 0, time.monotonic() + 3
    while sent < len(data) and time.monotonic() < deadline:
        try:
            sent += hog.send(data[sent:sent + 65536])
        except BlockingIOError:
            time.sleep(0.01)
    time.sleep(0.5)
    during = rss_bytes(s.proc.pid)
    lat = prober.finish()
    report("never-reading pipeliner", requests_sent=sent // len(encode_command("GET", "ten")),
           rss_before_mb=round(before / 2**20, 1), rss_during_mb=round(during / 2**20, 1),
           prober_p99_ms=round(percentile(lat, 0.99) * 1000, 2))
    assert sent < len(data), "the server read every request: no backpressure"
    # What it holds for that client: about kOutputHighWater (1 MiB) plus one reply.
    out_peak = int(c.info("clients")["client_recent_max_output_buffer"])
    assert out_peak < (1 << 20) + 20_000, out_peak
    assert during - before < 64 << 20, during - before
    assert percentile(lat, 0.99) < 0.1
    hog.close()
    assert c.ping()


# --- a huge upload ---------------------------------------------------------------------------

@pytest.mark.slow
def test_huge_upload_does_not_stall_other_clients(lmkv_factory):
    """A 500 MB value streamed in 1 MB chunks; another client's GETs stay fast meanwhile.
    Under the sanitizers (tools/test.sh's second pass sets ASAN_OPTIONS), whose allocator
    copies where glibc remaps, 128 MB keeps the pass within CI's time."""
    s = lmkv_factory(["--fsync", "everysec"])
    size = (128 if os.environ.get("ASAN_OPTIONS") else 500) << 20
    chunk = b"u" * (1 << 20)
    s.client().set("probe", "v")
    prober = Prober(s, "probe")
    prober.start()
    up = RawConn(s.host, s.port, timeout=120)
    t0 = time.monotonic()
    up.send(b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$%d\r\n" % size)
    for _ in range(size // len(chunk)):
        up.send(chunk)
    up.send(b"\r\n")
    assert up.read_exactly_reply(timeout=120) == b"+OK\r\n"
    upload_s = time.monotonic() - t0
    peak = rss_bytes(s.proc.pid)
    lat = prober.finish()
    p99 = percentile(lat, 0.99)
    report(f"{size >> 20} MB upload", load=os.getloadavg()[0], upload_s=round(upload_s, 1), rss_after_mb=round(peak / 2**20),
           prober_requests=len(lat), prober_p99_ms=round(p99 * 1000, 2),
           prober_max_ms=round(max(lat) * 1000, 2))
    assert up.command("STRLEN", "big") == b":%d\r\n" % size
    up.close()
    # 50 ms on a machine with CPU to spare; on an overloaded one (load above twice the cores,
    # as on a shared CI box) the loop threads themselves wait for a core, and under the
    # sanitizers, whose realloc always copies, growing the read buffer on the loop costs
    # several times more, so allow 500 ms there.
    load = os.getloadavg()[0]
    slow = load > 2 * (os.cpu_count() or 1) or os.environ.get("ASAN_OPTIONS")
    bound = 0.5 if slow else 0.05
    assert p99 < bound, (p99, load)


# --- SIGTERM under write load ----------------------------------------------------------------

def test_sigterm_under_write_load_keeps_every_acknowledged_write(lmkv_factory):
    s = lmkv_factory()
    acked = [[] for _ in range(4)]
    errors = []

    def writer(slot):
        try:
            conn = RawConn(s.host, s.port, timeout=10)
            i = 0
            while i < 2_000_000:
                batch = [(f"w{slot}:{i + j}", f"{slot}-{i + j}") for j in range(50)]
                conn.send(b"".join(encode_command("SET", k, v) for k, v in batch))
                for k, v in batch:
                    reply = conn.read_exactly_reply(timeout=10)
                    assert reply == b"+OK\r\n", reply
                    acked[slot].append((k, v))
                i += 50
        except (ConnectionError, OSError, TimeoutError):
            pass  # closed by the shutdown: the rest was never acknowledged
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    assert s.stop(signal.SIGTERM) == 0
    for t in threads:
        t.join(30)
        assert not t.is_alive()
    assert not errors, errors
    total = sum(len(a) for a in acked)
    report("SIGTERM under load", acknowledged_writes=total)
    assert total > 0
    s.start()
    c = s.client()
    for a in acked:
        keys = [k for k, _ in a]
        for i in range(0, len(keys), 1000):
            got = c.mget(keys[i:i + 1000])
            want = [v.encode() for _, v in a[i:i + 1000]]
            missing = [k for k, g, w in zip(keys[i:i + 1000], got, want) if g != w]
            assert not missing, f"{len(missing)} acknowledged writes lost, e.g. {missing[:3]}"
    # Beyond the acknowledged writes, at most each writer's last batch (sent, its replies
    # lost in the shutdown) may have been applied.
    assert total <= c.dbsize() <= total + 4 * 50
