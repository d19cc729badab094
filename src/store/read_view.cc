// store/read_view.cc: point reads and ordered range scans over the
// unapplied MemTables and an LMDB snapshot.
#include "store/read_view.h"

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <cstring>
#include <limits>
#include <mutex>

namespace lmkv::store {
namespace {

std::string_view as_view(const MDB_val& v) {
  return {static_cast<const char*>(v.mv_data), v.mv_size};
}

MDB_val as_val(const std::string& s) { return {s.size(), const_cast<char*>(s.data())}; }

// Replaces a bound longer than any key by a key-sized one that selects the
// same keys. With T the first kMaxKeySize bytes of B, every key k that fits
// satisfies k < B exactly when k <= T (k == T is a proper prefix of B, and a
// key greater than T must differ from T within T's length, so it is also
// greater than B), and no key equals B. So "k >= B" and "k > B" both become
// "k > T", and "k <= B" and "k < B" both become "k <= T".
Bound clamp(Bound b, bool is_lo) {
  if (b.infinite || b.key.size() <= kMaxKeySize) return b;
  b.key = b.key.substr(0, kMaxKeySize);
  b.inclusive = !is_lo;
  return b;
}

bool above_lo(std::string_view k, const Bound& lo) {
  return lo.infinite || (lo.inclusive ? k >= lo.key : k > lo.key);
}

bool below_hi(std::string_view k, const Bound& hi) {
  return hi.infinite || (hi.inclusive ? k <= hi.key : k < hi.key);
}

// An LMDB cursor over one database's user keys, positioned at the first key
// of a range in the scan's direction. Read-only cursors are not freed by
// their transaction, so the destructor closes it.
class LmdbSource {
 public:
  ~LmdbSource() {
    if (cur_) mdb_cursor_close(cur_);
  }

  Status open(MDB_txn* txn, MDB_dbi dbi, const Bound& lo, const Bound& hi, bool reverse,
              std::string* keybuf) {
    if (int rc = mdb_cursor_open(txn, dbi, &cur_)) return lmdb_error(rc, "cursor_open");
    reverse_ = reverse;
    int rc;
    if (!reverse) {
      encode_key(lo.infinite ? std::string_view() : lo.key, keybuf);
      k_ = as_val(*keybuf);
      rc = mdb_cursor_get(cur_, &k_, &v_, MDB_SET_RANGE);
      // An exclusive start bound that exists is stepped over once.
      if (rc == 0 && !lo.infinite && !lo.inclusive) {
        auto user = decode_key(as_view(k_));
        if (user && *user == lo.key) rc = mdb_cursor_get(cur_, &k_, &v_, MDB_NEXT);
      }
    } else {
      // "\x01" sorts just past every user key.
      if (hi.infinite) keybuf->assign(1, '\x01');
      else encode_key(hi.key, keybuf);
      k_ = as_val(*keybuf);
      rc = mdb_cursor_get(cur_, &k_, &v_, MDB_SET_RANGE);
      if (rc == MDB_NOTFOUND) {
        rc = mdb_cursor_get(cur_, &k_, &v_, MDB_LAST);
      } else if (rc == 0) {
        auto user = decode_key(as_view(k_));
        if (!user || !below_hi(*user, hi)) rc = mdb_cursor_get(cur_, &k_, &v_, MDB_PREV);
      }
    }
    return settle(rc);
  }

  bool valid() const { return valid_; }
  std::string_view key() const { return key_; }
  std::string_view raw_value() const { return as_view(v_); }
  Status step() { return settle(mdb_cursor_get(cur_, &k_, &v_, reverse_ ? MDB_PREV : MDB_NEXT)); }

 private:
  Status settle(int rc) {
    valid_ = false;
    if (rc == MDB_NOTFOUND) return {};
    if (rc) return lmdb_error(rc, "cursor_get");
    auto user = decode_key(as_view(k_));
    if (!user) return {};  // past the user namespace
    key_ = *user;
    valid_ = true;
    return {};
  }

  MDB_cursor* cur_ = nullptr;
  MDB_val k_{}, v_{};
  std::string_view key_;
  bool reverse_ = false;
  bool valid_ = false;
};

// Positions a MemTable iterator at the first key of the range.
void position(MemTable::Iterator& it, const Bound& lo, const Bound& hi, bool reverse) {
  if (!reverse) {
    if (lo.infinite) it.seek_to_first();
    else if (lo.inclusive) it.seek(lo.key);
    else it.seek_after(lo.key);
  } else {
    if (hi.infinite) it.seek_to_last();
    else if (hi.inclusive) it.seek_for_prev(hi.key);
    else it.seek_before(hi.key);
  }
}

}  // namespace

ReadView::~ReadView() {
  if (txn_) mdb_txn_abort(txn_);
}

void ReadView::end() {
  if (!active_) return;
  mdb_txn_reset(txn_);
  version_.reset();
  active_ = false;
}

// durable_seq, then the Version, then the LMDB snapshot: in this order the
// view misses nothing acknowledged (engine.h). The reset handle is renewed,
// which reuses its reader slot; one whose renewal failed is dropped.
//
// An apply that commits between taking the Version and the snapshot puts in
// LMDB a MemTable whose entries above visible_ the Version's layer still
// hides: a key with an older visible entry in that layer reads old, while a
// key without one falls through to LMDB and reads new (a torn MSET). So the
// snapshot's stored applied offset must be the Version's; if an apply got
// in between, all three are taken again (rare: an LMDB commit must land in
// a window of a few instructions).
Status ReadView::begin() {
  if (active_) return {};
  for (;;) {
    visible_ = see_everything_ ? std::numeric_limits<uint64_t>::max() : engine_.durable_seq();
    version_ = engine_.version();
    if (txn_) {
      if (int rc = mdb_txn_renew(txn_)) {
        mdb_txn_abort(txn_);
        txn_ = nullptr;
        version_.reset();
        return lmdb_error(rc, "txn_renew");
      }
    } else if (int rc = mdb_txn_begin(engine_.env().raw(), nullptr, MDB_RDONLY, &txn_)) {
      txn_ = nullptr;
      version_.reset();
      return lmdb_error(rc, "txn_begin");
    }
    // What the main tree holds (older stores: the applied offset).
    uint64_t applied = 0;
    MDB_val v;
    int rc = MDB_NOTFOUND;
    for (const auto name : {Engine::kMainOffsetKey, Engine::kAppliedOffsetKey}) {
      MDB_val k{name.size(), const_cast<char*>(name.data())};
      rc = mdb_get(txn_, engine_.env().meta_dbi(), &k, &v);
      if (rc != MDB_NOTFOUND) break;
    }
    if (rc == 0 && v.mv_size == 8) std::memcpy(&applied, v.mv_data, 8);
    if (rc != 0 && rc != MDB_NOTFOUND) {
      mdb_txn_reset(txn_);
      version_.reset();
      return lmdb_error(rc, "get applied offset");
    }
    if (applied <= version_->applied_offset) break;
    // The applier committed but has not published yet. Waiting for it
    // here spun the loop, and at nice 0 on a shared core it starved the
    // background applier out of that window: GETs stalled ~100 ms after a
    // write burst. The snapshot is what the next Version will pair with.
    if (auto next = version_->after_apply(applied)) {
      version_ = std::move(next);
      break;
    }
    mdb_txn_reset(txn_);
  }
  // The snapshot's map, then the swaps of the layers this view may see,
  // oldest layer first.
  map_.assign(version_->db_map.begin(), version_->db_map.end());
  const auto& layers = version_->layers;
  for (auto it = layers.rbegin(); it != layers.rend(); ++it)
    if ((*it)->has_swaps()) (*it)->apply_swaps(visible_, &map_);
  active_ = true;
  return {};
}

// Scans and counts merge layers with the main tree only: after a restart
// with staged runs, they wait for the applier to merge those (first thing
// it does; docs/staged-apply.md).
Status ReadView::begin_without_runs() {
  if (auto s = begin(); !s) return s;
  if (version_->runs.empty()) return {};
  end();
  if (auto s = engine_.wait_runs_merged(); !s) return s;
  return begin();
}

// While a merge commits in parts the tree already holds some keys of the
// layers it merges, so a layer's delta against "the state below" must read
// the tree as it was before the merge: its base snapshot (MergeBase). The
// applier publishes the base before the first part commits, so a view
// whose snapshot shows a part (kMergingKey) but whose Version has no base
// took the Version just before: both are taken again, once (the new
// Version has the base). The mark left by a crash mid-merge means nothing
// here: its runs are the restart's (Version::runs), read through or waited
// for, and the restart merges them at once, mark and all.
Status ReadView::begin_for_counts(bool without_runs) {
  for (int tries = 0;; ++tries) {
    if (auto s = without_runs ? begin_without_runs() : begin(); !s) return s;
    if (version_->merge_base || !version_->runs.empty() || tries > 0) return {};
    MDB_val k{kMergingKey.size(), const_cast<char*>(kMergingKey.data())}, v;
    const int rc = mdb_get(txn_, engine_.env().meta_dbi(), &k, &v);
    if (rc == MDB_NOTFOUND) return {};
    end();
    if (rc) return lmdb_error(rc, "get merging");
  }
}

// Points the view's reads at the merge's base, one view at a time, for its
// lifetime; nothing when no merge is under way in parts.
class ReadView::CountBase {
 public:
  explicit CountBase(ReadView& view) : view_(view), own_(view.txn_) {
    if (const auto& base = view.version_->merge_base) {
      lock_ = std::unique_lock(base->mu);
      view.txn_ = base->txn;
    }
  }
  ~CountBase() { view_.txn_ = own_; }
  CountBase(const CountBase&) = delete;
  CountBase& operator=(const CountBase&) = delete;

 private:
  ReadView& view_;
  MDB_txn* own_;
  std::unique_lock<std::mutex> lock_;
};

size_t ReadView::layers_for(int db, bool* cleared) const {
  const auto& layers = version_->layers;
  for (size_t i = 0; i < layers.size(); ++i) {
    if (layers[i]->cleared_at(db, visible_) != 0) {
      *cleared = true;
      return i + 1;
    }
  }
  *cleared = false;
  return layers.size();
}

Result<std::optional<ValueView>> ReadView::get(int db, std::string_view key, int64_t now_ms) {
  assert(db >= 0 && db < engine_.databases());
  if (!key_fits(key)) return std::optional<ValueView>{};
  if (auto s = begin(); !s) return s.error();
  db = physical(db);
  // Each layer's Bloom words and the key filter's block are likely cache
  // misses, independent of each other: all are asked for before the first
  // is waited on.
  const uint64_t h = MemTable::hash(db, key);
  for (const auto& layer : version_->layers) layer->prefetch_filter(h);
  encode_key(key, &keybuf_);
  const KeyFilter* filter = version_->filter.get();
  const uint64_t filter_hash = filter ? KeyFilter::hash(db, keybuf_) : 0;
  if (filter) filter->prefetch(filter_hash);
  for (const auto& layer : version_->layers) {
    auto found = layer->get(h, db, key, visible_);
    switch (found.kind) {
      case MemTable::Kind::kAbsent:
        continue;
      case MemTable::Kind::kValue:
        if (found.value.expired(now_ms)) return std::optional<ValueView>{};
        return std::optional<ValueView>{found.value};
      default:  // a tombstone, or a clear marker newer than the key
        return std::optional<ValueView>{};
    }
  }
  if (!version_->runs.empty()) {
    auto found = run_lookup(db, key);
    if (!found) return found.error();
    if (found->hit == RunHit::kValue && !found->value.expired(now_ms))
      return std::optional<ValueView>{found->value};
    if (found->hit != RunHit::kAbsent) return std::optional<ValueView>{};
  }
  if (filter && !filter->may_contain(filter_hash)) return std::optional<ValueView>{};
  MDB_val k = as_val(keybuf_), v;
  const int rc = mdb_get(txn_, engine_.env().dbi(db), &k, &v);
  if (rc == MDB_NOTFOUND) return std::optional<ValueView>{};
  if (rc) return lmdb_error(rc, "get");
  auto value = decode_value(as_view(v));
  if (!value) return err("LMDB get: corrupt value");
  if (value->expired(now_ms)) return std::optional<ValueView>{};
  return value;
}

Result<KeyCounts> ReadView::share_below(size_t from, int db, std::string_view key) {
  const auto& layers = version_->layers;
  for (size_t j = from; j < layers.size(); ++j) {
    const MemTable::Found found = layers[j]->get(db, key, visible_);
    switch (found.kind) {
      case MemTable::Kind::kAbsent:
        continue;
      case MemTable::Kind::kValue:
        return share_of(found.value);
      default:  // a tombstone, or a clear marker (not below a non-cleared layer)
        return KeyCounts{};
    }
  }
  return lmdb_share(db, key);
}

// ---------------------------------------------------------------------------
// DBSIZE and INFO keyspace
// ---------------------------------------------------------------------------
// A layer's delta is the sum of its entries' changes, in insertion order:
// an entry counts (its key's share of the counts after it) - (the share just
// before it), where a value's share is one key, and one of the keys with a
// deadline if it has one.
// "Just before" is the key's previous entry in the layer, which the layer
// knows (MemTable::LogEntry::before), or, for the key's first entry, the
// state below the layer: the layers below and LMDB always hold the same
// log prefix, so that is the same for every view that sees the entry, and
// each entry's change is fixed once written. The layer keeps how far its
// log has been summed (MemTable::CountProgress), and a call sums only the
// entries added since: O(writes since the last DBSIZE), amortized O(1) per
// write, instead of a walk over the write buffer. Seqs grow along the log,
// so a view's entries are a prefix of it. While counts are being asked
// for, store/counter.h sums ahead of the calls (count_ahead).

namespace {

// Log entries left to sum above which layer_delta walks the layer's keys
// instead (when they are also more than half of the log).
constexpr size_t kWalkAbove = 4096;

}  // namespace

// The change `e` (an entry of layers[i]) makes to its db's counts.
Result<KeyCounts> ReadView::entry_change(size_t i, int db, const MemTable::LogEntry& e) {
  const KeyCounts after{e.value, e.deadline};
  if (e.before >= 0) return after - KeyCounts{e.before, e.before_deadline};
  auto below = share_below(i + 1, db, e.key);
  if (!below) return below.error();
  return after - *below;
}

// The layer's progress, moved to this view's prefix of the log: back over
// entries newer than visible_ (another view got further; few, as both views
// are recent), or on over the entries since the last call. Only client views
// store their progress: the writer's sees undurable entries, and storing
// them would send every client view back over them.
Result<KeyCounts> ReadView::layer_delta(size_t i, int db, size_t* budget) {
  const MemTable& layer = *version_->layers[i];
  const MemTable::CountProgress progress = layer.count_progress(db);
  const size_t size = layer.log_size();  // after the progress: covers it
  if (size == 0 || layer.log_entry(0).seq > visible_) return KeyCounts{};
  if (!layer.seqs_in_order()) return walk_delta(i, db);
  size_t pos = progress.scanned;
  KeyCounts delta = progress.delta;
  for (; pos > 0; --pos) {
    const MemTable::LogEntry e = layer.log_entry(pos - 1);
    if (e.seq <= visible_) break;
    if (e.db != db) continue;
    auto change = entry_change(i, db, e);
    if (!change) return change.error();
    delta -= *change;
  }
  const bool behind = pos < progress.scanned;
  // Much left to sum (a layer no DBSIZE has looked at yet): walking its keys
  // in order is cheaper than probing the layers below and LMDB in insertion
  // (random) order, and gives the delta of the same log prefix.
  if (budget == nullptr && !behind && size - pos > kWalkAbove && size - pos > pos) {
    size_t end = size;  // the first entry newer than visible_ (seqs grow)
    while (pos < end) {
      const size_t mid = pos + (end - pos) / 2;
      if (layer.log_entry(mid).seq > visible_) {
        end = mid;
      } else {
        pos = mid + 1;
      }
    }
    auto walked = walk_delta(i, db);
    if (!walked) return walked.error();
    if (!see_everything_) layer.advance_count(db, {pos, *walked});
    return *walked;
  }
  for (; pos < size; ++pos) {
    const MemTable::LogEntry e = layer.log_entry(pos);
    if (e.seq > visible_) break;
    if (e.db != db) continue;
    if (budget != nullptr) {
      if (*budget == 0) break;
      --*budget;
    }
    auto change = entry_change(i, db, e);
    if (!change) return change.error();
    delta += *change;
  }
  if (!behind && !see_everything_ && pos > progress.scanned) layer.advance_count(db, {pos, delta});
  return delta;
}

// Physical databases in turn, oldest layer first, as key_counts sums them;
// a database cleared in the buffer is left alone (key_counts walks its keys
// then, and keeps no progress).
Result<size_t> ReadView::count_ahead(size_t budget) {
  assert(!see_everything_);
  if (auto s = begin_for_counts(false); !s) return s.error();
  const size_t start = budget;
  Status failed;
  {
    const CountBase base(*this);
    for (int db = 0; db < engine_.databases() && budget > 0 && failed.ok(); ++db) {
      bool cleared = false;
      const size_t n = layers_for(db, &cleared);
      if (cleared) continue;
      for (size_t i = n; i-- > 0 && budget > 0;) {
        if (!version_->layers[i]->logs_db(db)) continue;
        if (auto delta = layer_delta(i, db, &budget); !delta) {
          failed = delta.error();
          break;
        }
      }
    }
  }
  end();
  if (!failed.ok()) return failed.error();
  return start - budget;
}

// Per layer, its log past the least progress of the databases asked for
// (each entry is one database's). A database cleared in the buffer counts
// nothing: key_counts walks its layers' keys, which no counter does ahead.
size_t ReadView::counts_pending(int db) {
  if (auto s = begin(); !s) return 0;
  const int first = db < 0 ? 0 : physical(db);
  const int last = db < 0 ? engine_.databases() - 1 : first;
  size_t pending = 0;
  const auto& layers = version_->layers;
  for (size_t i = 0; i < layers.size(); ++i) {
    size_t from = SIZE_MAX;
    for (int d = first; d <= last; ++d) {
      bool cleared = false;
      if (!layers[i]->logs_db(d)) continue;
      layers_for(d, &cleared);
      if (cleared) continue;
      from = std::min(from, layers[i]->count_progress(d).scanned);
    }
    if (from != SIZE_MAX) pending += layers[i]->log_size() - from;
  }
  return pending;
}

// The layer's delta key by key: each distinct key visible in it counts +1
// if the layer leaves it a value, -1 if it had one below. For a layer whose
// seqs are out of insertion order (never the engine's; MemTable allows it),
// and to catch up on a long stretch of the log at once.
Result<KeyCounts> ReadView::walk_delta(size_t i, int db) {
  KeyCounts delta;
  MemTable::Iterator it(*version_->layers[i], db, visible_);
  for (it.seek_to_first(); it.valid(); it.next()) {
    auto was = share_below(i + 1, db, it.key());
    if (!was) return was.error();
    if (it.entry().kind == MemTable::Kind::kValue) delta += share_of(it.entry().value);
    delta -= *was;
  }
  return delta;
}

// Whether LMDB may hold keybuf_ (an encoded key) in physical `db`: the key
// filter rules most absent keys out without the B+tree descent.
bool ReadView::may_be_in_lmdb(int db) const {
  const KeyFilter* filter = version_->filter.get();
  return !filter || filter->may_contain(KeyFilter::hash(db, keybuf_));
}

// The newest run from before a restart that knows the key (store/runs.h),
// or kAbsent: then the main tree decides.
Result<RunLookup> ReadView::run_lookup(int db, std::string_view key) {
  for (auto run = version_->runs.rbegin(); run != version_->runs.rend(); ++run) {
    auto found = lookup(engine_.env(), txn_, *run, db, key, &runbuf_);
    if (!found || found->hit != RunHit::kAbsent) return found;
  }
  return RunLookup{};
}

Result<KeyCounts> ReadView::lmdb_share(int db, std::string_view key) {
  if (!version_->runs.empty()) {
    auto found = run_lookup(db, key);
    if (!found) return found.error();
    if (found->hit != RunHit::kAbsent)
      return found->hit == RunHit::kValue ? share_of(found->value) : KeyCounts{};
  }
  encode_key(key, &keybuf_);
  if (!may_be_in_lmdb(db)) return KeyCounts{};
  MDB_val k = as_val(keybuf_), v;
  const int rc = mdb_get(txn_, engine_.env().dbi(db), &k, &v);
  if (rc == MDB_NOTFOUND) return KeyCounts{};
  if (rc) return lmdb_error(rc, "get");
  auto value = decode_value(as_view(v));
  if (!value) return err("LMDB get: corrupt value");
  return share_of(*value);
}

Result<uint64_t> ReadView::dbsize(int db) {
  auto counts = key_counts(db);
  if (!counts) return counts.error();
  return static_cast<uint64_t>(counts->keys);
}

// LMDB's counts, corrected key by key for what the layers changed: a key
// the layers hold a value for counts once, a tombstoned one not at all.
Result<KeyCounts> ReadView::key_counts(int db) {
  assert(db >= 0 && db < engine_.databases());
  engine_.note_counts_wanted();
  if (auto s = begin_for_counts(true); !s) return s.error();
  const CountBase base(*this);
  db = physical(db);
  bool cleared = false;
  const size_t n = layers_for(db, &cleared);
  KeyCounts count;
  if (!cleared) {
    MDB_stat st;
    if (int rc = mdb_stat(txn_, engine_.env().dbi(db), &st)) return lmdb_error(rc, "stat");
    auto expires = engine_.stored_expires(txn_);
    if (!expires) return expires.error();
    count = {static_cast<int64_t>(st.ms_entries), (*expires)[static_cast<size_t>(db)]};
    for (size_t i = n; i-- > 0;) {
      // A layer without db's entries changes nothing (INFO keyspace asks
      // every database: the empty ones must not read the whole log).
      if (!version_->layers[i]->logs_db(db)) continue;
      auto delta = layer_delta(i, db);
      if (!delta) return delta.error();
      count += *delta;
    }
    return KeyCounts{std::max<int64_t>(count.keys, 0), std::max<int64_t>(count.expires, 0)};
  }
  // A FLUSHDB in the buffer hides LMDB: count the layers' keys up to it,
  // walking their distinct keys in order (the newest layer wins).
  std::vector<MemTable::Iterator> its;
  its.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    its.emplace_back(*version_->layers[i], db, visible_);
    its.back().seek_to_first();
  }
  for (;;) {
    const MemTable::Iterator* best = nullptr;
    for (auto& it : its)
      if (it.valid() && (!best || it.key() < best->key())) best = &it;
    if (!best) break;
    const std::string_view key = best->key();
    if (best->entry().kind == MemTable::Kind::kValue) count += share_of(best->entry().value);
    for (auto& it : its)
      if (it.valid() && it.key() == key) it.next();
  }
  return count;
}

// Merges the layers (newest first) and an LMDB cursor in key order. At each
// step the smallest key (largest, in reverse) among the sources is taken
// from the newest source holding it, and every source is moved past it.
// Returns the number of keys stepped over (tombstones and expired keys
// included), so bounded-work callers can count them.
Result<uint64_t> ReadView::scan(int db, const Bound& lo_in, const Bound& hi_in, bool reverse,
                                int64_t now_ms, const Visitor& visit) {
  assert(db >= 0 && db < engine_.databases());
  if (auto s = begin_without_runs(); !s) return s.error();
  db = physical(db);
  const Bound lo = clamp(lo_in, true);
  const Bound hi = clamp(hi_in, false);

  bool cleared = false;
  const size_t n = layers_for(db, &cleared);
  std::vector<MemTable::Iterator> its;
  its.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    its.emplace_back(*version_->layers[i], db, visible_);
    position(its.back(), lo, hi, reverse);
  }
  LmdbSource lmdb;
  if (!cleared) {
    if (auto s = lmdb.open(txn_, engine_.env().dbi(db), lo, hi, reverse, &keybuf_); !s)
      return s.error();
  }

  auto before = [reverse](std::string_view a, std::string_view b) {
    return reverse ? a > b : a < b;
  };
  uint64_t stepped = 0;
  for (;;) {
    // The next key in scan order, and the newest source that holds it.
    const MemTable::Iterator* layer = nullptr;
    for (auto& it : its)
      if (it.valid() && (!layer || before(it.key(), layer->key()))) layer = &it;
    const bool from_lmdb =
        lmdb.valid() && (!layer || before(lmdb.key(), layer->key()));
    if (!layer && !lmdb.valid()) break;
    // Views into an arena or an LMDB page: valid until end(), like values.
    const std::string_view key = from_lmdb ? lmdb.key() : layer->key();
    if (reverse ? !above_lo(key, lo) : !below_hi(key, hi)) break;

    std::optional<ValueView> value;
    if (from_lmdb) {
      value = decode_value(lmdb.raw_value());
      if (!value) return err("LMDB scan: corrupt value");
    } else if (layer->entry().kind == MemTable::Kind::kValue) {
      value = layer->entry().value;
    }
    ++stepped;
    const bool live = value && !value->expired(now_ms);
    // The visitor runs before the sources move: `value` may view into them.
    if (live && !visit(key, *value)) break;
    for (auto& it : its) {
      if (!it.valid()) continue;
      if (it.key() == key) reverse ? it.prev() : it.next();
    }
    if (lmdb.valid() && lmdb.key() == key) {
      if (auto s = lmdb.step(); !s) return s.error();
    }
  }
  return stepped;
}

}  // namespace lmkv::store
