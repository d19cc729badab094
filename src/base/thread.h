// base/thread.h: the server's own background threads.
//
// Background work (bulk applies, their read-ahead, the key filter's build)
// runs at nice 19: on a core it shares with an event loop, a loop woken
// for a request then waits less behind it. The scheduler (EEVDF) lets a
// thread run on while the woken one has had more than its share against
// the thread's weight; at nice 10 (weight 110 of the loop's 1024) a GET
// right after a write burst waited up to a tick (4 ms) behind an apply.
// Measured on one pinned core, GET -P 1 c50 right after 990k SETs -P 16:
// p99 0.9-2.4 ms at nice 10, 0.6-1.1 ms at nice 19, the SETs' throughput
// unchanged (BENCHMARKS.md "Stop 27"). Not SCHED_IDLE (weight 3), from
// which a thread cannot return without privilege: nice 19 still leaves an
// apply a share of a busy core.
#pragma once

#include <cstdint>
#include <optional>

namespace lmkv {

inline constexpr int kBackgroundNice = 19;

// Names the calling thread (at most 15 characters) and lowers its CPU
// priority to kBackgroundNice (threads it starts inherit that).
void become_background_thread(const char* name);

// The calling thread's kernel id, and the CPU time it has used.
int current_thread_id();
int64_t thread_cpu_ns();

// One of this process's threads as the scheduler accounts it (the kernel's
// schedstat): the CPU time it has run, and how long it has waited for a
// CPU while runnable. A niced thread cannot tell it starves; whoever shares
// its core can. Unavailable (nullopt) without CONFIG_SCHED_INFO.
class SchedStat {
 public:
  struct Sample {
    int64_t cpu_ns;
    int64_t wait_ns;
  };
  explicit SchedStat(int tid);
  ~SchedStat();
  SchedStat(const SchedStat&) = delete;
  SchedStat& operator=(const SchedStat&) = delete;
  std::optional<Sample> read() const;

 private:
  int fd_ = -1;
};

}  // namespace lmkv
