// store/write_txn.h: one writer group: its view of the latest state and
// its mutations.
//
// Reads see everything, including this group's own earlier writes and
// groups not yet durable (an INCR sees the INCR just before it). Each
// mutation goes into the active MemTable under its own seq and appends its
// blind, idempotent effect (SET with an absolute PXAT, DEL, FLUSHDB, SWAPDB) to the
// group's payload (databases are logical in the payload, physical in the
// MemTable); commit() writes the payload to the log as one frame, so
// an MSET or a whole group is never split, and makes the group visible once
// durable. Nothing is rolled back: handlers validate before mutating, and a
// log failure is fatal to the process, which then recovers from the log.
// Writer thread only.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"
#include "store/engine.h"
#include "store/read_view.h"
#include "store/value.h"

namespace lmkv::store {

// Told of every change a group makes, so WATCH sees changes by any client,
// expiry deletions, flushes and swaps alike. Writer thread only.
class TouchObserver {
 public:
  virtual ~TouchObserver() = default;
  virtual void touched(int db, std::string_view key) = 0;
  // Every key of `db` may have changed (FLUSHDB, FLUSHALL, SWAPDB).
  virtual void touched_db(int db) = 0;
};

// Told of every value stored with a deadline (physical db), so active
// expiry can reclaim it before its MemTable is applied and the expiry index
// holds it (store/expiry.h). Writer thread only.
class DeadlineObserver {
 public:
  virtual ~DeadlineObserver() = default;
  virtual void deadline_set(int physical_db, std::string_view key, int64_t deadline_ms) = 0;
};

class WriteTxn {
 public:
  explicit WriteTxn(Engine& engine);
  WriteTxn(const WriteTxn&) = delete;
  WriteTxn& operator=(const WriteTxn&) = delete;

  // The live value (this transaction's writes included), or nullopt if
  // absent, expired or too long to exist. Valid until the next mutation.
  Result<std::optional<ValueView>> get(int db, std::string_view key, int64_t now_ms);
  // Stores `value` under `key`. The key must fit (key_fits).
  Status put(int db, std::string_view key, const ValueView& value);
  // A hint that `key` is written next: starts loading what the write
  // touches first (MemTable::prefetch). Changes nothing.
  void prefetch(int db, std::string_view key) const {
    engine_.active().prefetch(engine_.physical_db(db), key);
  }
  // Deletes `key`; true if a live (unexpired) key was deleted.
  Result<bool> del(int db, std::string_view key, int64_t now_ms);
  // Empties database `db` (FLUSHDB).
  Status clear(int db);
  // Swaps databases a and b (SWAPDB): logged as "SWAPDB a b", visible to
  // readers with the group, like any other effect (see engine.h).
  Status swap(int a, int b);

  // Logs the group and makes it visible once durable (Engine::commit). An
  // error is fatal: the log may hold part of a frame.
  Status commit();

  // Who hears of this group's changes (null: nobody).
  void set_observer(TouchObserver* o) { observer_ = o; }
  // Who hears of the deadlines this group sets (null: nobody).
  void set_deadline_observer(DeadlineObserver* o) { deadlines_ = o; }

  // The group's view (sees everything, this group's writes included), for
  // the reads EXEC runs on the writer.
  ReadView& view() { return view_; }

  const std::string& payload() const { return payload_; }
  // What the group has added to the unapplied count (MemTable::weight), the
  // unit of max_unapplied, for the throttle's pacing. Before commit().
  size_t weight() const;
  uint64_t last_seq() const { return last_seq_; }
  bool empty() const { return payload_.empty(); }

 private:
  void select(int db);

  Engine& engine_;
  ReadView view_;
  std::string payload_;
  int selected_ = -1;  // the db the payload's last SELECT named
  uint64_t last_seq_ = 0;
  size_t start_weight_ = 0;  // the active MemTable's weight at the start
  TouchObserver* observer_ = nullptr;
  DeadlineObserver* deadlines_ = nullptr;
};

}  // namespace lmkv::store
