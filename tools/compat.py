#!/usr/bin/python3
"""How much of the Redis-compatibility suite passes on lmkv and on redis-server.

The integration suite (tests/integration) is written so that every test not
marked lmkv_only passes against a real Redis 7: those tests are the
compatibility suite. This tool runs them twice, once against a fresh
redis-server (oracle mode, --host/--port) and once against lmkv (the suite
starts the binary), and prints one line per family (test file) with the
passed/failed counts of each.

  tools/compat.py [--lmkv build/src/lmkv-server] [--files test_strings.py ...]

Bounded: each pytest run has a timeout; the redis-server it starts is
stopped by PID at the end.
"""
import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SUITE = os.path.join(ROOT, "tests", "integration")
PY = "/usr/bin/python3"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(workdir):
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", workdir, "--daemonize", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    sys.exit("redis-server did not start")


def run_pytest(extra, files, junit, timeout):
    files = files or ["."]  # pytest finds conftest.py (and its options) from its arguments
    cmd = [PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not lmkv_only",
           f"--junitxml={junit}", *extra, *files]
    try:
        subprocess.run(cmd, cwd=SUITE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"pytest timed out after {timeout} s: {' '.join(extra)}", file=sys.stderr)
    return parse_junit(junit)


def parse_junit(path):
    """{file: [passed, failed, skipped]} from a junit XML report."""
    counts = {}
    if not os.path.exists(path):
        return counts
    for case in ET.parse(path).getroot().iter("testcase"):
        name = case.get("classname", "").split(".")[0] + ".py"
        c = counts.setdefault(name, [0, 0, 0])
        if case.find("skipped") is not None:
            c[2] += 1
        elif case.find("failure") is not None or case.find("error") is not None:
            c[1] += 1
        else:
            c[0] += 1
    return counts


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lmkv", default=os.path.join(ROOT, "build", "src", "lmkv-server"))
    ap.add_argument("--files", nargs="*", default=[],
                    help="test files (default: the whole suite)")
    ap.add_argument("--timeout", type=int, default=900, help="per pytest run, seconds")
    args = ap.parse_args()
    lmkv = os.path.abspath(args.lmkv)
    with tempfile.TemporaryDirectory() as tmp:
        redis_proc, port = start_redis(tmp)
        try:
            on_redis = run_pytest(["--host", "127.0.0.1", "--port", str(port)], args.files,
                                  os.path.join(tmp, "redis.xml"), args.timeout)
        finally:
            redis_proc.terminate()
            redis_proc.wait(timeout=10)
        on_lmkv = run_pytest(["--lmkv", lmkv], args.files, os.path.join(tmp, "lmkv.xml"),
                             args.timeout)
    version = subprocess.run(["redis-server", "--version"], capture_output=True,
                             text=True).stdout.split()[2].removeprefix("v=")
    print(f"Redis-compatibility suite (tests not marked lmkv_only), redis-server {version}")
    print(f"{'family':28} {'lmkv pass/fail':>15} {'redis pass/fail':>16}")
    total_l, total_r = [0, 0], [0, 0]
    for name in sorted(set(on_lmkv) | set(on_redis)):
        l = on_lmkv.get(name, [0, 0, 0])
        r = on_redis.get(name, [0, 0, 0])
        print(f"{name:28} {l[0]:>8}/{l[1]:<6} {r[0]:>9}/{r[1]:<6}")
        total_l = [total_l[0] + l[0], total_l[1] + l[1]]
        total_r = [total_r[0] + r[0], total_r[1] + r[1]]
    print(f"{'total':28} {total_l[0]:>8}/{total_l[1]:<6} {total_r[0]:>9}/{total_r[1]:<6}")
    return 0 if total_l[1] == 0 and total_r[1] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
