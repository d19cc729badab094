"""Pieces shared by the measurement tools (bench-vs-redis.py, restart-time.py,
sustained-writes.py): Redis's flags per durability mode, progress logging, and
the file system a data dir is on (fsync means little on tmpfs)."""
import subprocess
import sys
import time

# redis-server flags matching lmkv's --fsync modes.
REDIS_MODE_ARGS = {
    "always": ["--appendonly", "yes", "--appendfsync", "always"],
    "everysec": ["--appendonly", "yes", "--appendfsync", "everysec"],
    "no": ["--appendonly", "no"],
}


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def fs_type(path):
    try:
        out = subprocess.run(["stat", "-f", "-c", "%T", path], capture_output=True, text=True,
                             timeout=10)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
