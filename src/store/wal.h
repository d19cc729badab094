// store/wal.h: the write-ahead log (DESIGN.md "Writes", "Recovery").
//
// The log is a sequence of frames in segment files under <dir>/log/, each
// named by the offset of its first frame (00000000000000000000.log). A frame
// is one writer group:
//
//   u32 magic "LMKF" | u32 payload length | u64 start offset |
//   u32 crc32c(length, offset, payload) | u32 reserved | payload
//
// Offsets count payload bytes only, as Redis's replication offsets do, so
// the payload stream is the replication stream. A frame is valid only if its
// magic, CRC and start offset (the end of the frame before it) all check:
// a torn tail, a flipped bit, or a stale frame left in a recycled or
// pre-zeroed file is where the log ends, and open() cuts it there.
//
// Knows nothing of RESP or LMDB. One writer thread appends and syncs;
// open() runs before any thread starts.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace lmkv::store {

// Where a frame starts: its segment (by start offset) and byte in that file.
// Recovery seeks straight to the position LMDB stored with its applied
// offset, so restart reads only the unapplied tail, whatever the log's size.
struct WalPosition {
  uint64_t segment = 0;
  uint64_t byte = 0;
};

struct WalOptions {
  std::string dir;                          // the log's own directory
  uint64_t segment_bytes = 64ull << 20;     // a segment is closed past this size
};

class Wal {
 public:
  // Called for each whole frame at or after the replay offset, in order.
  using Replay = std::function<Status(uint64_t start, std::string_view payload)>;

  // Opens (or creates) the log and replays every frame that starts at or
  // after `from` (the offset LMDB already holds). `hint`, if it names the
  // segment holding `from`, is where its frame starts (checked: a frame
  // there must start at `from`, else the segment is read from its start). A
  // torn or corrupt tail is cut off at the last whole frame. If the log ends
  // before `from` (its tail was never synced), the log restarts at `from`.
  static Result<std::unique_ptr<Wal>> open(const WalOptions& options, uint64_t from,
                                           WalPosition hint, const Replay& replay);
  ~Wal();
  Wal(const Wal&) = delete;
  Wal& operator=(const Wal&) = delete;

  // Appends one frame holding `payload` with a single write; returns the
  // frame's start offset. Not durable until sync(). An error is fatal to
  // the caller: the frame may be partly written.
  Result<uint64_t> append(std::string_view payload);
  // Makes every appended frame durable (fdatasync).
  Status sync();
  // Deletes segments whose frames all end at or before `offset`.
  void release_before(uint64_t offset);

  uint64_t end_offset() const { return end_; }
  // Where the next frame will start (or, past a full segment, the end of
  // the last one, which recovery reads on from).
  WalPosition end_position() const { return {segments_.back().start, segment_size_}; }
  // Bytes in all segment files (INFO).
  uint64_t disk_bytes() const;

  static constexpr size_t kHeaderSize = 24;

 private:
  struct Segment {
    uint64_t start;
    std::string path;
  };
  Wal() = default;
  Status open_segment_for_append(uint64_t start, bool create);
  std::string segment_path(uint64_t start) const;

  WalOptions options_;
  std::vector<Segment> segments_;  // in offset order; the last one takes appends
  int fd_ = -1;
  uint64_t end_ = 0;          // offset after the last frame
  uint64_t segment_size_ = 0; // bytes in the current segment file
  bool dirty_ = false;        // appended since the last sync
};

}  // namespace lmkv::store
