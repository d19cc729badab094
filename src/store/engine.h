// store/engine.h: the log-structured store (DESIGN.md "Architecture").
//
// Writes go to the write-ahead log first and into the active MemTable; the
// LMDB B+tree receives them behind, in large sorted batches:
//
//   writer group --append+fdatasync--> log      (durable: the reply may leave)
//                --insert-------------> active MemTable (visible once durable)
//   active reaches write-buffer-size or its age limit --> frozen
//   applier: one frozen MemTable = one synced LMDB transaction, in key order,
//            storing the log offset it covers; then the MemTable is dropped
//   (or, with staged_runs K > 1, that transaction appends it to a run, and
//   every K runs one more merges them into the tree: store/runs.h)
//
// Readers see a Version (the MemTables not yet applied, newest first) over
// an LMDB snapshot, ignoring entries newer than durable_seq. The order of
// taking them -- durable_seq, then the Version, then the LMDB snapshot --
// makes every view complete: an entry at or below durable_seq is in a layer
// of that Version or already in LMDB, since a layer leaves the Version only
// after its LMDB commit.
//
// Recovery opens LMDB, reads the applied offset, and replays the log from
// there into a MemTable without reading LMDB.
//
// SWAPDB: a logical -> physical database map. MemTable entries, clear
// markers, LMDB databases and expiry index entries are all keyed by
// physical db; only the map changes on SWAPDB, so a swap costs O(1) and
// needs no drain. The writer translates with the latest map (writer_map_,
// which replay rebuilds from the logged "SWAPDB a b" effects); a swap also
// leaves a marker at its seq in the active MemTable. LMDB stores the map as
// of its applied offset (meta "db_map", written by the apply of the
// MemTable holding the marker), and each Version carries that map, so a
// reader's map is the Version's map plus the markers of its layers with seq
// <= its visible seq: the swap becomes visible atomically with the group
// that made it, and the applied-offset check of ReadView::begin keeps map
// and snapshot consistent.
//
// Expiry index: see store/expiry.h.
//
// Disk full (DESIGN.md "Durability and space"): a group's entries are in the
// MemTable before its frame is logged and cannot be taken back, so the log
// must not fail for lack of space after execution. admit() runs first: it
// reserves the group's frame plus `log_headroom` in the log (Wal::reserve)
// and refuses the group, untouched, when that fails, or when bulk applies
// are failing (data.mdb cannot grow: ENOSPC or MDB_MAP_FULL) with more than
// max_unapplied bytes waiting. The applier retries with backoff; log
// segments are released as applies succeed, so space comes back by itself
// once the operator frees some. Readers are never affected.
//
// Thread roles: the writer thread calls the group API (WriteTxn, commit,
// tick); readers on any thread call version()/durable_seq(); the applier and
// the log syncer (everysec's and full segments' syncs) are the engine's own.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "base/error.h"
#include "base/thread.h"
#include "store/counter.h"
#include "store/effects.h"
#include "store/env.h"
#include "store/key_filter.h"
#include "store/memtable.h"
#include "store/prefetch.h"
#include "store/runs.h"
#include "store/wal.h"

namespace lmkv::store {

struct EngineOptions {
  EnvOptions env;
  Fsync fsync = Fsync::kAlways;                  // the log's policy; LMDB always syncs
  size_t write_buffer_size = 8u << 20;           // freeze the active MemTable past this
  size_t max_unapplied = 32u << 20;              // slow writers down past this
  int64_t buffer_max_age_ms = 5000;              // freeze a non-empty MemTable this old
  uint64_t segment_bytes = 64ull << 20;          // log segment size
  uint64_t log_headroom = 8ull << 20;            // log space reserved beyond each admitted group
  // The prefetch pool (store/prefetch.h): threads faulting in the next
  // apply's leaves ahead of the applier; 0: none. Each takes a reader slot,
  // added to env.readers by open().
  int prefetch_threads = 32;
  size_t prefetch_lookahead = 2;                 // frozen MemTables prefetched ahead
  size_t prefetch_max_ahead = 2048;              // keys ahead of the applier, at most
  // Under --fsync always, write the log with O_DIRECT (Wal::set_direct): its
  // syncs then do not queue behind data.mdb's writeback.
  bool log_direct = true;
  // Log space allocation (WalOptions::allocate); null: fallocate. Tests.
  std::function<int(int fd, uint64_t offset, uint64_t len)> log_allocate = nullptr;
  // The key filter (store/key_filter.h): built in the background at open
  // and rebuilt, 4x the keys' size, when it fills up; never below
  // key_filter_min_keys. No build starts while data.mdb is larger than
  // key_filter_max_data (a build reads every key: past RAM, the whole file
  // from disk); a filter that is 90% set then is dropped.
  bool key_filter = true;
  uint64_t key_filter_min_keys = 1 << 20;  // 1.25 MiB
  uint64_t key_filter_max_data = UINT64_MAX;
  // DBSIZE's sums done ahead (store/counter.h), this often; 0: none.
  int64_t count_ahead_ms = 10;
  // Frozen MemTables staged as runs before one merge writes them all into
  // the tree (store/runs.h); 1: each applied straight into the tree.
  // At most Env::kRunSlots.
  int staged_runs = 1;
  // With staged runs: how long the applier waits with runs staged and
  // nothing else to do before it merges them anyway.
  int64_t idle_merge_ms = 1000;
  // A merge commits every this many of its runs' entries (Engine::merge),
  // so frozen MemTables are staged between its parts.
  size_t merge_chunk_entries = 32768;
  // Tests: the applier starts paused (set_applier_paused).
  bool applier_paused = false;
};

// While a merge commits in parts, the main tree holds some of its runs'
// keys that the Version still has as layers: a layer's count delta against
// "the state below" must then read LMDB as it was before the merge. This
// read transaction, taken before its first part, is that state; one view
// at a time uses it (MDB_NOTLS).
struct MergeBase {
  MDB_txn* txn = nullptr;
  std::mutex mu;
  MergeBase() = default;
  MergeBase(const MergeBase&) = delete;
  MergeBase& operator=(const MergeBase&) = delete;
  ~MergeBase();
};

// The MemTables a reader consults, newest first (layers[0] is the active one).
struct Version {
  std::vector<std::shared_ptr<const MemTable>> layers;
  // The log offset each layer ends at once applied (the active layer's is
  // UINT64_MAX): the applier commits the oldest layer, then publishes.
  std::vector<uint64_t> layer_ends;
  // The log offset LMDB's main tree held when this Version was published
  // (meta main_offset). A reader whose LMDB snapshot stores a larger one
  // raced an apply (see ReadView::begin).
  uint64_t applied_offset = 0;
  // After a restart, the runs staged before it (oldest first), below every
  // layer and above the main tree, up to log offset runs_end; empty once
  // the applier merged them (a running server's staged MemTables are
  // layers until merged).
  std::vector<RunInfo> runs;
  uint64_t runs_end = 0;
  // The logical -> physical database map LMDB held at applied_offset.
  std::vector<uint8_t> db_map;
  // Holds every key LMDB held at applied_offset and after, until the next
  // filter replaces it; null: none (not built yet, or turned off).
  std::shared_ptr<const KeyFilter> filter;
  // Set while a merge commits in parts (see MergeBase); counts read it.
  std::shared_ptr<MergeBase> merge_base;

  // The Version the applier is about to publish once LMDB holds the log up
  // to `applied`: this one without the oldest layers that LMDB now holds,
  // their swaps carried into the map. Null if no layer ends at `applied`.
  std::shared_ptr<const Version> after_apply(uint64_t applied) const;
};

struct EngineStats {
  std::atomic<uint64_t> groups{0};
  std::atomic<uint64_t> group_bytes{0};
  std::atomic<uint64_t> syncs{0};
  std::atomic<uint64_t> applies{0};
  std::atomic<uint64_t> last_apply_us{0};
  std::atomic<uint64_t> last_apply_entries{0};
  std::atomic<uint64_t> last_apply_bytes{0};
  std::atomic<uint64_t> last_apply_commit_us{0};  // of last_apply_us: mdb_txn_commit (write+sync)
  std::atomic<uint64_t> merges{0};                // of staged runs into the tree (store/runs.h)
  std::atomic<uint64_t> last_merge_us{0};
  std::atomic<uint64_t> last_merge_entries{0};
  std::atomic<uint64_t> merge_parts{0};  // transactions merges committed in
  std::atomic<uint64_t> slowdowns{0};
  std::atomic<uint64_t> paced_groups{0};  // paused below the soft bound for the applier
  std::atomic<uint64_t> paced_us{0};
  // Where writers pause (INFO, tools/beyond-ram.py): the log's writes (a
  // group's reserve and frame: direct writes wait in the device's queue),
  // its fdatasync (count, slowest), and the throttle's waits at
  // max-unapplied-bytes.
  std::atomic<uint64_t> log_write_us{0};
  std::atomic<uint64_t> log_write_max_us{0};
  std::atomic<uint64_t> slow_log_writes{0};  // over 100 ms
  std::atomic<uint64_t> log_sync_us{0};      // total time in the log's fdatasync
  std::atomic<uint64_t> log_sync_max_us{0};  // the slowest one
  std::atomic<uint64_t> slow_log_syncs{0};   // those over 100 ms
  std::atomic<uint64_t> throttle_waits{0};   // groups held at the bound
  std::atomic<uint64_t> throttle_wait_us{0};
  std::atomic<uint64_t> throttle_wait_max_us{0};
  std::atomic<uint64_t> replayed_frames{0};
  std::atomic<uint64_t> recovery_us{0};
  std::atomic<uint64_t> expired_keys{0};  // deleted by active expiry (INFO expired_keys)
  std::atomic<uint64_t> expiry_cycles{0};
  std::atomic<uint64_t> expiry_index_dropped{0};  // index entries consumed (stale or expired)
  std::atomic<uint64_t> expiry_index_reads{0};    // cycles that read the index from LMDB
  std::atomic<uint64_t> apply_errors{0};    // failed bulk applies (each retry counts)
  std::atomic<uint64_t> space_refusals{0};  // groups admit() refused
  std::atomic<uint64_t> filter_builds{0};   // key filters built (INFO)
};

class WriteTxn;

class Engine {
 public:
  // The meta database's key for the log offset LMDB holds everything before.
  static constexpr std::string_view kAppliedOffsetKey = "applied_offset";
  // ... and where in the log that offset's frame starts (a WalPosition).
  static constexpr std::string_view kAppliedPositionKey = "applied_position";
  // ... and the logical -> physical database map (one byte per database).
  static constexpr std::string_view kDbMapKey = "db_map";
  // ... and the keys with a deadline in each physical database (int64s),
  // which the bulk apply keeps as it writes over and deletes values.
  static constexpr std::string_view kExpiresKey = "expires";
  // ... and the log offset the main tree holds everything before: the
  // applied offset, but for staged runs not yet merged (store/runs.h).
  // Absent in older stores, where it is the applied offset.
  static constexpr std::string_view kMainOffsetKey = "main_offset";

  // LMDB's keys with a deadline in each physical database as of `txn`.
  Result<std::vector<int64_t>> stored_expires(MDB_txn* txn) const;

  static Result<std::unique_ptr<Engine>> open(const EngineOptions& options);
  // Applies nothing more; syncs the log. LMDB is always consistent.
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  Env& env() { return *env_; }
  int databases() const { return env_->databases(); }

  // Readers (any thread).
  std::shared_ptr<const Version> version() const;
  uint64_t durable_seq() const { return durable_seq_.load(std::memory_order_acquire); }

  // Writer thread, before executing a group whose log frame may take up to
  // `bytes`: whether it may run (see above). A Code::kOom error refuses the
  // group (nothing changed; later groups may succeed); any other error is
  // fatal (the log failed to sync).
  Status admit(uint64_t bytes);
  // Whether admit() refused the last group for lack of space, or applies are
  // failing past the bound: active expiry skips its cycle then. Writer thread.
  bool writes_refused() const;
  // Unapplied bytes past which the writer slows its groups (throttle()):
  // one buffer in its apply and the next half full (the applier is falling
  // behind), kept within half and three quarters of max_unapplied. With the
  // default write buffer at half the bound, half alone meant every apply
  // slowed the writers even when it kept pace (and the loops handed their
  // groups to the writer thread): SET -c 50 -P 1 under --fsync no had p99
  // 2.4-2.6 ms against 1.4-1.6. Smaller buffers (8 MiB under a memory cap,
  // beyond RAM) keep half, as measured there.
  size_t soft_bound() const {
    const size_t bound = options_.max_unapplied;
    const size_t buffers = options_.write_buffer_size + options_.write_buffer_size / 2;
    return std::clamp(buffers, bound / 2, bound / 4 * 3);
  }
  // Whether throttle() would slow the group down now: past soft_bound(),
  // or to pay the starved applier what the groups owe it. Any thread.
  bool throttling() { return unapplied_bytes() > soft_bound() || pace_due(); }
  // INFO: the log could not reserve space, bulk applies are failing, and
  // whether it is for lack of space (ENOSPC, MDB_MAP_FULL).
  bool log_full() const { return log_full_.load(std::memory_order_relaxed); }
  // The log is full for want of a descriptor for its next segment, not of
  // space (Wal::out_of_descriptors).
  bool log_out_of_descriptors() const { return log_no_fd_.load(std::memory_order_relaxed); }
  bool apply_failing() const { return apply_failing_.load(std::memory_order_relaxed); }
  bool disk_full() const {
    return (log_full() && !log_out_of_descriptors()) ||
           apply_space_full_.load(std::memory_order_relaxed);
  }

  // Writer thread (or a loop running a group for it: server/writer.h
  // run_here): makes the group's effects durable per the fsync policy,
  // then makes its entries visible. An error means the log may hold a
  // partial frame: the caller must exit and recover. (A frame that outgrew
  // what admit() reserved waits up to a minute for space first.)
  Status commit(WriteTxn& group);
  // Writer thread, after a committed group that added `group_weight`
  // (WriteTxn::weight) has been answered: past soft_bound() waits about as
  // long as the applier needs for that weight, and long enough for the room
  // left under max_unapplied to last until the apply in progress ends (at
  // most 50 ms); past max_unapplied until an apply ends (at most a second).
  // Never on a loop (run_here does not run groups then).
  void throttle(size_t group_weight);
  // Writer thread, when idle: releasing applied log segments, freezing an
  // old MemTable; an error if the log syncer failed (fatal).
  Status tick();
  // Switches the log's fsync policy (CONFIG SET fsync; store/log_sync.cc).
  // Any thread.
  Status set_fsync(Fsync policy);
  Fsync fsync() const { return fsync_.load(); }

  // Waits until everything frozen so far is in LMDB, after freezing the
  // active MemTable (SAVE, tests, shutdown). Writer thread or no writer.
  Status flush();
  // SAVE/BGSAVE (store/snapshot.h). Writer thread: freezes the active
  // MemTable if it holds anything and returns the log offset LMDB will
  // hold once everything frozen so far is applied: a copy taken after
  // wait_applied(that offset) holds every group committed before this call.
  uint64_t freeze();
  // Any thread: waits until LMDB's main tree holds the log up to `offset`,
  // without freezing anything (the applier's pace, but staged runs are
  // merged at once); an apply error ends the wait.
  Status wait_applied(uint64_t offset);
  // Any thread: waits until the runs staged before a restart are merged
  // (ReadView: scans and counts do not read runs). Errors as wait_applied.
  Status wait_runs_merged();

  // Writer thread: the physical database logical `db` names now (every
  // group and swap included), and the inverse (-1 if none).
  int physical_db(int db) const { return writer_map_[static_cast<size_t>(db)]; }
  int logical_db(int physical) const;

  // Writer thread (active expiry, store/expiry.h): index entries the cycle
  // has consumed, raw (8-byte deadline + db byte + key). They go with the
  // active MemTable, which holds the cycle's DELs, and leave LMDB in the
  // same transaction as those DELs reach the main tree (the apply, or the
  // merge of its staged run): so the index never loses an entry whose DEL a
  // crash (or power loss under --fsync everysec/no) could lose.
  // Also the count of keys the cycle expired.
  void drop_expiry_entries(std::vector<std::string>&& raw);
  void note_expired(uint64_t keys) { stats_.expired_keys.fetch_add(keys); }
  void count_expiry_cycle() { stats_.expiry_cycles.fetch_add(1, std::memory_order_relaxed); }
  void count_expiry_index_read() {
    stats_.expiry_index_reads.fetch_add(1, std::memory_order_relaxed);
  }
  // The expiry index's entries as LMDB held them after the last apply (or
  // at open). Any thread.
  uint64_t expiry_index_entries() const { return expiry_entries_.load(std::memory_order_acquire); }

  // INFO persistence.
  const EngineStats& stats() const { return stats_; }
  uint64_t log_end_offset() const { return log_end_.load(); }
  uint64_t applied_offset() const { return applied_offset_.load(); }
  // Runs staged and not yet merged (INFO).
  size_t staged_runs() const;
  uint64_t durable_offset() const { return durable_offset_.load(); }
  uint64_t log_disk_bytes() const { return log_disk_bytes_.load(); }
  // The weight (MemTable::weight) of the MemTables not yet in LMDB: what
  // max_unapplied and the throttle bound.
  size_t unapplied_bytes() const;
  // The key filter readers use now, or null (INFO, tests).
  std::shared_ptr<const KeyFilter> key_filter() const;
  // The prefetch pool, or null when prefetch_threads is 0 (INFO, tests).
  const Prefetcher* prefetcher() const { return prefetch_.get(); }
  // DBSIZE's background sums, or null when count_ahead_ms is 0 (tests) or
  // after stop_counter().
  const Counter* counter() const { return counter_.get(); }
  Counter* counter() { return counter_.get(); }
  // Ends the counter early: the server's shutdown, while the loops its
  // hurry() callbacks post to still run. No view may be counting.
  void stop_counter() { counter_.reset(); }
  // When DBSIZE or INFO keyspace last asked for the counts (mono_ms; 0:
  // never): the counter sums ahead only for a while after. Any thread.
  void note_counts_wanted();
  int64_t counts_wanted_ms() const { return counts_wanted_ms_.load(std::memory_order_relaxed); }
  // Tests: runs on the applier after each committed apply, before the new
  // Version is published (the window ReadView::begin must not wait out).
  void set_applied_hook(std::function<void()> hook) {
    std::lock_guard lock(mu_);
    applied_hook_ = std::move(hook);
  }
  // Tests: while paused the applier starts no apply, stage or merge (nor
  // the next part of one); pausing waits for the job under way to end.
  void set_applier_paused(bool paused) {
    std::unique_lock lock(mu_);
    applier_paused_ = paused;
    applier_cv_.notify_all();
    progress_cv_.wait(lock, [this, paused] { return !paused || !applier_busy_ || stopping_; });
  }

 private:
  friend class WriteTxn;
  Engine() = default;
  uint64_t next_seq() { return ++last_seq_; }
  MemTable& active() { return *active_; }
  // What a replay carries from frame to frame: the SELECTed database, and
  // lists each frame refills (kept, so they grow once per replay).
  struct ReplayState {
    int db = 0;
    std::vector<std::string_view> args;
    std::vector<EffectRef> effects;
    struct Hashed {
      int db;  // physical; a SELECT or SWAPDB between hint and put changes it
      uint64_t hash;
    };
    std::vector<Hashed> hashes;  // per effect, for a SET or DEL's key
  };
  // Replays one logged group, logged at `start` (`at` in the log's files),
  // into the active MemTable; with an `owner` of the payload's bytes its
  // values are borrowed (MemTable::put_borrowed).
  Status replay(uint64_t start, WalPosition at, std::string_view payload,
                const std::shared_ptr<const void>& owner, ReplayState* state);
  Status replay_effect(EffectOp op, std::span<const std::string_view> a, bool borrow,
                       const ReplayState::Hashed& hashed, int* db);
  // Freezes the active MemTable as ending where the log ends, or at a
  // replayed frame's start.
  void freeze_locked();
  void freeze_locked(uint64_t end_offset, WalPosition end_position);
  void publish_locked();
  size_t unapplied_locked() const;  // unapplied_bytes(), holding mu_
  void applier_main();
  // The log syncer (store/log_sync.cc): syncs what the log closed unsynced,
  // and under everysec the current segment once a second.
  void syncer_main();
  void stop_syncer();
  // The key filter's upkeep: starts a build when none is usable (open, the
  // applier after an apply), and the build's thread.
  void maybe_build_filter();
  void filter_main(std::shared_ptr<KeyFilter> filter);
  Status apply(const MemTable& frozen, uint64_t end_offset, WalPosition end_position,
               const std::vector<std::string>& consumed, std::vector<uint8_t>* map);
  // Staged applies (store/apply.cc, store/runs.h).
  Status stage(const MemTable& frozen, uint64_t end_offset, WalPosition end_position,
               std::vector<uint8_t>* map, const std::vector<RunInfo>& live, RunInfo* run);
  // A merge of the oldest live runs, committed in parts of about
  // merge_chunk_entries (or at once: `part` SIZE_MAX) with stages between;
  // in parts, merge_base_ is the tree before its first.
  struct MergeJob {
    std::vector<RunInfo> runs;          // the runs it merges, oldest first
    std::vector<std::string> consumed;  // their MemTables' consumed index entries
    uint64_t main_offset = 0;           // what the tree holds once it is done
    std::vector<uint8_t> map;           // and the db map then
    size_t part = SIZE_MAX;             // entries per run per transaction
    std::string merged_to;              // the run key merged up to ("": none)
    size_t merged = 0;                  // entries written so far
    uint64_t us = 0;                    // time in its transactions so far
  };
  // One part of `job` (the rest of it when job.part is SIZE_MAX); the last
  // one empties its slots and stores `live` without them. *done: it was the
  // last. The caller holds filter_mu_.
  Status merge(MergeJob& job, const std::vector<RunInfo>& live, bool* done);
  // What the applier does next (applier_main); mu_ held.
  enum class Job { kNone, kApply, kStage, kMerge };
  Job next_job_locked(bool idle) const;
  void start_merge_locked();
  // How many of frozen_ (a prefix) are staged; mu_ held.
  size_t staged_frozen_locked() const;
  // SWAPDB in the active MemTable and the writer's map.
  void swap_dbs(uint64_t seq, int a, int b);

  EngineOptions options_;
  std::unique_ptr<Env> env_;
  std::unique_ptr<Wal> wal_;
  // After env_: stopped (in ~Engine, after the applier) before env_ closes.
  std::unique_ptr<Prefetcher> prefetch_;
  // The write buffers' arena blocks, reused from one MemTable to the next.
  std::shared_ptr<PagePool> pages_;
  // What stored_expires() answers while the store has no counts: an older
  // store's, counted at open when they could not be stored. Set once, in open().
  std::vector<int64_t> unstored_expires_;
  std::function<void()> applied_hook_;  // guarded by mu_; tests only
  // The writer appends and syncs; CONFIG SET fsync may sync from a loop.
  std::mutex wal_mu_;
  std::atomic<Fsync> fsync_{Fsync::kAlways};

  // Guarded by wal_mu_: everysec's state (the writer sets log_unsynced_,
  // the syncer clears it), and the syncer's failure.
  int64_t last_sync_ms_ = 0;
  bool log_unsynced_ = false;
  Status sync_error_;
  // Held by the syncer while a sync runs (set_fsync waits it out); lock
  // order: sync_mu_, wal_mu_.
  std::mutex sync_mu_;
  std::condition_variable sync_cv_;
  bool sync_stop_ = false;  // guarded by sync_mu_
  std::thread syncer_;

  // Writer-thread state.
  uint64_t last_seq_ = 0;
  int64_t active_since_ms_ = 0;
  int64_t last_space_try_ms_ = 0;
  int64_t last_disk_bytes_ms_ = 0;  // when tick() last refreshed log_disk_bytes_
  // Set by admit() (writer) and the applier, read by INFO on any thread.
  std::atomic<bool> log_full_{false}, log_no_fd_{false}, apply_failing_{false},
      apply_space_full_{false};
  std::vector<uint8_t> writer_map_;        // logical -> physical, latest
  std::vector<std::string> active_drops_;  // consumed index entries, go with active_

  std::atomic<uint64_t> durable_seq_{0};
  std::atomic<uint64_t> expiry_entries_{0};  // see expiry_index_entries()
  // The apply in progress, for throttle(): since when (mono_us; 0: none)
  // and the weight it applies.
  std::atomic<int64_t> applying_since_us_{0};
  std::atomic<size_t> applying_weight_{0};
  std::atomic<uint64_t> applying_merge_us_{0};  // a merge's expected time (the last one's)
  // The pace below soft_bound() (throttle(), pace_due()): the applier's
  // CPU time per unit of weight, a stage and its share of a merge (0: not
  // known yet); the CPU time the groups committed owe it, less what it has
  // run since; and whether a pause would go to it now (it starves and is
  // owed). Sampled every kPaceSampleUs from its SchedStat (pace_mu_).
  bool pace_due();
  void owe_applier(int64_t ns);
  std::atomic<double> apply_cpu_ns_per_weight_{0};
  std::atomic<int> applier_tid_{0};
  std::atomic<int64_t> pace_debt_ns_{0};
  std::atomic<bool> pace_due_{false};
  std::atomic<int64_t> pace_sampled_us_{0};
  std::mutex pace_mu_;
  std::unique_ptr<SchedStat> applier_sched_;
  SchedStat::Sample pace_last_{0, 0};
  std::atomic<uint64_t> log_end_{0}, applied_offset_{0}, durable_offset_{0}, log_disk_bytes_{0};
  std::atomic<uint64_t> main_offset_{0};  // what the main tree holds (kMainOffsetKey)

  // Layers: guarded by mu_. `frozen_` is oldest first, each with the log
  // offset its last group ends at.
  mutable std::mutex mu_;
  std::condition_variable applier_cv_, progress_cv_;
  std::shared_ptr<MemTable> active_;
  struct Frozen {
    std::shared_ptr<const MemTable> table;
    uint64_t end_offset;       // the log offset its last group ends at
    WalPosition end_position;  // and where that is in the log's files
    std::vector<std::string> expiry_drops;  // consumed index entries to delete with it
  };
  std::deque<Frozen> frozen_;  // the staged ones first: staged_frozen_locked() of them
  // The runs in LMDB not yet merged, oldest first: the first restart_runs_
  // were staged before the restart (no Frozen), the rest are the staged
  // Frozen's, in order.
  std::vector<RunInfo> runs_;
  size_t restart_runs_ = 0;
  uint64_t restart_runs_end_ = 0;
  bool merge_wanted_ = false;  // flush/wait_applied: merge without waiting for K runs
  // The merge under way (applier thread; merging_ and merge_base_ under mu_).
  std::optional<MergeJob> merge_job_;
  bool merging_ = false;
  std::shared_ptr<MergeBase> merge_base_;
  bool applier_paused_ = false;       // tests
  bool applier_busy_ = false;         // a job is under way (set_applier_paused waits)
  std::vector<uint8_t> applied_map_;  // the map the main tree holds (applier writes)
  std::vector<uint8_t> staged_map_;   // the map LMDB holds with its runs (applier)
  std::shared_ptr<const Version> version_;
  bool stopping_ = false;
  Status apply_error_;
  std::thread applier_;
  // The key filter. The applier adds each key it writes to filter_ and
  // building_ holding filter_mu_ from its first add through its commit, and
  // a build registers building_ under filter_mu_ before its scan begins: so
  // every commit is either in the scan's snapshots or added by its applier.
  // filter_ is written holding filter_mu_ and mu_ (publish_locked reads it
  // under mu_); building_ under filter_mu_. Lock order: filter_mu_, mu_.
  std::mutex filter_mu_;
  std::shared_ptr<KeyFilter> filter_, building_;
  std::thread filter_thread_;
  std::atomic<bool> filter_stop_{false};
  // DBSIZE's background sums: it reads through Versions and env_, so
  // ~Engine stops it first.
  std::unique_ptr<Counter> counter_;
  std::atomic<int64_t> counts_wanted_ms_{0};
  // Writer thread: records whether the log could reserve space (and if not,
  // whether for want of a descriptor), logging each change of state once.
  Status note_log_space(Status reserved, bool no_descriptor);
  bool disk_nearly_full(uint64_t bytes) const;

  EngineStats stats_;
};

}  // namespace lmkv::store
