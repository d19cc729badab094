#include "store/wal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

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
  std::filesystem::create_directories(options.dir, ec);
  if (ec) return err(fmt::format("log dir {}: {}", options.dir, ec.message()));

  for (const auto& entry : std::filesystem::directory_iterator(options.dir, ec)) {
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
  for (size_t i = first; i < wal->segments_.size() && !cut; ++i) {
    const Segment& seg = wal->segments_[i];
    if (seg.start != end) {
      log::warning("log: segment {} starts at {}, expected {}; the log ends there", seg.path,
                   seg.start, end);
      break;
    }
    // Start at the hinted frame when it checks out; else read the segment.
    uint64_t base = 0;
    std::string data;
    if (i == first && hint.segment == seg.start && hint.byte > 0) {
      auto tail = read_file(seg.path, hint.byte);
      if (!tail) return tail.error();
      if (tail->empty() || frame_at(*tail, 0, from)) {
        base = hint.byte;
        end = from;
        data = std::move(*tail);
      }
    }
    if (base == 0) {
      auto whole = read_file(seg.path, 0);
      if (!whole) return whole.error();
      data = std::move(*whole);
    }
    size_t pos = 0;
    while (frame_at(data, pos, end)) {
      const uint32_t len = get32(data.data() + pos + 4);
      if (end >= from) {
        if (auto s = replay(end, std::string_view(data.data() + pos + kHeaderSize, len)); !s)
          return s.error();
      }
      end += len;
      pos += kHeaderSize + len;
    }
    last_good = i;
    last_size = base + pos;
    if (pos != data.size()) {
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
  if (!wal->segments_.empty() && end < from) {
    // LMDB holds more than the log (an unsynced tail lost with --fsync no):
    // continue the log from LMDB's offset in a fresh segment.
    log::warning("log: ends at {} but the store has applied up to {}; restarting the log there",
                 end, from);
    end = from;
    wal->end_ = end;
    if (auto s = wal->open_segment_for_append(end, true); !s) return s.error();
    return wal;
  }
  wal->end_ = end;
  if (wal->segments_.empty()) {
    if (auto s = wal->open_segment_for_append(end, true); !s) return s.error();
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
    if (pos != data->size()) {
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
  if (fd_ >= 0) {
    if (dirty_) ::fdatasync(fd_);
    ::close(fd_);
  }
}

Status Wal::open_segment_for_append(uint64_t start, bool create) {
  std::string path = segment_path(start);
  int flags = O_WRONLY | O_CLOEXEC | (create ? O_CREAT | O_TRUNC : 0);
  int fd = ::open(path.c_str(), flags, 0644);
  if (fd < 0) return sys_error("open", path);
  if (::lseek(fd, 0, SEEK_END) < 0) {
    ::close(fd);
    return sys_error("seek", path);
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
  // Space past the file's end may be allocated too, but only what is
  // allocated from here on is counted on.
  allocated_ = create ? 0 : segment_size_;
  if (create) {
    segments_.push_back({start, path});
    segment_size_ = 0;
    allocated_ = 0;
    // The new file's name must survive a crash before its first sync.
    if (auto s = fsync_dir(options_.dir); !s) return s;
  }
  return {};
}

// Closes the full segment durably before the next one takes frames. Only a
// failed sync is fatal: when the next file cannot be created, the full one
// stays current and the next reserve() tries again.
Status Wal::roll() {
  if (dirty_ && ::fdatasync(fd_) != 0) return sys_error("fdatasync", segments_.back().path);
  dirty_ = false;
  // Give back the space allocated past the segment's last frame.
  if (allocated_ > segment_size_ && can_allocate_ && !options_.allocate)
    (void)::fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                      static_cast<off_t>(segment_size_),
                      static_cast<off_t>(allocated_ - segment_size_));
  allocated_ = segment_size_;
  if (auto s = open_segment_for_append(end_, true); !s) {
    if (segments_.back().start == end_) return s;  // created, but its name was not synced
    return Error{Code::kOom, s.error().message};
  }
  return {};
}

Status Wal::reserve(uint64_t bytes) {
  if (segment_size_ >= options_.segment_bytes) {
    if (auto s = roll(); !s) return s;
  }
  const uint64_t want = segment_size_ + bytes;
  if (want <= allocated_ || !can_allocate_) return {};
  auto allocate = [&](uint64_t to) {
    const uint64_t len = to - allocated_;
    if (options_.allocate) return options_.allocate(fd_, allocated_, len);
    int rc;
    do {
      rc = ::fallocate(fd_, FALLOC_FL_KEEP_SIZE, static_cast<off_t>(allocated_),
                       static_cast<off_t>(len)) == 0 ? 0 : errno;
    } while (rc == EINTR);
    return rc;
  };
  // A whole step if there is room for it, else just what is asked.
  uint64_t to = (want + kAllocationStep - 1) / kAllocationStep * kAllocationStep;
  int rc = allocate(to);
  const bool unsupported = rc == EOPNOTSUPP || rc == ENOSYS;
  if (rc != 0 && !unsupported && to > want) rc = allocate(to = want);
  if (unsupported) {
    // The file system cannot allocate ahead: writes may then fail with
    // ENOSPC, as without this.
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
  iovec iov[2] = {{header, kHeaderSize}, {const_cast<char*>(payload.data()), payload.size()}};
  size_t want = kHeaderSize + payload.size();
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
    ssize_t w = ::writev(fd_, rest, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return sys_error("write", segments_.back().path);
    done += static_cast<size_t>(w);
  }
  const uint64_t start = end_;
  end_ += payload.size();
  segment_size_ += want;
  dirty_ = true;
  return start;
}

Status Wal::sync() {
  if (!dirty_) return {};
  if (::fdatasync(fd_) != 0) return sys_error("fdatasync", segments_.back().path);
  dirty_ = false;
  return {};
}

void Wal::release_before(uint64_t offset) {
  // Segment i ends where segment i+1 starts; the last one is never released.
  std::error_code ec;
  while (segments_.size() > 1 && segments_[1].start <= offset) {
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
