// base/pages.h: anonymous memory for the big buffers a write buffer fills
// (its arena, its hash index), mapped directly and kept for reuse. Memory
// unmapped and mapped again is faulted in again, page by page: a 4 KiB
// fault cost ~11 us on the VM of BENCHMARKS.md's stop 18 (64 MiB touched:
// 183 ms), and a VM host that takes freed memory back zeroes it again.
// Transparent huge pages were measured there and left off: one fault per
// 2 MiB, but GETs over such memory ran 10-25% slower on that VM.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <thread>
#include <type_traits>
#include <vector>

namespace lmkv {

struct PagesDeleter {
  size_t size = 0;
  void operator()(char* p) const;
};
using Pages = std::unique_ptr<char[], PagesDeleter>;

// At least `size` bytes in whole 4 KiB pages, zero-filled (from new[] under
// AddressSanitizer, which does not watch mmap'd memory). Throws
// std::bad_alloc if the mapping fails, as new does.
Pages map_pages(size_t size);
// map_pages, faulted in at once: one madvise(MADV_POPULATE_WRITE) cost ~2 us
// a page on that VM, faulting them in one by one ~11 us. For memory its
// taker is about to write all of.
Pages map_populated(size_t size);

// Blocks of PagePool::kBlock bytes, kept for reuse. A block given back is
// handed out again as it is (not zeroed); a new one comes populated.
// fill() faults new blocks in ahead of need on a thread of its own, so a
// crash replay on one core fills memory another core has made ready.
// Thread-safe.
class PagePool {
 public:
  static constexpr size_t kBlock = size_t{2} << 20;

  explicit PagePool(size_t max_kept_bytes);
  ~PagePool();  // stops and joins the filler
  PagePool(const PagePool&) = delete;
  PagePool& operator=(const PagePool&) = delete;

  Pages take();            // a kept block, else a new one
  void give(Pages block);  // kept up to max_kept_bytes, else unmapped
  // Maps and faults in up to `bytes` of new blocks (within the cap) on the
  // filler thread, for take() to hand out. A call while one runs is ignored.
  void fill(size_t bytes);
  size_t kept_bytes() const;

 private:
  const size_t max_kept_;
  mutable std::mutex mu_;
  std::vector<Pages> kept_;
  std::thread filler_;
  std::atomic<bool> filling_{false};
  std::atomic<bool> stop_{false};
};

// `n` value-initialized Ts at the start of `pages`: a pool block when they
// fill exactly one and there is a pool, else pages of their own. T must be
// trivially destructible, as nothing runs when the pages go.
template <class T>
T* construct_array(Pages& pages, size_t n, PagePool* pool = nullptr) {
  static_assert(std::is_trivially_destructible_v<T>);
  pages = pool != nullptr && n * sizeof(T) == PagePool::kBlock ? pool->take()
                                                               : map_populated(n * sizeof(T));
  T* a = reinterpret_cast<T*>(pages.get());
  for (size_t i = 0; i < n; ++i) new (&a[i]) T();
  return a;
}

}  // namespace lmkv
