// PagePool (base/pages.h): blocks given back are handed out again, up to the
// cap; fill() maps blocks ahead on its own thread, within the cap; and
// construct_array takes a pool block only when the array fills exactly one.
#include "base/pages.h"

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

using namespace lmkv;

namespace {

// Waits (bounded) until the pool keeps `bytes`.
bool kept_soon(const PagePool& pool, size_t bytes) {
  for (int i = 0; i < 500 && pool.kept_bytes() < bytes; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return pool.kept_bytes() == bytes;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(pages)

BOOST_AUTO_TEST_CASE(map_pages_rounds_up_to_whole_zeroed_pages) {
  Pages p = map_pages(5000);
  BOOST_TEST(p.get_deleter().size == 8192u);
  BOOST_TEST(p[0] == 0);
  BOOST_TEST(p[8191] == 0);
  p[8191] = 1;  // writable to the end
}

// Resident before anyone touched them: mincore says so of every page.
BOOST_AUTO_TEST_CASE(map_populated_pages_are_faulted_in_and_zero) {
  const size_t size = 64 * 4096;
  Pages p = map_populated(size - 100);
  BOOST_TEST(p.get_deleter().size == size);
  // mincore wants a page-aligned start: new[] (under ASan) may not give one.
  const auto at = reinterpret_cast<uintptr_t>(p.get());
  const uintptr_t first = (at + 4095) & ~uintptr_t{4095};
  const size_t pages = (at + size - first) / 4096;
  std::vector<unsigned char> resident(pages);
  BOOST_REQUIRE(mincore(reinterpret_cast<void*>(first), pages * 4096, resident.data()) == 0);
  size_t in = 0;
  for (unsigned char r : resident) in += r & 1;
  BOOST_TEST(in == pages);
  BOOST_TEST(std::all_of(p.get(), p.get() + size, [](char c) { return c == 0; }));
}

BOOST_AUTO_TEST_CASE(a_block_given_back_is_handed_out_again_up_to_the_cap) {
  PagePool pool(2 * PagePool::kBlock);
  Pages a = pool.take();
  BOOST_TEST(a.get_deleter().size == PagePool::kBlock);
  a[123] = 7;
  char* const a_at = a.get();
  pool.give(std::move(a));
  BOOST_TEST(pool.kept_bytes() == PagePool::kBlock);
  Pages again = pool.take();
  BOOST_TEST(again.get() == a_at);
  BOOST_TEST(again[123] == 7);  // as it was: not zeroed
  BOOST_TEST(pool.kept_bytes() == 0u);
  // Two are kept at most: a third given back is unmapped.
  pool.give(std::move(again));
  pool.give(pool.take());
  pool.give(map_pages(PagePool::kBlock));
  pool.give(map_pages(PagePool::kBlock));
  BOOST_TEST(pool.kept_bytes() == 2 * PagePool::kBlock);
  // A block of another size is never kept.
  PagePool other(8 * PagePool::kBlock);
  other.give(map_pages(4096));
  BOOST_TEST(other.kept_bytes() == 0u);
}

BOOST_AUTO_TEST_CASE(fill_maps_blocks_ahead_within_the_cap) {
  PagePool pool(3 * PagePool::kBlock);
  pool.fill(10 * PagePool::kBlock);
  BOOST_TEST(kept_soon(pool, 3 * PagePool::kBlock));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  BOOST_TEST(pool.kept_bytes() == 3 * PagePool::kBlock);  // never past the cap
  Pages p = pool.take();
  BOOST_TEST(p[PagePool::kBlock - 1] == 0);  // new blocks are zero
  // A second fill after the first ended runs again.
  pool.fill(3 * PagePool::kBlock);
  BOOST_TEST(kept_soon(pool, 3 * PagePool::kBlock));
}

BOOST_AUTO_TEST_CASE(construct_array_takes_a_pool_block_only_for_exactly_one) {
  PagePool pool(4 * PagePool::kBlock);
  Pages block = pool.take();
  block[0] = 9;
  char* const at = block.get();
  pool.give(std::move(block));
  Pages one;
  auto* a = construct_array<std::atomic<uint64_t>>(one, PagePool::kBlock / 8, &pool);
  BOOST_TEST(one.get() == at);
  BOOST_TEST(a[0].load() == 0u);  // value-initialized over the old bytes
  Pages small;
  construct_array<std::atomic<uint64_t>>(small, 16, &pool);
  BOOST_TEST(small.get_deleter().size == 4096u);
  BOOST_TEST(pool.kept_bytes() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
