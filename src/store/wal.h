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
// Space (DESIGN.md "Durability and space"): log space is allocated ahead of
// the frames that fill it (reserve(), fallocate with FALLOC_FL_KEEP_SIZE, so
// the file's size still ends at the last frame and recovery is unchanged).
// The writer reserves a group's frame, plus headroom, before executing the
// group: a full disk then refuses the group before it touches the MemTable,
// and a frame's write into allocated blocks cannot fail for lack of space.
//
// Direct writes (set_direct, on under --fsync always): frames are written
// with O_DIRECT, whole 4 KiB blocks at a time (the current partial block is
// kept in memory and written again with each frame, zero-padded). Measured
// beyond RAM (256 MiB cap, 0.3-1 s LMDB commits writing ~64 MiB each):
// buffered, a group's fdatasync waited for its log page's writeback behind
// data.mdb's in the block layer's writeback throttling (wbt) and the device
// queue, up to ~1 s; direct writes skip wbt and the page cache (nor are the
// log's pages charged to a memory-capped cgroup). Their space is reserved by
// writing zeros (see write_zeros). Zeros after the last frame are a clean
// end, cut quietly by open().
//
// Syncs off the write path (set_sync_on_roll(false), --fsync everysec and
// no): a full segment is closed without waiting for its fdatasync, and a new
// segment's name without the directory's; take_sync() hands what is unsynced
// to a thread of the caller's, which syncs it without the log's lock.
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
  // Allocates [offset, offset + len) of fd without changing its size;
  // returns 0 or an errno value. Null: fallocate(FALLOC_FL_KEEP_SIZE). Tests
  // inject ENOSPC here.
  std::function<int(int fd, uint64_t offset, uint64_t len)> allocate = nullptr;
};

// What a read-only pass over a log found (lmkv-check): the frames open()
// would replay from `from`, and why the log stops where it does.
struct WalScan {
  bool present = false;       // the log directory exists
  uint64_t segments = 0;      // segment files
  uint64_t frames = 0;        // whole frames at or after `from`
  uint64_t payload_bytes = 0; // their payload bytes
  uint64_t end_offset = 0;    // after the last whole frame
  uint64_t tail_bytes = 0;    // bytes after it that open() would cut
  std::string tail;           // why the log stops there ("" at a clean end)
  bool lost_segments = false; // whole segments lie after the cut (data open() drops)
};

class Wal {
 public:
  // What the log holds unsynced, taken under the caller's lock and synced
  // without it: descriptors of its own, so the log may roll and release
  // segments meanwhile. Closes them when it goes.
  class PendingSync {
   public:
    PendingSync() = default;
    PendingSync(PendingSync&& o) noexcept;
    PendingSync& operator=(PendingSync&& o) noexcept;
    ~PendingSync();
    bool empty() const { return files_.empty() && dir_.empty(); }
    // Full segments closed unsynced, oldest first (tests).
    size_t closed_segments() const { return files_.size() - (current_ ? 1 : 0); }
    // fdatasync(2) of each closed segment, oldest first, fsync(2) of the
    // directory if segments were created since its last sync, then
    // fdatasync(2) of the current segment if taken. Once it succeeds,
    // every frame before end() is durable.
    Status run();
    // With the current segment taken, the log's end then; else 0.
    uint64_t end() const { return end_; }

   private:
    friend class Wal;
    struct File {
      int fd;
      std::string path;
    };
    void close_all();
    std::vector<File> files_;  // oldest first; the current segment's last
    bool current_ = false;     // files_ ends with the current segment
    std::string dir_;          // the directory to sync, or ""
    uint64_t end_ = 0;
  };

  // Reads the log in `dir` as open() would replay it from `from`, checking
  // every frame's magic, offset and CRC, without changing any file.
  static Result<WalScan> scan(const std::string& dir, uint64_t from);

  // Called for each whole frame at or after the replay offset, in order,
  // with its offset and where its header is (what a freeze before it
  // records). `owner` keeps the payload's bytes (the mapped log file) as
  // they are for as long as anyone holds it: a replay may view them instead
  // of copying.
  using Replay = std::function<Status(uint64_t start, WalPosition at, std::string_view payload,
                                      const std::shared_ptr<const void>& owner)>;

  // Opens (or creates) the log and replays every frame that starts at or
  // after `from` (the offset LMDB already holds). `hint`, if it names the
  // segment holding `from`, is where its frame starts (checked: a frame
  // there must start at `from`, else the segment is read from its start). A
  // torn or corrupt tail is cut off at the last whole frame. If the log ends
  // before `from` (its tail was never synced), the log restarts at `from`.
  // Where that fresh segment (or a first one) cannot be created, the log
  // opens without one, and reserve() refuses (kOom) until it can.
  // Appends after a replay go to a new segment, so no replayed byte is ever
  // written again (a direct write rewrites its partial block); when the
  // disk has no room for that file, to the replayed one, buffered.
  static Result<std::unique_ptr<Wal>> open(const WalOptions& options, uint64_t from,
                                           WalPosition hint, const Replay& replay);
  ~Wal();
  Wal(const Wal&) = delete;
  Wal& operator=(const Wal&) = delete;

  // Makes sure frames totalling `bytes` (headers included) fit in space
  // already allocated to the log, starting a new segment first when the
  // current one is full. Nothing is written. An error with Code::kOom means
  // no space could be allocated (retry later; the log is unchanged); any
  // other error (closing a full segment failed to sync) is fatal.
  Status reserve(uint64_t bytes);
  // Whether the last reserve() failed for want of a descriptor for the next
  // segment (EMFILE, ENFILE: too many files open in the process or the
  // system), not of space.
  bool out_of_descriptors() const { return no_descriptor_; }
  // Appends one frame holding `payload` with a single write; returns the
  // frame's start offset. Not durable until sync(). It reserves the frame's
  // space first: a kOom error means nothing was written and the log is
  // unchanged; any other error is fatal to the caller (the frame may be
  // partly written).
  Result<uint64_t> append(std::string_view payload);
  // Makes every appended frame durable (fdatasync), segments closed
  // unsynced first.
  Status sync();
  // Whether closing a full segment (and creating the next) waits for its
  // syncs (the default; --fsync always, whose groups were synced already),
  // or leaves them to take_sync().
  void set_sync_on_roll(bool on) { sync_on_roll_ = on; }
  // Everything not yet synced, for the caller to run() without its lock:
  // the segments closed unsynced, the directory, and, if `current`, the
  // current segment's frames. What it takes counts as synced from now on.
  // Where no descriptor is left to take, it syncs here instead; an error
  // (that sync failed) is fatal to the caller.
  Result<PendingSync> take_sync(bool current);
  // Writes frames with O_DIRECT from now on (or buffered again). Falls back
  // to buffered writes where the file system refuses O_DIRECT.
  Status set_direct(bool direct);
  bool direct() const { return direct_; }
  // Deletes segments whose frames all end at or before `offset`; or, given
  // `unlink_later`, only forgets them and adds their paths there, for the
  // caller to delete off the writer's path (an unlink with discard can take
  // tens of milliseconds).
  void release_before(uint64_t offset, std::vector<std::string>* unlink_later = nullptr);

  uint64_t end_offset() const { return end_; }
  // Where the next frame will start (or, past a full segment, the end of
  // the last one, which recovery reads on from).
  // The appender's own state: release_before (the applier's, under the
  // caller's lock) may be erasing segments_ meanwhile.
  WalPosition end_position() const { return {current_start_, segment_size_}; }
  // Bytes in all segment files (INFO).
  uint64_t disk_bytes() const;
  // Bytes allocated but not yet written in the current segment.
  uint64_t reserved_bytes() const {
    return allocated_ > segment_size_ ? allocated_ - segment_size_ : 0;
  }

  static constexpr size_t kHeaderSize = 24;
  // The unit of direct writes (and of the zero padding after the last frame).
  static constexpr size_t kBlock = 4096;

 private:
  struct Segment {
    uint64_t start;
    std::string path;
  };
  Wal() = default;
  Status open_segment_for_append(uint64_t start, bool create);
  // Creates the segment that starts at end_ and makes it current. When the
  // file cannot be created (a full disk), a kOom error: nothing changed, and
  // the next reserve() tries again.
  Status start_segment();
  // Closes the full segment durably and starts the next one at end_.
  Status roll();
  std::string segment_path(uint64_t start) const;
  // Direct writes: makes room for `bytes` in buf_ (keeping its tail), and
  // loads the current partial block into it from the file.
  void grow_buffer(size_t bytes);
  Status load_tail();
  Status write_direct(const char* header, std::string_view payload);
  int write_zeros(uint64_t from, uint64_t to);
  Status allocate(uint64_t want);
  void zero_ahead();
  // Cuts the zero padding of direct writes off the current file.
  void trim();

  WalOptions options_;
  std::vector<Segment> segments_;  // in offset order; the last one takes appends
  int fd_ = -1;
  uint64_t end_ = 0;          // offset after the last frame
  uint64_t segment_size_ = 0; // bytes in the current segment file
  uint64_t current_start_ = 0;  // the current segment's first offset (segments_.back())
  bool dirty_ = false;        // appended since the last sync
  bool sync_on_roll_ = true;  // see set_sync_on_roll
  // Full segments closed unsynced and whether a segment was created since
  // the directory's last sync (sync_on_roll_ false), for take_sync().
  std::vector<PendingSync::File> closed_;
  bool dir_unsynced_ = false;
  uint64_t allocated_ = 0;    // bytes of the current segment known to be allocated
  bool can_allocate_ = true;  // false once the file system refused fallocate as unsupported
  bool no_descriptor_ = false;  // see out_of_descriptors()
  // Direct writes: buf_ (kBlock-aligned, buf_size_ bytes) starts with the
  // current partial block's segment_size_ % kBlock bytes.
  bool direct_ = false;
  bool padded_ = false;  // the file may hold padding past segment_size_
  // The current segment holds replayed frames that MemTable entries view
  // (a start that could not create a fresh segment): it takes appends
  // buffered only; set_direct() is kept for the next segment.
  bool viewed_tail_ = false;
  bool direct_later_ = false;
  uint64_t zeroed_ = 0;   // direct writes: the current segment is zeros up to here
  char* buf_ = nullptr;
  size_t buf_size_ = 0;
  char* zeros_ = nullptr;  // a block-aligned MiB of zeros (write_zeros)
};

}  // namespace lmkv::store
