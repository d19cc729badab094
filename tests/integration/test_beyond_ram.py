"""Larger than RAM, short version (issue 6 item 4): tools/beyond-ram.py --quick runs lmkv in a
memory-capped cgroup v1 group and writes random keys until data.mdb is several times the cap,
then reads. The server must not be OOM-killed and every sampled key it acknowledged must read
back exactly. Needs root and the cgroup v1 memory controller (skipped otherwise). lmkv_only."""

import importlib.util
import os
import shutil
import tempfile

import pytest

from helpers import sanitized

pytestmark = [pytest.mark.lmkv_only, pytest.mark.slow]

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(REPO, "tools", "beyond-ram.py")


def load_tool():
    spec = importlib.util.spec_from_file_location("beyond_ram", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_beyond_ram_no_oom_and_all_readable(request):
    tool = load_tool()
    reason = tool.cgroup_available()
    if reason:
        pytest.skip(f"cannot cap memory here: {reason}")
    binary = os.path.abspath(request.config.getoption("--lmkv"))
    if sanitized(binary):
        pytest.skip("a memory cap means nothing for a sanitizer build: ASan's shadow memory and "
                    "quarantine alone exceed it (the debug pass runs this test)")
    workdir = tempfile.mkdtemp(prefix="lmkv-it-beyond-ram-")  # a disk here, not tmpfs
    try:
        args = tool.parse_args(["--quick", "--binary", binary, "--workdir", workdir,
                                "--max-seconds", "90"])
        lines = []
        ok, summary = tool.run(args, lambda line, echo=False: lines.append(line))
        report = "\n".join(lines)
        print(report)
        assert summary.get("alive"), report
        assert summary["oom_kill"] == 0, report
        # The checks themselves: every witness exact, no wrong sampled value, and the
        # sample actually found keys (so it checked something).
        assert summary["witness_bad"] == 0 and summary["witnesses"] > 0, report
        assert summary["sample_bad"] == 0 and summary["sample_hits"] > 0, report
        # Past the cap, else the test proves nothing about larger than RAM.
        assert summary["data_bytes"] > args.cap_mib * 1024 * 1024, report
        assert ok, report
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
