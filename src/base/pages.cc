#include "base/pages.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdint>

namespace lmkv {

namespace {

constexpr size_t kPage = 4096;

// Under AddressSanitizer the pages come from new[], so that it still sees
// a write past a block's end (it does not watch mmap'd memory).
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kFromHeap = true;
#else
constexpr bool kFromHeap = false;
#endif

// Faults the block in now: in the kernel (one call) when it can, then one
// read per page. On a shadow-paging VM (BENCHMARKS.md's, "pvm") the kernel's
// populate leaves the host's half of each page to the first access, ~7.5 us
// a page wherever it comes; the reads pay it here, on the populating thread,
// not on the writer that takes the block (16 MiB: memset after the populate
// alone 31-33 ms, after populate and reads 0.8 ms).
void populate(char* p, size_t size) {
#if defined(MADV_POPULATE_WRITE) && !defined(__SANITIZE_ADDRESS__)
  if (madvise(p, size, MADV_POPULATE_WRITE) == 0) {
    for (size_t i = 0; i < size; i += kPage) (void)reinterpret_cast<volatile char*>(p)[i];
    return;
  }
#endif
  for (size_t i = 0; i < size; i += kPage) reinterpret_cast<volatile char*>(p)[i] = 0;
}

}  // namespace

void PagesDeleter::operator()(char* p) const {
  if (p == nullptr) return;
  if (kFromHeap) {
    delete[] p;
  } else {
    munmap(p, size);
  }
}

Pages map_pages(size_t size) {
  size = (std::max<size_t>(size, 1) + kPage - 1) & ~(kPage - 1);
  if (kFromHeap) return Pages(new char[size](), PagesDeleter{size});
  void* m = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) throw std::bad_alloc();
  return Pages(static_cast<char*>(m), PagesDeleter{size});
}

Pages map_populated(size_t size) {
  Pages p = map_pages(size);
  if (!kFromHeap) populate(p.get(), p.get_deleter().size);
  return p;
}

PagePool::PagePool(size_t max_kept_bytes) : max_kept_(max_kept_bytes) {}

PagePool::~PagePool() {
  stop_.store(true);
  if (filler_.joinable()) filler_.join();
}

Pages PagePool::take() {
  {
    std::lock_guard lock(mu_);
    if (!kept_.empty()) {
      Pages p = std::move(kept_.back());
      kept_.pop_back();
      return p;
    }
  }
  return map_populated(kBlock);
}

void PagePool::give(Pages block) {
  if (!block || block.get_deleter().size != kBlock) return;
  std::lock_guard lock(mu_);
  if ((kept_.size() + 1) * kBlock <= max_kept_) kept_.push_back(std::move(block));
}

void PagePool::fill(size_t bytes) {
  if (filling_.exchange(true)) return;
  if (filler_.joinable()) filler_.join();
  const size_t blocks = std::min(bytes, max_kept_) / kBlock;
  filler_ = std::thread([this, blocks] {
    for (size_t i = 0; i < blocks && !stop_.load(std::memory_order_relaxed); ++i) {
      try {
        give(map_populated(kBlock));
      } catch (const std::bad_alloc&) {
        break;  // take() maps its own, or fails where the caller can tell
      }
    }
    filling_.store(false);
  });
}

size_t PagePool::kept_bytes() const {
  std::lock_guard lock(mu_);
  return kept_.size() * kBlock;
}

}  // namespace lmkv
