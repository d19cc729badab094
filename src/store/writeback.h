// store/writeback.h: the data file's writeback started while LMDB's commit
// is still writing its pages.
//
// LMDB commits by writing every dirty page into the page cache (pwritev),
// then fdatasync of the whole file; only that sync sends them to the disk.
// In memory, an apply of a 16 MiB buffer over 1M random keys rewrites ~40k
// leaves (~170 MiB), so the disk sat idle while the commit copied them and
// then got them all at once. While a commit runs, an EarlyWriteback asks the
// kernel every few milliseconds to start writing back what is dirty so far
// (sync_file_range: no cache flush, no wait for the pages it starts), so
// the device writes during the copy and the commit's fdatasync finds little
// left. Each call first waits for the pages the last one started: one batch
// of its own at a time queues on the disk ahead of a log write.
//
// Measured (BENCHMARKS.md "Stop 31"), in memory, 1M keys, server on one
// core: a 16 MiB buffer's commit took 0.25-0.29 s instead of 0.27-0.43 s,
// steady SETs -P 16 ran 8-15% faster, MSETs 16%. Beyond RAM, writes at 8x
// the cap ran at 33k/s against 21k/s (medians of three pairs of runs).
//
// It changes nothing LMDB relies on: the kernel may write back any dirty
// page at any time, and LMDB writes its meta page only after its own
// fdatasync of the data (the meta page through a synchronous descriptor).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace lmkv::store {

class EarlyWriteback {
 public:
  static constexpr std::chrono::milliseconds kInterval{5};

  // From now until destruction, every kInterval, start(fd) (by default
  // sync_file_range(fd, 0, 0, WAIT_BEFORE | WRITE)); a thread of its own,
  // at the caller's priority. fd < 0: nothing.
  explicit EarlyWriteback(int fd, std::function<void(int)> start = nullptr);
  // Stops the thread (a call in progress finishes) and joins it.
  ~EarlyWriteback();
  EarlyWriteback(const EarlyWriteback&) = delete;
  EarlyWriteback& operator=(const EarlyWriteback&) = delete;

 private:
  std::mutex mu_;
  std::condition_variable_any cv_;
  std::jthread thread_;
};

}  // namespace lmkv::store
