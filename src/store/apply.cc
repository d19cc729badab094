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
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "base/clock.h"
#include "store/engine.h"
#include "store/expiry.h"
#include "store/runs.h"
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

// What an apply or a merge writes into the main tree with each key: the
// count of keys with a deadline per database (moved by every value written
// over or deleted, so INFO keyspace's expires= needs no read per key), the
// key filters' hashes, and the expiry index's new entries.
class MainWrites {
 public:
  MainWrites(Env& env, MDB_txn* txn, std::vector<int64_t> expiring, bool want_hashes)
      : env_(env), txn_(txn), expiring_(std::move(expiring)), want_hashes_(want_hashes) {}

  // Starts database `db`, emptied first when `cleared`.
  int begin_db(int db, bool cleared) {
    db_ = db;
    if (cleared) {
      if (int rc = mdb_drop(txn_, env_.dbi(db), 0)) return rc;
      expiring_[static_cast<size_t>(db)] = 0;
    }
    out_.emplace(txn_, env_.dbi(db));
    return 0;
  }
  // A key's newest state: `value`, or a tombstone (null). The key views
  // memory that lives until finish().
  int write(std::string_view user_key, const ValueView* value) {
    encode_key(user_key, &key_);
    MDB_val k{key_.size(), key_.data()};
    int64_t& expires_in_db = expiring_[static_cast<size_t>(db_)];
    bool had_deadline = false;
    if (value) {
      if (int rc = out_->put_value(&k, *value, &had_deadline)) return rc;
      expires_in_db += (value->deadline_ms != 0) - had_deadline;
      if (want_hashes_) hashes_.push_back(KeyFilter::hash(db_, key_));
      if (value->deadline_ms != 0)
        index_.push_back({std::max<int64_t>(value->deadline_ms, 1), db_, user_key});
    } else {
      if (int rc = out_->del(&k, nullptr, &had_deadline)) return rc;
      expires_in_db -= had_deadline;
    }
    return 0;
  }
  int end_db() {
    const int rc = out_->finish();
    out_.reset();
    return rc;
  }
  // Deletes the expiry index entries consumed and adds the new ones.
  int write_index(const std::vector<std::string>& consumed) {
    return update_index(env_, txn_, consumed, &index_);
  }
  const std::vector<int64_t>& expiring() const { return expiring_; }
  const std::vector<uint64_t>& hashes() const { return hashes_; }

  // The expiry index's changes: `consumed` raw entries out, `added` in.
  struct NewEntry {
    int64_t deadline_ms;
    int db;
    std::string_view key;
    bool operator<(const NewEntry& o) const {
      return std::tie(deadline_ms, db, key) < std::tie(o.deadline_ms, o.db, o.key);
    }
  };
  static int update_index(Env& env, MDB_txn* txn, const std::vector<std::string>& consumed,
                          std::vector<NewEntry>* added) {
    ChunkedWriter expires(txn, env.expires_dbi());
    for (const auto& raw : consumed) {
      MDB_val k{kDeadlineBytes, const_cast<char*>(raw.data())};
      MDB_val v{raw.size() - kDeadlineBytes, const_cast<char*>(raw.data() + kDeadlineBytes)};
      if (int rc = expires.del(&k, &v, nullptr)) return rc;
    }
    // Sorting (deadline, db, key) sorts the raw entries (the deadline is
    // big-endian, then the db byte and the key), without a string each.
    std::sort(added->begin(), added->end());
    for (const auto& e : *added) {
      const std::string raw = expiry_entry(e.deadline_ms, e.db, e.key);
      MDB_val k{kDeadlineBytes, const_cast<char*>(raw.data())};
      MDB_val v{raw.size() - kDeadlineBytes, const_cast<char*>(raw.data() + kDeadlineBytes)};
      if (int rc = expires.put(&k, &v)) return rc;
    }
    return expires.finish();
  }

 private:
  Env& env_;
  MDB_txn* txn_;
  std::vector<int64_t> expiring_;
  const bool want_hashes_;
  int db_ = 0;
  std::optional<ChunkedWriter> out_;
  std::string key_;
  std::vector<uint64_t> hashes_;
  std::vector<NewEntry> index_;
};

MDB_val meta_val(const void* data, size_t size) { return {size, const_cast<void*>(data)}; }

int put_meta(Env& env, MDB_txn* txn, std::string_view name, const void* data, size_t size) {
  MDB_val k{name.size(), const_cast<char*>(name.data())};
  MDB_val v = meta_val(data, size);
  return mdb_put(txn, env.meta_dbi(), &k, &v, 0);
}

// Commits `txn` with the data file's writeback started alongside (see
// store/writeback.h); the commit's own time into *commit_us.
int commit_with_writeback(Env& env, MDB_txn* txn, uint64_t* commit_us) {
  const int64_t started = unix_us();
  int fd = -1;
  (void)mdb_env_get_fd(env.raw(), &fd);
  int rc;
  {
    EarlyWriteback writeback(fd);
    rc = mdb_txn_commit(txn);
  }
  *commit_us = static_cast<uint64_t>(unix_us() - started);
  return rc;
}

}  // namespace

// The caller holds filter_mu_: every key written goes into the key filters
// before the commit (see engine.h).
Status Engine::apply(const MemTable& frozen, uint64_t end_offset, WalPosition end_position,
                     const std::vector<std::string>& consumed, std::vector<uint8_t>* map) {
  constexpr uint64_t kAll = std::numeric_limits<uint64_t>::max();
  MDB_txn* txn = nullptr;
  if (int rc = mdb_txn_begin(env_->raw(), nullptr, 0, &txn)) return lmdb_error(rc, "txn_begin");
  auto fail = [&](int rc, std::string_view what) {
    mdb_txn_abort(txn);  // and an open child transaction with its cursor
    return Status(lmdb_error(rc, what));
  };
  auto stored = stored_expires(txn);
  if (!stored) {
    mdb_txn_abort(txn);
    return stored.error();
  }
  MainWrites w(*env_, txn, std::move(*stored), filter_ || building_);
  // Entries written so far, told to the prefetch pool now and then so its
  // workers skip what the applier has passed (the same order: db, key).
  constexpr size_t kProgressEvery = 256;
  size_t written = 0;
  for (int db = 0; db < databases(); ++db) {
    if (int rc = w.begin_db(db, frozen.cleared_at(db, kAll) != 0)) return fail(rc, "drop");
    // The iterator yields each key's newest entry after the last clear.
    MemTable::Iterator it(frozen, db, kAll);
    for (it.seek_to_first(); it.valid(); it.next()) {
      if (prefetch_ && ++written % kProgressEvery == 0) prefetch_->applier_at(&frozen, written);
      const bool value = it.entry().kind == MemTable::Kind::kValue;
      if (int rc = w.write(it.key(), value ? &it.entry().value : nullptr)) return fail(rc, "put");
    }
    if (int rc = w.end_db()) return fail(rc, "commit child");
  }
  if (filter_) filter_->add(w.hashes());
  if (building_) building_->add(w.hashes());
  if (int rc = w.write_index(consumed)) return fail(rc, "expiry index");
  auto index_size = index_entries(*env_, txn);
  if (!index_size) {
    mdb_txn_abort(txn);
    return index_size.error();
  }
  if (int rc = put_meta(*env_, txn, kAppliedOffsetKey, &end_offset, sizeof end_offset))
    return fail(rc, "put applied offset");
  if (int rc = put_meta(*env_, txn, kAppliedPositionKey, &end_position, sizeof end_position))
    return fail(rc, "put applied position");
  if (int rc = put_meta(*env_, txn, kMainOffsetKey, &end_offset, sizeof end_offset))
    return fail(rc, "put main offset");
  const auto& expiring = w.expiring();
  if (int rc =
          put_meta(*env_, txn, kExpiresKey, expiring.data(), expiring.size() * sizeof(int64_t)))
    return fail(rc, "put expires counts");
  if (frozen.has_swaps()) {
    frozen.apply_swaps(kAll, map);
    if (int rc = put_meta(*env_, txn, kDbMapKey, map->data(), map->size()))
      return fail(rc, "put db map");
  }
  uint64_t commit_us = 0;
  if (int rc = commit_with_writeback(*env_, txn, &commit_us)) return lmdb_error(rc, "commit");
  stats_.last_apply_commit_us.store(commit_us);
  expiry_entries_.store(*index_size, std::memory_order_release);
  return {};
}

// A staged apply's first half (store/runs.h): `frozen` into run slot
// run->slot, moving the applied offset. The expiry index is the main
// tree's: it changes with the merge (the entries the cycle consumed leave it
// then; a crash before that leaves them, stale, for the cycle to consume
// again).
Status Engine::stage(const MemTable& frozen, uint64_t end_offset, WalPosition end_position,
                     std::vector<uint8_t>* map, const std::vector<RunInfo>& live, RunInfo* run) {
  constexpr uint64_t kAll = std::numeric_limits<uint64_t>::max();
  MDB_txn* txn = nullptr;
  if (int rc = mdb_txn_begin(env_->raw(), nullptr, 0, &txn)) return lmdb_error(rc, "txn_begin");
  auto fail = [&](Status s) {
    mdb_txn_abort(txn);
    return s;
  };
  // A slot left non-empty (a merge's drop is in the merge's transaction,
  // so it cannot be) would mix two runs.
  if (int rc = mdb_drop(txn, env_->run_dbi(run->slot), 0)) return fail(lmdb_error(rc, "empty"));
  if (auto s = stage_run(*env_, txn, frozen, run); !s) return fail(s);
  std::vector<RunInfo> runs = live;
  runs.push_back(*run);
  if (auto s = write_runs(*env_, txn, runs); !s) return fail(s);
  if (int rc = put_meta(*env_, txn, kAppliedOffsetKey, &end_offset, sizeof end_offset))
    return fail(lmdb_error(rc, "put applied offset"));
  if (int rc = put_meta(*env_, txn, kAppliedPositionKey, &end_position, sizeof end_position))
    return fail(lmdb_error(rc, "put applied position"));
  // Unchanged, but stored: readers fall back to the applied offset without it.
  const uint64_t main_offset = main_offset_.load();
  if (int rc = put_meta(*env_, txn, kMainOffsetKey, &main_offset, sizeof main_offset))
    return fail(lmdb_error(rc, "put main offset"));
  if (frozen.has_swaps()) {
    frozen.apply_swaps(kAll, map);
    if (int rc = put_meta(*env_, txn, kDbMapKey, map->data(), map->size()))
      return fail(lmdb_error(rc, "put db map"));
  }
  uint64_t commit_us = 0;
  if (int rc = commit_with_writeback(*env_, txn, &commit_us)) return lmdb_error(rc, "commit");
  return {};
}

// A staged apply's second half: the job's runs into the main tree, the
// newest run winning, after each db's newest clear. In parts: each
// transaction merges every run's entries up to the smallest last key among
// the runs it read only in part, and notes how far it got (kMergingKey);
// nothing else changes until the last, which also writes the consumed
// expiry index entries, empties the slots and moves the main offset. The
// caller holds filter_mu_. A crash between parts leaves every run live: the
// restart merges them again, and rewriting a key with the same newest state
// changes nothing (the deadline counts follow what the tree held).
Status Engine::merge(MergeJob& job, const std::vector<RunInfo>& live, bool* done) {
  MDB_txn* txn = nullptr;
  if (int rc = mdb_txn_begin(env_->raw(), nullptr, 0, &txn)) return lmdb_error(rc, "txn_begin");
  auto fail = [&](Status s) {
    mdb_txn_abort(txn);
    return s;
  };
  const auto& runs = job.runs;
  // The entries view their runs' pages, which nothing changes before the
  // last part empties the slots. Each run is in (db, key) order.
  std::vector<std::vector<RunEntry>> lists(runs.size());
  std::string upto;  // the part's last run key; empty: the rest of every run
  std::string key;
  for (size_t r = 0; r < runs.size(); ++r) {
    bool exhausted = false;
    if (auto s = read_run(*env_, txn, runs[r], job.merged_to, job.part, &lists[r], &exhausted); !s)
      return fail(s);
    if (exhausted || lists[r].empty()) continue;
    run_key(lists[r].back().db, lists[r].back().key, &key);
    if (upto.empty() || key < upto) upto = key;
  }
  const bool last = upto.empty();
  if (!last) {
    for (auto& list : lists) {
      while (!list.empty()) {
        run_key(list.back().db, list.back().key, &key);
        if (key <= upto) break;
        list.pop_back();
      }
    }
  }
  auto stored = stored_expires(txn);
  if (!stored) return fail(stored.error());
  MainWrites w(*env_, txn, std::move(*stored), filter_ || building_);
  std::vector<size_t> at(runs.size(), 0);
  size_t merged = 0;
  for (int db = 0; db < databases(); ++db) {
    // Runs older than the newest that cleared db are hidden for db (a
    // merge with clears is done at once: the drop is of the whole db).
    size_t first = 0;
    for (size_t r = runs.size(); r-- > 0;) {
      if (runs[r].clears(db)) {
        first = r;
        break;
      }
    }
    const bool cleared = runs[first].clears(db);
    for (size_t r = 0; r < first; ++r)
      while (at[r] < lists[r].size() && lists[r][at[r]].db == db) ++at[r];
    if (int rc = w.begin_db(db, cleared)) return fail(lmdb_error(rc, "drop"));
    for (;;) {
      // The smallest key of db among the runs; the newest run's of equals.
      size_t best = runs.size();
      for (size_t r = runs.size(); r-- > first;) {
        if (at[r] == lists[r].size() || lists[r][at[r]].db != db) continue;
        if (best == runs.size() || lists[r][at[r]].key < lists[best][at[best]].key) best = r;
      }
      if (best == runs.size()) break;
      const RunEntry& e = lists[best][at[best]];
      if (int rc = w.write(e.key, e.value ? &*e.value : nullptr))
        return fail(lmdb_error(rc, "put"));
      ++merged;
      for (size_t r = first; r < runs.size(); ++r)
        if (at[r] < lists[r].size() && lists[r][at[r]].db == db && lists[r][at[r]].key == e.key)
          ++at[r];
    }
    if (int rc = w.end_db()) return fail(lmdb_error(rc, "commit child"));
  }
  if (filter_) filter_->add(w.hashes());
  if (building_) building_->add(w.hashes());
  if (int rc = w.write_index(last ? job.consumed : std::vector<std::string>{}))
    return fail(lmdb_error(rc, "expiry index"));
  auto index_size = index_entries(*env_, txn);
  if (!index_size) return fail(index_size.error());
  if (last) {
    for (const auto& run : runs)
      if (int rc = mdb_drop(txn, env_->run_dbi(run.slot), 0)) return fail(lmdb_error(rc, "empty"));
    const std::vector<RunInfo> rest(live.begin() + static_cast<std::ptrdiff_t>(runs.size()),
                                    live.end());
    if (auto s = write_runs(*env_, txn, rest); !s) return fail(s);
    if (int rc = put_meta(*env_, txn, kMainOffsetKey, &job.main_offset, sizeof job.main_offset))
      return fail(lmdb_error(rc, "put main offset"));
    MDB_val marker{kMergingKey.size(), const_cast<char*>(kMergingKey.data())};
    if (int rc = mdb_del(txn, env_->meta_dbi(), &marker, nullptr); rc && rc != MDB_NOTFOUND)
      return fail(lmdb_error(rc, "del merging"));
  } else if (int rc = put_meta(*env_, txn, kMergingKey, upto.data(), upto.size())) {
    return fail(lmdb_error(rc, "put merging"));
  }
  const auto& expiring = w.expiring();
  if (int rc =
          put_meta(*env_, txn, kExpiresKey, expiring.data(), expiring.size() * sizeof(int64_t)))
    return fail(lmdb_error(rc, "put expires counts"));
  uint64_t commit_us = 0;
  if (int rc = commit_with_writeback(*env_, txn, &commit_us)) return lmdb_error(rc, "commit");
  stats_.last_apply_commit_us.store(commit_us);
  stats_.merge_parts.fetch_add(1, std::memory_order_relaxed);
  expiry_entries_.store(*index_size, std::memory_order_release);
  job.merged_to = std::move(upto);
  job.merged += merged;
  *done = last;
  return {};
}

}  // namespace lmkv::store
