#include "store/counter.h"

#include <pthread.h>
#include <sched.h>

#include "base/clock.h"
#include "store/read_view.h"

namespace lmkv::store {

Counter::Counter(Engine& engine, std::chrono::milliseconds period, size_t slice)
    : engine_(engine),
      period_(period),
      slice_(slice),
      ahead_([this] { ahead_main(); }),
      hurry_([this] { hurry_main(); }) {}

Counter::~Counter() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  hurry_cv_.notify_all();
  ahead_.join();
  hurry_.join();
}

void Counter::hurry(std::function<void()> done) {
  engine_.note_counts_wanted();
  {
    std::lock_guard lock(mu_);
    waiting_.push_back(std::move(done));
  }
  hurry_cv_.notify_one();
}

// An error (a failed read transaction) ends the round only: DBSIZE meets
// the same error itself, and reports it.
bool Counter::catch_up(ReadView& view) {
  for (;;) {
    auto summed = view.count_ahead(slice_);
    if (!summed) return false;
    summed_.fetch_add(*summed, std::memory_order_relaxed);
    if (*summed < slice_) return true;
    std::lock_guard stop(mu_);
    if (stopping_) return false;
  }
}

void Counter::ahead_main() {
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
    if (catch_up(view)) caught_up = durable;
    lock.lock();
  }
}

void Counter::hurry_main() {
  pthread_setname_np(pthread_self(), "lmkv-count-now");
  ReadView view(engine_);
  std::unique_lock lock(mu_);
  for (;;) {
    hurry_cv_.wait(lock, [&] { return stopping_ || !waiting_.empty(); });
    if (stopping_) return;
    // Callers that come meanwhile wait for the next round: their writes
    // may be newer than this one's view.
    std::vector<std::function<void()>> round;
    round.swap(waiting_);
    lock.unlock();
    catch_up(view);
    lock.lock();
    if (stopping_) return;
    lock.unlock();
    // Counted first: a held call runs again as soon as its callback posts.
    hurried_.fetch_add(round.size(), std::memory_order_relaxed);
    for (auto& done : round) done();
    lock.lock();
  }
}

}  // namespace lmkv::store
