// tests/unit/commands/scan_cursors_test.cc: the SCAN cursor table.
#include "commands/scan_cursors.h"

#include <boost/test/unit_test.hpp>
#include <set>

namespace lmkv::commands::testing {

BOOST_AUTO_TEST_SUITE(scan_cursors)

constexpr uint64_t kLimit = uint64_t{1} << 53;

BOOST_AUTO_TEST_CASE(save_then_take_once) {
  ScanCursors c;
  const uint64_t id = c.save({3, "key"}, 1000);
  BOOST_TEST(id != 0u);
  BOOST_TEST(id < kLimit);
  BOOST_TEST(c.size() == 1u);
  auto pos = c.take(id, 1001);
  BOOST_TEST_REQUIRE(pos.has_value());
  BOOST_TEST(pos->db == 3);
  BOOST_TEST(pos->last_key == "key");
  BOOST_TEST(!c.take(id, 1002).has_value());
  BOOST_TEST(c.size() == 0u);
}

BOOST_AUTO_TEST_CASE(ids_are_distinct_nonzero_and_random_per_table) {
  ScanCursors a, b;
  std::set<uint64_t> ids;
  for (int i = 0; i < 1000; ++i) {
    const uint64_t id = a.save({0, std::to_string(i)}, 0);
    BOOST_TEST(id != 0u);
    BOOST_TEST(id < kLimit);
    ids.insert(id);
  }
  BOOST_TEST(ids.size() == 1000u);
  // Another table (another process) starts elsewhere: its first id is
  // unknown here. A collision has probability ~2^-42.
  const uint64_t other = b.save({0, "x"}, 0);
  BOOST_TEST(ids.count(other) == 0u);
  BOOST_TEST(!a.take(0, 0).has_value());
}

BOOST_AUTO_TEST_CASE(unknown_id) {
  ScanCursors c;
  BOOST_TEST(!c.take(12345, 0).has_value());
}

BOOST_AUTO_TEST_CASE(lru_evicts_oldest) {
  ScanCursors c(3, 1000000);
  const uint64_t a = c.save({0, "a"}, 0);
  const uint64_t b = c.save({0, "b"}, 1);
  const uint64_t d = c.save({0, "c"}, 2);
  const uint64_t e = c.save({0, "d"}, 3);
  BOOST_TEST(c.size() == 3u);
  BOOST_TEST(!c.take(a, 4).has_value());
  BOOST_TEST(c.take(b, 4)->last_key == "b");
  BOOST_TEST(c.take(d, 4)->last_key == "c");
  BOOST_TEST(c.take(e, 4)->last_key == "d");
}

BOOST_AUTO_TEST_CASE(idle_cursors_expire) {
  ScanCursors c(100, 50);
  const uint64_t a = c.save({0, "a"}, 1000);
  const uint64_t b = c.save({0, "b"}, 1000);
  BOOST_TEST(c.take(a, 1050).has_value());   // exactly at the limit: still valid
  BOOST_TEST(!c.take(b, 1051).has_value());  // idle too long
  BOOST_TEST(c.size() == 0u);
  // Saving later drops idle entries too, so the table does not fill up.
  c.save({0, "x"}, 2000);
  c.save({0, "y"}, 3000);
  BOOST_TEST(c.size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace lmkv::commands::testing
