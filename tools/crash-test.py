#!/usr/bin/python3
"""Crash test for lmkv's write path: kill -9 the server at random moments under a concurrent
write load, restart it on the same --dir, and check the data against a model of what the
clients were told.

Each cycle: CLIENTS threads (raw sockets, one connection each) send random SET / MSET (2-10
distinct keys, one value for all of them) / DEL on string keys s:0..KEYS-1, INCR on counter
keys c:0..COUNTERS-1 and MULTI/EXEC transactions (1-3 SETs of one value, 0-2 DELs on other
string keys, 0-2 INCRs, shuffled), sometimes pipelined. Every value is unique
(cycle.client.op), so a value read back names the write (or transaction) that produced it.
The server is killed with SIGKILL (by PID) after a random 0.2-2 s, half the time at a moment
the INFO fields say a frozen buffer is being applied (a small --write-buffer-size makes
applies frequent). Then it is restarted and checked:

  * per key: the value is one some write produced (else "never written"), and that write is
    not superseded: W is superseded when some write W2 to the same key was acknowledged and
    was sent after W's reply had arrived (then W2 is later in log order; W's reply arrived,
    so W is durable). Writes sent but not acknowledged at kill time (in flight) are never
    superseded themselves and may or may not be present. The state found by the previous
    check counts as a write acknowledged before the cycle began.
  * MSET all or nothing: if some but not all keys of an MSET hold its value, every other key
    must hold a value from a write that may follow the MSET in log order (not acknowledged
    before the MSET was sent); otherwise the MSET was torn.
  * MULTI/EXEC: each key a transaction writes counts it as one write to that key (its SETs'
    value, or nil for its DELs), acknowledged when the EXEC reply arrived; so an acknowledged
    EXEC's effects must all be there unless superseded. All or nothing: once any key holds
    the transaction's value it ran, so every other key it SET or DELeted must hold its value
    (or nil) or a value from a write that may follow it, as for MSET. Its INCRs count in the
    counter bounds (the EXEC reply gives the acknowledged values).
  * INCR: base + (INCRs sent) >= value >= max(base, highest acknowledged reply).
  * the keyspace (RANGE paging) holds only known keys, and DBSIZE matches it.

Times are taken conservatively (send time before the bytes go out, ack time after the reply
is read), so every ordering the check relies on really holds. With kill -9 (a process crash)
every --fsync mode must lose nothing acknowledged, so the only pass is zero violations.

With --full-disk MB (root: it mounts a tmpfs of that size as the data dir) each cycle first
frees the disk, or fills it with a filler file to leave too little for the log (writes are
refused, -OOM ... the disk is full, from the start) or a few MiB more (they fill it during
the cycle), so kills land on a full disk too. A refused write must never show: the check
counts it as never sent.

Example: tools/crash-test.py --binary build/src/lmkv-server --cycles 50 --fsync always
Prints one line per cycle and a final "N passed, N failed"; exits 1 on any violation.
Loopback only; every loop is bounded; kills only the server it started.
"""

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

from helpers import (ErrorReply, LmkvProcess, RawConn, decode_reply, fill_file,  # noqa: E402
                     encode_command, info_fields)

NEG_INF = float("-inf")


class Op:
    """One command a client sent: what it writes, when it was sent, when (if) it was acked.
    A MULTI op is a whole transaction: subs lists its commands as (command, key), the SETs
    write value; acked is when the EXEC reply arrived and reply is EXEC's array."""
    __slots__ = ("kind", "keys", "value", "sent", "acked", "reply", "client", "subs", "refused")

    def __init__(self, kind, keys, value, client, subs=None):
        self.kind, self.keys, self.value, self.client = kind, keys, value, client
        self.subs = subs
        self.sent = None
        self.acked = None  # monotonic time the reply was read; None: in flight at the kill
        self.reply = None
        self.refused = False  # answered -OOM (disk full): it must have changed nothing

    def string_writes(self):
        """{string key: value written (None: deleted)}."""
        if self.kind == "MULTI":
            return {k: (self.value if c == "SET" else None) for c, k in self.subs
                    if c in ("SET", "DEL")}
        if self.kind in ("SET", "MSET", "DEL"):
            return {k: self.value for k in self.keys}
        return {}

    def incr_replies(self):
        """[(counter key, acknowledged reply or None)] of the INCRs this op sent."""
        if self.kind == "INCR":
            return [(self.keys[0], self.reply if self.acked is not None else None)]
        if self.kind != "MULTI":
            return []
        replies = self.reply if self.acked is not None and isinstance(self.reply, list) else []
        return [(k, replies[i] if i < len(replies) else None)
                for i, (c, k) in enumerate(self.subs) if c == "INCR"]


def parse_size(text):
    units = {"kb": 1024, "k": 1000, "mb": 1024 ** 2, "m": 1000 ** 2, "gb": 1024 ** 3,
             "g": 1000 ** 3, "b": 1}
    t = text.strip().lower()
    for u in sorted(units, key=len, reverse=True):
        if t.endswith(u) and t[:-len(u)].isdigit():
            return int(t[:-len(u)]) * units[u]
    return int(t)


# ---------------------------------------------------------------------------------------------
# Load
# ---------------------------------------------------------------------------------------------

DISK_FULL = "OOM command not allowed: the disk is full"


class Client(threading.Thread):
    """One connection sending random writes until stopped or the connection dies."""

    def __init__(self, idx, cycle, args, host, port, stop, seed):
        super().__init__(daemon=True)
        self.idx, self.cycle, self.args = idx, cycle, args
        self.host, self.port, self.stop = host, port, stop
        self.rng = random.Random(seed)
        self.ops = []
        self.errors = []  # unexpected replies: violations in themselves

    def make_op(self, n):
        rng, a = self.rng, self.args
        roll = rng.random()
        value = f"{self.cycle}.{self.idx}.{n}|".encode() + b"x" * rng.randrange(0, 120)
        if roll < 0.35:
            return Op("SET", [f"s:{rng.randrange(a.keys)}"], value, self.idx)
        if roll < 0.52:
            keys = [f"s:{k}" for k in rng.sample(range(a.keys), rng.randint(2, 10))]
            return Op("MSET", keys, value, self.idx)
        if roll < 0.65:
            return Op("DEL", [f"s:{rng.randrange(a.keys)}"], None, self.idx)
        if roll < 0.85:
            return Op("INCR", [f"c:{rng.randrange(a.counters)}"], None, self.idx)
        # A transaction: distinct string keys (one write each), at least one SET so that its
        # value shows whether it ran.
        sets, dels = rng.randint(1, 3), rng.randint(0, 2)
        strings = [f"s:{k}" for k in rng.sample(range(a.keys), sets + dels)]
        counters = [f"c:{k}" for k in rng.sample(range(a.counters),
                                                min(a.counters, rng.randint(0, 2)))]
        subs = ([("SET", k) for k in strings[:sets]] + [("DEL", k) for k in strings[sets:]]
                + [("INCR", k) for k in counters])
        rng.shuffle(subs)
        return Op("MULTI", [k for _, k in subs], value, self.idx, subs)

    @staticmethod
    def encode(op):
        if op.kind == "MULTI":
            return b"".join([encode_command("MULTI")]
                            + [Client.encode(Op(c, [k], op.value, op.client)) for c, k in op.subs]
                            + [encode_command("EXEC")])
        if op.kind == "SET":
            return encode_command("SET", op.keys[0], op.value)
        if op.kind == "MSET":
            args = ["MSET"]
            for k in op.keys:
                args += [k, op.value]
            return encode_command(*args)
        return encode_command(op.kind, op.keys[0])

    @staticmethod
    def reply_ok(kind, reply):
        return ((kind in ("SET", "MSET") and reply == "OK")
                or (kind == "DEL" and reply in (0, 1))
                or (kind == "INCR" and isinstance(reply, int) and reply >= 1))

    def check_reply(self, op, reply):
        if isinstance(reply, ErrorReply) and self.args.full_disk and DISK_FULL in reply:
            op.refused = True
            return
        if op.kind == "MULTI":
            ok = (isinstance(reply, list) and len(reply) == len(op.subs)
                  and all(self.reply_ok(c, r) for (c, _), r in zip(op.subs, reply)))
        else:
            ok = self.reply_ok(op.kind, reply)
        if not ok:
            self.errors.append(f"client {self.idx}: unexpected reply to {op.kind} "
                               f"{op.keys[:3]}: {reply!r}")

    def run(self):
        try:
            conn = RawConn(self.host, self.port, timeout=5.0)
        except OSError:
            return
        n = 0
        try:
            while not self.stop.is_set() and n < 10_000_000:
                depth = 1 if self.rng.random() < 0.6 else self.rng.randint(2, 32)
                batch = []
                for _ in range(depth):
                    batch.append(self.make_op(n))
                    n += 1
                payload = b"".join(self.encode(op) for op in batch)
                now = time.monotonic()
                for op in batch:
                    op.sent = now
                self.ops.extend(batch)  # recorded before sending: they may reach the server
                conn.send(payload)
                for op in batch:
                    if op.kind == "MULTI":  # +OK, one +QUEUED a command, then EXEC's reply
                        queued = [decode_reply(conn.read_exactly_reply(timeout=10.0))
                                  for _ in range(len(op.subs) + 1)]
                        if queued != ["OK"] + ["QUEUED"] * len(op.subs):
                            self.errors.append(f"client {self.idx}: unexpected replies to "
                                               f"MULTI and its commands: {queued!r}")
                    raw = conn.read_exactly_reply(timeout=10.0)
                    op.acked = time.monotonic()
                    op.reply = decode_reply(raw)
                    self.check_reply(op, op.reply)
        except (OSError, ConnectionError, TimeoutError):
            pass  # the server was killed: what has no reply is in flight
        finally:
            conn.close()


# ---------------------------------------------------------------------------------------------
# Killing
# ---------------------------------------------------------------------------------------------

def wait_and_kill(server, rng, args, deadline):
    """Sleeps a random while, sometimes then waits for a bulk apply to be in progress, and
    kills the server by PID. Returns a short description of the moment."""
    info = RawConn(server.host, server.port, timeout=5.0)
    try:
        wbs = int(info_fields(info)["lmkv_write_buffer_size"])
        if rng.random() < 0.5:
            time.sleep(rng.uniform(0.2, 2.0))
            fields = info_fields(info)
            server.kill9()
            return "timed", fields
        time.sleep(rng.uniform(0.2, 1.0))
        before = int(info_fields(info)["lmkv_bulk_applies"])
        stop_at = min(deadline, time.monotonic() + 1.0)
        fields = {}
        while time.monotonic() < stop_at:
            fields = info_fields(info)
            # A frozen buffer not yet applied: the active one alone stays below the size.
            if int(fields["lmkv_unapplied_bytes"]) > wbs:
                server.kill9()
                return "mid-apply", fields
            if int(fields["lmkv_bulk_applies"]) > before:
                server.kill9()
                return "post-apply", fields
        server.kill9()
        return "timed", fields
    except (OSError, ConnectionError, TimeoutError, KeyError, ValueError):
        server.kill9()
        return "info-failed", {}
    finally:
        info.close()


# ---------------------------------------------------------------------------------------------
# The model and its check
# ---------------------------------------------------------------------------------------------

class Model:
    """What the store must hold: the state verified after the last restart plus this cycle's
    operations."""

    def __init__(self, keys, counters):
        self.strings = {f"s:{i}": None for i in range(keys)}
        self.counters = {f"c:{i}": 0 for i in range(counters)}

    def check(self, ops, observed_strings, observed_counters, keyspace, dbsize):
        violations = []
        # A refused write changed nothing: as if never sent, so its value must not show.
        ops = [op for op in ops if not op.refused]
        by_key = {}
        writes_of = {}  # id(op) -> {key: value}
        for op in ops:
            w = writes_of[id(op)] = op.string_writes()
            for k in w:
                by_key.setdefault(k, []).append(op)

        def superseded(w_acked, writes):
            # Some acknowledged write was sent after w's reply had arrived.
            return any(o.acked is not None and o.sent > w_acked for o in writes)

        for key, base in self.strings.items():
            writes = by_key.get(key, [])
            got = observed_strings[key]
            # Candidates: (value, ack time) with the verified base acked "before the cycle".
            candidates = [(base, NEG_INF)] + [
                (writes_of[id(o)][key], o.acked if o.acked is not None else float("inf"))
                for o in writes]
            producing = [c for c in candidates if c[0] == got]
            if not producing:
                violations.append(f"{key}: holds {short(got)}, a value never written to it")
                continue
            if all(superseded(ack, writes) for _, ack in producing):
                expected = sorted({short(v) for v, ack in candidates
                                   if not superseded(ack, writes)})
                violations.append(f"{key}: holds superseded {short(got)} (acknowledged write "
                                  f"lost); acceptable: {expected[:4]}")

        for op in ops:
            if op.kind not in ("MSET", "MULTI"):
                continue
            # The op's value is unique: a key holding it proves the op ran.
            wrote = writes_of[id(op)]
            have = [k for k, v in wrote.items() if v is not None and observed_strings[k] == v]
            if not have:
                continue
            for k, v in wrote.items():
                got = observed_strings[k]
                if got == v:
                    continue
                # Could the write that produced got be after this op in log order?
                later = [o for o in by_key.get(k, []) if o is not op
                         and writes_of[id(o)][k] == got
                         and not (o.acked is not None and o.acked < op.sent)]
                if not later:
                    sets = sum(1 for x in wrote.values() if x is not None)
                    violations.append(
                        f"torn {op.kind} {short(op.value)} "
                        f"({'acked' if op.acked else 'in flight'}): {len(have)}/{sets} keys "
                        f"have it, {k} holds {short(got)} (not {short(v)}) from no write that "
                        f"can follow it")
                    break

        incr_sent, incr_max = {}, {}
        for op in ops:
            for k, reply in op.incr_replies():
                incr_sent[k] = incr_sent.get(k, 0) + 1
                if isinstance(reply, int):
                    incr_max[k] = max(incr_max.get(k, 0), reply)
        for key, base in self.counters.items():
            got = observed_counters[key] or 0  # absent: never incremented
            low, high = max(base, incr_max.get(key, 0)), base + incr_sent.get(key, 0)
            if not (low <= got <= high):
                violations.append(f"{key}: counter {got}, must be within [{low}, {high}]")

        expected_keys = sorted(
            [k for k, v in observed_strings.items() if v is not None]
            + [k for k, v in observed_counters.items() if v])
        if keyspace != expected_keys:
            extra = sorted(set(keyspace) - set(expected_keys))
            missing = sorted(set(expected_keys) - set(keyspace))
            violations.append(f"RANGE - + disagrees with GET: extra {extra[:5]}, "
                              f"missing {missing[:5]}, {len(keyspace)} keys, in order: "
                              f"{keyspace == sorted(keyspace)}")
        if dbsize != len(keyspace):
            violations.append(f"DBSIZE {dbsize} but RANGE - + lists {len(keyspace)} keys")

        self.strings = dict(observed_strings)
        self.counters = {k: (v or 0) for k, v in observed_counters.items()}
        return violations


def short(value):
    if value is None:
        return "nil"
    return value.split(b"|", 1)[0].decode(errors="replace")


def read_state(server, model):
    """Every modelled key's value, the whole keyspace by RANGE paging, and DBSIZE."""
    conn = RawConn(server.host, server.port, timeout=30.0)
    try:
        strings, counters = {}, {}
        names = list(model.strings)
        for i in range(0, len(names), 500):
            chunk = names[i:i + 500]
            strings.update(zip(chunk, decode_reply(conn.command("MGET", *chunk))))
        names = list(model.counters)
        for i in range(0, len(names), 500):
            chunk = names[i:i + 500]
            for k, v in zip(chunk, decode_reply(conn.command("MGET", *chunk))):
                counters[k] = None if v is None else int(v)
        keyspace, start = [], "-"
        for _ in range(100_000):
            page = decode_reply(conn.command("RANGE", start, "+", "LIMIT", "1000", "KEYSONLY"))
            if isinstance(page, ErrorReply):
                raise RuntimeError(f"RANGE failed: {page}")
            keyspace += [k.decode() for k in page]
            if len(page) < 1000:
                break
            start = "(" + page[-1].decode()
        dbsize = decode_reply(conn.command("DBSIZE"))
        return strings, counters, keyspace, dbsize
    finally:
        conn.close()


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------

def set_disk(server, args, rng):
    """--full-disk: frees the tmpfs, fills it to within 0-6 MiB of full (writes refused from
    the start: the log wants 8 MiB to spare), or to within 9-14 MiB (they fill it during the
    cycle). Returns which."""
    if not args.full_disk:
        return "-"
    filler = os.path.join(server.data_dir, "filler")
    if os.path.exists(filler):
        os.remove(filler)
    roll = rng.random()
    if roll < 0.3:
        return "free"
    left = rng.randrange(0, 6 << 20) if roll < 0.6 else rng.randrange(9 << 20, 14 << 20)
    st = os.statvfs(server.data_dir)
    try:
        fill_file(filler, st.f_bavail * st.f_frsize - left)
    except OSError:
        pass  # the disk filled a little early: full all the same
    return "full" if left < 8 << 20 else "filling"


def mount_tmpfs(path, size_mb):
    os.makedirs(path, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", path],
                          capture_output=True, timeout=30)
    if done.returncode != 0:
        sys.exit("--full-disk needs root to mount a tmpfs: "
                 + done.stderr.decode(errors="replace").strip())


def run_cycle(cycle, server, model, args, rng, deadline):
    disk = set_disk(server, args, rng)
    stop = threading.Event()
    clients = [Client(i, cycle, args, server.host, server.port, stop, rng.getrandbits(64))
               for i in range(args.clients)]
    for c in clients:
        c.start()
    died_early = False
    moment, fields = wait_and_kill(server, rng, args, deadline)
    if server.proc.returncode not in (-9, None):
        died_early = True
    stop.set()
    for c in clients:
        c.join(30)
    hung = [c.idx for c in clients if c.is_alive()]
    ops = [op for c in clients for op in c.ops]
    refused = sum(1 for op in ops if op.refused)
    violations = [e for c in clients for e in c.errors]
    if died_early:
        violations.append(f"server exited by itself with {server.proc.returncode}")
    if hung:
        violations.append(f"client threads {hung} still waiting 30 s after the kill")
    acked = sum(1 for op in ops if op.acked is not None and not op.refused)
    multis = [op for op in ops if op.kind == "MULTI"]
    multis_acked = sum(1 for op in multis if op.acked is not None and not op.refused)
    if acked == 0 and refused == 0:
        violations.append("no write answered before the kill (server hung?)")

    t0 = time.monotonic()
    server.start()
    started_ms = (time.monotonic() - t0) * 1000
    probe = RawConn(server.host, server.port)
    after = info_fields(probe)
    probe.close()
    strings, counters, keyspace, dbsize = read_state(server, model)
    violations += model.check(ops, strings, counters, keyspace, dbsize)
    status = "OK" if not violations else f"FAIL ({len(violations)} violations)"
    print(f"cycle {cycle}: fsync={args.fsync} kill={moment}"
          f" applies={fields.get('lmkv_bulk_applies', '?')}"
          f" unapplied={fields.get('lmkv_unapplied_bytes', '?')}"
          f" runs={fields.get('lmkv_live_runs', '?')}/{after.get('lmkv_live_runs', '?')}:"
          f" {len(ops)} ops, {acked} acked,"
          f" {len(ops) - acked - refused} in flight"
          f" ({len(multis)} MULTI/EXEC, {multis_acked} acked), {refused} refused (disk {disk});"
          f" restart {started_ms:.0f} ms,"
          f" recovery {after.get('lmkv_recovery_ms', '?')} ms,"
          f" replayed {after.get('lmkv_replayed_frames', '?')} frames: {status}", flush=True)
    for v in violations[:20]:
        print("    " + v, flush=True)
    return not violations


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--binary", default=os.environ.get("LMKV_SERVER",
                                                      os.path.join(REPO, "build/src/lmkv-server")))
    p.add_argument("--cycles", type=int, default=50)
    p.add_argument("--fsync", choices=["always", "everysec", "no"], default="always")
    p.add_argument("--seconds", type=float, default=900.0,
                   help="start no new cycle after this many seconds")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--keys", type=int, default=5000)
    p.add_argument("--counters", type=int, default=100)
    p.add_argument("--write-buffer-size", default="256kb")
    p.add_argument("--threads", type=int, default=2, help="the server's --threads")
    p.add_argument("--keep", action="store_true", help="keep the data dir even on success")
    p.add_argument("--full-disk", type=int, default=0, metavar="MB",
                   help="data dir on a tmpfs of MB MiB, filled before most cycles (root)")
    args = p.parse_args()
    # SIGTERM (a test's timeout) unwinds through the finally below, which kills the server.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(2))
    if args.seed is None:
        args.seed = random.SystemRandom().getrandbits(32)
    rng = random.Random(args.seed)
    print(f"crash-test: seed {args.seed}, {args.cycles} cycles, fsync {args.fsync}, "
          f"{args.clients} clients, {args.keys} keys, write-buffer-size {args.write_buffer_size}",
          flush=True)

    workdir = tempfile.mkdtemp(prefix="lmkv-crash-")
    if args.full_disk:
        mount_tmpfs(os.path.join(workdir, "data"), args.full_disk)
    server = LmkvProcess(args.binary, workdir,
                         ["--fsync", args.fsync, "--write-buffer-size", args.write_buffer_size],
                         threads=args.threads)
    model = Model(args.keys, args.counters)
    passed = failed = 0
    deadline = time.monotonic() + args.seconds
    try:
        server.start()
        for cycle in range(1, args.cycles + 1):
            if time.monotonic() > deadline:
                print(f"time limit of {args.seconds:.0f} s reached, {cycle - 1} cycles run")
                break
            try:
                ok = run_cycle(cycle, server, model, args, rng, deadline)
            except (OSError, RuntimeError, ConnectionError, TimeoutError, AssertionError) as e:
                print(f"cycle {cycle}: FAIL: {type(e).__name__}: {e}", flush=True)
                print(server.log_tail(3000))
                failed += 1
                break  # the model no longer matches the server: stop here
            if ok:
                passed += 1
            else:
                failed += 1
                print(server.log_tail(2000))
    finally:
        if server.running():
            server.kill9()
    print(f"{passed} passed, {failed} failed")
    if failed or args.keep:
        print(f"data dir kept: {workdir} (seed {args.seed})"
              + (" on its tmpfs: umount it when done" if args.full_disk else ""))
    else:
        if args.full_disk:
            subprocess.run(["umount", server.data_dir], capture_output=True, timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
