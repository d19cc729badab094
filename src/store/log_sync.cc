// store/log_sync.cc: the log's syncs under --fsync everysec and no, on a
// thread of their own (lmkv-logsync), and switching the policy.
//
// Under the lax policies no reply waits for a sync, and neither should the
// writer. It did: the once-a-second fdatasync ran in the writer's tick, and
// closing a full 64 MiB segment synced it before the next frame. Behind an
// apply's writeback either took 30-60 ms, and every write waited, and, when
// a loop ran the group itself (Writer::run_here), that loop's reads too:
// PING answered in 42-58 ms twice a run of 1M SETs -P 16 under --fsync no
// (BENCHMARKS.md "Stop 28"). Here the writer only hands the full segment's
// descriptor over (Wal::take_sync), and this thread syncs it, and the
// current segment every second under everysec, without the log's lock.
//
// A crash still keeps a prefix of the log: the syncs go oldest segment
// first, the directory before the current segment, and recovery cuts the
// log at the first frame missing (store/wal.h), dropping later segments.
#include <pthread.h>

#include <chrono>

#include "base/clock.h"
#include "base/log.h"
#include "store/engine.h"

namespace lmkv::store {

void Engine::syncer_main() {
  // The loops' priority, not a background thread's: its work is waiting
  // for the disk, and everysec's bound must hold on a busy core.
  pthread_setname_np(pthread_self(), "lmkv-logsync");
  // A closed segment waits at most this long for its sync.
  constexpr auto kPoll = std::chrono::milliseconds(100);
  std::unique_lock run(sync_mu_);
  while (!sync_stop_) {
    sync_cv_.wait_for(run, kPoll, [this] { return sync_stop_; });
    if (sync_stop_) break;
    bool everysec = false;
    Result<Wal::PendingSync> pending = Wal::PendingSync{};
    {
      std::lock_guard wal_lock(wal_mu_);
      everysec = log_unsynced_ && fsync_.load() == Fsync::kEverysec &&
                 mono_ms() - last_sync_ms_ >= 1000;
      pending = wal_->take_sync(everysec);
      if (everysec) {
        log_unsynced_ = false;
        last_sync_ms_ = mono_ms();
      }
    }
    Status s = pending ? pending->run() : Status(pending.error());
    if (!s) {
      log::warning("log sync failed: {}", s.error().message);
      std::lock_guard wal_lock(wal_mu_);
      sync_error_ = s;  // tick() ends the process with it
      break;
    }
    if (everysec) {
      durable_offset_.store(pending->end());
      stats_.syncs.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

void Engine::stop_syncer() {
  {
    std::lock_guard lock(sync_mu_);
    sync_stop_ = true;
  }
  sync_cv_.notify_all();
  if (syncer_.joinable()) syncer_.join();
}

Status Engine::set_fsync(Fsync policy) {
  // After a background sync in progress: a segment it holds must be durable
  // before the first group synced under `always` is acknowledged.
  std::lock_guard run(sync_mu_);
  std::lock_guard wal_lock(wal_mu_);
  // Leaving a lax policy makes what it wrote durable first.
  if (policy == Fsync::kAlways) {
    if (auto s = wal_->sync(); !s) return s;
    durable_offset_.store(wal_->end_offset());
    log_unsynced_ = false;
  }
  wal_->set_sync_on_roll(policy == Fsync::kAlways);
  // Direct log writes only where each group waits for its sync anyway.
  if (auto s = wal_->set_direct(options_.log_direct && policy == Fsync::kAlways); !s) return s;
  fsync_.store(policy);
  return {};
}

}  // namespace lmkv::store
