// store/counter.h: sums DBSIZE's counts ahead, in the background.
//
// DBSIZE and INFO keyspace add up each layer's log entries since the last
// call (store/read_view.h); an entry for a key its layer did not hold yet
// costs a lookup below the layer (the layers under it, then LMDB). A burst
// of writes with no DBSIZE left all of that to the next call, on a loop:
// 77-93 ms of stall for one DBSIZE a second under SET -P 16. This thread
// does the same sums ahead: every `period`, when new writes are durable, in
// slices of `slice` entries, each in a short read transaction of its own
// (so it never pins a snapshot for long). The sums are kept in the layers,
// shared by every view, so a DBSIZE finds little left; its result does not
// change, only who pays for it.
//
// It runs at SCHED_IDLE: it takes only CPU nothing else wants, so it slows
// no write, and on a core the loops and the applier keep busy it falls
// behind and DBSIZE does the rest, as before. And it runs only for
// kAwakeMs (two minutes) after a DBSIZE or INFO keyspace
// (Engine::note_counts_wanted): a monitoring poller keeps it awake, while
// a server nobody asks for counts spends no CPU on them (~0.5 us per write
// when it runs).
//
// Threads: its own, started by the constructor and joined by the destructor.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>

namespace lmkv::store {

class Engine;

class Counter {
 public:
  static constexpr int64_t kAwakeMs = 120'000;

  Counter(Engine& engine, std::chrono::milliseconds period, size_t slice = 1024);
  ~Counter();
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  // Log entries summed so far (tests, INFO).
  uint64_t summed() const { return summed_.load(std::memory_order_relaxed); }

 private:
  void main();

  Engine& engine_;
  const std::chrono::milliseconds period_;
  const size_t slice_;
  std::atomic<uint64_t> summed_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace lmkv::store
