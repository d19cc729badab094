#include "store/wal.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <new>
#include <optional>
#include <stop_token>
#include <thread>
#include <utility>

#include "base/crc32c.h"
#include "base/log.h"

namespace lmkv::store {
namespace {

constexpr uint32_t kMagic = 0x464B4D4C;  // "LMKF" little-endian

void put32(char* p, uint32_t v) { std::memcpy(p, &v, 4); }
void put64(char* p, uint64_t v) { std::memcpy(p, &v, 8); }
uint32_t get32(const char* p) { uint32_t v; std::memcpy(&v, p, 4); return v; }
uint64_t get64(const char* p) { uint64_t v; std::memcpy(&v, p, 8); return v; }

Error sys_error(std::string_view what, const std::string& path) {
  return err(fmt::format("log {} {}: {}", what, path, std::strerror(errno)));
}

// The CRC covers the length and offset fields, then the payload.
uint32_t frame_crc(const char* header, std::string_view payload) {
  uint32_t crc = crc32c(0, header + 4, 12);
  return crc32c(crc, payload.data(), payload.size());
}

// Log space is allocated in steps of this size, so most groups need no
// system call to reserve theirs.
constexpr uint64_t kAllocationStep = 1ull << 20;

// A descriptor of a segment for a sync elsewhere (Wal::PendingSync): the
// file opened again, read-only (fdatasync syncs the file, whichever
// descriptor). Not dup(): ThreadSanitizer takes a dup()'s number, reused
// from a socket a loop closed inside libuv, for a race with that socket.
int sync_descriptor(const std::string& path) {
  return ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
}

Status fsync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return sys_error("open dir", dir);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return sys_error("fsync dir", dir);
  return {};
}

// The file's bytes from `from` on.
Result<std::string> read_file(const std::string& path, uint64_t from) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return sys_error("open", path);
  std::string data;
  struct stat st{};
  if (fstat(fd, &st) == 0 && static_cast<uint64_t>(st.st_size) > from)
    data.resize(static_cast<size_t>(st.st_size) - from);
  // Under --fsync always the log was written with O_DIRECT, so after a crash
  // it is not in the page cache: ask for the whole range at once (many reads
  // in flight) rather than readahead's window by window.
  (void)::posix_fadvise(fd, static_cast<off_t>(from), 0, POSIX_FADV_WILLNEED);
  size_t got = 0;
  while (got < data.size()) {
    ssize_t n = ::pread(fd, data.data() + got, data.size() - got,
                        static_cast<off_t>(from + got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  data.resize(got);
  return data;
}

// A log file's bytes from `from` on, mapped read-only. Replay after a crash
// reads tens of MB: a copy would first fault in (and zero) as much fresh
// memory, which took most of the replay's time. The replayed buffer views
// these bytes until it is applied, so nothing may write them again: a cut
// only drops bytes past the last whole frame, and after a replay the log
// takes its appends in a new segment.
class MappedTail {
 public:
  static Result<MappedTail> open(const std::string& path, uint64_t from) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return sys_error("open", path);
    MappedTail m;
    struct stat st{};
    if (::fstat(fd, &st) != 0) {
      const Error e = sys_error("stat", path);
      ::close(fd);
      return e;
    }
    const auto size = static_cast<uint64_t>(st.st_size);
    m.file_size_ = size;
    if (size > from) {
      const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
      const uint64_t at = from / page * page;
      m.len_ = static_cast<size_t>(size - at);
      m.skip_ = static_cast<size_t>(from - at);
      void* p = ::mmap(nullptr, m.len_, PROT_READ, MAP_PRIVATE, fd, static_cast<off_t>(at));
      if (p == MAP_FAILED) {
        const Error e = sys_error("mmap", path);
        ::close(fd);
        return e;
      }
      m.base_ = static_cast<char*>(p);
      // All of it: ask for the whole range at once. Not MADV_SEQUENTIAL,
      // which would drop the pages the replayed buffer goes on reading.
      (void)::madvise(p, m.len_, MADV_WILLNEED);
    }
    ::close(fd);
    return m;
  }
  MappedTail() = default;
  MappedTail(MappedTail&& o) noexcept
      : base_(std::exchange(o.base_, nullptr)),
        len_(o.len_),
        skip_(o.skip_),
        file_size_(o.file_size_) {}
  MappedTail& operator=(MappedTail&& o) noexcept {
    std::swap(base_, o.base_);
    std::swap(len_, o.len_);
    std::swap(skip_, o.skip_);
    std::swap(file_size_, o.file_size_);
    return *this;
  }
  ~MappedTail() {
    if (base_ != nullptr) ::munmap(base_, len_);
  }
  uint64_t file_size() const { return file_size_; }
  std::string_view data() const {
    return base_ != nullptr ? std::string_view(base_ + skip_, len_ - skip_) : std::string_view();
  }

 private:
  char* base_ = nullptr;
  size_t len_ = 0;
  size_t skip_ = 0;
  uint64_t file_size_ = 0;
};

// Whether data[pos..] is zeros: direct writes' padding, or space written
// with zeros ahead of the frames (Wal::reserve) -- a clean end.
bool zero_padding(std::string_view data, size_t pos) {
  return std::all_of(data.begin() + static_cast<ptrdiff_t>(pos), data.end(),
                     [](char c) { return c == 0; });
}

// Whether a whole, valid frame that starts at log offset `expect` begins at
// data[pos].
bool frame_at(std::string_view data, size_t pos, uint64_t expect) {
  if (pos + Wal::kHeaderSize > data.size()) return false;
  const char* h = data.data() + pos;
  const uint32_t len = get32(h + 4);
  if (get32(h) != kMagic || get64(h + 8) != expect || len > data.size() - pos - Wal::kHeaderSize)
    return false;
  return get32(h + 16) == frame_crc(h, std::string_view(h + Wal::kHeaderSize, len));
}

}  // namespace

std::string Wal::segment_path(uint64_t start) const {
  return fmt::format("{}/{:020}.log", options_.dir, start);
}

Result<std::unique_ptr<Wal>> Wal::open(const WalOptions& options, uint64_t from,
                                       WalPosition hint, const Replay& replay) {
  std::unique_ptr<Wal> wal(new Wal());
  wal->options_ = options;
  std::error_code ec;
  // A disk with no inode left cannot take the directory: then there is no
  // log yet, and the first segment makes it (start_segment).
  std::filesystem::create_directories(options.dir, ec);
  if (ec && ec != std::errc::no_space_on_device)
    return err(fmt::format("log dir {}: {}", options.dir, ec.message()));
  const bool listable = !ec;
  ec.clear();
  for (const auto& entry : listable ? std::filesystem::directory_iterator(options.dir, ec)
                                    : std::filesystem::directory_iterator()) {
    const std::string name = entry.path().filename().string();
    if (name.size() != 24 || !name.ends_with(".log")) continue;
    uint64_t start = 0;
    bool digits = std::all_of(name.begin(), name.begin() + 20, ::isdigit);
    if (!digits) continue;
    start = std::stoull(name.substr(0, 20));
    wal->segments_.push_back({start, entry.path().string()});
  }
  if (ec) return err(fmt::format("log dir {}: {}", options.dir, ec.message()));
  std::sort(wal->segments_.begin(), wal->segments_.end(),
            [](const Segment& a, const Segment& b) { return a.start < b.start; });

  // Segments wholly before the one holding `from` need not be read.
  size_t first = 0;
  for (size_t i = 0; i < wal->segments_.size(); ++i)
    if (wal->segments_[i].start <= from) first = i;

  uint64_t end = wal->segments_.empty() ? from : wal->segments_[first].start;
  size_t last_good = first;
  uint64_t last_size = 0;
  bool cut = false;
  std::optional<size_t> replayed_from;  // the last segment a frame was replayed from
  for (size_t i = first; i < wal->segments_.size() && !cut; ++i) {
    const Segment& seg = wal->segments_[i];
    if (seg.start != end) {
      log::warning("log: segment {} starts at {}, expected {}; the log ends there", seg.path,
                   seg.start, end);
      break;
    }
    // Start at the hinted frame when it checks out; else read the segment.
    uint64_t base = 0;
    std::shared_ptr<const MappedTail> mapped;
    if (i == first && hint.segment == seg.start && hint.byte > 0) {
      auto tail = MappedTail::open(seg.path, hint.byte);
      if (!tail) return tail.error();
      // The file ends exactly there (nothing to replay), or a frame starts
      // there. A file shorter than that lost its tail: it is read from its
      // start, and found to end early.
      if (tail->file_size() == hint.byte || frame_at(tail->data(), 0, from)) {
        base = hint.byte;
        end = from;
        mapped = std::make_shared<const MappedTail>(std::move(*tail));
      }
    }
    if (base == 0) {
      auto whole = MappedTail::open(seg.path, 0);
      if (!whole) return whole.error();
      mapped = std::make_shared<const MappedTail>(std::move(*whole));
    }
    const std::string_view data = mapped->data();
    const std::shared_ptr<const void> owner = mapped;
    // The first read of each mapped page faults (on a shadow-paging VM ~7.5
    // us, whoever reads it): another thread takes those faults ahead of the
    // frames' checks. It stops at the end of the segment, or when it goes.
    std::jthread toucher([data](std::stop_token stop) {
      for (size_t i = 0; i < data.size() && !stop.stop_requested(); i += 4096)
        (void)reinterpret_cast<const volatile char*>(data.data())[i];
    });
    size_t pos = 0;
    while (frame_at(data, pos, end)) {
      const uint32_t len = get32(data.data() + pos + 4);
      if (end >= from) {
        const WalPosition at{seg.start, base + pos};
        if (auto s = replay(end, at, std::string_view(data.data() + pos + kHeaderSize, len), owner);
            !s)
          return s.error();
        replayed_from = i;
      }
      end += len;
      pos += kHeaderSize + len;
    }
    // Before a cut: a read past the file's new end would be a SIGBUS.
    toucher.request_stop();
    toucher.join();
    last_good = i;
    last_size = base + pos;
    if (pos != data.size() && zero_padding(data, pos)) {
      // Direct writes' padding or zeroed space: no frame was written there.
      if (::truncate(seg.path.c_str(), static_cast<off_t>(base + pos)) != 0)
        return sys_error("truncate", seg.path);
    } else if (pos != data.size()) {
      // A torn, corrupt or stale tail: the log ends at the last whole frame.
      log::warning("log: cutting {} at byte {} of {} (offset {})", seg.path, base + pos,
                   base + data.size(), end);
      if (::truncate(seg.path.c_str(), static_cast<off_t>(base + pos)) != 0)
        return sys_error("truncate", seg.path);
      cut = true;
    }
  }
  // Anything after the cut belongs to a log that no longer continues.
  while (!wal->segments_.empty() && wal->segments_.size() > last_good + 1) {
    std::filesystem::remove(wal->segments_.back().path, ec);
    wal->segments_.pop_back();
  }
  // LMDB holds more than the log (an unsynced tail lost with --fsync no):
  // the log continues from LMDB's offset in a fresh segment.
  const bool behind = !wal->segments_.empty() && end < from;
  if (behind) {
    log::warning("log: ends at {} but the store has applied up to {}; restarting the log there",
                 end, from);
    end = from;
  }
  wal->end_ = end;
  wal->current_start_ = end;
  // A replayed frame's bytes may be viewed while the log takes appends.
  const bool fresh = replayed_from && *replayed_from + 1 == wal->segments_.size();
  if (wal->segments_.empty() || behind) {
    // Nothing to append to (no log, or one that ends before the store): a
    // disk with no room for the new file still starts and serves what the
    // store holds; writes are refused until reserve() can create it.
    if (auto s = wal->start_segment(); !s) {
      if (s.error().code != Code::kOom) return s.error();
      log::warning("{}; writes wait for space", s.error().message);
    }
  } else if (fresh) {
    auto s = wal->open_segment_for_append(end, true);
    if (!s && wal->segments_.back().start == end) return s.error();
    if (!s) {
      // No room for even an empty file (a full disk, no inode left): the
      // replayed segment takes the appends after all, so the server still
      // starts, serves what it holds, and takes writes while the segment
      // has room. Buffered: a direct write rewrites the current block, whose
      // bytes replayed entries view.
      log::warning("{}; appending to {} instead", s.error().message, wal->segments_.back().path);
      wal->viewed_tail_ = true;
      wal->segment_size_ = last_size;
      if (auto c = wal->open_segment_for_append(wal->segments_.back().start, false); !c)
        return c.error();
    }
  } else {
    wal->segment_size_ = last_size;
    if (auto s = wal->open_segment_for_append(wal->segments_.back().start, false); !s)
      return s.error();
  }
  return wal;
}

namespace {

// Why no valid frame starting at log offset `expect` begins at data[pos].
std::string frame_problem(std::string_view data, size_t pos, uint64_t expect) {
  const size_t left = data.size() - pos;
  if (left < Wal::kHeaderSize) return fmt::format("torn frame header ({} bytes)", left);
  const char* h = data.data() + pos;
  if (get32(h) != kMagic) {
    const bool zeros = std::all_of(h, data.data() + data.size(), [](char c) { return c == 0; });
    return zeros ? "zero-filled tail" : "bad frame magic";
  }
  if (get64(h + 8) != expect)
    return fmt::format("frame offset {}, expected {}", get64(h + 8), expect);
  if (get32(h + 4) > left - Wal::kHeaderSize)
    return fmt::format("torn frame payload ({} of {} bytes)", left - Wal::kHeaderSize,
                       get32(h + 4));
  return "frame CRC mismatch";
}

}  // namespace

Result<WalScan> Wal::scan(const std::string& dir, uint64_t from) {
  WalScan r;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    r.end_offset = from;
    return r;
  }
  r.present = true;
  std::vector<Segment> segments;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() != 24 || !name.ends_with(".log")) continue;
    if (!std::all_of(name.begin(), name.begin() + 20, ::isdigit)) continue;
    segments.push_back({std::stoull(name.substr(0, 20)), entry.path().string()});
  }
  if (ec) return err(fmt::format("log dir {}: {}", dir, ec.message()));
  std::sort(segments.begin(), segments.end(),
            [](const Segment& a, const Segment& b) { return a.start < b.start; });
  r.segments = segments.size();
  size_t first = 0;
  for (size_t i = 0; i < segments.size(); ++i)
    if (segments[i].start <= from) first = i;
  uint64_t end = segments.empty() ? from : segments[first].start;
  for (size_t i = first; i < segments.size(); ++i) {
    if (segments[i].start != end) {
      r.tail = fmt::format("segment {} starts at {}, expected {}", segments[i].path,
                           segments[i].start, end);
      r.lost_segments = true;
      break;
    }
    auto data = read_file(segments[i].path, 0);
    if (!data) return data.error();
    size_t pos = 0;
    while (frame_at(*data, pos, end)) {
      const uint32_t len = get32(data->data() + pos + 4);
      if (end >= from) {
        ++r.frames;
        r.payload_bytes += len;
      }
      end += len;
      pos += kHeaderSize + len;
    }
    if (pos != data->size() && !zero_padding(*data, pos)) {
      r.tail_bytes = data->size() - pos;
      r.tail = fmt::format("{} at byte {} of {}", frame_problem(*data, pos, end), pos,
                           segments[i].path);
      r.lost_segments = i + 1 < segments.size();
      break;
    }
  }
  r.end_offset = end;
  return r;
}

Wal::~Wal() {
  if (fd_ >= 0) trim();
  (void)sync();
  if (fd_ >= 0) ::close(fd_);
  std::free(buf_);
  std::free(zeros_);
}

void Wal::trim() {
  if (!padded_) return;
  // Best effort: padding left behind is recognised as a clean end anyway.
  if (::ftruncate(fd_, static_cast<off_t>(segment_size_)) == 0) {
    padded_ = false;
    zeroed_ = segment_size_;
  }
  dirty_ = true;  // the size change is synced with the next fdatasync
}

void Wal::grow_buffer(size_t bytes) {
  if (bytes <= buf_size_) return;
  const size_t size = std::max<size_t>({(bytes + kBlock - 1) / kBlock * kBlock, 2 * buf_size_,
                                        64u << 10});
  char* buf = static_cast<char*>(std::aligned_alloc(kBlock, size));
  if (buf == nullptr) throw std::bad_alloc();
  if (buf_ != nullptr) std::memcpy(buf, buf_, segment_size_ % kBlock);
  std::free(buf_);
  buf_ = buf;
  buf_size_ = size;
}

// The current partial block, read back with a direct (aligned) read.
Status Wal::load_tail() {
  grow_buffer(kBlock);
  const size_t tail = segment_size_ % kBlock;
  if (tail == 0) return {};
  ssize_t n;
  do {
    n = ::pread(fd_, buf_, kBlock, static_cast<off_t>(segment_size_ - tail));
  } while (n < 0 && errno == EINTR);
  if (n < static_cast<ssize_t>(tail)) return sys_error("read", segments_.back().path);
  return {};
}

Status Wal::set_direct(bool direct) {
  if (viewed_tail_) {
    direct_later_ = direct;  // the next segment starts with it
    return {};
  }
  if (fd_ < 0) {
    direct_ = direct;  // the segment start_segment() creates starts with it
    return {};
  }
  if (direct == direct_) return {};
  const int flags = ::fcntl(fd_, F_GETFL);
  if (flags < 0) return sys_error("fcntl", segments_.back().path);
  if (!direct) {
    if (::fcntl(fd_, F_SETFL, flags & ~O_DIRECT) != 0)
      return sys_error("fcntl", segments_.back().path);
    direct_ = false;
    return {};
  }
  if (::fcntl(fd_, F_SETFL, flags | O_DIRECT) != 0) {
    log::notice("log: {} refuses O_DIRECT ({}); writing through the page cache", options_.dir,
                std::strerror(errno));
    return {};
  }
  if (auto s = load_tail(); !s) {
    (void)::fcntl(fd_, F_SETFL, flags);
    log::notice("log: direct writes off: {}", s.error().message);
    return {};
  }
  direct_ = true;
  return {};
}

Status Wal::open_segment_for_append(uint64_t start, bool create) {
  std::string path = segment_path(start);
  // Read and write: direct writes read the partial block back (load_tail).
  int flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT | O_TRUNC : 0);
  int fd = ::open(path.c_str(), flags, 0644);
  no_descriptor_ = fd < 0 && (errno == EMFILE || errno == ENFILE);
  if (fd < 0) return sys_error("open", path);
  if (create && viewed_tail_) {
    viewed_tail_ = false;
    direct_ = direct_later_;
  }
  if (create && direct_ && ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_DIRECT) != 0) {
    log::notice("log: {} refuses O_DIRECT ({}); writing through the page cache", options_.dir,
                std::strerror(errno));
    direct_ = false;
  }
  if (fd_ >= 0) {
    trim();
    ::close(fd_);
  }
  padded_ = false;
  fd_ = fd;
  current_start_ = start;
  zeroed_ = create ? 0 : segment_size_;  // zeros past it are not counted on
  // Space past the file's end may be allocated too, but only what is
  // allocated from here on is counted on.
  allocated_ = create ? 0 : segment_size_;
  if (create) {
    segments_.push_back({start, path});
    segment_size_ = 0;
    allocated_ = 0;
    // The new file's name must survive a crash before its first sync.
    if (!sync_on_roll_) {
      dir_unsynced_ = true;
    } else if (auto s = fsync_dir(options_.dir); !s) {
      return s;
    }
  }
  return {};
}

Status Wal::start_segment() {
  std::error_code ec;
  if (std::filesystem::create_directories(options_.dir, ec)) {
    // The directory's own name must survive a crash too.
    const auto parent = std::filesystem::path(options_.dir).parent_path().string();
    if (auto s = fsync_dir(parent.empty() ? "." : parent); !s) return s;
  } else if (ec) {
    return Error{Code::kOom, fmt::format("log dir {}: {}", options_.dir, ec.message())};
  }
  if (auto s = open_segment_for_append(end_, true); !s) {
    if (!segments_.empty() && segments_.back().start == end_) return s;  // its name not synced
    return Error{Code::kOom, s.error().message};
  }
  return {};
}

// Closes the full segment durably before the next one takes frames, or
// (sync_on_roll_ false) hands its sync to take_sync(): the next sync of the
// log syncs it before any later frame, so what survives a crash is still a
// prefix of the log. Only a failed sync is fatal: when the next file cannot
// be created, the full one stays current and the next reserve() tries again.
Status Wal::roll() {
  trim();
  if (dirty_) {
    // With no descriptor to spare (EMFILE), synced here as under always.
    const int fd = sync_on_roll_ ? -1 : sync_descriptor(segments_.back().path);
    if (fd >= 0) {
      closed_.push_back({fd, segments_.back().path});
    } else if (::fdatasync(fd_) != 0) {
      return sys_error("fdatasync", segments_.back().path);
    }
  }
  dirty_ = false;
  // Give back the space allocated past the segment's last frame (trim()
  // did for space written with zeros).
  if (allocated_ > segment_size_ && can_allocate_ && !options_.allocate)
    (void)::fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                      static_cast<off_t>(segment_size_),
                      static_cast<off_t>(allocated_ - segment_size_));
  allocated_ = segment_size_;
  return start_segment();
}

// Direct writes go into blocks written with zeros: a frame's write into an
// unwritten (fallocated) extent converts it, and past the file's size
// changes the size, so each sync would also write the inode (through the
// block layer's writeback throttling, behind data.mdb's pages). Written
// blocks inside the size make a sync just the frame's blocks and a flush.
// The blocks [from, to) rounded out to whole blocks; 0 or an errno value.
int Wal::write_zeros(uint64_t from, uint64_t to) {
  constexpr size_t kChunk = 1u << 20;
  if (zeros_ == nullptr) {
    zeros_ = static_cast<char*>(std::aligned_alloc(kBlock, kChunk));
    if (zeros_ == nullptr) return ENOMEM;
    std::memset(zeros_, 0, kChunk);
  }
  // The partial block holding `from` is written with the next frame.
  uint64_t at = (from + kBlock - 1) / kBlock * kBlock;
  to = (to + kBlock - 1) / kBlock * kBlock;
  while (at < to) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kChunk, to - at));
    ssize_t w = ::pwrite(fd_, zeros_, n, static_cast<off_t>(at));
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return errno;
    if (w == 0) return ENOSPC;
    padded_ = true;
    at += static_cast<uint64_t>(w);
    if (at % kBlock != 0) return ENOSPC;  // a short write the next one cannot follow
  }
  return 0;
}

// The zeros are kept only kZeroAhead ahead of the frames, inside the space
// reserve() allocated: the rest of a reservation (admit()'s headroom, 8 MiB)
// is fallocated, not written, so recovery after a crash reads at most this
// much past the last frame (it reads the file to its end). A failure here
// only costs later syncs their speed: the frames' own writes extend the file.
void Wal::zero_ahead() {
  constexpr uint64_t kZeroAhead = 2ull << 20;
  if (zeroed_ >= segment_size_ + kZeroAhead / 2) return;
  uint64_t to = (segment_size_ + kZeroAhead + kAllocationStep - 1) / kAllocationStep *
                kAllocationStep;
  if (can_allocate_) to = std::min(to, allocated_);  // never past reserved space
  const uint64_t from = std::max(zeroed_, segment_size_);
  if (to > from && write_zeros(from, to) == 0) zeroed_ = to;
}

Status Wal::reserve(uint64_t bytes) {
  no_descriptor_ = false;
  if (fd_ < 0) {
    if (auto s = start_segment(); !s) return s;
  }
  if (segment_size_ >= options_.segment_bytes) {
    if (auto s = roll(); !s) return s;
  }
  const uint64_t want = segment_size_ + bytes;
  if (want > allocated_ && can_allocate_) {
    if (auto s = allocate(want); !s) return s;
  }
  if (direct_) zero_ahead();
  return {};
}

// Allocates the current segment up to `want` bytes or more. Where the file
// system cannot allocate ahead, direct writes' zeros reserve the space
// (write_zeros); otherwise writes may then fail with ENOSPC, as without this.
Status Wal::allocate(uint64_t want) {
  auto allocate_to = [&](uint64_t to) {
    const uint64_t len = to - allocated_;
    if (options_.allocate) return options_.allocate(fd_, allocated_, len);
    int rc;
    do {
      rc = ::fallocate(fd_, FALLOC_FL_KEEP_SIZE, static_cast<off_t>(allocated_),
                       static_cast<off_t>(len)) == 0 ? 0 : errno;
    } while (rc == EINTR);
    if ((rc == EOPNOTSUPP || rc == ENOSYS) && direct_) {
      rc = write_zeros(allocated_, to);
      if (rc == 0) zeroed_ = std::max(zeroed_, to);
    }
    return rc;
  };
  // A whole step if there is room for it, else just what is asked (to the
  // end of its block: direct writes pad to it).
  uint64_t to = (want + kAllocationStep - 1) / kAllocationStep * kAllocationStep;
  int rc = allocate_to(to);
  const bool unsupported = rc == EOPNOTSUPP || rc == ENOSYS;
  const uint64_t exact = (want + kBlock - 1) / kBlock * kBlock;
  if (rc != 0 && !unsupported && to > exact) rc = allocate_to(to = exact);
  if (unsupported) {
    log::warning("log: {} cannot allocate space ahead ({}); a full disk will stop the server",
                 options_.dir, std::strerror(rc));
    can_allocate_ = false;
    return {};
  }
  if (rc != 0) {
    return Error{Code::kOom, fmt::format("log: cannot allocate {} bytes in {}: {}", to - allocated_,
                                         segments_.back().path, std::strerror(rc))};
  }
  allocated_ = to;
  return {};
}

Result<uint64_t> Wal::append(std::string_view payload) {
  if (auto s = reserve(kHeaderSize + payload.size()); !s) return s.error();
  char header[kHeaderSize];
  put32(header, kMagic);
  put32(header + 4, static_cast<uint32_t>(payload.size()));
  put64(header + 8, end_);
  put32(header + 16, 0);
  put32(header + 20, 0);
  put32(header + 16, frame_crc(header, payload));
  const uint64_t start = end_;
  const size_t want = kHeaderSize + payload.size();
  if (direct_) {
    if (auto s = write_direct(header, payload); !s) return s.error();
    if (direct_) {
      end_ += payload.size();
      segment_size_ += want;
      dirty_ = true;
      return start;
    }
    // The file system refused the direct write: the buffered one follows.
  }
  iovec iov[2] = {{header, kHeaderSize}, {const_cast<char*>(payload.data()), payload.size()}};
  size_t done = 0;
  while (done < want) {
    // Retry short writes from where they stopped.
    iovec rest[2];
    int n = 0;
    size_t skip = done;
    for (auto& v : iov) {
      if (skip >= v.iov_len) { skip -= v.iov_len; continue; }
      rest[n++] = {static_cast<char*>(v.iov_base) + skip, v.iov_len - skip};
      skip = 0;
    }
    ssize_t w = ::pwritev(fd_, rest, n, static_cast<off_t>(segment_size_ + done));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return sys_error("write", segments_.back().path);
    done += static_cast<size_t>(w);
  }
  end_ += payload.size();
  segment_size_ += want;
  dirty_ = true;
  return start;
}

// The partial block, then the frame, zero-padded to whole blocks, in one
// aligned write at the partial block's start. The bytes already on disk are
// written again unchanged, so a torn write cannot damage an earlier frame.
Status Wal::write_direct(const char* header, std::string_view payload) {
  const size_t tail = segment_size_ % kBlock;
  const size_t total = tail + kHeaderSize + payload.size();
  const size_t padded = (total + kBlock - 1) / kBlock * kBlock;
  grow_buffer(padded);
  std::memcpy(buf_ + tail, header, kHeaderSize);
  std::memcpy(buf_ + tail + kHeaderSize, payload.data(), payload.size());
  std::memset(buf_ + total, 0, padded - total);
  const uint64_t at = segment_size_ - tail;
  size_t done = 0;
  while (done < padded) {
    ssize_t w = ::pwrite(fd_, buf_ + done, padded - done, static_cast<off_t>(at + done));
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EINVAL && done == 0) {
      // Alignment the file system will not take: write buffered from now on.
      log::notice("log: direct write refused ({}); writing through the page cache",
                  std::strerror(errno));
      const int flags = ::fcntl(fd_, F_GETFL);
      if (flags < 0 || ::fcntl(fd_, F_SETFL, flags & ~O_DIRECT) != 0)
        return sys_error("fcntl", segments_.back().path);
      direct_ = false;
      return {};
    }
    if (w <= 0 || (done + static_cast<size_t>(w) < padded && w % 512 != 0))
      return sys_error("write", segments_.back().path);
    done += static_cast<size_t>(w);
  }
  padded_ = true;
  // Keep the new partial block at the buffer's start.
  const size_t new_tail = total % kBlock;
  std::memmove(buf_, buf_ + (total - new_tail), new_tail);
  return {};
}

Status Wal::sync() {
  if (!closed_.empty() || dir_unsynced_) {
    auto pending = take_sync(false);
    if (!pending) return pending.error();
    if (auto s = pending->run(); !s) return s;
  }
  if (!dirty_) return {};
  if (::fdatasync(fd_) != 0) return sys_error("fdatasync", segments_.back().path);
  dirty_ = false;
  return {};
}

Result<Wal::PendingSync> Wal::take_sync(bool current) {
  PendingSync p;
  p.files_ = std::move(closed_);
  closed_.clear();
  if (dir_unsynced_) p.dir_ = options_.dir;
  dir_unsynced_ = false;
  if (current && dirty_ && fd_ >= 0) {
    // With no descriptor to spare (EMFILE), synced here, under the lock.
    const int fd = sync_descriptor(segments_.back().path);
    if (fd >= 0) {
      p.files_.push_back({fd, segments_.back().path});
      p.current_ = true;
    } else if (::fdatasync(fd_) != 0) {
      return sys_error("fdatasync", segments_.back().path);
    }
    dirty_ = false;
  }
  if (current) p.end_ = end_;
  return p;
}

Wal::PendingSync::PendingSync(PendingSync&& o) noexcept
    : files_(std::move(o.files_)), current_(o.current_), dir_(std::move(o.dir_)), end_(o.end_) {
  o.files_.clear();
}

Wal::PendingSync& Wal::PendingSync::operator=(PendingSync&& o) noexcept {
  if (this != &o) {
    close_all();
    files_ = std::move(o.files_);
    o.files_.clear();
    current_ = o.current_;
    dir_ = std::move(o.dir_);
    end_ = o.end_;
  }
  return *this;
}

Wal::PendingSync::~PendingSync() { close_all(); }

void Wal::PendingSync::close_all() {
  for (const auto& f : files_) ::close(f.fd);
  files_.clear();
  current_ = false;
}

// The directory after the closed segments (a crash may keep a new file's
// name only once it is synced), and before the current segment's frames.
Status Wal::PendingSync::run() {
  auto sync_file = [](const File& f) {
    return ::fdatasync(f.fd) == 0 ? Status{} : Status(sys_error("fdatasync", f.path));
  };
  for (size_t i = 0; i < closed_segments(); ++i) {
    if (auto s = sync_file(files_[i]); !s) return s;
  }
  if (!dir_.empty()) {
    if (auto s = fsync_dir(dir_); !s) return s;
  }
  if (current_) {
    if (auto s = sync_file(files_.back()); !s) return s;
  }
  close_all();
  dir_.clear();
  return {};
}

void Wal::release_before(uint64_t offset, std::vector<std::string>* unlink_later) {
  // Segment i ends where segment i+1 starts; the last one is never released.
  std::error_code ec;
  while (segments_.size() > 1 && segments_[1].start <= offset) {
    if (unlink_later)
      unlink_later->push_back(segments_.front().path);
    else
      std::filesystem::remove(segments_.front().path, ec);
    segments_.erase(segments_.begin());
  }
}

uint64_t Wal::disk_bytes() const {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& s : segments_) total += std::filesystem::file_size(s.path, ec);
  return total;
}

}  // namespace lmkv::store
