// store/applier.cc: the applier thread (engine.h): which frozen MemTable
// goes where next -- applied straight into the tree, or staged as a run and
// merged later with others (store/runs.h) -- and the bookkeeping after each
// transaction (store/apply.cc writes them).
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/log.h"
#include "base/thread.h"
#include "store/engine.h"

namespace lmkv::store {

// What the applier does next. Runs are merged before anything else when
// they are from before a restart (readers' scans wait for that), once K
// are waiting, or when applies are direct again (staged_runs lowered across
// a restart); and once nothing is left to stage, when someone waits for
// the main tree (flush, SAVE) or the applier has been idle for
// idle_merge_ms. Otherwise the oldest frozen MemTable not yet staged is
// staged (or, direct, applied).
Engine::Job Engine::next_job_locked(bool idle) const {
  if (applier_paused_) return Job::kNone;
  const auto k = static_cast<size_t>(options_.staged_runs);  // clamped to 1..16 by open()
  const bool unstaged = frozen_.size() > staged_frozen_locked();
  if (!runs_.empty()) {
    if (restart_runs_ > 0 || k == 1 || runs_.size() >= k) return Job::kMerge;
    // Waited for: what is frozen is staged first, to merge it all at once.
    if (!unstaged && (merge_wanted_ || idle)) return Job::kMerge;
  }
  if (unstaged) return k == 1 ? Job::kApply : Job::kStage;
  return Job::kNone;
}

// The applier: frozen MemTables oldest first, each in one synced LMDB
// transaction (applied, or staged and later merged with others); a
// MemTable leaves the readers' Version once the main tree holds it.
void Engine::applier_main() {
  // Foreground work first: on a busy core the loops preempt bulk applies,
  // which only need to keep pace on average (writers are slowed past
  // max-unapplied-bytes if they do not).
  become_background_thread("lmkv-applier");
  std::string last_apply_error;
  uint64_t failures = 0;
  int64_t backoff_ms = 50;
  uint64_t last_merge_us = 0;  // a staged buffer's share of it paces the writers
  const auto k = static_cast<size_t>(options_.staged_runs);
  for (;;) {
    Job job = Job::kNone;
    Frozen next;
    std::vector<uint8_t> map;
    std::vector<RunInfo> runs;
    std::vector<std::string> consumed;  // a merge's: its staged MemTables'
    std::function<void()> hook;
    uint64_t main_offset = 0;
    {
      std::unique_lock lock(mu_);
      const bool woken = applier_cv_.wait_for(
          lock, std::chrono::milliseconds(options_.idle_merge_ms),
          [this] { return stopping_ || next_job_locked(false) != Job::kNone; });
      if (stopping_) return;
      job = next_job_locked(!woken);
      if (job == Job::kNone) continue;
      hook = applied_hook_;
      runs = runs_;
      if (job == Job::kMerge) {
        main_offset = applied_offset_.load();
        for (size_t i = 0; i < staged_frozen_locked(); ++i)
          consumed.insert(consumed.end(), frozen_[i].expiry_drops.begin(),
                          frozen_[i].expiry_drops.end());
      } else {
        next = frozen_[staged_frozen_locked()];
        map = job == Job::kApply ? applied_map_ : staged_map_;
      }
    }
    const int64_t started = unix_us();
    const size_t weight = job == Job::kMerge ? 0 : next.table->weight();
    applying_weight_.store(weight, std::memory_order_relaxed);
    applying_merge_us_.store(job == Job::kMerge ? last_merge_us : 0, std::memory_order_relaxed);
    applying_since_us_.store(mono_us(), std::memory_order_relaxed);
    RunInfo run;
    size_t merged = 0;
    Status s;
    if (job == Job::kStage) {
      // The lowest slot no live run holds.
      std::vector<bool> used(Env::kRunSlots, false);
      for (const auto& r : runs) used[static_cast<size_t>(r.slot)] = true;
      run.slot = static_cast<int>(std::find(used.begin(), used.end(), false) - used.begin());
      s = stage(*next.table, next.end_offset, next.end_position, &map, runs, &run);
    } else {
      std::unique_lock flock(filter_mu_);  // they add to the filters; see engine.h
      s = job == Job::kApply
              ? apply(*next.table, next.end_offset, next.end_position, next.expiry_drops, &map)
              : merge(runs, main_offset, consumed, &merged);
    }
    const uint64_t bytes = job == Job::kMerge ? 0 : next.table->bytes();
    const bool no_space = !s && (s.error().code == Code::kOom || disk_nearly_full(bytes));
    if (s && hook) hook();
    if (s && job != Job::kMerge) {
      // The log up to what LMDB now holds (synced by the commit) is no
      // longer needed. Deleted here, off the writer's path (with a discard
      // mount an unlink of a 64 MiB segment took tens of milliseconds), and
      // before the apply is published, so whoever sees it applied (flush)
      // also finds the segments gone.
      std::vector<std::string> dead;
      {
        std::lock_guard wal_lock(wal_mu_);
        wal_->release_before(next.end_offset, &dead);
      }
      std::error_code ec;
      for (const auto& path : dead) std::filesystem::remove(path, ec);
    }
    {
      std::lock_guard lock(mu_);
      if (!s) {
        // LMDB refused (disk or map full): keep the MemTable and retry;
        // readers still see it, and the log still holds it. The state is
        // set before anyone waiting for progress (flush) wakes.
        apply_error_ = s;
        apply_space_full_.store(no_space, std::memory_order_relaxed);
        apply_failing_.store(true, std::memory_order_relaxed);
        stats_.apply_errors.fetch_add(1, std::memory_order_relaxed);
      } else {
        apply_failing_.store(false, std::memory_order_relaxed);
        apply_space_full_.store(false, std::memory_order_relaxed);
        apply_error_ = Status();
        if (job == Job::kApply) {
          frozen_.pop_front();
          applied_offset_.store(next.end_offset, std::memory_order_release);
          main_offset_.store(next.end_offset, std::memory_order_release);
          applied_map_ = map;
          staged_map_ = std::move(map);
          if (prefetch_) prefetch_->retire(next.table.get());
        } else if (job == Job::kStage) {
          // Still a layer (readers never read runs while the server runs).
          runs_.push_back(run);
          applied_offset_.store(next.end_offset, std::memory_order_release);
          staged_map_ = std::move(map);
        } else {
          for (size_t i = staged_frozen_locked(); i > 0; --i) frozen_.pop_front();
          runs_.clear();
          restart_runs_ = 0;
          merge_wanted_ = merge_wanted_ && !frozen_.empty();
          main_offset_.store(main_offset, std::memory_order_release);
          applied_map_ = staged_map_;
          stats_.merges.fetch_add(1, std::memory_order_relaxed);
        }
        publish_locked();
        // Counted before anyone waiting for progress wakes: the expiry
        // cycle restarts its index walk when this changes.
        if (job != Job::kMerge) stats_.applies.fetch_add(1, std::memory_order_release);
      }
    }
    applying_since_us_.store(0, std::memory_order_relaxed);
    progress_cv_.notify_all();
    if (!s) {
      // LMDB is unchanged (the failed transaction was aborted). Retry with
      // backoff, logging once per change of state or error text.
      if (s.error().message != last_apply_error)
        log::warning("bulk apply failed{}, retrying: {}",
                     no_space ? " (the disk is full)" : "", s.error().message);
      last_apply_error = s.error().message;
      ++failures;
      std::unique_lock lock(mu_);
      applier_cv_.wait_for(lock, std::chrono::milliseconds(backoff_ms),
                           [this] { return stopping_; });
      backoff_ms = std::min<int64_t>(backoff_ms * 2, 1000);
      continue;
    }
    if (failures > 0) {
      log::notice("bulk apply succeeded after {} failed attempts", failures);
      failures = 0;
      last_apply_error.clear();
    }
    backoff_ms = 50;
    const auto took = static_cast<uint64_t>(unix_us() - started);
    if (job == Job::kMerge) {
      last_merge_us = took;
      stats_.last_merge_us.store(took);
      stats_.last_merge_entries.store(merged);
      maybe_build_filter();
      continue;
    }
    if (job == Job::kApply) maybe_build_filter();
    // The throttle paces writers by this: a staged buffer also owes its
    // share of the merge to come.
    stats_.last_apply_us.store(job == Job::kStage ? took + last_merge_us / k : took);
    stats_.last_apply_entries.store(next.table->entries());
    stats_.last_apply_bytes.store(next.table->bytes());
  }
}

}  // namespace lmkv::store
