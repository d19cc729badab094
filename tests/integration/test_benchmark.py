"""redis-benchmark runs unchanged against the server: it completes, reports a rate for every
test and shows no error or warning (it asks CONFIG GET save/appendonly at start-up)."""

import os
import re
import shutil
import subprocess
import sys

import pytest

BENCH = shutil.which("redis-benchmark")
pytestmark = pytest.mark.skipif(BENCH is None, reason="redis-benchmark not installed")

RATE = re.compile(r"^(.+?): ([0-9.]+) requests per second")


def bench(target, *args, timeout=240):
    p = subprocess.run([BENCH, "-h", target.host, "-p", str(target.port), *args],
                       capture_output=True, timeout=timeout)
    out = (p.stdout + p.stderr).decode(errors="replace")
    # -q rewrites a progress line with \r; the final figures end with \n.
    lines = [seg.strip() for line in out.split("\n") for seg in line.split("\r")[-1:]]
    return p.returncode, out, [l for l in lines if l]


def check(out, lines, names):
    rates = {}
    for line in lines:
        m = RATE.match(line)
        if m:
            rates[m.group(1)] = float(m.group(2))
    assert set(rates) == set(names), out[-2000:]
    assert all(v > 0 for v in rates.values()), rates
    for bad in ("ERR", "Error", "WARN", "error"):
        assert bad not in out, out[-2000:]
    return rates


@pytest.mark.slow
def test_redis_benchmark_pipelined_set_get_mset(target, r):
    # The exact command from the issue.
    code, out, lines = bench(target, "-t", "set,get,mset", "-n", "100000", "-r", "1000000",
                             "-c", "50", "-P", "16", "-q")
    assert code == 0, out[-2000:]
    check(out, lines, ["SET", "GET", "MSET (10 keys)"])
    assert r.dbsize() > 1000  # -r spreads writes over many keys


def test_redis_benchmark_unpipelined(target, r):
    code, out, lines = bench(target, "-t", "set,get,incr,ping", "-n", "5000", "-r", "100000",
                             "-c", "20", "-q")
    assert code == 0, out[-2000:]
    check(out, lines, ["SET", "GET", "INCR", "PING_INLINE", "PING_MBULK"])


def test_redis_benchmark_csv_and_resp3(target, r):
    code, out, _ = bench(target, "-3", "-t", "set,get", "-n", "5000", "-c", "10", "-P", "4",
                         "-d", "100", "--csv")
    assert code == 0, out[-2000:]
    rows = [l for l in out.splitlines() if l.startswith('"')]
    assert rows[0].startswith('"test","rps"')
    assert [row.split(",")[0] for row in rows[1:]] == ['"SET"', '"GET"']
    assert "ERR" not in out


@pytest.mark.lmkv_only
def test_write_stalls_tool_reports_every_server(request, tmp_path):
    # CI's short run of tools/write-stalls.py (probes beside a SET -P 16 load): it starts its
    # own servers, and its report has a row per trial with figures from load and probes alike.
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = tmp_path / "stalls.md"
    p = subprocess.run(
        [sys.executable, os.path.join(repo, "tools", "write-stalls.py"),
         "--binary", request.config.getoption("--lmkv"), "--modes", "everysec,no",
         "--trials", "1", "--writes", "30000", "--workdir", str(tmp_path), "--out", str(out)],
        capture_output=True, text=True, timeout=240)
    assert p.returncode == 0, p.stderr[-3000:]
    rows = [l for l in out.read_text().splitlines() if l.startswith(("| everysec |", "| no |"))]
    trials = [r for r in rows if r.count("|") == 8]
    assert len(trials) == 2, rows
    for row in trials:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert float(cells[3].replace(",", "")) > 0, row  # SET ops/s
        ping_p99, ping_max = (float(x) for x in cells[5].split(" / "))
        assert 0 < ping_max and 0 <= ping_p99 <= ping_max, row  # the probes were answered
