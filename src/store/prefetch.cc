// store/prefetch.cc: the prefetch pool's jobs and workers (see prefetch.h).
#include "store/prefetch.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <mutex>
#include <string>
#include <string_view>

#include "base/thread.h"
#include "store/value.h"

namespace lmkv::store {

// One frozen MemTable's keys, in the order the apply writes them. The key
// views point into the MemTable's arena, kept alive by `table`.
struct Prefetcher::Job {
  struct Key {
    int db;
    std::string_view key;
  };
  std::shared_ptr<const MemTable> table;
  std::once_flag built;
  std::vector<Key> keys;               // written once, under `built`
  std::atomic<size_t> next{0};         // the next unclaimed key
  std::atomic<size_t> applied{0};      // the applier's position
  std::atomic<bool> exhausted{false};  // every key claimed
  std::atomic<bool> retired{false};    // applied: stop
  std::atomic<uint64_t> faults{0};     // major faults of its touches
  std::atomic<bool> judged{false};     // counted towards the sampling decision
};

Prefetcher::Prefetcher(Env& env, int databases, int threads, size_t lookahead, size_t max_ahead)
    : env_(env),
      databases_(databases),
      lookahead_(std::max<size_t>(1, lookahead)),
      max_ahead_(std::max(kBlock, max_ahead)),
      threads_(std::max(1, threads)) {
  // Starting 32 threads took 7-9 ms, which a crash restart would spend
  // before its replay: a thread of its own starts them instead. A job
  // enqueued meanwhile waits for the first.
  starter_ = std::thread([this] {
    become_background_thread("lmkv-prefetch");  // the workers inherit its priority
    workers_.reserve(static_cast<size_t>(threads_));
    for (int i = 0; i < threads_ && !stop_flag_.load(std::memory_order_relaxed); ++i)
      workers_.emplace_back([this] { worker_main(); });
  });
}

Prefetcher::~Prefetcher() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  stop_flag_.store(true, std::memory_order_relaxed);
  starter_.join();  // no worker starts after this
  cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void Prefetcher::enqueue(std::shared_ptr<const MemTable> table) {
  auto job = std::make_shared<Job>();
  job->table = std::move(table);
  {
    std::lock_guard lock(mu_);
    jobs_.push_back(std::move(job));
  }
  stats_.jobs.fetch_add(1, std::memory_order_relaxed);
  cv_.notify_all();
}

void Prefetcher::retire(const MemTable* table) {
  {
    std::lock_guard lock(mu_);
    for (auto it = jobs_.begin(); it != jobs_.end(); ++it) {
      if ((*it)->table.get() != table) continue;
      (*it)->retired.store(true, std::memory_order_relaxed);
      jobs_.erase(it);
      break;
    }
  }
  // The lookahead window moved: a waiting worker may have a job now.
  cv_.notify_all();
}

void Prefetcher::applier_at(const MemTable* table, size_t n) {
  std::lock_guard lock(mu_);
  for (auto& job : jobs_) {
    if (job->table.get() == table) {
      job->applied.store(n, std::memory_order_relaxed);
      return;
    }
  }
}

size_t Prefetcher::pending() const {
  std::lock_guard lock(mu_);
  return jobs_.size();
}

std::shared_ptr<Prefetcher::Job> Prefetcher::pick_locked() {
  const size_t window = std::min(lookahead_, jobs_.size());
  for (size_t i = 0; i < window; ++i)
    if (!jobs_[i]->exhausted.load(std::memory_order_relaxed)) return jobs_[i];
  return nullptr;
}

void Prefetcher::worker_main() {
  // Like the applier it serves, background work (niced by its starter):
  // mostly asleep in page faults, it must not take CPU from the loops when
  // its pages are cached.
  MDB_txn* txn = nullptr;  // reset between blocks, renewed per block
  for (;;) {
    std::shared_ptr<Job> job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || (job = pick_locked()) != nullptr; });
      if (stopping_) break;
    }
    run(*job, txn);
  }
  if (txn) mdb_txn_abort(txn);
}

// This thread's major page faults so far: reads LMDB's map had to wait for.
uint64_t Prefetcher::major_faults() {
  struct rusage ru {};
  if (::getrusage(RUSAGE_THREAD, &ru) != 0) return 0;
  return static_cast<uint64_t>(ru.ru_majflt);
}

// Starts a block's read transaction (renewing the worker's reset one).
// Without a reader slot, or with a broken environment, prefetching (only an
// optimisation) gives up on the job rather than retry in a loop.
bool Prefetcher::begin_read(MDB_txn*& txn) {
  int rc = txn ? mdb_txn_renew(txn) : mdb_txn_begin(env_.raw(), nullptr, MDB_RDONLY, &txn);
  if (rc == 0) return true;
  if (txn) mdb_txn_abort(txn);
  txn = nullptr;
  stats_.errors.fetch_add(1, std::memory_order_relaxed);
  return false;
}

// While sampling, one worker touches every kSampleStride-th entry of the
// job's insertion log, without listing its keys in order (that walk alone
// cost more than the reads). A major fault among them ends sampling from the
// next job on.
void Prefetcher::sample(Job& job, MDB_txn*& txn) {
  if (job.exhausted.exchange(true, std::memory_order_relaxed)) return;
  if (!begin_read(txn)) return;
  const MemTable& table = *job.table;
  const uint64_t faults_before = faults_();
  std::string key;
  size_t touched = 0;
  const size_t size = table.log_size();
  for (size_t i = 0; i < size && !stop_flag_.load(std::memory_order_relaxed); i += kSampleStride) {
    const MemTable::LogEntry e = table.log_entry(i);
    if (e.db >= databases_) continue;
    encode_key(e.key, &key);
    MDB_val k{key.size(), key.data()}, v;
    (void)mdb_get(txn, env_.dbi(e.db), &k, &v);
    ++touched;
  }
  mdb_txn_reset(txn);
  stats_.touched.fetch_add(touched, std::memory_order_relaxed);
  stats_.sampled_out.fetch_add(size - touched, std::memory_order_relaxed);
  if (faults_() > faults_before) sampling_.store(false, std::memory_order_relaxed);
}

void Prefetcher::run(Job& job, MDB_txn*& txn) {
  if (sampling_.load(std::memory_order_relaxed)) {
    sample(job, txn);
    return;
  }
  // The first worker to reach a job lists its keys (a walk of the skiplist,
  // milliseconds); the others wait for it rather than walk it again.
  std::call_once(job.built, [&] {
    job.keys.reserve(job.table->entries());
    for (int db = 0; db < databases_; ++db) {
      MemTable::Iterator it(*job.table, db, std::numeric_limits<uint64_t>::max());
      for (it.seek_to_first(); it.valid(); it.next()) job.keys.push_back({db, it.key()});
    }
  });
  const size_t size = job.keys.size();
  std::string key;
  for (;;) {
    if (stop_flag_.load(std::memory_order_relaxed) || job.retired.load(std::memory_order_relaxed))
      return;
    // Far enough ahead of the applier: wait for it to move (it reports
    // every few hundred entries) rather than read leaves the page cache
    // may drop again before it gets there.
    if (job.next.load(std::memory_order_relaxed) >=
        job.applied.load(std::memory_order_relaxed) + max_ahead_) {
      stats_.waits.fetch_add(1, std::memory_order_relaxed);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      continue;
    }
    const size_t begin = job.next.fetch_add(kBlock, std::memory_order_relaxed);
    if (begin >= size) {
      job.exhausted.store(true, std::memory_order_relaxed);
      // A whole job read without one major fault: its leaves were in memory.
      if (!job.judged.exchange(true) && size >= kSampleStride &&
          job.faults.load(std::memory_order_relaxed) == 0)
        sampling_.store(true, std::memory_order_relaxed);
      return;
    }
    const size_t end = std::min(begin + kBlock, size);
    // Behind the applier: its leaves are already read (and written); jump
    // the shared cursor to where the applier is instead.
    const size_t applied = job.applied.load(std::memory_order_relaxed);
    if (end <= applied) {
      size_t cur = job.next.load(std::memory_order_relaxed);
      while (cur < applied && !job.next.compare_exchange_weak(cur, applied)) {
      }
      stats_.skipped.fetch_add(end - begin, std::memory_order_relaxed);
      continue;
    }
    if (!begin_read(txn)) {
      job.exhausted.store(true, std::memory_order_relaxed);
      return;
    }
    const uint64_t faults_before = faults_();
    for (size_t i = begin; i < end; ++i) {
      encode_key(job.keys[i].key, &key);
      MDB_val k{key.size(), key.data()}, v;
      // Found or not, the search read the leaf the key belongs in.
      (void)mdb_get(txn, env_.dbi(job.keys[i].db), &k, &v);
    }
    mdb_txn_reset(txn);
    if (const uint64_t faults = faults_() - faults_before; faults > 0) {
      job.faults.fetch_add(faults, std::memory_order_relaxed);
      sampling_.store(false, std::memory_order_relaxed);  // reading from disk again
    }
    stats_.touched.fetch_add(end - begin, std::memory_order_relaxed);
  }
}

}  // namespace lmkv::store
