// store/engine.cc: recovery, group commit, freezing, and the applier.
#include "store/engine.h"

#include <fmt/format.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/log.h"
#include "base/numbers.h"
#include "base/thread.h"
#include "store/effects.h"
#include "store/expiry.h"
#include "store/write_txn.h"

namespace lmkv::store {
namespace {

// Adds a duration to `total`, raises `max` to it, and counts it in `slow`
// past 100 ms. One thread writes each set; INFO reads.
void note_max(std::atomic<uint64_t>& max, std::atomic<uint64_t>& total, int64_t us,
              std::atomic<uint64_t>* slow) {
  const auto d = static_cast<uint64_t>(std::max<int64_t>(0, us));
  total.fetch_add(d, std::memory_order_relaxed);
  if (d > max.load(std::memory_order_relaxed)) max.store(d, std::memory_order_relaxed);
  if (slow && d > 100'000) slow->fetch_add(1, std::memory_order_relaxed);
}

struct Applied {
  uint64_t offset = 0;
  WalPosition position;
  std::string db_map;  // empty: never swapped (the identity)
  uint64_t main_offset = 0;   // what the main tree holds (the offset, without runs)
  std::vector<RunInfo> runs;  // staged, not merged
};

// The stored map for `databases` databases: the identity extended by any
// databases added since it was written. A map that is not a permutation, or
// names more databases than configured, is refused rather than guessed at.
Result<std::vector<uint8_t>> make_map(std::string_view stored, int databases) {
  std::vector<uint8_t> map(static_cast<size_t>(databases));
  for (int i = 0; i < databases; ++i) map[static_cast<size_t>(i)] = static_cast<uint8_t>(i);
  if (stored.size() > map.size())
    return err("the data has more databases than --databases allows (SWAPDB map)");
  std::vector<bool> seen(map.size(), false);
  for (size_t i = 0; i < stored.size(); ++i) {
    const auto p = static_cast<uint8_t>(stored[i]);
    if (p >= stored.size() || seen[p]) return err("corrupt SWAPDB map in LMDB");
    seen[p] = true;
    map[i] = p;
  }
  return map;
}

// The log offset (and its place in the log) LMDB holds everything before.
Result<Applied> read_applied(Env& env) {
  MDB_txn* txn = nullptr;
  if (int rc = mdb_txn_begin(env.raw(), nullptr, MDB_RDONLY, &txn)) return lmdb_error(rc, "txn");
  Applied applied;
  auto get = [&](std::string_view name, void* out, size_t size) {
    MDB_val k{name.size(), const_cast<char*>(name.data())}, v;
    int rc = mdb_get(txn, env.meta_dbi(), &k, &v);
    if (rc == 0 && v.mv_size == size) std::memcpy(out, v.mv_data, size);
    return rc == MDB_NOTFOUND ? 0 : rc;
  };
  int rc = get(Engine::kAppliedOffsetKey, &applied.offset, 8);
  applied.main_offset = applied.offset;
  if (rc == 0) rc = get(Engine::kMainOffsetKey, &applied.main_offset, 8);
  if (rc == 0) rc = get(Engine::kAppliedPositionKey, &applied.position, sizeof(WalPosition));
  if (rc == 0) {
    const auto name = Engine::kDbMapKey;
    MDB_val k{name.size(), const_cast<char*>(name.data())}, v;
    rc = mdb_get(txn, env.meta_dbi(), &k, &v);
    if (rc == 0) applied.db_map.assign(static_cast<const char*>(v.mv_data), v.mv_size);
    if (rc == MDB_NOTFOUND) rc = 0;
  }
  if (rc) {
    mdb_txn_abort(txn);
    return lmdb_error(rc, "get applied offset");
  }
  auto runs = read_runs(env, txn);
  mdb_txn_abort(txn);
  if (!runs) return runs.error();
  applied.runs = std::move(*runs);
  return applied;
}

// The stored per-database counts of keys with a deadline, or nullopt if
// the store predates them.
Result<std::optional<std::vector<int64_t>>> read_expires(const Env& env, MDB_txn* txn) {
  const auto name = Engine::kExpiresKey;
  MDB_val k{name.size(), const_cast<char*>(name.data())}, v;
  const int rc = mdb_get(txn, env.meta_dbi(), &k, &v);
  if (rc == MDB_NOTFOUND) return std::optional<std::vector<int64_t>>{};
  if (rc) return lmdb_error(rc, "get expires counts");
  // Databases added since the counts were stored have none.
  std::vector<int64_t> counts(static_cast<size_t>(env.databases()), 0);
  std::memcpy(counts.data(), v.mv_data, std::min(v.mv_size, counts.size() * sizeof(int64_t)));
  return std::optional{std::move(counts)};
}

// A store written before the bulk apply counted keys with a deadline gets
// its counts once, from every value's header (O(keys), at the first start
// of this version only), stored at once. If they cannot be stored (a full
// disk) the counts are returned, for the engine to keep until its first
// apply stores them; nullopt once they are stored.
Result<std::optional<std::vector<int64_t>>> count_expires_once(const Env& env) {
  using Counted = std::optional<std::vector<int64_t>>;
  MDB_txn* txn = nullptr;
  if (int rc = mdb_txn_begin(env.raw(), nullptr, 0, &txn)) return lmdb_error(rc, "txn_begin");
  auto fail = [&](int rc, std::string_view what) {
    mdb_txn_abort(txn);
    return lmdb_error(rc, what);
  };
  auto stored = read_expires(env, txn);
  if (!stored || *stored) {
    mdb_txn_abort(txn);
    if (!stored) return stored.error();
    return Counted{};
  }
  std::vector<int64_t> counts(static_cast<size_t>(env.databases()), 0);
  for (int db = 0; db < env.databases(); ++db) {
    MDB_cursor* cur = nullptr;
    if (int rc = mdb_cursor_open(txn, env.dbi(db), &cur)) return fail(rc, "cursor_open");
    MDB_val k, v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
      auto value = decode_value({static_cast<const char*>(v.mv_data), v.mv_size});
      if (value && value->deadline_ms != 0) ++counts[static_cast<size_t>(db)];
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND) return fail(rc, "cursor_get");
  }
  const auto name = Engine::kExpiresKey;
  MDB_val k{name.size(), const_cast<char*>(name.data())};
  MDB_val v{counts.size() * sizeof(int64_t), counts.data()};
  const char* step = "put";
  int rc = mdb_put(txn, env.meta_dbi(), &k, &v, 0);
  if (rc == 0) {
    step = "commit";
    rc = mdb_txn_commit(txn);
  } else {
    mdb_txn_abort(txn);
  }
  if (rc == 0) return Counted{};
  log::warning(
      "cannot store the counts of keys with a deadline yet ({}); the first bulk "
      "apply stores them",
      lmdb_error(rc, step).message);
  return Counted{std::move(counts)};
}

}  // namespace

Result<std::vector<int64_t>> Engine::stored_expires(MDB_txn* txn) const {
  auto counts = read_expires(*env_, txn);
  if (!counts) return counts.error();
  // Absent only while an older store's counts wait for the first apply.
  if (!*counts) return unstored_expires_;
  return std::move(**counts);
}

// Replays one logged group into the active MemTable, without reading LMDB:
// effects are blind, so their order alone decides the state. The group is
// parsed whole first so that each key's write buffer lines can be
// prefetched a few effects before its insert (a replay is a stream of
// inserts at random places), and the hash the hint computed serves the
// insert too.
Status Engine::replay(uint64_t start, WalPosition at, std::string_view payload,
                      const std::shared_ptr<const void>& owner, ReplayState* state) {
  constexpr size_t kAhead = 8;
  auto& args = state->args;  // every effect's, in order
  auto& effects = state->effects;
  auto& hashes = state->hashes;
  args.clear();
  effects.clear();
  if (auto parsed = parse_effects(payload, &args, &effects); !parsed) return parsed;
  // A buffer whose hash index would grow is frozen before this group: the
  // next one's index is a block the pool faulted in on another core, where a
  // doubled index is fresh memory faulted in here (4 MiB: ~10 ms on the VM
  // of BENCHMARKS.md's stop 21).
  if (active_->entries() > 0 && active_->index_room() < effects.size()) {
    std::lock_guard lock(mu_);
    freeze_locked(start, at);
  }
  if (owner) active_->hold(owner);
  hashes.assign(effects.size(), {-1, 0});
  auto effect = [&](size_t i) {
    return std::span<const std::string_view>(args).subspan(effects[i].first, effects[i].count);
  };
  auto prefetch = [&](size_t i) {
    if (i >= effects.size()) return;
    const EffectOp op = effects[i].op;
    if ((op == EffectOp::kSet || op == EffectOp::kDel) && effects[i].count >= 2) {
      const int db = physical_db(state->db);
      hashes[i] = {db, MemTable::hash(db, args[effects[i].first + 1])};
      active_->prefetch(hashes[i].hash);
    }
  };
  for (size_t i = 0; i < kAhead; ++i) prefetch(i);
  for (size_t i = 0; i < effects.size(); ++i) {
    prefetch(i + kAhead);
    if (auto s = replay_effect(effects[i].op, effect(i), owner != nullptr, hashes[i], &state->db);
        !s)
      return s;
  }
  return {};
}

Status Engine::replay_effect(EffectOp op, std::span<const std::string_view> a, bool borrow,
                             const ReplayState::Hashed& hashed, int* db) {
  auto bad = [&] { return err(fmt::format("log: malformed {} effect", a[0])); };
  switch (op) {
    case EffectOp::kSelect: {
      auto n = parse_i64(a.size() == 2 ? a[1] : "");
      if (!n || *n < 0 || *n >= databases()) return bad();
      *db = static_cast<int>(*n);
      break;
    }
    case EffectOp::kSet: {
      if (a.size() != 3 && a.size() != 5) return bad();
      ValueView v{.type = Type::kString, .data = a[2]};
      if (a.size() == 5) {
        auto at = parse_i64(a[4]);
        if (!at || !iequals(a[3], "PXAT")) return bad();
        v.deadline_ms = *at;
      }
      if (borrow && hashed.db == physical_db(*db)) {
        active_->put_borrowed(next_seq(), hashed.db, a[1], v, hashed.hash);
      } else if (borrow) {
        active_->put_borrowed(next_seq(), physical_db(*db), a[1], v);
      } else {
        active_->put(next_seq(), physical_db(*db), a[1], v);
      }
      break;
    }
    case EffectOp::kDel:
      if (a.size() != 2) return bad();
      active_->del(next_seq(), physical_db(*db), a[1]);
      break;
    case EffectOp::kFlushDb:
      active_->clear(next_seq(), physical_db(*db));
      break;
    case EffectOp::kFlushAll: {
      const uint64_t seq = next_seq();
      for (int d = 0; d < databases(); ++d) active_->clear(seq, d);
      break;
    }
    case EffectOp::kSwapDb: {
      auto x = parse_i64(a.size() == 3 ? a[1] : "");
      auto y = parse_i64(a.size() == 3 ? a[2] : "");
      if (!x || !y || *x < 0 || *y < 0 || *x >= databases() || *y >= databases()) return bad();
      swap_dbs(next_seq(), static_cast<int>(*x), static_cast<int>(*y));
      break;
    }
    case EffectOp::kOther:  // PING, REPLCONF and other stream-only records
      break;
  }
  return {};
}

Result<std::unique_ptr<Engine>> Engine::open(const EngineOptions& options) {
  const int64_t started = unix_us();
  std::unique_ptr<Engine> e(new Engine());
  e->options_ = options;
  e->options_.staged_runs = std::clamp(options.staged_runs, 1, Env::kRunSlots);
  e->applier_paused_ = options.applier_paused;
  e->fsync_ = options.fsync;
  EnvOptions env_options = options.env;
  // One slot per prefetcher (an invalid count is left for Env::open to refuse).
  // And one for the key filter's builds, one for the counter.
  if (env_options.readers >= 1) env_options.readers += std::max(0, options.prefetch_threads) + 2;
  auto env = Env::open(env_options);
  if (!env) return env.error();
  e->env_ = std::move(*env);
  auto applied = read_applied(*e->env_);
  if (!applied) return applied.error();
  auto counted = count_expires_once(*e->env_);
  if (!counted) return counted.error();
  e->unstored_expires_ = counted->value_or(std::vector<int64_t>(e->databases(), 0));
  auto index = index_entries(*e->env_);
  if (!index) return index.error();
  e->expiry_entries_ = *index;
  auto map = make_map(applied->db_map, e->databases());
  if (!map) return map.error();
  e->writer_map_ = *map;
  e->staged_map_ = *map;
  e->applied_map_ = std::move(*map);
  // Runs staged before the restart: readers see them below the replayed
  // layers until the applier, first thing, merges them.
  e->runs_ = applied->runs;
  e->restart_runs_ = e->runs_.size();
  e->restart_runs_end_ = applied->offset;
  e->main_offset_ = applied->runs.empty() ? applied->offset : applied->main_offset;
  // Kept blocks: up to the bound's worth, what the buffers take in turn.
  e->pages_ = std::make_shared<PagePool>(options.max_unapplied);
  e->active_ = std::make_shared<MemTable>(options.write_buffer_size, e->pages_);
  ReplayState replaying;
  WalOptions wal_options{.dir = options.env.dir + "/log",
                         .segment_bytes = options.segment_bytes,
                         .allocate = options.log_allocate};
  auto wal = Wal::open(wal_options, applied->offset, applied->position,
                       [&](uint64_t start, WalPosition at, std::string_view payload,
                           const std::shared_ptr<const void>& owner) {
                         // A replay fills fresh memory as fast as it can: another core faults
                         // it in ahead (up to the bound, all a replay normally fills).
                         if (e->stats_.replayed_frames.fetch_add(1, std::memory_order_relaxed) == 0)
                           e->pages_->fill(options.max_unapplied);
                         // Each frame starts a fresh SELECT context, as the writer's groups do.
                         replaying.db = 0;
                         return e->replay(start, at, payload, owner, &replaying);
                       });
  if (!wal) return wal.error();
  e->wal_ = std::move(*wal);
  if (auto s = e->wal_->set_direct(options.log_direct && options.fsync == Fsync::kAlways); !s)
    return s.error();
  e->wal_->set_sync_on_roll(options.fsync == Fsync::kAlways);
  // A start with no room for the log (a full disk, or no inode for its
  // segment file) serves reads and refuses writes from the first one on.
  Status reserved = e->wal_->reserve(options.log_headroom);
  if (auto s = e->note_log_space(std::move(reserved), e->wal_->out_of_descriptors());
      !s && s.error().code != Code::kOom)
    return s.error();
  e->durable_seq_ = e->last_seq_;
  e->applied_offset_ = applied->offset;
  e->log_end_ = e->wal_->end_offset();
  e->durable_offset_ = e->wal_->end_offset();
  e->log_disk_bytes_ = e->wal_->disk_bytes();
  e->active_since_ms_ = mono_ms();
  e->last_sync_ms_ = mono_ms();
  {
    std::lock_guard lock(e->mu_);
    // What was replayed goes to LMDB behind the scenes, not before serving.
    if (e->active_->entries() > 0) e->freeze_locked();
    e->publish_locked();
  }
  // After the replay, which its threads' start would only slow; before the
  // applier, which tells it where it is. The replayed MemTable is its first job.
  if (options.prefetch_threads > 0) {
    e->prefetch_ =
        std::make_unique<Prefetcher>(*e->env_, e->databases(), options.prefetch_threads,
                                     options.prefetch_lookahead, options.prefetch_max_ahead);
    if (e->options_.staged_runs == 1)
      for (const auto& f : e->frozen_) e->prefetch_->enqueue(f.table);
  }
  e->maybe_build_filter();
  e->applier_ = std::thread([raw = e.get()] { raw->applier_main(); });
  e->syncer_ = std::thread([raw = e.get()] { raw->syncer_main(); });
  if (options.count_ahead_ms > 0)
    e->counter_ = std::make_unique<Counter>(*e, std::chrono::milliseconds(options.count_ahead_ms));
  e->stats_.recovery_us = static_cast<uint64_t>(unix_us() - started);
  return e;
}

Engine::~Engine() {
  counter_.reset();
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  applier_cv_.notify_all();
  if (applier_.joinable()) applier_.join();
  // After the applier, the only one that starts builds.
  filter_stop_ = true;
  if (filter_thread_.joinable()) filter_thread_.join();
  prefetch_.reset();
  stop_syncer();
  if (wal_) (void)wal_->sync();
}

void Engine::note_counts_wanted() {
  const int64_t now = mono_ms();
  // One store a millisecond at most: DBSIZE in a tight loop shares no line.
  if (counts_wanted_ms_.load(std::memory_order_relaxed) != now)
    counts_wanted_ms_.store(now, std::memory_order_relaxed);
}

std::shared_ptr<const Version> Engine::version() const {
  std::lock_guard lock(mu_);
  return version_;
}

size_t Engine::unapplied_bytes() const {
  std::lock_guard lock(mu_);
  return unapplied_locked();
}

// Staged MemTables are in LMDB (a restart does not replay them): only the
// others count.
size_t Engine::unapplied_locked() const {
  size_t total = active_->weight();
  for (size_t i = staged_frozen_locked(); i < frozen_.size(); ++i)
    total += frozen_[i].table->weight();
  return total;
}

size_t Engine::staged_frozen_locked() const { return runs_.size() - restart_runs_; }

size_t Engine::staged_runs() const {
  std::lock_guard lock(mu_);
  return runs_.size();
}

// Rebuilds the readers' Version from the active and frozen MemTables.
void Engine::publish_locked() {
  auto v = std::make_shared<Version>();
  v->applied_offset = main_offset_.load(std::memory_order_acquire);
  v->db_map = applied_map_;
  v->runs.assign(runs_.begin(), runs_.begin() + static_cast<std::ptrdiff_t>(restart_runs_));
  v->runs_end = restart_runs_ > 0 ? restart_runs_end_ : 0;
  v->filter = filter_;
  v->merge_base = merge_base_;
  v->layers.reserve(frozen_.size() + 1);
  v->layers.push_back(active_);
  v->layer_ends.push_back(UINT64_MAX);
  for (auto it = frozen_.rbegin(); it != frozen_.rend(); ++it) {
    v->layers.push_back(it->table);
    v->layer_ends.push_back(it->end_offset);
  }
  version_ = std::move(v);
}

// Mirrors the applier: each applied layer's swaps go into the map the way
// apply() stores it.
std::shared_ptr<const Version> Version::after_apply(uint64_t applied) const {
  auto v = std::make_shared<Version>(*this);
  // Runs from before a restart are older than every layer, and merged
  // all at once.
  if (!v->runs.empty() && v->runs_end <= applied) {
    v->applied_offset = v->runs_end;
    v->runs.clear();
    v->runs_end = 0;
  }
  while (v->layers.size() > 1 && v->layer_ends.back() <= applied) {
    const MemTable& oldest = *v->layers.back();
    if (oldest.has_swaps()) oldest.apply_swaps(std::numeric_limits<uint64_t>::max(), &v->db_map);
    v->applied_offset = v->layer_ends.back();
    v->layers.pop_back();
    v->layer_ends.pop_back();
  }
  if (v->applied_offset != applied) return nullptr;
  v->merge_base = nullptr;  // the tree holds the whole merge now
  // The apply may have added its keys only to a filter that replaced this
  // Version's since (a build completing in between): read without one.
  v->filter = nullptr;
  return v;
}

MergeBase::~MergeBase() {
  if (txn) mdb_txn_abort(txn);
}

std::shared_ptr<const KeyFilter> Engine::key_filter() const {
  std::lock_guard lock(mu_);
  return filter_;
}

// Starts a build when there is no filter or it is full, none is running,
// and reading every key is cheap enough (key_filter_max_data). Past that
// size a full filter stays as long as it still rules out most absent keys.
void Engine::maybe_build_filter() {
  if (!options_.key_filter) return;
  std::lock_guard flock(filter_mu_);
  if (building_ || (filter_ && !filter_->full())) return;
  if (env_->file_size() > options_.key_filter_max_data) {
    if (filter_ && filter_->fill_ratio() > 0.9) {
      std::lock_guard lock(mu_);
      filter_.reset();
      publish_locked();
    }
    return;
  }
  uint64_t keys = 0;
  MDB_txn* txn = nullptr;
  if (mdb_txn_begin(env_->raw(), nullptr, MDB_RDONLY, &txn) != 0) return;
  for (int db = 0; db < databases(); ++db) {
    MDB_stat st;
    if (mdb_stat(txn, env_->dbi(db), &st) == 0) keys += st.ms_entries;
  }
  mdb_txn_abort(txn);
  if (filter_thread_.joinable()) filter_thread_.join();  // the last build, finished
  // Room for 4x the keys: rebuilds read every key, so they are rare (a
  // store grown to N keys has read ~N/3 keys for them), at up to 40 bits
  // a key just after one (10 when it fills).
  building_ = std::make_shared<KeyFilter>(std::max(4 * keys, options_.key_filter_min_keys));
  filter_thread_ = std::thread([this, f = building_] { filter_main(f); });
}

// The build: a scan of LMDB at the lowest priority, then the filter goes
// to readers with the next Version.
void Engine::filter_main(std::shared_ptr<KeyFilter> filter) {
  become_background_thread("lmkv-filter");
  const int64_t started = mono_us();
  const Status s = filter->fill(*env_, filter_stop_);
  std::lock_guard flock(filter_mu_);
  building_.reset();
  if (!s) {
    if (!filter_stop_) log::warning("key filter build failed: {}", s.error().message);
    return;
  }
  log::verbose("key filter built in {:.1f} ms: room for {} keys, {:.0f}% set",
               (mono_us() - started) / 1000.0, filter->capacity(), filter->fill_ratio() * 100);
  std::lock_guard lock(mu_);
  filter_ = std::move(filter);
  stats_.filter_builds.fetch_add(1, std::memory_order_relaxed);
  publish_locked();
}

// Hands the active MemTable to the applier and starts a new one. Only at a
// group boundary, so a group never straddles two MemTables.
void Engine::freeze_locked() { freeze_locked(wal_->end_offset(), wal_->end_position()); }

void Engine::freeze_locked(uint64_t end_offset, WalPosition end_position) {
  frozen_.push_back({active_, end_offset, end_position, std::move(active_drops_)});
  active_drops_.clear();
  // The pool reads ahead of an apply's pass over the tree; a staged run's
  // merge makes none it could follow.
  if (prefetch_ && options_.staged_runs == 1) prefetch_->enqueue(frozen_.back().table);
  active_ = std::make_shared<MemTable>(options_.write_buffer_size, pages_);
  active_since_ms_ = mono_ms();
  applier_cv_.notify_one();
}

int Engine::logical_db(int physical) const {
  for (size_t i = 0; i < writer_map_.size(); ++i)
    if (writer_map_[i] == physical) return static_cast<int>(i);
  return -1;
}

void Engine::swap_dbs(uint64_t seq, int a, int b) {
  active_->swap(seq, a, b);
  std::swap(writer_map_[static_cast<size_t>(a)], writer_map_[static_cast<size_t>(b)]);
}

void Engine::drop_expiry_entries(std::vector<std::string>&& raw) {
  if (raw.empty()) return;
  stats_.expiry_index_dropped.fetch_add(raw.size(), std::memory_order_relaxed);
  if (active_drops_.empty()) {
    active_drops_ = std::move(raw);
  } else {
    for (auto& r : raw) active_drops_.push_back(std::move(r));
  }
}

Status Engine::note_log_space(Status reserved, bool no_descriptor) {
  if (!reserved && reserved.error().code != Code::kOom) return reserved;  // fatal
  const bool full = !reserved.ok();
  const bool no_fd = full && no_descriptor;
  const bool was_no_fd = log_no_fd_.exchange(no_fd, std::memory_order_relaxed);
  if (full != log_full_.exchange(full, std::memory_order_relaxed) || no_fd != was_no_fd) {
    if (no_fd) {
      log::warning("out of file descriptors: {}; writes are refused until one is free",
                   reserved.error().message);
    } else if (full) {
      log::warning("disk full: {}; writes are refused until space is freed",
                   reserved.error().message);
    } else {
      log::notice("{} is available again for the log; writes are accepted",
                  was_no_fd ? "a file descriptor" : "disk space");
    }
  }
  return reserved;
}

// Once the log is full every group is refused until tick() finds room for
// the headroom plus a margin: without that, small groups that still fit
// would run between refused large ones, and the state would flap.
Status Engine::admit(uint64_t bytes) {
  auto refuse = [this](std::string_view why) {
    stats_.space_refusals.fetch_add(1, std::memory_order_relaxed);
    return Status(Error{Code::kOom, std::string(why)});
  };
  if (log_full_.load(std::memory_order_relaxed)) return refuse("the log is waiting for space");
  if (apply_failing_.load(std::memory_order_relaxed) &&
      unapplied_bytes() > options_.max_unapplied)
    return refuse("bulk applies are failing and max-unapplied-bytes is reached");
  Status reserved;
  bool no_descriptor = false;
  {
    std::lock_guard wal_lock(wal_mu_);
    const int64_t started = mono_us();
    reserved = wal_->reserve(bytes + options_.log_headroom);
    note_max(stats_.log_write_max_us, stats_.log_write_us, mono_us() - started,
             &stats_.slow_log_writes);
    no_descriptor = wal_->out_of_descriptors();
  }
  if (!reserved && reserved.error().code == Code::kOom)
    stats_.space_refusals.fetch_add(1, std::memory_order_relaxed);
  return note_log_space(std::move(reserved), no_descriptor);
}

bool Engine::writes_refused() const {
  if (log_full()) return true;
  return apply_failing() && unapplied_bytes() > options_.max_unapplied;
}

Status Engine::commit(WriteTxn& group) {
  const Fsync policy = fsync_.load(std::memory_order_relaxed);
  if (!group.empty()) {
    std::unique_lock wal_lock(wal_mu_);
    const int64_t write_started = mono_us();
    auto start = wal_->append(group.payload());
    note_max(stats_.log_write_max_us, stats_.log_write_us, mono_us() - write_started,
             &stats_.slow_log_writes);
    // The frame outgrew what admit() reserved (an effect larger than its
    // command, e.g. EXPIRE of a huge value) and the disk is full. Nothing
    // was written, but the group's entries cannot leave the MemTable: wait
    // for space (segments released by applies, or freed by the operator)
    // for a while, then give up (the caller exits; recovery loses nothing
    // acknowledged).
    constexpr int kHoldTries = 600;  // a minute in 100 ms steps
    for (int i = 0; !start && start.error().code == Code::kOom && i < kHoldTries; ++i) {
      if (i == 0)
        log::warning("disk full while logging a {}-byte group; waiting for space: {}",
                     group.payload().size(), start.error().message);
      wal_lock.unlock();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      wal_lock.lock();
      wal_->release_before(applied_offset_.load(std::memory_order_acquire));
      start = wal_->append(group.payload());
    }
    if (!start) return start.error();
    if (policy == Fsync::kAlways) {
      const int64_t sync_started = mono_us();
      if (auto s = wal_->sync(); !s) return s;
      note_max(stats_.log_sync_max_us, stats_.log_sync_us, mono_us() - sync_started,
               &stats_.slow_log_syncs);
      stats_.syncs.fetch_add(1, std::memory_order_relaxed);
    } else {
      log_unsynced_ = true;
    }
    stats_.groups.fetch_add(1, std::memory_order_relaxed);
    stats_.group_bytes.fetch_add(group.payload().size(), std::memory_order_relaxed);
    log_end_.store(wal_->end_offset(), std::memory_order_relaxed);
    if (policy == Fsync::kAlways) durable_offset_.store(wal_->end_offset());
  }
  // Durable as the policy defines it: readers may now see the group.
  if (group.last_seq() != 0) durable_seq_.store(group.last_seq(), std::memory_order_release);
  if (const double per_weight = apply_cpu_ns_per_weight_.load(std::memory_order_relaxed);
      per_weight > 0)
    owe_applier(static_cast<int64_t>(per_weight * static_cast<double>(group.weight())));

  if (active_->weight() >= options_.write_buffer_size) {
    std::lock_guard lock(mu_);
    freeze_locked();
    publish_locked();
  }
  // The writer paces itself (throttle()) once the group's replies are out.
  // Applied segments are released by the applier (applier_main), whose
  // unlinks then cost the writer nothing.
  return {};
}

// max-unapplied-bytes bounds the log a restart replays (its time: ~35 ms
// for 32 MiB here) and the memory the frozen MemTables hold (beyond RAM an
// apply can take a second; a wait of 50 ms per freeze let a 256 MiB-capped
// server grow them past the cap and be OOM-killed). So past soft_bound()
// every group waits about as long as the applier needs for its weight (the
// last apply's rate), longer the closer to the bound, at most kMaxPause:
// writers slow down smoothly. Past the bound a group waits for an apply to
// finish (bounded too), so neither grows past it by more than a group. The
// wait comes after the group's replies (server/writer.cc): it delays the
// next group, not the acknowledgement of this one.
void Engine::throttle(size_t group_weight) {
  constexpr auto kMaxPause = std::chrono::milliseconds(50);
  constexpr auto kMaxHardWait = std::chrono::seconds(1);
  const size_t bound = options_.max_unapplied;
  const size_t soft = soft_bound();
  std::unique_lock lock(mu_);
  const size_t now = unapplied_locked();
  if (!apply_error_.ok()) return;
  if (now <= soft) {
    if (!pace_due()) return;
    // The applier starves and is owed: pay it a slice (see pace_due()) of
    // 2 ms, or twice what this group costs it when that is more (a -P 16
    // group of MSETs costs ~6 ms: paid 2 ms a time, the runs outgrew their
    // slots). Smaller slices kept up less well (1 ms: all 16 slots full
    // within a 3M-SET run), larger ones lengthened the tail (BENCHMARKS.md
    // "Stop 34").
    constexpr int64_t kSliceUs = 2000;
    const auto group_us =
        static_cast<int64_t>(2.0 * apply_cpu_ns_per_weight_.load(std::memory_order_relaxed) *
                             static_cast<double>(group_weight) / 1000.0);
    const int64_t wait_us = std::min(
        {pace_debt_ns_.load(std::memory_order_relaxed) / 1000, std::max(kSliceUs, group_us),
         static_cast<int64_t>(std::chrono::microseconds(kMaxPause).count())});
    stats_.paced_groups.fetch_add(1, std::memory_order_relaxed);
    stats_.paced_us.fetch_add(static_cast<uint64_t>(wait_us), std::memory_order_relaxed);
    progress_cv_.wait_for(lock, std::chrono::microseconds(wait_us));
    return;
  }
  stats_.slowdowns.fetch_add(1, std::memory_order_relaxed);
  if (now > bound) {
    const int64_t wait_started = mono_us();
    progress_cv_.wait_for(lock, kMaxHardWait, [&] {
      return stopping_ || !apply_error_.ok() || unapplied_locked() <= bound;
    });
    stats_.throttle_waits.fetch_add(1, std::memory_order_relaxed);
    note_max(stats_.throttle_wait_max_us, stats_.throttle_wait_us, mono_us() - wait_started,
             nullptr);
    return;
  }
  // In the bound's unit, weight: paced by log bytes (an INCR logs ~45, but
  // weighs 187), small entries outran the applier and met the hard wait.
  const double apply_us = static_cast<double>(stats_.last_apply_us.load());
  const double apply_weight = static_cast<double>(
      std::max<uint64_t>(stats_.last_apply_bytes.load(),
                         stats_.last_apply_entries.load() * MemTable::kMinEntryWeight));
  double us_per_weight = apply_weight > 0 ? apply_us / apply_weight : 0;
  double wait_us = us_per_weight > 0 ? static_cast<double>(group_weight) * us_per_weight : 1000.0;
  wait_us *= 1.0 + 4.0 * static_cast<double>(now - soft) / static_cast<double>(bound - soft);
  // The apply in progress frees its weight only when it ends, so the room
  // left under the bound must last until then: at least room/remaining
  // apart per unit of weight. Its end is its weight at the last pace, or at
  // its own pace so far once it is slower (beyond RAM one 8 MiB apply took
  // 0.4 s and the next 1.7 s); an overdue one is given a quarter of its
  // time so far again. Pacing by the last apply's rate alone let the buffer
  // being filled reach the bound during such a slower apply: 24 hard waits,
  // up to 0.8 s, in one run beyond RAM. (Groups weighing a large part of a
  // buffer, -P 16 MSETs, still meet one per apply: BENCHMARKS.md "Stop 30".)
  if (const int64_t since = applying_since_us_.load(std::memory_order_relaxed); since > 0) {
    const double weight = static_cast<double>(applying_weight_.load(std::memory_order_relaxed));
    const double elapsed = static_cast<double>(mono_us() - since);
    // A merge of staged runs takes about as long as the last one did.
    const auto merge_us = applying_merge_us_.load(std::memory_order_relaxed);
    const double expected =
        std::max(merge_us > 0 ? static_cast<double>(merge_us) : weight * us_per_weight, elapsed);
    const double remaining = std::max(expected - elapsed, elapsed / 4);
    const double room = static_cast<double>(bound - now);
    if (room > 0) wait_us = std::max(wait_us, static_cast<double>(group_weight) * remaining / room);
  }
  wait_us = std::min(wait_us, static_cast<double>(
                                  std::chrono::microseconds(kMaxPause).count()));
  progress_cv_.wait_for(lock, std::chrono::microseconds(static_cast<int64_t>(wait_us)));
}

// The pace. A group costs the applier CPU time later: its stage, and its
// share of a merge. Where the applier has a core of its own that costs the
// writers nothing; where it shares one with a busy loop, at nice 19, it
// runs only when the loop sleeps, which left alone happened near the
// throttle's bound, in pauses of up to 50 ms (BENCHMARKS.md "Stop 34").
// So each committed group owes the applier its weight's CPU time, the
// applier's running pays that off, and while it starves (it waited for a CPU more than
// kStarvedShare of the last sample) and is owed more than kAllowanceNs,
// groups pause a slice at a time (throttle(), at most 2 ms). Owed time is
// capped, so an applier idle for long is not paid for it later.
void Engine::owe_applier(int64_t ns) {
  constexpr int64_t kMaxDebtNs = 1'000'000'000;
  int64_t cur = pace_debt_ns_.load(std::memory_order_relaxed);
  while (!pace_debt_ns_.compare_exchange_weak(cur, std::clamp<int64_t>(cur + ns, 0, kMaxDebtNs),
                                              std::memory_order_relaxed)) {
  }
}

bool Engine::pace_due() {
  constexpr int64_t kPaceSampleUs = 1000;
  constexpr double kStarvedShare = 0.1;
  constexpr int64_t kAllowanceNs = 1'000'000;
  const int64_t now = mono_us();
  if (now - pace_sampled_us_.load(std::memory_order_relaxed) < kPaceSampleUs)
    return pace_due_.load(std::memory_order_relaxed);
  std::unique_lock lock(pace_mu_, std::try_to_lock);
  if (!lock) return pace_due_.load(std::memory_order_relaxed);
  const int64_t last_us = pace_sampled_us_.load(std::memory_order_relaxed);
  pace_sampled_us_.store(now, std::memory_order_relaxed);
  if (!applier_sched_) {
    const int tid = applier_tid_.load(std::memory_order_acquire);
    if (tid == 0) return false;
    applier_sched_ = std::make_unique<SchedStat>(tid);
  }
  const auto sample = applier_sched_->read();
  if (!sample) return false;  // pace_due_ stays false: the throttle's bounds alone
  const int64_t ran = sample->cpu_ns - pace_last_.cpu_ns;
  const int64_t waited = sample->wait_ns - pace_last_.wait_ns;
  const bool first = pace_last_.cpu_ns == 0;
  pace_last_ = *sample;
  if (first) return false;
  owe_applier(-ran);
  const bool starved =
      static_cast<double>(waited) >= kStarvedShare * 1000.0 * static_cast<double>(now - last_us);
  const bool due = starved && pace_debt_ns_.load(std::memory_order_relaxed) > kAllowanceNs;
  pace_due_.store(due, std::memory_order_relaxed);
  return due;
}

Status Engine::tick() {
  std::unique_lock wal_lock(wal_mu_);
  // The log syncer's failure ends the process here, as a sync of the
  // writer's own would.
  if (!sync_error_.ok()) return sync_error_;
  wal_->release_before(applied_offset_.load(std::memory_order_acquire));
  // INFO's log size costs a stat per segment: not after every group (a
  // one-request group's worth of time), a few times a second.
  if (const int64_t now = mono_ms(); now - last_disk_bytes_ms_ >= 250) {
    last_disk_bytes_ms_ = now;
    log_disk_bytes_.store(wal_->disk_bytes(), std::memory_order_relaxed);
  }
  // While the log is full, look for space now and then even without
  // writes, so INFO and the expiry cycle notice when it comes back.
  if (log_full_.load(std::memory_order_relaxed) && mono_ms() - last_space_try_ms_ >= 250) {
    last_space_try_ms_ = mono_ms();
    // Asks for more than is already allocated, so only space actually
    // freed lifts the state.
    constexpr uint64_t kMargin = 1ull << 20;
    const uint64_t want = std::max<uint64_t>(wal_->reserved_bytes(), options_.log_headroom);
    Status reserved = wal_->reserve(want + kMargin);
    if (auto s = note_log_space(std::move(reserved), wal_->out_of_descriptors());
        !s && s.error().code != Code::kOom)
      return s;
  }
  wal_lock.unlock();
  if ((active_->entries() > 0 || !active_drops_.empty()) &&
      mono_ms() - active_since_ms_ >= options_.buffer_max_age_ms) {
    std::lock_guard lock(mu_);
    freeze_locked();
    publish_locked();
  }
  return {};
}

Status Engine::flush() {
  std::unique_lock lock(mu_);
  if (active_->entries() > 0 || !active_drops_.empty()) {
    freeze_locked();
    publish_locked();
  }
  merge_wanted_ = true;
  applier_cv_.notify_one();
  progress_cv_.wait(lock, [this] {
    return (frozen_.empty() && runs_.empty()) || !apply_error_.ok() || stopping_;
  });
  return apply_error_;
}

uint64_t Engine::freeze() {
  std::lock_guard lock(mu_);
  if (active_->entries() > 0 || !active_drops_.empty()) {
    freeze_locked();
    publish_locked();
  }
  return frozen_.empty() ? applied_offset_.load() : frozen_.back().end_offset;
}

Status Engine::wait_applied(uint64_t offset) {
  std::unique_lock lock(mu_);
  if (main_offset_.load() < offset) {
    merge_wanted_ = true;
    applier_cv_.notify_one();
  }
  progress_cv_.wait(
      lock, [&] { return main_offset_.load() >= offset || !apply_error_.ok() || stopping_; });
  if (main_offset_.load() >= offset) return {};
  if (!apply_error_.ok()) return apply_error_;
  return err("the store is closing");
}

Status Engine::wait_runs_merged() {
  std::unique_lock lock(mu_);
  progress_cv_.wait(lock, [&] { return restart_runs_ == 0 || !apply_error_.ok() || stopping_; });
  if (restart_runs_ == 0) return {};
  if (!apply_error_.ok()) return apply_error_;
  return err("the store is closing");
}

// Whether the file system holding data.mdb has less room than an apply of
// `bytes` may need: LMDB reports a short write on a full disk as EIO.
bool Engine::disk_nearly_full(uint64_t bytes) const {
  struct statvfs st{};
  if (::statvfs(env_->dir().c_str(), &st) != 0) return false;
  const uint64_t free = static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
  return free < 2 * bytes + (1u << 20);
}

}  // namespace lmkv::store
