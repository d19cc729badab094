// store/snapshot.h: SAVE/BGSAVE's copy of the whole environment.
//
// A snapshot is a compacted copy of the LMDB file (mdb_env_copy2 with
// MDB_CP_COMPACT) in <dir>/snapshot/data.mdb, without a log. The copy reads
// from its own read transaction, so writers and the applier go on while it
// runs; and since every LMDB commit stores the log offset it covers, the
// copy equals the log at the offset it stores. The caller first makes LMDB
// hold everything acknowledged (Engine::freeze + wait_applied), so the
// snapshot holds at least that. A server started on the snapshot directory
// finds no log and starts the log at the snapshot's offset.
//
// Layout: the copy is made in <dir>/snapshot.tmp/ and synced, then renamed
// to <dir>/snapshot/ (a previous snapshot is renamed to snapshot.old first
// and removed last), so <dir>/snapshot is always a whole snapshot or none.
//
// Knows nothing of RESP, the writer or the loops. Any thread, one snapshot
// at a time per directory (the caller serialises them).
#pragma once

#include <cstdint>
#include <string>

#include "base/error.h"
#include "store/env.h"

namespace lmkv::store {

struct SnapshotInfo {
  std::string path;     // <dir>/snapshot
  uint64_t offset = 0;  // the log offset the snapshot holds everything before
  uint64_t bytes = 0;   // size of its data.mdb
};

// The directory names inside the data directory.
inline constexpr std::string_view kSnapshotDir = "snapshot";

// Copies `env` with compaction into <into>/snapshot (see above). `into` is
// usually env's own directory.
Result<SnapshotInfo> write_snapshot(Env& env, const std::string& into);

// The applied log offset stored in an environment directory's meta
// database, read without a server (MDB_RDONLY).
Result<uint64_t> read_stored_offset(const std::string& dir);

}  // namespace lmkv::store
