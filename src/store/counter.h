// store/counter.h: sums DBSIZE's counts ahead, in the background.
//
// DBSIZE and INFO keyspace add up each layer's log entries since the last
// call (store/read_view.h); an entry for a key its layer did not hold yet
// costs a lookup below the layer (the layers under it, then LMDB). A burst
// of writes with no DBSIZE left all of that to the next call, on a loop:
// 77-93 ms of stall for one DBSIZE a second under SET -P 16. Two threads do
// the same sums off the loops, each in slices of `slice` entries, each slice
// in a short read transaction of its own (so neither pins a snapshot for
// long). The sums are kept in the layers, shared by every view, so a DBSIZE
// finds little left; its result does not change, only who pays for it.
//
// - Ahead: every `period`, when new writes are durable, at SCHED_IDLE. It
//   takes only CPU nothing else wants, so it slows no write, and it runs
//   only for kAwakeMs (two minutes) after a DBSIZE or INFO keyspace
//   (Engine::note_counts_wanted): a monitoring poller keeps it awake, while
//   a server nobody asks for counts spends no CPU on them (~0.5 us per
//   write when it runs).
// - On demand (hurry): at the loops' own priority, for a DBSIZE that found
//   much left to sum. On a core the loops keep busy, the idle thread gets
//   no CPU; the loop then holds that client's command, this thread sums the
//   rest, and the loop runs the command again (commands/context.h,
//   Context::hold_for_counts). Its own thread because an unprivileged
//   thread cannot raise itself back from SCHED_IDLE.
//
// Threads: its own two, started by the constructor and joined by the
// destructor; hurry() from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace lmkv::store {

class Engine;

class Counter {
 public:
  static constexpr int64_t kAwakeMs = 120'000;

  Counter(Engine& engine, std::chrono::milliseconds period, size_t slice = 1024);
  ~Counter();
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  // Sums every entry durable now, then calls `done` on the counter's
  // thread (also after a failed read transaction: the caller's own count
  // meets the error and reports it). Not called if the counter stops
  // first: only the engine's end stops it, after the loops.
  void hurry(std::function<void()> done);

  // Log entries summed so far, by both threads (tests, INFO).
  uint64_t summed() const { return summed_.load(std::memory_order_relaxed); }
  // hurry() calls answered (tests, INFO).
  uint64_t hurried() const { return hurried_.load(std::memory_order_relaxed); }

 private:
  void ahead_main();
  void hurry_main();
  // Sums slices until one comes back short (caught up) or the counter
  // stops. Returns whether it caught up.
  bool catch_up(class ReadView& view);

  Engine& engine_;
  const std::chrono::milliseconds period_;
  const size_t slice_;
  std::atomic<uint64_t> summed_{0}, hurried_{0};
  std::mutex mu_;
  std::condition_variable cv_, hurry_cv_;
  bool stopping_ = false;                       // guarded by mu_
  std::vector<std::function<void()>> waiting_;  // guarded by mu_
  std::thread ahead_, hurry_;
};

}  // namespace lmkv::store
