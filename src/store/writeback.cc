// store/writeback.cc: the early writeback thread (see writeback.h).
#include "store/writeback.h"

#include <fcntl.h>
#include <pthread.h>

#include <utility>

namespace lmkv::store {

EarlyWriteback::EarlyWriteback(int fd, std::function<void(int)> start) {
  if (fd < 0) return;
  // WAIT_BEFORE: the last call's pages are written before more are sent.
  if (!start) {
    start = [](int f) {
      (void)::sync_file_range(f, 0, 0, SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE);
    };
  }
  thread_ = std::jthread([this, fd, start = std::move(start)](std::stop_token stop) {
    pthread_setname_np(pthread_self(), "lmkv-writeback");
    std::unique_lock lock(mu_);
    for (;;) {
      // True only once a stop is requested (the predicate).
      if (cv_.wait_for(lock, stop, kInterval, [&] { return stop.stop_requested(); })) return;
      start(fd);
    }
  });
}

EarlyWriteback::~EarlyWriteback() {
  if (!thread_.joinable()) return;
  thread_.request_stop();  // wakes the wait (condition_variable_any with the token)
  thread_.join();
}

}  // namespace lmkv::store
