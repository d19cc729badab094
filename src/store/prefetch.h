// store/prefetch.h: the prefetch pool (DESIGN.md "Bulk apply"): threads that
// fault in the LMDB leaves of the next bulk apply, in key order, ahead of the
// applier.
//
// Beyond RAM each put of an apply must first read its leaf, and the applier
// reads them one at a time: queue depth 1, ~15k random 4 KiB reads/s on the
// reference disk, against ~63k at depth 16. The pool reads the same leaves
// from N threads at once, each with its own short read transaction
// (MDB_NOTLS), so the disk has N reads in flight and the applier's write
// transaction then finds its leaves in the page cache.
//
// It only reads: a touch is an mdb_get whose result is thrown away, so it can
// never change what the applier writes, and it never blocks the applier (an
// LMDB reader takes no lock a writer waits for). At worst it wastes reads: on
// a key the applier has already passed (workers skip to the applier's
// position), or on pages evicted again before use (hence a small lookahead).
//
// Jobs: the engine hands over each frozen MemTable (enqueue) and retires it
// once applied. Workers serve the oldest job that still has keys left, among
// the first `lookahead` jobs, claiming blocks of keys through an atomic
// cursor: together they advance through the keys in the applier's order
// (db, then key) while each block's reads are in flight at once. A read
// transaction lives for one block only, so it never pins old pages for long.
//
// In memory the reads find every leaf already there and only cost CPU
// (~18% of a pinned core under a sustained SET load, listing the keys
// included): after a whole job without a major fault, jobs are only
// sampled (one key in kSampleStride) until a sampled read faults again.
//
// Distance: workers stay at most `max_ahead` keys ahead of the applier in
// each job (a job not yet being applied counts from its start). Measured
// under a 96 MiB cap: prefetching two whole MemTables ahead evicted the
// leaves again before the applier reached them (it still took ~0.9 major
// faults per entry); a bounded distance keeps just enough in flight.
//
// Knows LMDB (through Env) and MemTable; nothing of the log, RESP or
// commands. Threads: enqueue/retire/applier_at from any thread (the engine's
// writer and applier); the workers are the pool's own, started by the
// constructor and joined by the destructor.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "store/env.h"
#include "store/memtable.h"

namespace lmkv::store {

struct PrefetchStats {
  std::atomic<uint64_t> jobs{0};         // MemTables handed over
  std::atomic<uint64_t> touched{0};      // keys looked up
  std::atomic<uint64_t> skipped{0};      // keys the applier had passed before a worker got there
  std::atomic<uint64_t> errors{0};       // read transactions that could not start
  std::atomic<uint64_t> waits{0};        // times a worker waited for the applier to move on
  std::atomic<uint64_t> sampled_out{0};  // keys left alone while the data was in memory
};

class Prefetcher {
 public:
  // Keys claimed per step and per read transaction.
  static constexpr size_t kBlock = 32;
  // While the leaves are in memory (the last whole job was read without a
  // major fault), one key in this many is touched: enough to notice the
  // first read from disk, after which every key is again.
  static constexpr size_t kSampleStride = 512;

  // Starts `threads` workers (>= 1, from a thread of its own) over env's
  // first `databases` databases, each using one LMDB reader slot (the Env
  // must have room for them).
  Prefetcher(Env& env, int databases, int threads, size_t lookahead = 2, size_t max_ahead = 2048);
  // Stops the workers (a block in progress finishes) and joins them.
  ~Prefetcher();
  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;

  // A MemTable that will be applied after those enqueued before it. It must
  // not change any more (frozen).
  void enqueue(std::shared_ptr<const MemTable> table);
  // `table` is in LMDB (or abandoned): no more reads for it.
  void retire(const MemTable* table);
  // The applier has written the first `n` entries of `table` (in the order
  // the apply iterates: db ascending, then key): workers skip them.
  void applier_at(const MemTable* table, size_t n);

  // Where workers read their major page fault count (tests fake one).
  // Before the first enqueue.
  void set_fault_counter(uint64_t (*counter)()) { faults_ = counter; }

  // Jobs not yet retired (tests).
  size_t pending() const;
  const PrefetchStats& stats() const { return stats_; }
  int threads() const { return threads_; }

 private:
  struct Job;
  void worker_main();
  // The first job in the lookahead window with keys left, or null. mu_ held.
  std::shared_ptr<Job> pick_locked();
  // Touches the job's keys block by block until it runs out or is retired.
  void run(Job& job, MDB_txn*& txn);
  void sample(Job& job, MDB_txn*& txn);
  bool begin_read(MDB_txn*& txn);
  static uint64_t major_faults();

  Env& env_;
  const int databases_;
  const size_t lookahead_;
  const size_t max_ahead_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> jobs_;  // oldest first
  bool stopping_ = false;
  std::atomic<bool> stop_flag_{false};
  std::atomic<bool> sampling_{false};  // see kSampleStride
  uint64_t (*faults_)() = &Prefetcher::major_faults;
  const int threads_;
  std::thread starter_;               // starts the workers, then ends
  std::vector<std::thread> workers_;  // the starter's until it is joined
  PrefetchStats stats_;
};

}  // namespace lmkv::store
