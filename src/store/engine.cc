// store/engine.cc: recovery, group commit, freezing, and the applier.
#include "store/engine.h"

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include <fmt/format.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/numbers.h"
#include "store/effects.h"
#include "store/write_txn.h"

namespace lmkv::store {
namespace {

struct Applied {
  uint64_t offset = 0;
  WalPosition position;
};

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
  if (rc == 0) rc = get(Engine::kAppliedPositionKey, &applied.position, sizeof(WalPosition));
  mdb_txn_abort(txn);
  if (rc) return lmdb_error(rc, "get applied offset");
  return applied;
}

}  // namespace

// Replays one logged group into the active MemTable, without reading LMDB:
// effects are blind, so their order alone decides the state.
Status Engine::replay(std::string_view payload, int* db) {
  return for_each_effect(payload, [&](std::span<const std::string_view> a) -> Status {
    const std::string_view name = a[0];
    auto bad = [&] { return err(fmt::format("log: malformed {} effect", name)); };
    if (iequals(name, "SELECT")) {
      auto n = parse_i64(a.size() == 2 ? a[1] : "");
      if (!n || *n < 0 || *n >= databases()) return bad();
      *db = static_cast<int>(*n);
    } else if (iequals(name, "SET")) {
      if (a.size() != 3 && a.size() != 5) return bad();
      ValueView v{.type = Type::kString, .data = a[2]};
      if (a.size() == 5) {
        auto at = parse_i64(a[4]);
        if (!at || !iequals(a[3], "PXAT")) return bad();
        v.deadline_ms = *at;
      }
      active_->put(next_seq(), *db, a[1], v);
    } else if (iequals(name, "DEL")) {
      if (a.size() != 2) return bad();
      active_->del(next_seq(), *db, a[1]);
    } else if (iequals(name, "FLUSHDB")) {
      active_->clear(next_seq(), *db);
    } else if (iequals(name, "FLUSHALL")) {
      const uint64_t seq = next_seq();
      for (int d = 0; d < databases(); ++d) active_->clear(seq, d);
    }
    // PING, REPLCONF and other stream-only records change no data.
    return {};
  });
}

Result<std::unique_ptr<Engine>> Engine::open(const EngineOptions& options) {
  const int64_t started = unix_us();
  std::unique_ptr<Engine> e(new Engine());
  e->options_ = options;
  e->fsync_ = options.fsync;
  auto env = Env::open(options.env);
  if (!env) return env.error();
  e->env_ = std::move(*env);
  auto applied = read_applied(*e->env_);
  if (!applied) return applied.error();
  e->active_ = std::make_shared<MemTable>(options.write_buffer_size);
  int db = 0;
  WalOptions wal_options{.dir = options.env.dir + "/log", .segment_bytes = options.segment_bytes};
  auto wal = Wal::open(wal_options, applied->offset, applied->position,
                       [&](uint64_t, std::string_view payload) {
    e->stats_.replayed_frames.fetch_add(1, std::memory_order_relaxed);
    // Each frame starts a fresh SELECT context, as the writer's groups do.
    db = 0;
    return e->replay(payload, &db);
  });
  if (!wal) return wal.error();
  e->wal_ = std::move(*wal);
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
  e->applier_ = std::thread([raw = e.get()] { raw->applier_main(); });
  e->stats_.recovery_us = static_cast<uint64_t>(unix_us() - started);
  return e;
}

Engine::~Engine() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  applier_cv_.notify_all();
  if (applier_.joinable()) applier_.join();
  if (wal_) (void)wal_->sync();
}

std::shared_ptr<const Version> Engine::version() const {
  std::lock_guard lock(mu_);
  return version_;
}

size_t Engine::unapplied_bytes() const {
  std::lock_guard lock(mu_);
  size_t total = active_->bytes();
  for (const auto& f : frozen_) total += f.table->bytes();
  return total;
}

// Rebuilds the readers' Version from the active and frozen MemTables.
void Engine::publish_locked() {
  auto v = std::make_shared<Version>();
  v->applied_offset = applied_offset_.load(std::memory_order_acquire);
  v->layers.reserve(frozen_.size() + 1);
  v->layers.push_back(active_);
  for (auto it = frozen_.rbegin(); it != frozen_.rend(); ++it) v->layers.push_back(it->table);
  version_ = std::move(v);
}

// Hands the active MemTable to the applier and starts a new one. Only at a
// group boundary, so a group never straddles two MemTables.
void Engine::freeze_locked() {
  frozen_.push_back({active_, wal_->end_offset(), wal_->end_position()});
  active_ = std::make_shared<MemTable>(options_.write_buffer_size);
  active_since_ms_ = mono_ms();
  applier_cv_.notify_one();
}

Status Engine::commit(WriteTxn& group) {
  const Fsync policy = fsync_.load(std::memory_order_relaxed);
  if (!group.empty()) {
    std::lock_guard wal_lock(wal_mu_);
    auto start = wal_->append(group.payload());
    if (!start) return start.error();
    if (policy == Fsync::kAlways) {
      if (auto s = wal_->sync(); !s) return s;
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

  const size_t active_bytes = active_->bytes();
  if (active_bytes >= options_.write_buffer_size) {
    std::unique_lock lock(mu_);
    freeze_locked();
    publish_locked();
    // Past the bound on unapplied data, wait for the applier a little per
    // group: writers slow down smoothly instead of stalling for seconds.
    size_t unapplied = 0;
    for (const auto& f : frozen_) unapplied += f.table->bytes();
    if (unapplied > options_.max_unapplied && apply_error_.ok()) {
      stats_.slowdowns.fetch_add(1, std::memory_order_relaxed);
      progress_cv_.wait_for(lock, std::chrono::milliseconds(50));
    }
  }
  {
    std::lock_guard wal_lock(wal_mu_);
    wal_->release_before(applied_offset_.load(std::memory_order_acquire));
  }
  return {};
}

Status Engine::tick() {
  std::unique_lock wal_lock(wal_mu_);
  if (log_unsynced_ && fsync_.load() == Fsync::kEverysec && mono_ms() - last_sync_ms_ >= 1000) {
    if (auto s = wal_->sync(); !s) return s;
    stats_.syncs.fetch_add(1, std::memory_order_relaxed);
    durable_offset_.store(wal_->end_offset());
    last_sync_ms_ = mono_ms();
    log_unsynced_ = false;
  }
  wal_->release_before(applied_offset_.load(std::memory_order_acquire));
  log_disk_bytes_.store(wal_->disk_bytes(), std::memory_order_relaxed);
  wal_lock.unlock();
  if (active_->entries() > 0 && mono_ms() - active_since_ms_ >= options_.buffer_max_age_ms) {
    std::lock_guard lock(mu_);
    freeze_locked();
    publish_locked();
  }
  return {};
}

Status Engine::set_fsync(Fsync policy) {
  std::lock_guard wal_lock(wal_mu_);
  // Leaving a lax policy makes what it wrote durable first.
  if (policy == Fsync::kAlways) {
    if (auto s = wal_->sync(); !s) return s;
    durable_offset_.store(wal_->end_offset());
    log_unsynced_ = false;
  }
  fsync_.store(policy);
  return {};
}

Status Engine::flush() {
  std::unique_lock lock(mu_);
  if (active_->entries() > 0) {
    freeze_locked();
    publish_locked();
  }
  progress_cv_.wait(lock, [this] { return frozen_.empty() || !apply_error_.ok() || stopping_; });
  return apply_error_;
}

// The applier: one frozen MemTable at a time, oldest first, each in one
// synced LMDB transaction; then the MemTable leaves the readers' Version.
void Engine::applier_main() {
  // Foreground work first: on a busy core the loops preempt bulk applies,
  // which only need to keep pace on average (writers are slowed past
  // max-unapplied-bytes if they do not).
  setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 10);
  for (;;) {
    Frozen next;
    {
      std::unique_lock lock(mu_);
      applier_cv_.wait(lock, [this] { return stopping_ || !frozen_.empty(); });
      if (stopping_) return;
      next = frozen_.front();
    }
    const int64_t started = unix_us();
    Status s = apply(*next.table, next.end_offset, next.end_position);
    {
      std::lock_guard lock(mu_);
      if (!s) {
        // LMDB refused (disk or map full): keep the MemTable and retry;
        // readers still see it, and the log still holds it.
        apply_error_ = s;
      } else {
        apply_error_ = Status();
        frozen_.pop_front();
        applied_offset_.store(next.end_offset, std::memory_order_release);
        publish_locked();
      }
    }
    progress_cv_.notify_all();
    if (!s) {
      log::warning("bulk apply failed, retrying in 1 s: {}", s.error().message);
      std::unique_lock lock(mu_);
      applier_cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; });
      continue;
    }
    stats_.applies.fetch_add(1, std::memory_order_relaxed);
    stats_.last_apply_us.store(static_cast<uint64_t>(unix_us() - started));
    stats_.last_apply_entries.store(next.table->entries());
    stats_.last_apply_bytes.store(next.table->bytes());
  }
}

}  // namespace lmkv::store
