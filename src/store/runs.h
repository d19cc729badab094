// store/runs.h: staged runs, the form a frozen MemTable takes in LMDB
// between its stage and its merge (docs/staged-apply.md).
//
// With --staged-runs K > 1 the applier does not write a frozen MemTable
// into the main tree at once: it appends it, in key order, to a run (one of
// Env's run slots) in a transaction that also stores the log offset the
// MemTable ends at, so a restart replays only the log past it. Once K runs
// are waiting (or the applier is idle) one transaction merges them all into
// the main tree and empties their slots: each leaf is rewritten once per K
// buffers, not once per buffer.
//
// A run's key is the physical db byte and the user key (so a run holds
// every database, in the order the apply iterates: db, then key bytewise);
// its value is the encoded value, or empty for a tombstone. Meta "runs"
// lists the live runs, oldest first: per run its slot and the databases its
// MemTable cleared (FLUSHDB/FLUSHALL), whose older entries it hides.
//
// The expiry index and the keys-with-a-deadline counts are the main
// tree's: a stage leaves them alone, the merge moves them.
//
// Readers of a running server never look at runs: a staged MemTable stays
// in the Version until its merge is published. After a restart the runs are
// not in memory: the Version lists them (Version::runs) and point reads go
// through them (lookup()) until the applier, which merges them first, is
// done; scans and counts wait for that (ReadView).
#pragma once

#include <lmdb.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "store/env.h"
#include "store/memtable.h"
#include "store/value.h"

namespace lmkv::store {

struct RunInfo {
  int slot = 0;
  std::array<uint64_t, MemTable::kDbCount / 64> cleared{};  // physical dbs

  bool clears(int db) const { return (cleared[static_cast<size_t>(db) >> 6] >> (db & 63)) & 1; }
  void set_cleared(int db) { cleared[static_cast<size_t>(db) >> 6] |= uint64_t{1} << (db & 63); }
};

// The meta database's key for the live runs, oldest first.
inline constexpr std::string_view kRunsKey = "runs";

// The live runs as `txn` sees them (none if the key is absent).
Result<std::vector<RunInfo>> read_runs(const Env& env, MDB_txn* txn);
// Stores `runs` as the live ones (deletes the key when empty).
Status write_runs(const Env& env, MDB_txn* txn, const std::vector<RunInfo>& runs);

// A run's key for (physical db, user key), into *out.
void run_key(int db, std::string_view key, std::string* out);

// Writes `frozen`'s newest entries (after its last clear of each db) into
// the empty slot run->slot of `txn`, and the dbs it cleared into *run.
Status stage_run(const Env& env, MDB_txn* txn, const MemTable& frozen, RunInfo* run);

// A point read in one run, as ReadView sees it after a restart.
enum class RunHit { kAbsent, kValue, kTombstone, kCleared };
struct RunLookup {
  RunHit hit = RunHit::kAbsent;
  ValueView value;  // kValue: views into the run's page (valid with the txn)
};
Result<RunLookup> lookup(const Env& env, MDB_txn* txn, const RunInfo& run, int db,
                         std::string_view key, std::string* keybuf);

// One entry of a run, read for a merge: views into its page.
struct RunEntry {
  int db;
  std::string_view key;            // the user key
  std::optional<ValueView> value;  // nullopt: a tombstone
};
// Up to `limit` entries of `run` in order, after run key `after` (from the
// first when empty); *exhausted: the run has no more.
Status read_run(const Env& env, MDB_txn* txn, const RunInfo& run, std::string_view after,
                size_t limit, std::vector<RunEntry>* out, bool* exhausted);

// The meta database's key present while a merge is under way in several
// transactions (Engine::merge): the run key it has merged up to. The main
// tree then holds the newest state of the runs' keys up to it, and its
// older state beyond.
inline constexpr std::string_view kMergingKey = "merging";

}  // namespace lmkv::store
