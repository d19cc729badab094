// net/loop.h: one libuv event loop on its own thread, with a mailbox.
//
// Each loop owns its connections and runs everything for them: parsing,
// reads, replies. Other threads talk to a loop only through post(), which
// queues a function and wakes the loop with one uv_async_send. At the end of
// every loop turn (a uv_check handle, after I/O callbacks) the loop runs its
// turn-end hook (the server submits the turn's writes and resets its read
// transaction there) and then flushes every connection with output, so the
// replies of one turn leave in one write per connection.
// Knows nothing of commands or storage.
#pragma once

#include <uv.h>

#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace lmkv::net {

class Connection;

class Loop {
 public:
  explicit Loop(int index);
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  int index() const { return index_; }
  uv_loop_t* uv() { return &loop_; }

  // Starts the loop's thread; `on_start` runs first, on that thread.
  void start(std::function<void()> on_start);
  // Waits for the thread to end (after stop()).
  void join();
  // Closes the loop's own handles once its connections are gone; uv_run then
  // returns. Loop thread only.
  void stop();

  // Runs `fn` on the loop's thread, soon. Any thread.
  void post(std::function<void()> fn);
  // Called at every turn end, on the loop thread, before connections flush.
  void set_turn_end(std::function<void()> fn) { turn_end_ = std::move(fn); }

  // Connections with output queue themselves here to be flushed at turn end.
  void mark_dirty(Connection* c);
  void forget(Connection* c);  // a closing connection leaves the dirty list

 private:
  static void on_async(uv_async_t* h);
  static void on_check(uv_check_t* h);
  void drain_mailbox();

  int index_;
  uv_loop_t loop_;
  uv_async_t async_;
  uv_check_t check_;
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::function<void()>> mailbox_, draining_;
  std::function<void()> turn_end_;
  std::vector<Connection*> dirty_;
};

}  // namespace lmkv::net
