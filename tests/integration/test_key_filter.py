"""The key filter (man lmkv-server(1) --key-filter): built at start from LMDB, fed by every bulk
apply, rebuilt when half full; reads of absent keys skip the B+tree, and no stored key ever
reads as absent, across rebuilds and kill -9. lmkv_only: Redis has no such thing."""

import pytest

from helpers import info_fields, wait_for

pytestmark = pytest.mark.lmkv_only


def filter_info(client):
    f = info_fields(client, "persistence")
    return {k: f[k] for k in f if k.startswith("lmkv_key_filter")}


def mset_range(client, start, stop, batch=1000):
    pipe = client.pipeline(transaction=False)
    for i in range(start, stop, batch):
        pipe.mset({f"key:{j}": f"v{j}" for j in range(i, min(i + batch, stop))})
    pipe.execute()


def assert_all_readable(client, stop):
    pipe = client.pipeline(transaction=False)
    for i in range(stop):
        pipe.get(f"key:{i}")
    values = pipe.execute()
    missing = [i for i, v in enumerate(values) if v != f"v{i}"]
    assert not missing, f"{len(missing)} keys read wrong, first key:{missing[0]}"


def test_filter_answers_absent_keys_and_loses_none_across_kill9(lmkv_factory):
    s = lmkv_factory(["--write-buffer-size", "1mb"])
    c = s.client(decode_responses=True)
    assert wait_for(lambda: filter_info(c)["lmkv_key_filter"] == "1", 10)
    info = filter_info(c)
    assert int(info["lmkv_key_filter_capacity"]) == 1 << 20  # the floor, for an empty store
    assert int(info["lmkv_key_filter_bytes"]) == (1 << 20) * 10 // 8
    assert info["lmkv_key_filter_builds"] == "1"
    n = 100000
    mset_range(c, 0, n)
    c.execute_command("SAVE")  # everything into LMDB, through the applier's adds
    info = filter_info(c)
    assert 0.04 < float(info["lmkv_key_filter_fill"]) < 0.1, info  # 1 - e^(-7 * 0.1 / 10)
    assert_all_readable(c, n)
    pipe = c.pipeline(transaction=False)
    for i in range(n, n + 5000):
        pipe.get(f"key:{i}")
    assert pipe.execute() == [None] * 5000
    assert c.exists(*[f"key:{i}" for i in range(n - 10, n + 10)]) == 10
    # kill -9: the next start builds its filter from a scan of LMDB, plus the replayed log's
    # applies.
    mset_range(c, n, n + 2000)
    s.kill9()
    s.start()
    c = s.client(decode_responses=True)
    assert_all_readable(c, n + 2000)
    assert wait_for(lambda: filter_info(c)["lmkv_key_filter"] == "1", 10)
    assert_all_readable(c, n + 2000)
    assert c.get(f"key:{n + 2000}") is None
    assert c.set(f"key:{n + 2000}", "new", nx=True)
    assert c.set("key:0", "again", nx=True) is None


def test_deleted_and_flushed_keys_stay_absent(lmkv_factory):
    s = lmkv_factory(["--write-buffer-size", "1mb"])
    c = s.client(decode_responses=True)
    mset_range(c, 0, 3000)
    c.execute_command("SAVE")
    assert wait_for(lambda: filter_info(c)["lmkv_key_filter"] == "1", 10)
    c.delete(*[f"key:{i}" for i in range(0, 3000, 2)])
    c.execute_command("SAVE")
    pipe = c.pipeline(transaction=False)
    for i in range(3000):
        pipe.get(f"key:{i}")
    assert pipe.execute() == [None if i % 2 == 0 else f"v{i}" for i in range(3000)]
    c.flushall()
    c.execute_command("SAVE")
    assert c.get("key:1") is None and c.dbsize() == 0


def test_key_filter_no_turns_it_off(lmkv_factory):
    s = lmkv_factory(["--key-filter", "no"])
    c = s.client(decode_responses=True)
    assert c.config_get("key-filter") == {"key-filter": "no"}
    mset_range(c, 0, 2000)
    c.execute_command("SAVE")
    info = filter_info(c)
    assert info["lmkv_key_filter"] == "0" and info["lmkv_key_filter_builds"] == "0"
    assert_all_readable(c, 2000)
    assert c.get("key:2000") is None


def test_key_filter_is_fixed_at_start_and_checked(lmkv_factory):
    s = lmkv_factory(config_lines=[("key-filter", "yes")])
    c = s.client(decode_responses=True)
    assert c.config_get("key-filter") == {"key-filter": "yes"}
    with pytest.raises(Exception, match="key-filter"):
        c.config_set("key-filter", "no")
    bad = lmkv_factory(["--key-filter", "maybe"], start=False)
    with pytest.raises(RuntimeError, match="key-filter"):
        bad.start(timeout=5)
