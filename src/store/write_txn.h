// store/write_txn.h: the writer's view and mutations of the latest state.
//
// One WriteTxn is one LMDB write transaction; the writer executes a whole
// group of commands in it and commits once (group commit), so MSET and
// every multi-key command is atomic. Handlers validate every argument before
// mutating, so a failure here is an I/O failure, and the writer then aborts
// the whole group: nothing in it is acknowledged.
//
// This is the seam for the write path issue: the same calls will append
// effects to the log and the write buffer instead of LMDB.
// Writer thread only.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"
#include "store/env.h"
#include "store/value.h"

namespace lmkv::store {

class WriteTxn {
 public:
  static Result<WriteTxn> begin(Env& env);
  WriteTxn(WriteTxn&& other) noexcept;
  WriteTxn& operator=(WriteTxn&&) = delete;
  ~WriteTxn();  // aborts if neither committed nor aborted

  // The live value (this transaction's writes included), or nullopt if
  // absent, expired or too long to exist. Valid until the next mutation.
  Result<std::optional<ValueView>> get(int db, std::string_view key, int64_t now_ms);
  // Stores `value` under `key`. The key must fit (key_fits).
  Status put(int db, std::string_view key, const ValueView& value);
  // Deletes `key`; true if a live (unexpired) key was deleted.
  Result<bool> del(int db, std::string_view key, int64_t now_ms);
  // Empties database `db` (FLUSHDB).
  Status clear(int db);

  // Commits; synced to disk when the env's policy is kAlways.
  Status commit();
  void abort();

 private:
  WriteTxn(Env& env, MDB_txn* txn) : env_(&env), txn_(txn) {}
  Env* env_;
  MDB_txn* txn_;
  std::string keybuf_, valbuf_;
};

}  // namespace lmkv::store
