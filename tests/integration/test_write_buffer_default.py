"""write-buffer-size's default is sized by the memory the process may use: 16 MiB from 2 GiB
up, 8 MiB under a tighter memory cgroup, at most half of max-unapplied-bytes; a size given
on the command line wins. staged-runs' default likewise: 4 from 4 GiB up, else 1. Each server runs in its own cgroup v1 memory group (needs root and
the controller; skipped otherwise). lmkv_only."""

import importlib.util
import os
import shutil
import tempfile

import pytest

from helpers import LmkvProcess, info_fields

pytestmark = pytest.mark.lmkv_only

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MIB = 1 << 20
RAM = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def cgroup_tool():
    spec = importlib.util.spec_from_file_location(
        "beyond_ram", os.path.join(REPO, "tools", "beyond-ram.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    reason = module.cgroup_available()
    if reason:
        pytest.skip(f"cannot cap memory here: {reason}")
    return module


@pytest.fixture
def capped(request):
    """Starts an lmkv-server in a fresh memory cgroup capped at `cap` bytes; returns its
    write buffer size as CONFIG GET and INFO report it (or, with `staged=True`, its
    staged-runs)."""
    tool = cgroup_tool()
    made = []

    def run(cap, extra_args=(), staged=False):
        group = tool.Cgroup(f"lmkv-it-wbs-{os.getpid()}-{len(made)}", cap)
        workdir = tempfile.mkdtemp(prefix="lmkv-it-wbs-")
        proc = LmkvProcess(request.config.getoption("--lmkv"), workdir, extra_args)
        proc.preexec_fn = group.join_fn()
        made.append((proc, group, workdir))
        proc.start()
        client = proc.client(decode_responses=True)
        name, field = (("staged-runs", "lmkv_staged_runs") if staged
                       else ("write-buffer-size", "lmkv_write_buffer_size"))
        try:
            configured = int(client.config_get(name)[name])
            reported = int(info_fields(client, "persistence")[field])
        finally:
            client.close()
        assert configured == reported
        return configured

    yield run
    for proc, group, workdir in made:
        proc.stop()
        group.remove()
        shutil.rmtree(workdir, ignore_errors=True)


def test_small_cap_keeps_the_small_buffer(capped):
    assert capped(512 * MIB) == 8 * MIB


def test_two_gib_or_more_doubles_it(capped):
    cap = 4 << 30
    assert capped(cap) == (16 * MIB if min(cap, RAM) >= 2 << 30 else 8 * MIB)


def test_half_of_max_unapplied_and_explicit_sizes(capped):
    assert capped(4 << 30, ["--max-unapplied-bytes", "8mb"]) == 4 * MIB
    assert capped(512 * MIB, ["--write-buffer-size", "24mb"]) == 24 * MIB


def test_staged_runs_follow_the_memory_too(capped):
    assert capped(512 * MIB, staged=True) == 1
    assert capped(3 << 30, staged=True) == 1
    cap = 4 << 30
    assert capped(cap, staged=True) == (4 if min(cap, RAM) >= 4 << 30 else 1)
    assert capped(512 * MIB, ["--staged-runs", "8"], staged=True) == 8
