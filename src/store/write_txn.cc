// store/write_txn.cc: the writer's LMDB write transaction.
#include "store/write_txn.h"

#include <cassert>
#include <utility>

namespace lmkv::store {
namespace {

std::string_view as_view(const MDB_val& v) {
  return {static_cast<const char*>(v.mv_data), v.mv_size};
}

MDB_val as_val(const std::string& s) { return {s.size(), const_cast<char*>(s.data())}; }

}  // namespace

Result<WriteTxn> WriteTxn::begin(Env& env) {
  MDB_txn* txn = nullptr;
  if (int rc = mdb_txn_begin(env.raw(), nullptr, 0, &txn)) return lmdb_error(rc, "txn_begin");
  return WriteTxn(env, txn);
}

WriteTxn::WriteTxn(WriteTxn&& other) noexcept
    : env_(other.env_),
      txn_(std::exchange(other.txn_, nullptr)),
      keybuf_(std::move(other.keybuf_)),
      valbuf_(std::move(other.valbuf_)) {}

WriteTxn::~WriteTxn() { abort(); }

Result<std::optional<ValueView>> WriteTxn::get(int db, std::string_view key, int64_t now_ms) {
  assert(txn_ && db >= 0 && db < env_->databases());
  if (!key_fits(key)) return std::optional<ValueView>{};
  encode_key(key, &keybuf_);
  MDB_val k = as_val(keybuf_), v;
  const int rc = mdb_get(txn_, env_->dbi(db), &k, &v);
  if (rc == MDB_NOTFOUND) return std::optional<ValueView>{};
  if (rc) return lmdb_error(rc, "get");
  auto value = decode_value(as_view(v));
  if (!value) return err("LMDB get: corrupt value");
  if (value->expired(now_ms)) return std::optional<ValueView>{};
  return value;
}

// A failed put (MDB_MAP_FULL, ENOSPC) leaves LMDB's transaction unusable;
// the caller must abort it, which the writer does for the whole group.
Status WriteTxn::put(int db, std::string_view key, const ValueView& value) {
  assert(txn_ && db >= 0 && db < env_->databases());
  if (!key_fits(key)) return err("key too long");
  encode_key(key, &keybuf_);
  encode_value(value, &valbuf_);
  MDB_val k = as_val(keybuf_), v = as_val(valbuf_);
  if (int rc = mdb_put(txn_, env_->dbi(db), &k, &v, 0)) return lmdb_error(rc, "put");
  return {};
}

// Looks the key up and deletes it with one cursor, so the value's deadline
// decides the answer without a second tree descent. An expired key is
// deleted all the same (it was garbage); an undecodable value is deleted
// and counted as live, since something was there.
Result<bool> WriteTxn::del(int db, std::string_view key, int64_t now_ms) {
  assert(txn_ && db >= 0 && db < env_->databases());
  if (!key_fits(key)) return false;
  encode_key(key, &keybuf_);
  MDB_cursor* cur = nullptr;
  if (int rc = mdb_cursor_open(txn_, env_->dbi(db), &cur)) return lmdb_error(rc, "cursor_open");
  MDB_val k = as_val(keybuf_), v;
  int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY);
  if (rc == MDB_NOTFOUND) {
    mdb_cursor_close(cur);
    return false;
  }
  if (rc) {
    mdb_cursor_close(cur);
    return lmdb_error(rc, "cursor_get");
  }
  auto value = decode_value(as_view(v));
  const bool live = !value || !value->expired(now_ms);
  rc = mdb_cursor_del(cur, 0);
  mdb_cursor_close(cur);
  if (rc) return lmdb_error(rc, "del");
  return live;
}

Status WriteTxn::clear(int db) {
  assert(txn_ && db >= 0 && db < env_->databases());
  if (int rc = mdb_drop(txn_, env_->dbi(db), 0)) return lmdb_error(rc, "drop");
  return {};
}

// LMDB frees the transaction whether or not the commit succeeds.
Status WriteTxn::commit() {
  assert(txn_);
  const int rc = mdb_txn_commit(std::exchange(txn_, nullptr));
  if (rc) return lmdb_error(rc, "commit");
  return {};
}

void WriteTxn::abort() {
  if (txn_) mdb_txn_abort(std::exchange(txn_, nullptr));
}

}  // namespace lmkv::store
