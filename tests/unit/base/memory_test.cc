// The memory limit behind memory-sized defaults: /proc/self/cgroup parsing,
// limit files, and the live value on this machine.
#include "base/memory.h"

#include <unistd.h>

#include <boost/test/unit_test.hpp>

namespace lmkv {

BOOST_AUTO_TEST_SUITE(memory)

BOOST_AUTO_TEST_CASE(v1_memory_hierarchy_wins_over_the_v2_line) {
  const auto g = memory_cgroup(
      "9:name=systemd:/\n5:devices:/\n4:memory:/process_api/abc\n3:cpu,cpuacct:/x\n0::/\n");
  BOOST_REQUIRE(g.has_value());
  BOOST_TEST(g->path == "/process_api/abc");
  BOOST_TEST(!g->v2);
  const auto shared = memory_cgroup("7:cpuset,memory:/lmkv-beyond-ram-12\n");
  BOOST_REQUIRE(shared.has_value());
  BOOST_TEST(shared->path == "/lmkv-beyond-ram-12");
}

BOOST_AUTO_TEST_CASE(v2_only_and_unparsable) {
  const auto g = memory_cgroup("0::/user.slice/user-0.slice/session-1.scope\n");
  BOOST_REQUIRE(g.has_value());
  BOOST_TEST(g->path == "/user.slice/user-0.slice/session-1.scope");
  BOOST_TEST(g->v2);
  BOOST_TEST(!memory_cgroup("").has_value());
  BOOST_TEST(!memory_cgroup("garbage\n1:cpu:/\n").has_value());
}

BOOST_AUTO_TEST_CASE(limit_files) {
  BOOST_TEST(parse_memory_limit("268435456\n").value() == 268435456u);
  BOOST_TEST(parse_memory_limit("9223372036854771712\n").value() == 9223372036854771712u);
  BOOST_TEST(!parse_memory_limit("max\n").has_value());
  BOOST_TEST(!parse_memory_limit("").has_value());
  BOOST_TEST(!parse_memory_limit("12k").has_value());
}

// Never more than the machine has, and something.
BOOST_AUTO_TEST_CASE(live_limit_is_at_most_ram) {
  const uint64_t ram = static_cast<uint64_t>(::sysconf(_SC_PHYS_PAGES)) * ::sysconf(_SC_PAGESIZE);
  const uint64_t limit = memory_limit();
  BOOST_TEST(limit > 0u);
  BOOST_TEST(limit <= ram);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace lmkv
