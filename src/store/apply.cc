// store/apply.cc: one frozen MemTable into LMDB (DESIGN.md "Bulk apply").
//
// One frozen MemTable is exactly one LMDB write transaction: databases it
// cleared are dropped first, then every key's newest entry is written in
// key order (so each leaf is touched once, in order), and the log offset the
// MemTable ends at is stored in the same transaction. LMDB therefore always
// equals the log at its stored offset: a crash mid-apply loses nothing, and
// recovery replays from that offset without applying anything twice.
#include <cstring>
#include <limits>
#include <string>

#include "store/engine.h"

namespace lmkv::store {

Status Engine::apply(const MemTable& frozen, uint64_t end_offset, WalPosition end_position) {
  constexpr uint64_t kAll = std::numeric_limits<uint64_t>::max();
  MDB_txn* txn = nullptr;
  if (int rc = mdb_txn_begin(env_->raw(), nullptr, 0, &txn)) return lmdb_error(rc, "txn_begin");
  std::string key, value;
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
      encode_key(it.key(), &key);
      MDB_val k{key.size(), key.data()};
      if (it.entry().kind == MemTable::Kind::kValue) {
        encode_value(it.entry().value, &value);
        MDB_val v{value.size(), value.data()};
        if (int rc = mdb_put(txn, dbi, &k, &v, 0)) return fail(rc, "put");
      } else if (int rc = mdb_del(txn, dbi, &k, nullptr); rc && rc != MDB_NOTFOUND) {
        return fail(rc, "del");
      }
    }
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
  if (int rc = mdb_txn_commit(txn)) return lmdb_error(rc, "commit");
  return {};
}

}  // namespace lmkv::store
