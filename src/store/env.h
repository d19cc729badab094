// store/env.h: the LMDB environment in --dir, opened by DESIGN.md's "LMDB
// rules": MDB_NORDAHEAD, MDB_NOTLS, no MDB_WRITEMAP, a huge map size set at
// open, maxreaders sized from the threads, one named database per Redis
// database plus "meta", the expiry index "expires" (MDB_DUPSORT:
// 8-byte big-endian deadline -> physical db byte + user key; see expiry.h)
// and the staged runs' slots "run.0".."run.15" (store/runs.h). All named
// databases are opened at start, so any thread may use the handles
// afterwards, and none is ever closed.
// MDB_WRITEMAP would also make LMDB ftruncate data.mdb to the whole map, a
// sparse file whose holes, written through the map on a full disk, raise
// SIGBUS instead of an error (and it measured slower: BENCHMARKS.md).
// Knows nothing of RESP or commands. No MDB_* code leaves store/: LMDB
// failures become Errors here.
#pragma once

#include <lmdb.h>

#include <memory>
#include <string>
#include <vector>

#include "base/error.h"

namespace lmkv::store {

// When a logged write is on stable storage (see man lmkv-server(1)). It
// governs the write-ahead log only: LMDB transactions are always synced.
enum class Fsync { kAlways, kEverysec, kNo };

struct EnvOptions {
  std::string dir = "./data";
  int databases = 16;
  int readers = 8;                       // read transactions in use at once (loops + tools)
  size_t map_size = size_t{1} << 40;     // 1 TiB: costs nothing without MDB_WRITEMAP
};

class Env {
 public:
  // Creates dir if missing and opens (or creates) the environment.
  static Result<std::unique_ptr<Env>> open(const EnvOptions& options);
  ~Env();
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;

  int databases() const { return static_cast<int>(dbis_.size()); }
  const std::string& dir() const { return dir_; }
  MDB_env* raw() const { return env_; }
  MDB_dbi dbi(int db) const { return dbis_[db]; }
  MDB_dbi meta_dbi() const { return meta_; }
  MDB_dbi expires_dbi() const { return expires_; }
  // The staged runs' databases (store/runs.h): slots, reused once merged.
  static constexpr int kRunSlots = 16;
  MDB_dbi run_dbi(int slot) const { return runs_[static_cast<size_t>(slot)]; }

  // Forces committed transactions to disk (a no-op while every commit syncs).
  Status sync();
  // Bytes of the data file (INFO).
  uint64_t file_size() const;

 private:
  Env() = default;
  MDB_env* env_ = nullptr;
  std::vector<MDB_dbi> dbis_;
  MDB_dbi meta_ = 0;
  MDB_dbi expires_ = 0;
  std::vector<MDB_dbi> runs_;
  std::string dir_;
};

// Turns an LMDB return code into an Error ("LMDB <what>: <text>"; MDB_MAP_FULL,
// ENOSPC and EDQUOT as Code::kOom, "disk or map full: ...").
Error lmdb_error(int rc, std::string_view what);

}  // namespace lmkv::store
