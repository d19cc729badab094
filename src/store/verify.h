// store/verify.h: an offline check of an environment directory (lmkv-check).
//
// Opens the LMDB file read-only (MDB_RDONLY: it works with or without a
// server on the directory, since LMDB readers never block its writer) and
// checks, from one read transaction:
//   - the data file is as long as LMDB's meta page says (a truncated file
//     would fault on access, so nothing else is read then);
//   - the named databases are "0".."N-1", "meta", "expires" and the staged
//     runs' slots "run.N" (store/runs.h; a live run's entries are not checked);
//   - meta: applied_offset (8 bytes), applied_position, db_map (a
//     permutation of at most N databases);
//   - every record: a user key of at most 510 bytes, a value that decodes
//     (store/value.h);
//   - every value with a deadline has its expiry index entry (store/expiry.h;
//     the other direction is only a hint: entries whose value is gone or has
//     another deadline are counted as stale, not as problems);
// then reads the log after the applied offset (Wal::scan): frames, and why
// it stops. A torn tail is what a crash leaves and recovery cuts, so it is a
// note; whole segments after a bad frame are a problem (recovery drops them).
// Knows nothing of RESP or the server. Any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/error.h"
#include "store/wal.h"

namespace lmkv::store {

struct VerifyOptions {
  std::string dir;
  int64_t now_ms = 0;        // for counting expired values; 0: now
  size_t max_problems = 20;  // messages kept (all are counted)
};

struct VerifyDb {
  int physical = 0;
  int logical = 0;  // per the stored db_map
  uint64_t keys = 0;
  uint64_t with_deadline = 0;
  uint64_t expired = 0;  // deadline passed, not yet reclaimed
  uint64_t value_bytes = 0;
};

struct VerifyReport {
  uint64_t file_bytes = 0;
  uint64_t used_bytes = 0;  // pages in use up to LMDB's last page
  uint64_t applied_offset = 0;
  bool has_applied_offset = false;
  // Staged runs (store/runs.h) not yet merged into the databases, and the
  // slots for them. Their entries are newer than the databases' and are
  // not checked here.
  uint64_t live_runs = 0;
  uint64_t run_slots = 0;
  std::string db_map;  // "0 1 2 ..." (logical order), "" if identity
  std::vector<VerifyDb> dbs;
  uint64_t index_entries = 0;
  uint64_t index_stale = 0;
  WalScan log;
  uint64_t problem_count = 0;
  std::vector<std::string> problems;  // the first max_problems
  std::vector<std::string> notes;
  bool healthy() const { return problem_count == 0; }
};

// Checks the environment in options.dir. An error: it could not be opened
// at all (no data.mdb, not an LMDB file); the report's problems are
// everything else.
Result<VerifyReport> verify_environment(const VerifyOptions& options);

}  // namespace lmkv::store
