// The write-ahead log: every cut, flipped bit and stale frame ends the log
// at the last whole frame, and what is replayed is exactly what was appended.
#include "store/wal.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using lmkv::Status;
using lmkv::store::Wal;
using lmkv::store::WalOptions;
using lmkv::store::WalPosition;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/lmkv-wal-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
};

struct Frame {
  uint64_t start;
  std::string payload;
  WalPosition at;  // where its header is
};

std::vector<Frame> replay_all(const WalOptions& o, uint64_t from, uint64_t* end = nullptr,
                              WalPosition hint = {}) {
  std::vector<Frame> got;
  auto wal = Wal::open(o, from, hint,
                       [&](uint64_t start, WalPosition at, std::string_view p, const auto&) {
                         got.push_back({start, std::string(p), at});
                         return Status();
                       });
  BOOST_REQUIRE(wal.ok());
  if (end) *end = (*wal)->end_offset();
  return got;
}

std::vector<std::string> payloads(size_t n) {
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i)
    out.push_back("*3\r\n$3\r\nSET\r\n$2\r\nk" + std::to_string(i % 10) + "\r\n$" +
                  std::to_string(i % 7 + 1) + "\r\n" + std::string(i % 7 + 1, 'a' + i % 26) +
                  "\r\n");
  return out;
}

// A log opened with nothing to replay from `from` (the frames before are
// skipped, any after are not expected).
std::unique_ptr<Wal> open_log(const WalOptions& o, uint64_t from = 0) {
  auto wal = Wal::open(
      o, from, {}, [](uint64_t, WalPosition, std::string_view, const auto&) { return Status(); });
  BOOST_REQUIRE(wal.ok());
  return std::move(*wal);
}

// Appends every payload; returns the start offset of payload `mark`.
uint64_t append_all(Wal& wal, const std::vector<std::string>& data, size_t mark) {
  uint64_t at = 0;
  for (size_t i = 0; i < data.size(); ++i) {
    auto s = wal.append(data[i]);
    BOOST_REQUIRE(s.ok());
    if (i == mark) at = *s;
  }
  return at;
}

size_t files_in(const std::string& dir) {
  return static_cast<size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

// The segment file whose first frame starts at `start`.
std::string segment_file(const std::string& dir, uint64_t start) {
  char name[32];
  std::snprintf(name, sizeof name, "/%020llu.log", static_cast<unsigned long long>(start));
  return dir + name;
}

std::string only_segment(const std::string& dir) {
  std::vector<std::string> files;
  for (auto& e : fs::directory_iterator(dir)) files.push_back(e.path().string());
  BOOST_REQUIRE_EQUAL(files.size(), 1u);
  return files[0];
}

// Writes one frame per payload into a fresh log in `o.dir`.
void write_log(const WalOptions& o, const std::vector<std::string>& data) {
  auto wal = Wal::open(
      o, 0, {}, [](uint64_t, WalPosition, std::string_view, const auto&) { return Status(); });
  BOOST_REQUIRE(wal.ok());
  for (auto& p : data) BOOST_REQUIRE((*wal)->append(p).ok());
}

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

}  // namespace

BOOST_AUTO_TEST_CASE(appended_frames_replay_in_order_with_offsets) {
  TempDir d;
  WalOptions o{d.path};
  auto data = payloads(50);
  {
    auto wal = Wal::open(
        o, 0, {}, [](uint64_t, WalPosition, std::string_view, const auto&) { return Status(); });
    BOOST_REQUIRE(wal.ok());
    uint64_t expect = 0;
    for (auto& p : data) {
      auto start = (*wal)->append(p);
      BOOST_REQUIRE(start.ok());
      BOOST_TEST(*start == expect);
      expect += p.size();
    }
    BOOST_REQUIRE((*wal)->sync().ok());
  }
  uint64_t end = 0;
  auto got = replay_all(o, 0, &end);
  BOOST_REQUIRE_EQUAL(got.size(), data.size());
  uint64_t off = 0;
  for (size_t i = 0; i < data.size(); ++i) {
    BOOST_TEST(got[i].payload == data[i]);
    BOOST_TEST(got[i].start == off);
    off += data[i].size();
  }
  BOOST_TEST(end == off);
  // Replaying from a frame boundary skips what LMDB already holds.
  auto tail = replay_all(o, got[10].start);
  BOOST_TEST(tail.size() == data.size() - 10);
}

BOOST_AUTO_TEST_CASE(every_truncation_point_recovers_to_the_last_whole_frame) {
  TempDir d;
  WalOptions o{d.path};
  auto data = payloads(6);
  write_log(o, data);
  const std::string seg = only_segment(d.path);
  const std::string full = read_all(seg);
  // Frame boundaries in file bytes.
  std::vector<size_t> ends;
  size_t pos = 0;
  for (auto& p : data) ends.push_back(pos += Wal::kHeaderSize + p.size());

  for (size_t cut = 0; cut <= full.size(); ++cut) {
    std::ofstream(seg, std::ios::binary | std::ios::trunc).write(full.data(), cut);
    size_t whole = 0;
    while (whole < ends.size() && ends[whole] <= cut) ++whole;
    auto got = replay_all(o, 0);
    BOOST_TEST_REQUIRE(got.size() == whole, "cut at " << cut);
    // The tail was cut off the file, and appending continues cleanly.
    BOOST_TEST(fs::file_size(seg) == (whole ? ends[whole - 1] : 0));
  }
}

BOOST_AUTO_TEST_CASE(flipped_bits_end_the_log) {
  TempDir d;
  WalOptions o{d.path};
  auto data = payloads(4);
  write_log(o, data);
  const std::string seg = only_segment(d.path);
  const std::string full = read_all(seg);
  const size_t frame0 = Wal::kHeaderSize + data[0].size();
  // Flip each bit of the second frame (header and payload; not the
  // reserved word, which is not checked) in turn.
  for (size_t byte = frame0; byte < frame0 + Wal::kHeaderSize + data[1].size(); ++byte) {
    if (byte >= frame0 + 20 && byte < frame0 + 24) continue;
    for (int bit = 0; bit < 8; bit += 3) {
      std::string bad = full;
      bad[byte] ^= static_cast<char>(1 << bit);
      std::ofstream(seg, std::ios::binary | std::ios::trunc).write(bad.data(), bad.size());
      auto got = replay_all(o, 0);
      BOOST_TEST_REQUIRE(got.size() == 1u, "byte " << byte << " bit " << bit);
    }
  }
}

BOOST_AUTO_TEST_CASE(stale_frames_in_a_recycled_segment_are_rejected) {
  TempDir d;
  WalOptions o{d.path};
  auto data = payloads(8);
  write_log(o, data);
  const std::string seg = only_segment(d.path);
  const std::string full = read_all(seg);
  // A new log of two frames written over the old file's start leaves the
  // old frames 3.. after it: valid CRCs, wrong offsets.
  TempDir d2;
  WalOptions o2{d2.path};
  {
    auto wal = Wal::open(
        o2, 0, {}, [](uint64_t, WalPosition, std::string_view, const auto&) { return Status(); });
    BOOST_REQUIRE((*wal)->append(data[5]).ok());
    BOOST_REQUIRE((*wal)->append(data[6]).ok());
  }
  const std::string seg2 = only_segment(d2.path);
  const std::string fresh = read_all(seg2);
  size_t old_pos = 0;
  for (int i = 0; i < 3; ++i) old_pos += Wal::kHeaderSize + data[i].size();
  std::string recycled = fresh +
                         std::string(old_pos > fresh.size() ? old_pos - fresh.size() : 0, '\0') +
                         full.substr(old_pos);
  std::ofstream(seg2, std::ios::binary | std::ios::trunc).write(recycled.data(), recycled.size());
  auto got = replay_all(o2, 0);
  BOOST_REQUIRE_EQUAL(got.size(), 2u);
  BOOST_TEST(got[1].payload == data[6]);
  // Zeroed space after the last frame (a pre-zeroed segment) is no frame either.
  std::string zeroed = fresh + std::string(4096, '\0');
  std::ofstream(seg2, std::ios::binary | std::ios::trunc).write(zeroed.data(), zeroed.size());
  BOOST_TEST(replay_all(o2, 0).size() == 2u);
}

BOOST_AUTO_TEST_CASE(segments_rotate_and_are_released) {
  TempDir d;
  WalOptions o{d.path, 256};
  auto data = payloads(40);
  uint64_t mid = 0;
  {
    auto wal = open_log(o);
    mid = append_all(*wal, data, 20);
    BOOST_REQUIRE(wal->sync().ok());
    BOOST_TEST(files_in(d.path) > 3u);
    wal->release_before(mid);
  }
  // Frames from `mid` on are all still there after the release.
  auto got = replay_all(o, mid);
  BOOST_TEST(got.size() == data.size() - 20);
  BOOST_TEST(got.front().start == mid);
}

// Off the write path (--fsync everysec, no): full segments are closed
// without a sync and handed over oldest first, with the directory; the
// current segment only when asked. A handover outlives the segments'
// release, and the log replays whole.
BOOST_AUTO_TEST_CASE(segments_closed_unsynced_are_handed_over_for_a_sync_elsewhere) {
  TempDir d;
  WalOptions o{d.path, 256};
  auto data = payloads(40);
  uint64_t mid = 0;
  {
    auto wal = open_log(o);
    wal->set_sync_on_roll(false);
    mid = append_all(*wal, data, 20);
    const size_t closed = files_in(d.path) - 1;
    BOOST_REQUIRE(closed >= 3u);
    auto pending = wal->take_sync(false);
    BOOST_REQUIRE(pending.ok());
    BOOST_TEST(pending->closed_segments() == closed);
    BOOST_TEST(!pending->empty());
    // Released before the sync runs: its descriptors still sync.
    wal->release_before(mid);
    BOOST_TEST(pending->run().ok());
    auto again = wal->take_sync(false);
    BOOST_REQUIRE(again.ok());
    BOOST_TEST(again->empty());
    // The current segment, with the log's end.
    auto current = wal->take_sync(true);
    BOOST_REQUIRE(current.ok());
    BOOST_TEST(current->closed_segments() == 0u);
    BOOST_TEST(!current->empty());
    BOOST_TEST(current->end() == wal->end_offset());
    BOOST_TEST(current->run().ok());
    // Nothing appended since: nothing to sync, the same end.
    auto none = wal->take_sync(true);
    BOOST_REQUIRE(none.ok());
    BOOST_TEST(none->empty());
    BOOST_TEST(none->end() == wal->end_offset());
    // More closed unsynced: sync() takes them too.
    append_all(*wal, data, 0);
    BOOST_REQUIRE(wal->sync().ok());
    auto after = wal->take_sync(true);
    BOOST_REQUIRE(after.ok());
    BOOST_TEST(after->empty());
  }
  auto got = replay_all(o, mid);
  BOOST_TEST(got.size() == 2 * data.size() - 20);
  BOOST_TEST(got.front().start == mid);
}

// With no descriptor to spare (EMFILE), a segment closed unsynced and a
// sync of the current one are done in place instead of handed over; the
// segment after a full one waits for a descriptor (kOom), and nothing is
// lost.
BOOST_AUTO_TEST_CASE(with_no_descriptor_to_spare_segments_are_synced_in_place) {
  TempDir d;
  WalOptions o{d.path, 256};
  auto data = payloads(10);
  size_t appended = 0;
  {
    auto wal = open_log(o);
    wal->set_sync_on_roll(false);
    BOOST_REQUIRE(wal->append(data[0]).ok());
    ++appended;
    const uint64_t first_end = wal->end_offset();
    rlimit saved{};
    BOOST_REQUIRE(getrlimit(RLIMIT_NOFILE, &saved) == 0);
    const int lowest_free = ::dup(0);
    BOOST_REQUIRE(lowest_free >= 0);
    ::close(lowest_free);
    rlimit none = saved;
    none.rlim_cur = static_cast<rlim_t>(lowest_free);  // no new descriptor
    BOOST_REQUIRE(setrlimit(RLIMIT_NOFILE, &none) == 0);
    auto current = wal->take_sync(true);
    lmkv::Status refused;
    for (size_t i = 0; i < 100 && refused.ok(); ++i) {
      auto s = wal->append(data[i % data.size()]);
      if (s.ok())
        ++appended;
      else
        refused = s.error();
    }
    BOOST_REQUIRE(setrlimit(RLIMIT_NOFILE, &saved) == 0);
    BOOST_REQUIRE(current.ok());
    BOOST_TEST(current->empty());  // synced in place
    BOOST_TEST(current->end() == first_end);
    BOOST_TEST(!refused.ok());
    BOOST_TEST((refused.error().code == lmkv::Code::kOom));
    // A descriptor again: the next segment starts; the full one was synced
    // in place, not handed over.
    BOOST_REQUIRE(wal->append(data[1]).ok());
    ++appended;
    auto pending = wal->take_sync(false);
    BOOST_REQUIRE(pending.ok());
    BOOST_TEST(pending->closed_segments() == 0u);
  }
  BOOST_TEST(replay_all(o, 0).size() == appended);
}

BOOST_AUTO_TEST_CASE(a_log_behind_the_store_restarts_at_the_store_offset) {
  TempDir d;
  WalOptions o{d.path};
  {
    auto wal = Wal::open(
        o, 0, {}, [](uint64_t, WalPosition, std::string_view, const auto&) { return Status(); });
    BOOST_REQUIRE((*wal)->append("abc").ok());
  }
  uint64_t end = 0;
  auto got = replay_all(o, 1000, &end);
  BOOST_TEST(got.empty());
  BOOST_TEST(end == 1000u);
  // And appends continue from there, surviving another reopen.
  {
    auto wal = Wal::open(
        o, 1000, {}, [](uint64_t, WalPosition, std::string_view, const auto&) { return Status(); });
    auto s = (*wal)->append("xyz");
    BOOST_REQUIRE(s.ok());
    BOOST_TEST(*s == 1000u);
  }
  got = replay_all(o, 1000, &end);
  BOOST_REQUIRE_EQUAL(got.size(), 1u);
  BOOST_TEST(end == 1003u);
}

// The same when the log lost frames the store recorded a position after:
// the segment is read from its start, not continued past its end (which
// left a hole of zeros that a read from the start took for the log's end).
BOOST_AUTO_TEST_CASE(a_log_cut_short_of_the_stored_position_restarts_at_the_store_offset) {
  TempDir d;
  WalOptions o{d.path};
  auto data = payloads(20);
  write_log(o, data);
  uint64_t from = 0;
  auto all = replay_all(o, 0, &from);
  const WalPosition hint{0, all.back().at.byte + Wal::kHeaderSize + all.back().payload.size()};
  fs::remove(segment_file(d.path, from));  // the replay's fresh segment
  fs::resize_file(segment_file(d.path, 0), all[10].at.byte);
  {
    auto wal = Wal::open(o, from, hint, [](uint64_t, WalPosition, std::string_view, const auto&) {
      BOOST_ERROR("nothing is at or after the store's offset");
      return Status();
    });
    BOOST_REQUIRE(wal.ok());
    BOOST_TEST((*wal)->end_offset() == from);
    auto s = (*wal)->append("xyz");
    BOOST_REQUIRE(s.ok());
    BOOST_TEST(*s == from);
  }
  BOOST_TEST(fs::file_size(segment_file(d.path, 0)) == all[10].at.byte);
  BOOST_TEST(fs::exists(segment_file(d.path, from)));
  auto got = replay_all(o, from);
  BOOST_REQUIRE_EQUAL(got.size(), 1u);
  BOOST_TEST(got[0].payload == "xyz");
}

BOOST_AUTO_TEST_CASE(a_position_hint_skips_straight_to_the_unapplied_tail) {
  TempDir d;
  WalOptions o{d.path};
  auto data = payloads(20);
  WalPosition hint;
  uint64_t from = 0;
  {
    auto wal = Wal::open(
        o, 0, {}, [](uint64_t, WalPosition, std::string_view, const auto&) { return Status(); });
    for (size_t i = 0; i < data.size(); ++i) {
      if (i == 12) {
        hint = (*wal)->end_position();
        from = (*wal)->end_offset();
      }
      BOOST_REQUIRE((*wal)->append(data[i]).ok());
    }
  }
  const std::string seg = only_segment(d.path);
  // Scribble over the applied frames: with a good hint they are never read.
  {
    std::fstream f(seg, std::ios::binary | std::ios::in | std::ios::out);
    std::string junk(hint.byte, 'x');
    f.write(junk.data(), junk.size());
  }
  uint64_t end = 0;
  auto got = replay_all(o, from, &end, hint);
  BOOST_REQUIRE_EQUAL(got.size(), 8u);
  BOOST_TEST(got.front().start == from);
  BOOST_TEST(got.back().payload == data.back());
  // Each replayed frame tells where it is: a freeze before it records that,
  // as the appender's end_position() did then.
  BOOST_TEST(got.front().at.segment == hint.segment);
  BOOST_TEST(got.front().at.byte == hint.byte);
  BOOST_TEST(got.back().at.byte + Wal::kHeaderSize + got.back().payload.size() ==
             fs::file_size(seg));

  // A hint that does not point at the frame for `from` is not trusted: the
  // segment is read from its start (where the scribbles now end the log).
  auto wrong = hint;
  wrong.byte += 1;
  got = replay_all(o, from, &end, wrong);
  BOOST_TEST(got.empty());
}

// Direct writes (Wal::set_direct): the same frames, whole blocks at a time.

namespace {

// Payloads from a few bytes to past two blocks, so frames start and end
// anywhere in a block and some span several.
std::vector<std::string> mixed_payloads(size_t n) {
  std::vector<std::string> out;
  std::mt19937 rng(7);
  for (size_t i = 0; i < n; ++i) {
    const size_t len = i % 5 == 0 ? 9000 + rng() % 300 : 1 + rng() % 1500;
    std::string p(len, '\0');
    for (auto& c : p) c = static_cast<char>('a' + rng() % 26);
    out.push_back(std::move(p));
  }
  return out;
}

uint64_t frames_bytes(const std::vector<std::string>& data) {
  uint64_t total = 0;
  for (auto& p : data) total += Wal::kHeaderSize + p.size();
  return total;
}

void check_replay(const WalOptions& o, const std::vector<std::string>& data) {
  uint64_t end = 0;
  auto got = replay_all(o, 0, &end);
  BOOST_REQUIRE_EQUAL(got.size(), data.size());
  uint64_t off = 0;
  for (size_t i = 0; i < data.size(); ++i) {
    BOOST_TEST(got[i].start == off);
    BOOST_TEST(got[i].payload == data[i], "frame " << i);
    off += data[i].size();
  }
  BOOST_TEST(end == off);
}

// The payloads a replay handed over, kept as views with their owner (the
// mapping), as the engine's replay keeps them.
struct Viewed {
  std::vector<std::string_view> views;
  std::shared_ptr<const void> owner;
};

auto open_viewing(const WalOptions& o, Viewed* v) {
  return Wal::open(o, 0, {}, [v](uint64_t, WalPosition, std::string_view p, const auto& keep) {
    v->views.push_back(p);
    v->owner = keep;
    return Status();
  });
}

// The views still read what was first written; then lets the mapping go.
void check_views(Viewed& v, const std::vector<std::string>& first) {
  BOOST_REQUIRE_EQUAL(v.views.size(), first.size());
  for (size_t i = 0; i < v.views.size(); ++i) BOOST_TEST(v.views[i] == first[i], "frame " << i);
  v.owner.reset();
}

}  // namespace

BOOST_AUTO_TEST_CASE(direct_writes_replay_exactly_and_leave_exact_files) {
  TempDir d;
  WalOptions o{d.path};
  auto data = mixed_payloads(60);
  {
    auto wal = Wal::open(
        o, 0, {}, [](uint64_t, WalPosition, std::string_view, const auto&) { return Status(); });
    BOOST_REQUIRE(wal.ok());
    BOOST_REQUIRE((*wal)->set_direct(true).ok());
    if (!(*wal)->direct()) return;  // the temp file system refuses O_DIRECT
    for (size_t i = 0; i < 30; ++i) {
      BOOST_REQUIRE((*wal)->reserve(Wal::kHeaderSize + data[i].size()).ok());
      BOOST_REQUIRE((*wal)->append(data[i]).ok());
      if (i % 4 == 0) BOOST_REQUIRE((*wal)->sync().ok());
    }
  }
  // Closing cut the padding and the space written with zeros ahead.
  const std::vector<std::string> first(data.begin(), data.begin() + 30);
  BOOST_TEST(fs::file_size(only_segment(d.path)) == frames_bytes(first));
  check_replay(o, first);
  // Reopened, the partial last block is read back and appends continue it.
  {
    auto wal = Wal::open(
        o, 0, {}, [](uint64_t, WalPosition, std::string_view, const auto&) { return Status(); });
    BOOST_REQUIRE(wal.ok());
    BOOST_REQUIRE((*wal)->set_direct(true).ok());
    for (size_t i = 30; i < data.size(); ++i) BOOST_REQUIRE((*wal)->append(data[i]).ok());
    BOOST_REQUIRE((*wal)->sync().ok());
  }
  check_replay(o, data);
}

BOOST_AUTO_TEST_CASE(a_crash_leaves_zeros_after_the_last_frame_that_are_a_clean_end) {
  TempDir d, copy;
  WalOptions o{d.path};
  auto data = mixed_payloads(25);
  std::string image;
  {
    auto wal = Wal::open(
        o, 0, {}, [](uint64_t, WalPosition, std::string_view, const auto&) { return Status(); });
    BOOST_REQUIRE(wal.ok());
    BOOST_REQUIRE((*wal)->set_direct(true).ok());
    if (!(*wal)->direct()) return;
    for (auto& p : data) BOOST_REQUIRE((*wal)->append(p).ok());
    BOOST_REQUIRE((*wal)->reserve(3u << 20).ok());
    BOOST_REQUIRE((*wal)->sync().ok());
    // The file as a crash now would leave it: padding and zeroed space.
    image = read_all(only_segment(d.path));
  }
  BOOST_TEST(image.size() > frames_bytes(data));
  BOOST_TEST(image.size() % Wal::kBlock == 0u);
  const std::string seg = copy.path + "/00000000000000000000.log";
  std::ofstream(seg, std::ios::binary).write(image.data(), image.size());
  WalOptions oc{copy.path};
  auto scan = Wal::scan(copy.path, 0);
  BOOST_REQUIRE(scan.ok());
  BOOST_TEST(scan->tail == "");
  BOOST_TEST(scan->frames == data.size());
  check_replay(oc, data);
  BOOST_TEST(fs::file_size(seg) == frames_bytes(data));  // cut to the last frame
  // Zeros are a clean end; anything else after the frames still ends the log
  // with a cut.
  std::string bad = image;
  bad[frames_bytes(data) + 100] = 'x';
  std::ofstream(seg, std::ios::binary | std::ios::trunc).write(bad.data(), bad.size());
  scan = Wal::scan(copy.path, 0);
  BOOST_REQUIRE(scan.ok());
  BOOST_TEST(scan->tail != "");
  check_replay(oc, data);
}

// Direct writes go into zeroed blocks, but only a short way ahead: the rest
// of a reservation is allocated without being written, so recovery, which
// reads a segment to its end, reads little past the last frame.
BOOST_AUTO_TEST_CASE(direct_writes_zero_only_a_short_window_of_the_reservation) {
  TempDir d;
  WalOptions o{d.path};
  auto wal = Wal::open(
      o, 0, {}, [](uint64_t, WalPosition, std::string_view, const auto&) { return Status(); });
  BOOST_REQUIRE(wal.ok());
  BOOST_REQUIRE((*wal)->set_direct(true).ok());
  if (!(*wal)->direct()) return;  // the temp file system refuses O_DIRECT
  const std::string value(100'000, 'v');
  uint64_t written = 0;
  for (int round = 0; round < 3; ++round) {
    BOOST_REQUIRE((*wal)->reserve(8u << 20).ok());  // admit()'s headroom
    const std::string seg = only_segment(d.path);
    struct stat st{};
    BOOST_REQUIRE(::stat(seg.c_str(), &st) == 0);
    const auto size = static_cast<uint64_t>(st.st_size);
    BOOST_TEST(size >= written + (1u << 20));            // zeros ahead of the frames
    BOOST_TEST(size <= written + (3u << 20));            // but only a window of them
    BOOST_TEST((*wal)->reserved_bytes() >= (8u << 20));  // the rest allocated
    for (int i = 0; i < 20; ++i) {
      BOOST_REQUIRE((*wal)->append(value).ok());
      written += Wal::kHeaderSize + value.size();
    }
    BOOST_REQUIRE((*wal)->sync().ok());
  }
}

BOOST_AUTO_TEST_CASE(direct_writes_roll_segments_and_switch_modes_mid_segment) {
  TempDir d;
  WalOptions o{d.path, 20000};
  auto data = mixed_payloads(80);
  {
    auto wal = Wal::open(
        o, 0, {}, [](uint64_t, WalPosition, std::string_view, const auto&) { return Status(); });
    BOOST_REQUIRE(wal.ok());
    for (size_t i = 0; i < data.size(); ++i) {
      // Buffered, direct, buffered again, direct: each switch mid-segment.
      if (i % 20 == 0) BOOST_REQUIRE((*wal)->set_direct(i % 40 == 0).ok());
      BOOST_REQUIRE((*wal)->reserve(Wal::kHeaderSize + data[i].size()).ok());
      BOOST_REQUIRE((*wal)->append(data[i]).ok());
      if (i % 3 == 0) BOOST_REQUIRE((*wal)->sync().ok());
    }
    BOOST_REQUIRE((*wal)->sync().ok());
    // Closed segments hold their frames only (no padding, no zeros).
    std::vector<std::pair<uint64_t, uint64_t>> sizes;
    for (auto& e : fs::directory_iterator(d.path))
      sizes.push_back(
          {std::stoull(e.path().filename().string().substr(0, 20)), fs::file_size(e.path())});
    std::sort(sizes.begin(), sizes.end());
    BOOST_TEST_REQUIRE(sizes.size() > 3u);
    uint64_t off = 0, frame = 0;
    for (size_t s = 0; s + 1 < sizes.size(); ++s) {
      BOOST_TEST(sizes[s].first == off);
      uint64_t bytes = 0;
      while (off < sizes[s + 1].first) {
        bytes += Wal::kHeaderSize + data[frame].size();
        off += data[frame++].size();
      }
      BOOST_TEST(sizes[s].second == bytes, "segment " << s);
    }
  }
  check_replay(o, data);
}

// A replay may keep viewing the frames it was given (the owner keeps the
// mapping): the log takes its appends in a new segment after a replay, so
// not even a direct write's rewrite of its partial block touches them. With
// nothing replayed, the last segment goes on taking frames.
BOOST_AUTO_TEST_CASE(replayed_frames_stay_as_they_were_while_the_log_takes_appends) {
  TempDir d;
  WalOptions o{d.path};
  auto data = payloads(40);
  const std::vector<std::string> first(data.begin(), data.begin() + 20);
  write_log(o, first);
  Viewed viewed;
  {
    auto wal = open_viewing(o, &viewed);
    BOOST_REQUIRE(wal.ok());
    BOOST_REQUIRE(viewed.owner != nullptr);
    BOOST_TEST(files_in(d.path) == 2u);
    BOOST_REQUIRE((*wal)->set_direct(true).ok());  // or buffered, where O_DIRECT is refused
    for (size_t i = 20; i < data.size(); ++i) {
      BOOST_REQUIRE((*wal)->append(data[i]).ok());
      BOOST_REQUIRE((*wal)->sync().ok());
    }
  }
  check_views(viewed, first);
  check_replay(o, data);
  // Nothing to replay past the end: no new segment.
  uint64_t end = 0;
  replay_all(o, 0, &end);
  const auto segments = files_in(d.path);
  BOOST_TEST(replay_all(o, end).empty());
  BOOST_TEST(files_in(d.path) == segments);
}

// A directory that refuses new files while it lives, even to root (in life
// a disk with no inode left). Setting the flag needs root.
class Immutable {
 public:
  explicit Immutable(const std::string& path)
      : path_(path), fd_(::open(path.c_str(), O_RDONLY | O_DIRECTORY)) {
    const bool made = fd_ >= 0 && set(true);
    const std::string why = made ? "" : strerror(errno);
    if (!made) release();
    BOOST_REQUIRE_MESSAGE(made, "cannot make " << path << " immutable (needs root): " << why);
  }
  // Best effort, and never a throwing check: a failed test's unwinding
  // passes through here.
  ~Immutable() { release(); }
  Immutable(const Immutable&) = delete;
  Immutable& operator=(const Immutable&) = delete;
  // Takes new files again.
  void lift() { BOOST_REQUIRE_MESSAGE(release(), "cannot lift " << path_ << "'s immutable flag"); }

 private:
  // Lifts the flag (if still set) and closes the directory; whether it was lifted.
  bool release() {
    if (fd_ < 0) return true;
    const bool lifted = set(false);
    ::close(fd_);
    fd_ = -1;
    return lifted;
  }
  bool set(bool on) {
    int flags = 0;
    if (::ioctl(fd_, FS_IOC_GETFLAGS, &flags) != 0) return false;
    flags = on ? flags | FS_IMMUTABLE_FL : flags & ~FS_IMMUTABLE_FL;
    return ::ioctl(fd_, FS_IOC_SETFLAGS, &flags) == 0;
  }
  std::string path_;
  int fd_;
};

// A start that cannot create its fresh segment still opens: the replayed
// segment takes the appends, buffered, its replayed bytes unchanged; direct
// writes asked for meanwhile begin with the next segment.
BOOST_AUTO_TEST_CASE(a_replay_that_cannot_create_a_segment_appends_to_the_replayed_one) {
  TempDir d;
  WalOptions o{d.path, 4096};  // small segments: the later appends roll
  auto data = payloads(120);
  const std::vector<std::string> first(data.begin(), data.begin() + 20);
  write_log(o, first);
  Immutable frozen(d.path);
  Viewed viewed;
  {
    auto wal = open_viewing(o, &viewed);
    frozen.lift();
    BOOST_REQUIRE_MESSAGE(wal.ok(), (wal.ok() ? std::string() : wal.error().message));
    BOOST_REQUIRE_EQUAL(viewed.views.size(), first.size());
    BOOST_TEST(files_in(d.path) == 1u);
    BOOST_REQUIRE((*wal)->set_direct(true).ok());
    BOOST_TEST(!(*wal)->direct());  // not into the replayed segment
    for (size_t i = 20; i < data.size(); ++i) {
      BOOST_REQUIRE((*wal)->reserve(Wal::kHeaderSize + data[i].size()).ok());
      BOOST_REQUIRE((*wal)->append(data[i]).ok());
      BOOST_REQUIRE((*wal)->sync().ok());
    }
    BOOST_TEST(files_in(d.path) > 1u);
    // The next segment took direct writes, where the file system allows them.
    const std::string probe = d.path + "/probe";
    const int fd = ::open(probe.c_str(), O_RDWR | O_CREAT | O_DIRECT, 0644);
    if (fd >= 0) {
      ::close(fd);
      fs::remove(probe);
      BOOST_TEST((*wal)->direct());
    }
  }
  check_views(viewed, first);
  check_replay(o, data);
}

// A start with no segment to append to (an empty log, as a restored
// snapshot has; or a log that ends before the store, its tail lost with
// --fsync no, even at the position the store recorded) that cannot create
// one still opens at the store's offset: appends are refused as on a full
// disk (kOom, nothing written) until the file can be created, then go on
// from that offset.
BOOST_AUTO_TEST_CASE(a_start_that_cannot_create_its_only_segment_refuses_appends_until_it_can) {
  for (const bool behind : {false, true}) {
    BOOST_TEST_CONTEXT((behind ? "a log behind the store" : "an empty log")) {
      TempDir d;
      WalOptions o{d.path};
      auto data = payloads(30);
      uint64_t from = 5000;
      WalPosition hint;
      if (behind) {
        write_log(o, std::vector<std::string>(data.begin(), data.begin() + 20));
        auto all = replay_all(o, 0, &from);  // the store applied all 20
        hint = {all.back().at.segment,
                all.back().at.byte + Wal::kHeaderSize + all.back().payload.size()};
        // The crash kept 10 (the replay's new, empty segment went too).
        fs::remove(segment_file(d.path, from));
        fs::resize_file(segment_file(d.path, 0), all[10].at.byte);
      }
      const size_t files = files_in(d.path);
      std::vector<uint64_t> starts;
      {
        Immutable frozen(d.path);
        auto wal =
            Wal::open(o, from, hint, [](uint64_t, WalPosition, std::string_view, const auto&) {
              BOOST_ERROR("nothing is at or after the store's offset");
              return Status();
            });
        BOOST_REQUIRE_MESSAGE(wal.ok(), (wal.ok() ? std::string() : wal.error().message));
        BOOST_TEST((*wal)->end_offset() == from);
        BOOST_REQUIRE((*wal)->set_direct(true).ok());
        for (int i = 0; i < 3; ++i) {
          auto refused = (*wal)->reserve(Wal::kHeaderSize + data[20].size());
          BOOST_REQUIRE(!refused.ok());
          BOOST_TEST((refused.error().code == lmkv::Code::kOom));
          auto start = (*wal)->append(data[20]);
          BOOST_REQUIRE(!start.ok());
          BOOST_TEST((start.error().code == lmkv::Code::kOom));
          BOOST_TEST((*wal)->sync().ok());
        }
        BOOST_TEST((*wal)->end_offset() == from);
        BOOST_TEST(files_in(d.path) == files);
        frozen.lift();  // space comes back
        for (size_t i = 20; i < data.size(); ++i) {
          auto start = (*wal)->append(data[i]);
          BOOST_REQUIRE(start.ok());
          starts.push_back(*start);
          BOOST_REQUIRE((*wal)->sync().ok());
        }
        BOOST_TEST(files_in(d.path) == files + 1);
      }
      auto got = replay_all(o, from);
      BOOST_REQUIRE_EQUAL(got.size(), data.size() - 20);
      uint64_t at = from;
      for (size_t i = 0; i < got.size(); ++i) {
        BOOST_TEST(got[i].payload == data[i + 20]);
        BOOST_TEST(got[i].start == at);
        BOOST_TEST(starts[i] == at);
        at += data[i + 20].size();
      }
    }
  }
}
