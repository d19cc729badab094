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
//
// Cost per key (tests/unit/store/apply_bench.cc measures it). Each write
// goes through a cursor kept open over the pass, not mdb_put: keys come in
// order, and a positioned cursor finds a key on its current leaf without
// descending from the root. Values are encoded straight into the page
// (MDB_RESERVE), not into a string first. And the writes are made in child
// transactions of kKeysPerChild keys each, committed into the apply's
// transaction: LMDB keeps a transaction's dirty pages in an array sorted by
// page number and inserts each newly dirtied page by shifting the entries
// above it, and the pages it reuses from its free list often come below
// those already dirty. With ~30k leaves dirtied per 8 MiB MemTable that
// shifting went quadratic (measured up to ~35k instructions per key, 85% of
// them in that shift, in the applies after a large tree was filled); a
// child's array stays small, and merging it into the parent's is one linear
// pass. Children change nothing else: the parent still commits (and syncs)
// once, all or nothing, and nothing reads the transaction meanwhile. (LMDB
// refuses nested transactions under MDB_WRITEMAP, which store/env.cc does
// not use.)
#include <algorithm>
#include <limits>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "base/clock.h"
#include "store/engine.h"
#include "store/expiry.h"
#include "store/writeback.h"

namespace lmkv::store {
namespace {

// Keys per child transaction: small enough to keep each child's dirty page
// array short, large enough that beginning a child (LMDB copies its free
// page list) and merging it stay a few percent of the work (apply_bench:
// 512 to 4096 all removed the quadratic case; 512 cost ~5% more otherwise).
constexpr size_t kKeysPerChild = 2048;

// Writes into one database of `parent` in child transactions of up to
// kKeysPerChild changes, each through one cursor. After an error the caller
// aborts `parent`, which ends an open child and its cursor too.
class ChunkedWriter {
 public:
  ChunkedWriter(MDB_txn* parent, MDB_dbi dbi) : parent_(parent), dbi_(dbi) {}
  ChunkedWriter(const ChunkedWriter&) = delete;
  ChunkedWriter& operator=(const ChunkedWriter&) = delete;

  // Stores k -> v (mdb_put's semantics, flags 0).
  int put(MDB_val* k, MDB_val* v) {
    if (int rc = next()) return rc;
    return mdb_cursor_put(cur_, k, v, 0);
  }
  // Stores k -> the encoding of `value`, encoded straight into the page
  // (MDB_RESERVE: not for MDB_DUPSORT databases). *had_deadline: whether
  // the value written over had one. A new key takes one search; a key
  // already there is found by the same search (MDB_NOOVERWRITE hands back
  // its value) and rewritten in place (MDB_CURRENT does not search again),
  // also encoded straight into the page.
  int put_value(MDB_val* k, const ValueView& value, bool* had_deadline) {
    if (int rc = next()) return rc;
    const size_t size = encoded_value_size(value);
    MDB_val v{size, nullptr};
    int rc = mdb_cursor_put(cur_, k, &v, MDB_NOOVERWRITE | MDB_RESERVE);
    *had_deadline = rc == MDB_KEYEXIST && deadline_of(v) != 0;
    if (rc == MDB_KEYEXIST) {
      v = MDB_val{size, nullptr};
      rc = mdb_cursor_put(cur_, k, &v, MDB_CURRENT | MDB_RESERVE);
    }
    if (rc == 0) encode_value(value, static_cast<char*>(v.mv_data));
    return rc;
  }
  // Deletes key k (exact_data null) or, in a MDB_DUPSORT database, only its
  // value *exact_data; an absent one is not an error (mdb_del's semantics).
  // *had_deadline (if asked): whether the value deleted had one.
  int del(MDB_val* k, MDB_val* exact_data, bool* had_deadline) {
    if (int rc = next()) return rc;
    MDB_val data = exact_data ? *exact_data : MDB_val{0, nullptr};
    int rc = mdb_cursor_get(cur_, k, &data, exact_data ? MDB_GET_BOTH : MDB_SET);
    if (had_deadline) *had_deadline = rc == 0 && deadline_of(data) != 0;
    if (rc == 0) rc = mdb_cursor_del(cur_, 0);
    return rc == MDB_NOTFOUND ? 0 : rc;
  }
  // Commits the open child into the parent; call once done (or before the
  // parent is used again).
  int finish() {
    if (!child_) return 0;
    mdb_cursor_close(cur_);
    cur_ = nullptr;
    const int rc = mdb_txn_commit(child_);  // on failure it aborts the child
    child_ = nullptr;
    return rc;
  }

 private:
  static int64_t deadline_of(const MDB_val& v) {
    auto value = decode_value({static_cast<const char*>(v.mv_data), v.mv_size});
    return value ? value->deadline_ms : 0;
  }
  // Before each change: ends a full child, begins one if none is open.
  int next() {
    if (child_ && changes_ == kKeysPerChild) {
      if (int rc = finish()) return rc;
    }
    if (child_) {
      ++changes_;
      return 0;
    }
    if (int rc = mdb_txn_begin(mdb_txn_env(parent_), parent_, 0, &child_)) {
      child_ = nullptr;
      return rc;
    }
    if (int rc = mdb_cursor_open(child_, dbi_, &cur_)) return rc;
    changes_ = 1;
    return 0;
  }

  MDB_txn* parent_;
  MDB_dbi dbi_;
  MDB_txn* child_ = nullptr;
  MDB_cursor* cur_ = nullptr;
  size_t changes_ = 0;
};

}  // namespace

// The caller holds filter_mu_: every key written goes into the key filters
// before the commit (see engine.h).
Status Engine::apply(const MemTable& frozen, uint64_t end_offset, WalPosition end_position,
                     const std::vector<std::string>& consumed, std::vector<uint8_t>* map) {
  constexpr uint64_t kAll = std::numeric_limits<uint64_t>::max();
  MDB_txn* txn = nullptr;
  if (int rc = mdb_txn_begin(env_->raw(), nullptr, 0, &txn)) return lmdb_error(rc, "txn_begin");
  std::string key;
  // New expiry index entries, as (deadline, db, key) with the deadline
  // clamped as expiry_entry does: sorting these sorts the raw entries (the
  // deadline is big-endian, then the db byte and the key), without a string
  // each to compare. The keys point into `frozen`.
  struct NewEntry {
    int64_t deadline_ms;
    int db;
    std::string_view key;
    bool operator<(const NewEntry& o) const {
      return std::tie(deadline_ms, db, key) < std::tie(o.deadline_ms, o.db, o.key);
    }
  };
  std::vector<NewEntry> index;
  // Keys written, for the key filters: added together after the pass.
  std::vector<uint64_t> filter_hashes;
  // Entries written so far, told to the prefetch pool now and then so its
  // workers skip what the applier has passed (the same order: db, key).
  constexpr size_t kProgressEvery = 256;
  size_t written = 0;
  auto fail = [&](int rc, std::string_view what) {
    mdb_txn_abort(txn);  // and an open child transaction with its cursor
    return Status(lmdb_error(rc, what));
  };
  // Keys with a deadline per database, moved by every value written over
  // or deleted (INFO keyspace's expires=, without a read per key).
  auto stored = stored_expires(txn);
  if (!stored) {
    mdb_txn_abort(txn);
    return stored.error();
  }
  std::vector<int64_t> expiring = std::move(*stored);
  for (int db = 0; db < databases(); ++db) {
    const MDB_dbi dbi = env_->dbi(db);
    int64_t& expires_in_db = expiring[static_cast<size_t>(db)];
    if (frozen.cleared_at(db, kAll) != 0) {
      if (int rc = mdb_drop(txn, dbi, 0)) return fail(rc, "drop");
      expires_in_db = 0;
    }
    ChunkedWriter out(txn, dbi);
    // The iterator yields each key's newest entry after the last clear.
    MemTable::Iterator it(frozen, db, kAll);
    for (it.seek_to_first(); it.valid(); it.next()) {
      if (prefetch_ && ++written % kProgressEvery == 0) prefetch_->applier_at(&frozen, written);
      encode_key(it.key(), &key);
      MDB_val k{key.size(), key.data()};
      bool had_deadline = false;
      if (it.entry().kind == MemTable::Kind::kValue) {
        if (int rc = out.put_value(&k, it.entry().value, &had_deadline)) return fail(rc, "put");
        expires_in_db += (it.entry().value.deadline_ms != 0) - had_deadline;
        if (filter_ || building_) filter_hashes.push_back(KeyFilter::hash(db, key));
        if (it.entry().value.deadline_ms != 0)
          index.push_back({std::max<int64_t>(it.entry().value.deadline_ms, 1), db, it.key()});
      } else {
        if (int rc = out.del(&k, nullptr, &had_deadline)) return fail(rc, "del");
        expires_in_db -= had_deadline;
      }
    }
    if (int rc = out.finish()) return fail(rc, "commit child");
  }
  if (filter_) filter_->add(filter_hashes);
  if (building_) building_->add(filter_hashes);
  ChunkedWriter expires(txn, env_->expires_dbi());
  for (const auto& raw : consumed) {
    MDB_val k{kDeadlineBytes, const_cast<char*>(raw.data())};
    MDB_val v{raw.size() - kDeadlineBytes, const_cast<char*>(raw.data() + kDeadlineBytes)};
    if (int rc = expires.del(&k, &v, nullptr)) return fail(rc, "del expiry entry");
  }
  std::sort(index.begin(), index.end());
  for (const auto& e : index) {
    const std::string raw = expiry_entry(e.deadline_ms, e.db, e.key);
    MDB_val k{kDeadlineBytes, const_cast<char*>(raw.data())};
    MDB_val v{raw.size() - kDeadlineBytes, const_cast<char*>(raw.data() + kDeadlineBytes)};
    if (int rc = expires.put(&k, &v)) return fail(rc, "put expiry entry");
  }
  if (int rc = expires.finish()) return fail(rc, "commit child");
  auto index_size = index_entries(*env_, txn);
  if (!index_size) {
    mdb_txn_abort(txn);
    return index_size.error();
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
  if (int rc = put_meta(kExpiresKey, expiring.data(), expiring.size() * sizeof(int64_t)))
    return fail(rc, "put expires counts");
  if (frozen.has_swaps()) {
    frozen.apply_swaps(kAll, map);
    if (int rc = put_meta(kDbMapKey, map->data(), map->size())) return fail(rc, "put db map");
  }
  const int64_t commit_started = unix_us();
  int rc;
  {
    int fd = -1;
    (void)mdb_env_get_fd(env_->raw(), &fd);
    EarlyWriteback writeback(fd);  // while the commit writes its pages (store/writeback.h)
    rc = mdb_txn_commit(txn);
  }
  if (rc != 0) return lmdb_error(rc, "commit");
  stats_.last_apply_commit_us.store(static_cast<uint64_t>(unix_us() - commit_started));
  expiry_entries_.store(*index_size, std::memory_order_release);
  return {};
}

}  // namespace lmkv::store
