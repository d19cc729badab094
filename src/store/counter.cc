#include "store/counter.h"

#include <pthread.h>
#include <sched.h>

#include "base/clock.h"
#include "store/read_view.h"

namespace lmkv::store {

Counter::Counter(Engine& engine, std::chrono::milliseconds period, size_t slice)
    : engine_(engine), period_(period), slice_(slice), thread_([this] { main(); }) {}

Counter::~Counter() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Counter::main() {
  sched_param idle{};
  pthread_setschedparam(pthread_self(), SCHED_IDLE, &idle);
  pthread_setname_np(pthread_self(), "lmkv-counter");
  ReadView view(engine_);
  uint64_t caught_up = 0;  // the durable seq the sums last reached
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait_for(lock, period_, [&] { return stopping_; });
    if (stopping_) return;
    const uint64_t durable = engine_.durable_seq();
    if (durable == caught_up) continue;
    const int64_t wanted = engine_.counts_wanted_ms();
    if (wanted == 0 || mono_ms() - wanted > kAwakeMs) continue;
    lock.unlock();
    // An error (a failed read transaction) ends this round only: DBSIZE
    // meets the same error itself, and reports it.
    bool done = false;
    for (;;) {
      auto summed = view.count_ahead(slice_);
      if (!summed) break;
      summed_.fetch_add(*summed, std::memory_order_relaxed);
      if (*summed < slice_) {
        done = true;
        break;
      }
      std::lock_guard stop(mu_);
      if (stopping_) return;
    }
    if (done) caught_up = durable;
    lock.lock();
  }
}

}  // namespace lmkv::store
