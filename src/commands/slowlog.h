// commands/slowlog.h: the SLOWLOG, the last slowlog-max-len commands that
// ran for at least slowlog-log-slower-than microseconds.
//
// One per process, owned by server/ and reached through ServerApi. Entries
// keep copies of the (truncated) arguments, so they never borrow a
// connection's buffer. Knows nothing of loops or sockets. Any thread: a
// mutex guards the entries, the two limits are atomics read on every
// command without the lock.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "commands/context.h"

namespace lmkv::commands {

struct SlowLogEntry {
  int64_t id = 0;
  int64_t unix_s = 0;
  int64_t usec = 0;
  std::vector<std::string> args;  // truncated as Redis does
  std::string addr, name;
};

class SlowLog {
 public:
  // Redis's argument limits: at most 32 arguments (the last saying how many
  // more there were) and 128 bytes of each (saying how many more bytes).
  static constexpr size_t kMaxArgs = 32;
  static constexpr size_t kMaxArgLen = 128;

  // `slower_than` < 0 disables the log, 0 logs every command.
  void configure(int64_t slower_than, int64_t max_len);
  // True when a command that took `usec` is to be logged.
  bool wants(int64_t usec) const {
    const int64_t t = slower_than_.load(std::memory_order_relaxed);
    return t >= 0 && usec >= t;
  }
  void add(int64_t usec, int64_t unix_s, Args args, std::string addr, std::string name);

  // The newest `count` entries, newest first (count < 0: all).
  std::vector<SlowLogEntry> newest(int64_t count) const;
  size_t size() const;
  void reset();

 private:
  std::atomic<int64_t> slower_than_{10000};
  std::atomic<int64_t> max_len_{128};
  mutable std::mutex mu_;
  int64_t next_id_ = 0;
  std::deque<SlowLogEntry> entries_;  // newest at the front
};

}  // namespace lmkv::commands
