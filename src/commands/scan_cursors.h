// commands/scan_cursors.h: the server-wide SCAN cursor table (DESIGN.md
// "SCAN cursors"). A nonzero cursor is an id below 2^53 naming {db, last key
// returned}; ids start at a random base per process so a cursor from before
// a restart is unknown rather than wrong. Bounded (LRU, default 64k
// entries) with an idle timeout. Any loop thread (internally locked).
#pragma once

#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace lmkv::commands {

class ScanCursors {
 public:
  struct Position {
    int db = 0;
    std::string last_key;
  };

  explicit ScanCursors(size_t capacity = 65536, int64_t idle_ms = 3600 * 1000);

  // Remembers a position and returns its new cursor id (nonzero, < 2^53).
  uint64_t save(Position position, int64_t now_ms);
  // The position of `id`, removing it (each cursor is used once; the next
  // call gets a new id). nullopt if unknown, evicted or idle too long.
  std::optional<Position> take(uint64_t id, int64_t now_ms);
  size_t size() const;

 private:
  struct Entry {
    Position position;
    int64_t saved_ms;
    std::list<uint64_t>::iterator lru;
  };
  mutable std::mutex mu_;
  size_t capacity_;
  int64_t idle_ms_;
  uint64_t next_id_;
  std::unordered_map<uint64_t, Entry> entries_;
  std::list<uint64_t> lru_;  // front = oldest
};

}  // namespace lmkv::commands
