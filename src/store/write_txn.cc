// store/write_txn.cc: a writer group's mutations: MemTable entries plus
// their effects in the group's log payload.
#include "store/write_txn.h"

#include <cassert>
#include <limits>
#include <string>

#include "store/effects.h"

namespace lmkv::store {

WriteTxn::WriteTxn(Engine& engine) : engine_(engine), view_(engine, true) {
  start_weight_ = engine_.active().weight();
}

// The active MemTable freezes only between groups (in commit, tick, flush
// or a SAVE, all on the writer thread), so it is the one the group wrote
// to; if that ever changed, this says 0 rather than wrap around.
size_t WriteTxn::weight() const {
  const size_t now = engine_.active().weight();
  return now > start_weight_ ? now - start_weight_ : 0;
}

Result<std::optional<ValueView>> WriteTxn::get(int db, std::string_view key, int64_t now_ms) {
  return view_.get(db, key, now_ms);
}

// Effects name their database with SELECT only when it changes, as Redis's
// replication stream does.
void WriteTxn::select(int db) {
  if (db == selected_) return;
  append_effect(&payload_, {"SELECT", std::to_string(db)});
  selected_ = db;
}

Status WriteTxn::put(int db, std::string_view key, const ValueView& value) {
  assert(db >= 0 && db < engine_.databases());
  if (!key_fits(key)) return err("key too long");
  last_seq_ = engine_.next_seq();
  const int physical = engine_.physical_db(db);
  engine_.active().put(last_seq_, physical, key, value);
  if (observer_) observer_->touched(db, key);
  select(db);
  if (value.deadline_ms) {
    if (deadlines_) deadlines_->deadline_set(physical, key, value.deadline_ms);
    append_effect(&payload_, {"SET", key, value.data, "PXAT", std::to_string(value.deadline_ms)});
  } else {
    append_effect(&payload_, {"SET", key, value.data});
  }
  return {};
}

// A present key is deleted (and logged) even when it has expired, as
// Redis's lazy expiry does, so DBSIZE stops counting it; only a live one
// counts as deleted. An absent key logs nothing.
Result<bool> WriteTxn::del(int db, std::string_view key, int64_t now_ms) {
  assert(db >= 0 && db < engine_.databases());
  // The earliest possible time: every stored value is still unexpired then.
  auto current = view_.get(db, key, std::numeric_limits<int64_t>::min());
  if (!current) return current.error();
  if (!*current) return false;
  const bool live = !(*current)->expired(now_ms);
  last_seq_ = engine_.next_seq();
  engine_.active().del(last_seq_, engine_.physical_db(db), key);
  if (observer_) observer_->touched(db, key);
  select(db);
  append_effect(&payload_, {"DEL", key});
  return live;
}

Status WriteTxn::clear(int db) {
  assert(db >= 0 && db < engine_.databases());
  last_seq_ = engine_.next_seq();
  engine_.active().clear(last_seq_, engine_.physical_db(db));
  if (observer_) observer_->touched_db(db);
  select(db);
  append_effect(&payload_, {"FLUSHDB"});
  return {};
}

// Swapping a database with itself changes nothing and logs nothing.
Status WriteTxn::swap(int a, int b) {
  assert(a >= 0 && a < engine_.databases() && b >= 0 && b < engine_.databases());
  if (a == b) return {};
  last_seq_ = engine_.next_seq();
  engine_.swap_dbs(last_seq_, a, b);
  if (observer_) {
    observer_->touched_db(a);
    observer_->touched_db(b);
  }
  append_effect(&payload_, {"SWAPDB", std::to_string(a), std::to_string(b)});
  return {};
}

Status WriteTxn::commit() {
  view_.end();
  return engine_.commit(*this);
}

}  // namespace lmkv::store
