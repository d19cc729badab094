// commands/slowlog.cc: the SLOWLOG ring (see slowlog.h).

#include "commands/slowlog.h"

#include <fmt/format.h>

namespace lmkv::commands {

void SlowLog::configure(int64_t slower_than, int64_t max_len) {
  slower_than_.store(slower_than, std::memory_order_relaxed);
  max_len_.store(max_len, std::memory_order_relaxed);
  std::lock_guard l(mu_);
  while (entries_.size() > static_cast<size_t>(max_len)) entries_.pop_back();
}

void SlowLog::add(int64_t usec, int64_t unix_s, Args args, std::string addr, std::string name) {
  SlowLogEntry e;
  e.unix_s = unix_s;
  e.usec = usec;
  e.addr = std::move(addr);
  e.name = std::move(name);
  const size_t n = std::min(args.size(), kMaxArgs);
  e.args.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (i == kMaxArgs - 1 && args.size() > kMaxArgs) {
      e.args.push_back(fmt::format("... ({} more arguments)", args.size() - kMaxArgs + 1));
    } else if (args[i].size() > kMaxArgLen) {
      e.args.push_back(fmt::format("{}... ({} more bytes)", args[i].substr(0, kMaxArgLen),
                                   args[i].size() - kMaxArgLen));
    } else {
      e.args.emplace_back(args[i]);
    }
  }
  std::lock_guard l(mu_);
  e.id = next_id_++;
  entries_.push_front(std::move(e));
  const auto max_len = static_cast<size_t>(max_len_.load(std::memory_order_relaxed));
  while (entries_.size() > max_len) entries_.pop_back();
}

std::vector<SlowLogEntry> SlowLog::newest(int64_t count) const {
  std::lock_guard l(mu_);
  const size_t n = count < 0 ? entries_.size()
                             : std::min(entries_.size(), static_cast<size_t>(count));
  return {entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(n)};
}

size_t SlowLog::size() const {
  std::lock_guard l(mu_);
  return entries_.size();
}

// Like Redis, the ids keep counting after a reset.
void SlowLog::reset() {
  std::lock_guard l(mu_);
  entries_.clear();
}

}  // namespace lmkv::commands
