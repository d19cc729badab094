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
  // Between a merge's parts, what froze meanwhile is staged first: the log
  // a restart replays stays as short as without a merge under way.
  if (merging_) return unstaged && runs_.size() < Env::kRunSlots ? Job::kStage : Job::kMerge;
  if (!runs_.empty()) {
    if (restart_runs_ > 0 || k == 1 || runs_.size() >= k) return Job::kMerge;
    // Waited for: what is frozen is staged first, to merge it all at once.
    if (!unstaged && (merge_wanted_ || idle)) return Job::kMerge;
  }
  if (unstaged) return k == 1 ? Job::kApply : Job::kStage;
  return Job::kNone;
}

// A merge of every live run; in parts unless it is of runs from before a
// restart (scans and counts wait for those, so at once is sooner) or one
// that clears a database (its drop is of the whole database). A merge in
// parts pins the tree as it was before it for the counts (MergeBase) and
// publishes that before its first part commits.
void Engine::start_merge_locked() {
  MergeJob m;
  m.runs = runs_;
  m.main_offset = applied_offset_.load();
  m.map = staged_map_;
  for (size_t i = 0; i < staged_frozen_locked(); ++i)
    m.consumed.insert(m.consumed.end(), frozen_[i].expiry_drops.begin(),
                      frozen_[i].expiry_drops.end());
  const bool clears = std::any_of(m.runs.begin(), m.runs.end(), [](const RunInfo& r) {
    return std::any_of(r.cleared.begin(), r.cleared.end(), [](uint64_t w) { return w != 0; });
  });
  if (restart_runs_ == 0 && !clears && options_.merge_chunk_entries > 0) {
    auto base = std::make_shared<MergeBase>();
    if (mdb_txn_begin(env_->raw(), nullptr, MDB_RDONLY, &base->txn) == 0) {
      m.part = std::max<size_t>(1, options_.merge_chunk_entries / m.runs.size());
      merge_base_ = std::move(base);
    } else {
      base->txn = nullptr;  // at once, then
    }
  }
  merge_job_ = std::move(m);
  merging_ = true;
  publish_locked();
}

// The applier: frozen MemTables oldest first, each in one synced LMDB
// transaction (applied, or staged and later merged with others); a
// MemTable leaves the readers' Version once the main tree holds it.
void Engine::applier_main() {
  // Foreground work first: on a busy core the loops preempt bulk applies,
  // which only need to keep pace on average (writers are slowed past
  // max-unapplied-bytes if they do not).
  become_background_thread("lmkv-applier");
  applier_tid_.store(current_thread_id(), std::memory_order_release);
  // The applier's CPU time per unit of weight, summed over a cycle (the
  // stages and their merge, or one direct apply): the pace's unit.
  int64_t cycle_cpu_ns = 0;
  size_t cycle_weight = 0;
  std::string last_apply_error;
  uint64_t failures = 0;
  int64_t backoff_ms = 50;
  uint64_t last_merge_us = 0;  // a staged buffer's share of it paces the writers
  uint64_t last_part_us = 0;   // how long the next part of a merge may take
  const auto k = static_cast<size_t>(options_.staged_runs);
  for (;;) {
    Job job = Job::kNone;
    Frozen next;
    std::vector<uint8_t> map;
    std::vector<RunInfo> runs;
    std::function<void()> hook;
    {
      std::unique_lock lock(mu_);
      const bool woken = applier_cv_.wait_for(
          lock, std::chrono::milliseconds(options_.idle_merge_ms),
          [this] { return stopping_ || next_job_locked(false) != Job::kNone; });
      if (stopping_) return;
      job = next_job_locked(!woken);
      if (job == Job::kNone) continue;
      applier_busy_ = true;
      hook = applied_hook_;
      runs = runs_;
      if (job == Job::kMerge) {
        if (!merge_job_) start_merge_locked();
      } else {
        next = frozen_[staged_frozen_locked()];
        map = job == Job::kApply ? applied_map_ : staged_map_;
      }
    }
    const int64_t started = unix_us();
    const size_t weight = job == Job::kMerge ? 0 : next.table->weight();
    applying_weight_.store(weight, std::memory_order_relaxed);
    applying_merge_us_.store(job == Job::kMerge ? last_part_us : 0, std::memory_order_relaxed);
    applying_since_us_.store(mono_us(), std::memory_order_relaxed);
    const int64_t cpu_started = thread_cpu_ns();
    RunInfo run;
    bool merge_done = false;
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
              : merge(*merge_job_, runs, &merge_done);
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
      applier_busy_ = false;
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
        } else if (merge_done) {
          // Its runs are the oldest: the restart's, then the first staged
          // MemTables'.
          const size_t n = merge_job_->runs.size();
          for (size_t i = n - restart_runs_; i > 0; --i) frozen_.pop_front();
          runs_.erase(runs_.begin(), runs_.begin() + static_cast<std::ptrdiff_t>(n));
          restart_runs_ = 0;
          merge_wanted_ = merge_wanted_ && !(frozen_.empty() && runs_.empty());
          main_offset_.store(merge_job_->main_offset, std::memory_order_release);
          applied_map_ = merge_job_->map;
          merging_ = false;
          merge_base_.reset();
          stats_.merges.fetch_add(1, std::memory_order_relaxed);
        }
        if (job != Job::kMerge || merge_done) publish_locked();
        // Counted before anyone waiting for progress wakes: the expiry
        // cycle restarts its index walk when this changes.
        if (job != Job::kMerge) stats_.applies.fetch_add(1, std::memory_order_release);
      }
    }
    applying_since_us_.store(0, std::memory_order_relaxed);
    progress_cv_.notify_all();
    if (s) {
      cycle_cpu_ns += thread_cpu_ns() - cpu_started;
      cycle_weight += weight;
      if (job == Job::kApply || merge_done) {
        if (cycle_weight > 0)
          apply_cpu_ns_per_weight_.store(static_cast<double>(cycle_cpu_ns) /
                                         static_cast<double>(cycle_weight));
        cycle_cpu_ns = 0;
        cycle_weight = 0;
      } else if (job == Job::kStage && apply_cpu_ns_per_weight_.load() <= 0 && cycle_weight > 0) {
        // Until a merge is measured: a stage's cost and twice that for its
        // share of the merge (at K = 4 the merge took 60% of the applier's
        // time, stages 36%: BENCHMARKS.md "Stop 34").
        apply_cpu_ns_per_weight_.store(3.0 * static_cast<double>(cycle_cpu_ns) /
                                       static_cast<double>(cycle_weight));
      }
    }
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
      last_part_us = took;
      merge_job_->us += took;
      if (!merge_done) continue;
      last_merge_us = merge_job_->us;
      stats_.last_merge_us.store(merge_job_->us);
      stats_.last_merge_entries.store(merge_job_->merged);
      merge_job_.reset();
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
