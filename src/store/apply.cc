// store/apply.cc: one frozen MemTable into LMDB (DESIGN.md "Bulk apply").
//
// One frozen MemTable is exactly one LMDB write transaction: databases it
// cleared are dropped first, then every key's newest entry is written in
// key order (so each leaf is touched once, in order), and the log offset the
// MemTable ends at is stored in the same transaction. LMDB therefore always
// equals the log at its stored offset: a crash mid-apply loses nothing, and
// recovery replays from that offset without applying anything twice.
//
// The same transaction maintains the expiry index (store/expiry.h): it first
// deletes the entries the expiry cycle consumed while this MemTable was the
// active one (so together with the DELs the cycle logged into it), then
// adds one entry per applied value with a deadline, in index order. It
// never reads to remove an old deadline's entry (no extra read per put):
// such stale entries are dropped by the cycle when their deadline comes.
// A MemTable holding SWAPDB markers also stores the new database map.
#include <algorithm>
#include <cstring>
#include <limits>
#include <string>

#include "base/clock.h"
#include "store/engine.h"
#include "store/expiry.h"

namespace lmkv::store {

Status Engine::apply(const MemTable& frozen, uint64_t end_offset, WalPosition end_position,
                     const std::vector<std::string>& consumed, std::vector<uint8_t>* map) {
  constexpr uint64_t kAll = std::numeric_limits<uint64_t>::max();
  MDB_txn* txn = nullptr;
  if (int rc = mdb_txn_begin(env_->raw(), nullptr, 0, &txn)) return lmdb_error(rc, "txn_begin");
  std::string key, value;
  std::vector<std::string> index;  // new expiry index entries
  // Entries written so far, told to the prefetch pool now and then so its
  // workers skip what the applier has passed (the same order: db, key).
  constexpr size_t kProgressEvery = 256;
  size_t written = 0;
  auto fail = [&](int rc, std::string_view what) {
    mdb_txn_abort(txn);
    return Status(lmdb_error(rc, what));
  };
  for (int db = 0; db < databases(); ++db) {
    const MDB_dbi dbi = env_->dbi(db);
    if (frozen.cleared_at(db, kAll) != 0) {
      if (int rc = mdb_drop(txn, dbi, 0)) return fail(rc, "drop");
    }
    // The iterator yields each key's newest entry after the last clear.
    MemTable::Iterator it(frozen, db, kAll);
    for (it.seek_to_first(); it.valid(); it.next()) {
      if (prefetch_ && ++written % kProgressEvery == 0) prefetch_->applier_at(&frozen, written);
      encode_key(it.key(), &key);
      MDB_val k{key.size(), key.data()};
      if (it.entry().kind == MemTable::Kind::kValue) {
        encode_value(it.entry().value, &value);
        MDB_val v{value.size(), value.data()};
        if (int rc = mdb_put(txn, dbi, &k, &v, 0)) return fail(rc, "put");
        if (it.entry().value.deadline_ms != 0)
          index.push_back(expiry_entry(it.entry().value.deadline_ms, db, it.key()));
      } else if (int rc = mdb_del(txn, dbi, &k, nullptr); rc && rc != MDB_NOTFOUND) {
        return fail(rc, "del");
      }
    }
  }
  const MDB_dbi expires = env_->expires_dbi();
  for (const auto& raw : consumed) {
    MDB_val k{kDeadlineBytes, const_cast<char*>(raw.data())};
    MDB_val v{raw.size() - kDeadlineBytes, const_cast<char*>(raw.data() + kDeadlineBytes)};
    if (int rc = mdb_del(txn, expires, &k, &v); rc && rc != MDB_NOTFOUND)
      return fail(rc, "del expiry entry");
  }
  std::sort(index.begin(), index.end());
  for (const auto& raw : index) {
    MDB_val k{kDeadlineBytes, const_cast<char*>(raw.data())};
    MDB_val v{raw.size() - kDeadlineBytes, const_cast<char*>(raw.data() + kDeadlineBytes)};
    if (int rc = mdb_put(txn, expires, &k, &v, 0)) return fail(rc, "put expiry entry");
  }
  auto put_meta = [&](std::string_view name, const void* data, size_t size) {
    MDB_val k{name.size(), const_cast<char*>(name.data())};
    MDB_val v{size, const_cast<void*>(data)};
    return mdb_put(txn, env_->meta_dbi(), &k, &v, 0);
  };
  if (int rc = put_meta(kAppliedOffsetKey, &end_offset, sizeof end_offset))
    return fail(rc, "put applied offset");
  if (int rc = put_meta(kAppliedPositionKey, &end_position, sizeof end_position))
    return fail(rc, "put applied position");
  if (frozen.has_swaps()) {
    frozen.apply_swaps(kAll, map);
    if (int rc = put_meta(kDbMapKey, map->data(), map->size())) return fail(rc, "put db map");
  }
  const int64_t commit_started = unix_us();
  if (int rc = mdb_txn_commit(txn)) return lmdb_error(rc, "commit");
  stats_.last_apply_commit_us.store(static_cast<uint64_t>(unix_us() - commit_started));
  return {};
}

}  // namespace lmkv::store
