// commands/scan_cursors.cc: the SCAN cursor table (see scan_cursors.h).
#include "commands/scan_cursors.h"

#include <random>

namespace lmkv::commands {
namespace {

// Ids stay below 2^53 so JavaScript clients keep them exact.
constexpr uint64_t kIdLimit = uint64_t{1} << 53;

// A random first id in [1, 2^52): a cursor from an earlier process is then
// almost surely unknown here, and there are 2^52 ids before wrapping.
uint64_t random_base() {
  std::random_device rd;
  const uint64_t r = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  return 1 + r % ((kIdLimit >> 1) - 1);
}

}  // namespace

ScanCursors::ScanCursors(size_t capacity, int64_t idle_ms)
    : capacity_(capacity == 0 ? 1 : capacity), idle_ms_(idle_ms), next_id_(random_base()) {}

uint64_t ScanCursors::save(Position position, int64_t now_ms) {
  std::lock_guard l(mu_);
  // Entries are saved in time order and never refreshed (take removes), so
  // the LRU front is also the oldest: drop idle ones, then make room.
  while (!lru_.empty()) {
    auto it = entries_.find(lru_.front());
    const bool idle = now_ms - it->second.saved_ms > idle_ms_;
    if (!idle && entries_.size() < capacity_) break;
    entries_.erase(it);
    lru_.pop_front();
  }
  uint64_t id;
  do {
    id = next_id_++;
    if (next_id_ >= kIdLimit) next_id_ = 1;
  } while (entries_.count(id) != 0);
  lru_.push_back(id);
  entries_.emplace(id, Entry{std::move(position), now_ms, std::prev(lru_.end())});
  return id;
}

std::optional<ScanCursors::Position> ScanCursors::take(uint64_t id, int64_t now_ms) {
  std::lock_guard l(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return std::nullopt;
  const bool idle = now_ms - it->second.saved_ms > idle_ms_;
  std::optional<Position> out;
  if (!idle) out = std::move(it->second.position);
  lru_.erase(it->second.lru);
  entries_.erase(it);
  return out;
}

size_t ScanCursors::size() const {
  std::lock_guard l(mu_);
  return entries_.size();
}

}  // namespace lmkv::commands
