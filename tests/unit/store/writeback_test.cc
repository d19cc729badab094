// tests/unit/store/writeback_test.cc: EarlyWriteback (store/writeback.h)
// starts the writeback again and again for as long as it lives, stops at
// once when it goes, and does nothing without a file. Its effect on
// applies is measured, not tested (BENCHMARKS.md "Stop 31"); every engine
// case commits through it.
#include "store/writeback.h"

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <optional>
#include <thread>

using namespace lmkv::store;
using Clock = std::chrono::steady_clock;

BOOST_AUTO_TEST_SUITE(early_writeback)

BOOST_AUTO_TEST_CASE(it_starts_the_writeback_every_interval_while_it_lives) {
  std::atomic<int> calls{0};
  std::atomic<int> wrong_fd{0};
  std::optional<EarlyWriteback> w;
  w.emplace(7, [&](int fd) {
    calls.fetch_add(1);
    if (fd != 7) wrong_fd.fetch_add(1);
  });
  std::this_thread::sleep_for(20 * EarlyWriteback::kInterval);
  const auto before = Clock::now();
  w.reset();
  const auto stopping = Clock::now() - before;
  // About 20 in the time; a loaded machine may run fewer, never none.
  BOOST_TEST(calls.load() >= 3);
  BOOST_TEST(calls.load() <= 21);
  BOOST_TEST(wrong_fd.load() == 0);
  // The stop wakes the wait at once.
  BOOST_TEST(stopping < std::chrono::milliseconds(100));
  const int after = calls.load();
  std::this_thread::sleep_for(5 * EarlyWriteback::kInterval);
  BOOST_TEST(calls.load() == after);
}

BOOST_AUTO_TEST_CASE(without_a_file_it_does_nothing) {
  std::atomic<int> calls{0};
  {
    EarlyWriteback w(-1, [&](int) { calls.fetch_add(1); });
    std::this_thread::sleep_for(4 * EarlyWriteback::kInterval);
  }
  BOOST_TEST(calls.load() == 0);
}

BOOST_AUTO_TEST_SUITE_END()
