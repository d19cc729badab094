// tests/unit/store/space_test.cc: a full disk (DESIGN.md "Durability and
// space"). The log allocates its space ahead of the frames (Wal::reserve);
// when allocation fails, nothing is written and the log stays whole; the
// engine refuses groups before they run (Engine::admit) until space is
// back. ENOSPC is injected through WalOptions::allocate / EngineOptions::
// log_allocate; one case checks the real fallocate on the temp directory.
#include <sys/stat.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fixture.h"
#include "store/wal.h"

using namespace lmkv;
using namespace lmkv::store;
using namespace lmkv::store::testing;
namespace fs = std::filesystem;

namespace {

// An allocation hook that fails with `error` while `full`, and records
// every range it was asked for.
struct FakeDisk {
  std::atomic<bool> full{false};
  int error = ENOSPC;
  struct Call {
    uint64_t offset, len;
  };
  std::vector<Call> calls;
  std::function<int(int, uint64_t, uint64_t)> hook() {
    return [this](int, uint64_t offset, uint64_t len) {
      calls.push_back({offset, len});
      return full.load() ? error : 0;
    };
  }
};

std::unique_ptr<Wal> open_wal(const WalOptions& o) {
  auto wal = Wal::open(
      o, 0, {}, [](uint64_t, WalPosition, std::string_view, const auto&) { return Status(); });
  BOOST_REQUIRE_MESSAGE(wal.ok(), message_of(wal));
  return std::move(*wal);
}

std::vector<std::string> replay(const WalOptions& o) {
  std::vector<std::string> got;
  auto wal = Wal::open(o, 0, {}, [&](uint64_t, WalPosition, std::string_view p, const auto&) {
    got.emplace_back(p);
    return Status();
  });
  BOOST_REQUIRE(wal.ok());
  return got;
}

uint64_t file_bytes(const std::string& dir) {
  uint64_t total = 0;
  for (const auto& e : fs::directory_iterator(dir)) total += fs::file_size(e.path());
  return total;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(space)

BOOST_AUTO_TEST_CASE(reserve_allocates_ahead_in_steps_and_only_when_needed) {
  TempDir d;
  FakeDisk disk;
  WalOptions o{.dir = d.path, .allocate = disk.hook()};
  auto wal = open_wal(o);
  BOOST_REQUIRE(wal->reserve(100).ok());
  BOOST_REQUIRE_EQUAL(disk.calls.size(), 1u);
  BOOST_TEST(disk.calls[0].offset == 0u);
  BOOST_TEST(disk.calls[0].len == 1u << 20);  // a whole step
  BOOST_TEST(wal->reserved_bytes() == 1u << 20);
  // Frames inside what is allocated need no more calls.
  for (int i = 0; i < 100; ++i) BOOST_REQUIRE(wal->append(std::string(1000, 'x')).ok());
  BOOST_TEST(disk.calls.size() == 1u);
  BOOST_TEST(wal->reserved_bytes() == (1u << 20) - 100 * (1000 + Wal::kHeaderSize));
  // A frame past it allocates from where the allocation ended.
  BOOST_REQUIRE(wal->append(std::string(1u << 20, 'y')).ok());
  BOOST_REQUIRE_EQUAL(disk.calls.size(), 2u);
  BOOST_TEST(disk.calls[1].offset == 1u << 20);
}

BOOST_AUTO_TEST_CASE(a_full_disk_refuses_the_frame_and_leaves_the_log_whole) {
  TempDir d;
  FakeDisk disk;
  WalOptions o{.dir = d.path, .allocate = disk.hook()};
  std::vector<std::string> written;
  {
    auto wal = open_wal(o);
    for (int i = 0; i < 10; ++i) {
      written.push_back("frame " + std::to_string(i));
      BOOST_REQUIRE(wal->append(written.back()).ok());
    }
    BOOST_REQUIRE(wal->sync().ok());
    const uint64_t end = wal->end_offset();
    const uint64_t bytes = file_bytes(d.path);
    disk.full = true;
    // Larger than what is allocated: refused as kOom, nothing written.
    auto big = wal->append(std::string(2u << 20, 'b'));
    BOOST_REQUIRE(!big.ok());
    BOOST_TEST(static_cast<int>(big.error().code) == static_cast<int>(Code::kOom));
    BOOST_TEST(big.error().message.find("No space left on device") != std::string::npos);
    auto reserved = wal->reserve(4u << 20);
    BOOST_REQUIRE(!reserved.ok());
    BOOST_TEST(static_cast<int>(reserved.error().code) == static_cast<int>(Code::kOom));
    BOOST_TEST(wal->end_offset() == end);
    BOOST_TEST(file_bytes(d.path) == bytes);
    // Space comes back: the same frame goes in, right after the others.
    disk.full = false;
    written.push_back(std::string(2u << 20, 'b'));
    auto start = wal->append(written.back());
    BOOST_REQUIRE(start.ok());
    BOOST_TEST(*start == end);
    BOOST_REQUIRE(wal->sync().ok());
  }
  auto got = replay(o);
  BOOST_TEST(got == written, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(the_next_segment_is_started_and_allocated_by_reserve) {
  TempDir d;
  FakeDisk disk;
  WalOptions o{.dir = d.path, .segment_bytes = 4096, .allocate = disk.hook()};
  std::vector<std::string> written;
  {
    auto wal = open_wal(o);
    written.push_back(std::string(5000, 'a'));  // fills the first segment past its size
    BOOST_REQUIRE(wal->append(written.back()).ok());
    BOOST_TEST(wal->end_position().segment == 0u);
    disk.full = true;
    // The new segment is created, but cannot get its space: refused.
    BOOST_TEST(!wal->reserve(100).ok());
    BOOST_TEST(!wal->append("refused").ok());
    BOOST_TEST(wal->end_offset() == 5000u);
    disk.full = false;
    BOOST_REQUIRE(wal->reserve(100).ok());
    BOOST_TEST(wal->end_position().segment == 5000u);
    BOOST_TEST(wal->end_position().byte == 0u);
    BOOST_TEST(disk.calls.back().offset == 0u);  // allocated from the new file's start
    written.push_back("next");
    auto start = wal->append(written.back());
    BOOST_REQUIRE(start.ok());
    BOOST_TEST(*start == 5000u);
    BOOST_REQUIRE(wal->sync().ok());
  }
  BOOST_TEST(replay(o) == written, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_file_system_without_fallocate_is_not_a_full_disk) {
  TempDir d;
  FakeDisk disk;
  disk.full = true;
  disk.error = EOPNOTSUPP;
  WalOptions o{.dir = d.path, .allocate = disk.hook()};
  auto wal = open_wal(o);
  BOOST_REQUIRE(wal->reserve(100).ok());
  BOOST_REQUIRE(wal->append(std::string(3u << 20, 'z')).ok());
  BOOST_TEST(disk.calls.size() == 1u);  // asked once, then never again
}

// The real fallocate: the blocks are allocated, the file's size is not
// changed (recovery reads frames up to the size).
BOOST_AUTO_TEST_CASE(real_allocation_keeps_the_file_size) {
  TempDir d;
  WalOptions o{.dir = d.path};
  auto wal = open_wal(o);
  BOOST_REQUIRE(wal->append("first").ok());
  BOOST_REQUIRE(wal->reserve(3u << 20).ok());
  std::string segment;
  for (const auto& e : fs::directory_iterator(d.path)) segment = e.path().string();
  struct stat st {};
  BOOST_REQUIRE(::stat(segment.c_str(), &st) == 0);
  BOOST_TEST(st.st_size == static_cast<off_t>(Wal::kHeaderSize + 5));
  if (wal->reserved_bytes() > 0)  // the temp file system allocates ahead
    BOOST_TEST(static_cast<uint64_t>(st.st_blocks) * 512 >= (3u << 20));
}

BOOST_AUTO_TEST_CASE(admit_refuses_until_space_is_back_and_data_is_kept) {
  FakeDisk disk;
  EngineFixture f;
  auto o = f.options();
  o.log_allocate = disk.hook();
  f.reopen(o);
  Engine& e = *f.engine;
  BOOST_REQUIRE(e.admit(100).ok());
  f.put(0, "kept", "before");
  BOOST_TEST(!e.disk_full());

  disk.full = true;
  // Past the headroom reserved so far: refused, nothing changed.
  auto refused = e.admit(64u << 20);
  BOOST_REQUIRE(!refused.ok());
  BOOST_TEST(static_cast<int>(refused.error().code) == static_cast<int>(Code::kOom));
  BOOST_TEST(e.log_full());
  BOOST_TEST(e.disk_full());
  BOOST_TEST(e.writes_refused());
  // Once full, even a small group is refused (no flapping), and reads go on.
  BOOST_TEST(!e.admit(10).ok());
  BOOST_TEST(e.stats().space_refusals.load() == 2u);
  BOOST_TEST(f.get(0, "kept") == "before");

  // tick() looks for space again (at most every 250 ms) and lifts the state.
  disk.full = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (e.log_full() && std::chrono::steady_clock::now() < deadline) {
    BOOST_REQUIRE(e.tick().ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  BOOST_TEST(!e.log_full());
  BOOST_REQUIRE(e.admit(100).ok());
  f.put(0, "after", "space");
  f.reopen(o);
  BOOST_TEST(f.get(0, "kept") == "before");
  BOOST_TEST(f.get(0, "after") == "space");
}

// A group whose frame outgrew what admit() reserved cannot be withdrawn from
// the MemTable: commit() waits for space instead of failing, and the group
// is logged whole once there is some.
BOOST_AUTO_TEST_CASE(a_frame_larger_than_its_reservation_waits_for_space) {
  FakeDisk disk;
  EngineFixture f;
  auto o = f.options();
  o.log_allocate = disk.hook();
  o.log_headroom = 0;
  f.reopen(o);
  Engine& e = *f.engine;
  BOOST_REQUIRE(e.admit(100).ok());
  disk.full = true;
  std::thread freer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    disk.full = false;
  });
  const auto started = std::chrono::steady_clock::now();
  {
    WriteTxn txn(e);
    BOOST_REQUIRE(txn.put(0, "big", ValueView{Type::kString, 0, std::string(2u << 20, 'v')}).ok());
    BOOST_REQUIRE(txn.commit().ok());
  }
  freer.join();
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  BOOST_TEST(waited.count() >= 250);
  BOOST_TEST(f.get(0, "big") == std::string(2u << 20, 'v'));
  f.reopen(o);
  BOOST_TEST(f.get(0, "big") == std::string(2u << 20, 'v'));
}

BOOST_AUTO_TEST_SUITE_END()
