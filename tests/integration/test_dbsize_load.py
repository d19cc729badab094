"""DBSIZE under a pipelined write load: lmkv counts a write buffer incrementally (each
layer sums only the entries added since the last DBSIZE), so this checks the count stays
exact while a writer pipelines SETs and DELs of new, existing and absent keys across many
write-buffer freezes and applies, read from other connections (other event loops)."""

import random
import threading
import time

import pytest

from helpers import RawConn, encode_command, wait_for


class KeySet:
    """A set with O(1) random choice."""

    def __init__(self, keys=()):
        self.keys = []
        self.index = {}
        for k in keys:
            self.add(k)

    def __len__(self):
        return len(self.keys)

    def add(self, k):
        if k not in self.index:
            self.index[k] = len(self.keys)
            self.keys.append(k)

    def discard(self, k):
        i = self.index.pop(k, None)
        if i is None:
            return
        last = self.keys.pop()
        if i < len(self.keys):
            self.keys[i] = last
            self.index[last] = i

    def pick(self, rng):
        return self.keys[rng.randrange(len(self.keys))]


def info_int(client, field, section="persistence"):
    return int(client.info(section).get(field, 0))


@pytest.mark.lmkv_only
def test_dbsize_stays_exact_under_pipelined_writes(lmkv_factory):
    # A small write buffer: the load freezes it many times, so DBSIZE sees active, frozen
    # and applied layers come and go.
    proc = lmkv_factory(extra_args=["--write-buffer-size", "65536"])
    setup = proc.client()
    present = KeySet(f"k:{i}" for i in range(2000))
    pipe = setup.pipeline(transaction=False)
    for k in present.keys:
        pipe.set(k, "v0")
    pipe.execute()
    assert setup.dbsize() == len(present)

    # The writer records the range the key count moved in before sending each batch, so
    # any DBSIZE answered after that batch was sent must fall inside the range read after
    # the answer.
    bounds = {"lo": len(present), "hi": len(present)}
    lock = threading.Lock()
    done = threading.Event()
    errors = []
    rng = random.Random(7)

    def writer():
        client = proc.client()
        next_new = 2000
        try:
            for batch in range(150):
                pipe = client.pipeline(transaction=False)
                lo = hi = len(present)
                for _ in range(100):
                    what = rng.random()
                    if what < 0.35 or not present:
                        key = f"k:{next_new}"
                        next_new += 1
                        present.add(key)
                        pipe.set(key, f"new{batch}")
                    elif what < 0.55:
                        pipe.set(present.pick(rng), f"over{batch}")
                    elif what < 0.9:
                        key = present.pick(rng)
                        present.discard(key)
                        pipe.delete(key)
                    else:
                        pipe.delete(f"absent:{rng.randrange(10**6)}")
                    lo, hi = min(lo, len(present)), max(hi, len(present))
                with lock:
                    bounds["lo"] = min(bounds["lo"], lo)
                    bounds["hi"] = max(bounds["hi"], hi)
                pipe.execute()
        except Exception as e:  # noqa: BLE001 - reported by the main thread
            errors.append(repr(e))
        finally:
            done.set()
            client.close()

    readers = [proc.client() for _ in range(3)]
    t = threading.Thread(target=writer)
    t.start()
    checks = 0
    try:
        while not done.is_set() and checks < 100000:
            for c in readers:
                n = c.dbsize()
                with lock:
                    lo, hi = bounds["lo"], bounds["hi"]
                assert lo <= n <= hi, (n, lo, hi)
                checks += 1
    finally:
        t.join(timeout=120)
    assert not t.is_alive()
    assert not errors, errors
    assert checks > 10
    # Every batch answered: exact, from every connection, now and once all is in LMDB.
    for c in readers:
        assert c.dbsize() == len(present)
    assert wait_for(lambda: info_int(setup, "lmkv_unapplied_bytes") == 0, timeout=30,
                    interval=0.1)
    for c in readers:
        assert c.dbsize() == len(present)
    for c in readers + [setup]:
        c.close()


@pytest.mark.lmkv_only
def test_the_background_counter_sums_writes_once_counts_are_asked_for(lmkv_factory):
    """After a DBSIZE the background counter (store/counter.h) sums new writes ahead of the
    next call, so a monitoring poller's DBSIZE finds little left (INFO lmkv_counted_ahead);
    before anyone asked for counts it sums nothing. DBSIZE stays exact either way."""
    proc = lmkv_factory()
    client = proc.client()

    def write(keys):
        write_keys(client, keys)

    write(f"k:{i}" for i in range(5000))
    time.sleep(0.3)  # 30 of its rounds
    assert info_int(client, "lmkv_counted_ahead") == 0
    assert client.dbsize() == 5000
    # New keys and overwrites: 15,000 writes, 10,000 of them new.
    write(f"k:{i}" for i in range(5000, 15000))
    write(f"k:{i}" for i in range(0, 5000))
    # It runs at SCHED_IDLE: beside other busy tests it may wait a while for CPU.
    assert wait_for(lambda: info_int(client, "lmkv_counted_ahead") >= 15000 - 64, timeout=60)
    assert client.dbsize() == 15000
    client.delete(*[f"k:{i}" for i in range(100)])
    assert client.dbsize() == 14900


def write_keys(client, keys):
    pipe = client.pipeline(transaction=False)
    for k in keys:
        pipe.set(k, "v")
    pipe.execute()


@pytest.mark.lmkv_only
def test_a_dbsize_with_much_to_sum_is_held_and_run_again_once_summed(lmkv_factory):
    """A DBSIZE or INFO keyspace that finds more writes to sum than a loop should look up
    itself (4096) is held: the counter sums them on its own thread and the loop runs the
    command again (INFO lmkv_counts_held). Replies stay exact and in order, and the held run
    is neither shown to MONITOR nor counted twice; inside MULTI it is never held. Each case
    has a fresh server, which nobody has asked for counts: its background counter sleeps,
    so the writes are all left to sum."""

    def fresh():
        proc = lmkv_factory()
        client = proc.client()
        write_keys(client, (f"k:{i}" for i in range(20000)))
        return proc, client

    def held(client):
        return info_int(client, "lmkv_counts_held")

    # Pipelined behind and ahead of a write: in order, each exact; recorded and shown once.
    proc, client = fresh()
    monitor = RawConn(proc.host, proc.port)
    assert monitor.command("MONITOR") == b"+OK\r\n"
    pipe = client.pipeline(transaction=False)
    pipe.dbsize()
    pipe.set("k:new", "v")
    pipe.dbsize()
    pipe.ping()
    assert pipe.execute() == [20000, True, 20001, True]
    assert held(client) == 1
    assert client.info("commandstats")["cmdstat_dbsize"]["calls"] == 2
    shown = b""
    while b'"ping"' not in shown.split(b'"dbsize"')[-1]:
        monitor.sock.settimeout(5)
        chunk = monitor.sock.recv(65536)
        assert chunk, shown[-400:]
        shown += chunk.lower()
    assert shown.count(b'"dbsize"') == 2, shown[-400:]  # once for each of the two calls
    monitor.close()

    # INFO keyspace counts every database.
    proc, client = fresh()
    write_keys(proc.client(db=3), (f"t:{i}" for i in range(8000)))
    keyspace = client.info("keyspace")
    assert keyspace["db0"]["keys"] == 20000 and keyspace["db3"]["keys"] == 8000, keyspace
    assert held(client) == 1

    # MULTI runs DBSIZE on the writer: never held, still exact.
    proc, client = fresh()
    pipe = client.pipeline(transaction=True)
    pipe.dbsize()
    assert pipe.execute() == [20000]
    assert held(client) == 0

    # CLIENT REPLY SKIP skips the held command's reply, not the next one's.
    proc, client = fresh()
    raw = RawConn(proc.host, proc.port)
    raw.send(encode_command("CLIENT", "REPLY", "SKIP") + encode_command("DBSIZE") +
             encode_command("DBSIZE"))
    assert raw.read_exactly_reply() == b":20000\r\n"
    assert held(client) == 1

    # A client gone, perhaps while held: nothing to answer, the server goes on.
    proc, client = fresh()
    gone = RawConn(proc.host, proc.port)
    gone.send(encode_command("DBSIZE"))
    gone.close()
    write_keys(client, (f"g:{i}" for i in range(100)))
    assert client.dbsize() == 20100
