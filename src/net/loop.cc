#include "net/loop.h"

#include <algorithm>

#include "base/log.h"
#include "net/connection.h"

namespace lmkv::net {

Loop::Loop(int index) : index_(index) {
  uv_loop_init(&loop_);
  uv_async_init(&loop_, &async_, &Loop::on_async);
  async_.data = this;
  uv_check_init(&loop_, &check_);
  check_.data = this;
  uv_check_start(&check_, &Loop::on_check);
  // The check handle must not keep the loop alive by itself.
  uv_unref(reinterpret_cast<uv_handle_t*>(&check_));
}

Loop::~Loop() {
  if (thread_.joinable()) thread_.join();
  uv_loop_close(&loop_);
}

void Loop::start(std::function<void()> on_start) {
  thread_ = std::thread([this, on_start = std::move(on_start)] {
    if (on_start) on_start();
    uv_run(&loop_, UV_RUN_DEFAULT);
    // Let close callbacks of the handles closed by stop() run.
    uv_run(&loop_, UV_RUN_NOWAIT);
  });
}

void Loop::join() {
  if (thread_.joinable()) thread_.join();
}

void Loop::stop() {
  drain_mailbox();
  uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&check_), nullptr);
}

void Loop::post(std::function<void()> fn) {
  {
    std::lock_guard lock(mu_);
    mailbox_.push_back(std::move(fn));
  }
  uv_async_send(&async_);
}

void Loop::mark_dirty(Connection* c) { dirty_.push_back(c); }

void Loop::forget(Connection* c) { std::erase(dirty_, c); }

void Loop::on_async(uv_async_t* h) { static_cast<Loop*>(h->data)->drain_mailbox(); }

void Loop::drain_mailbox() {
  {
    std::lock_guard lock(mu_);
    draining_.swap(mailbox_);
  }
  // No exception may cross into libuv's C frames.
  for (auto& fn : draining_) {
    try {
      fn();
    } catch (const std::exception& e) {
      log::warning("loop {}: mailbox task failed: {}", index_, e.what());
    }
  }
  draining_.clear();
}

void Loop::on_check(uv_check_t* h) {
  auto* self = static_cast<Loop*>(h->data);
  try {
    if (self->turn_end_) self->turn_end_();
  } catch (const std::exception& e) {
    log::warning("loop {}: turn end failed: {}", self->index_, e.what());
  }
  // Flushing may close a connection, which calls forget(): swap first.
  std::vector<Connection*> dirty;
  dirty.swap(self->dirty_);
  for (Connection* c : dirty) c->flush();
}

}  // namespace lmkv::net
