// server/writer.h: the single writer (DESIGN.md "Writes").
//
// Every write command from every loop is executed here, one group at a
// time, in one order, against the latest state: the writer takes all that
// is queued, runs each command's handler in one store::WriteTxn (the
// group), appends the group's effects to the log as one frame with one
// fdatasync under --fsync always, and only then hands each reply back to
// its loop. So a reply never leaves before its write is durable, MSET is
// atomic, and an INCR sees the INCR just before it. A log write or sync
// error ends the process: executed effects cannot be undone, and recovery
// from the log restores exactly what was acknowledged. A full disk does not:
// each group's log space is reserved before it runs (Engine::admit), and a
// group that cannot get it has its writes answered -OOM, untouched.
// submit() from any loop thread; the group runs on the writer's thread.
#pragma once

#include <atomic>
#include <cstdlib>
#include <memory>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "commands/context.h"
#include "commands/registry.h"
#include "commands/transaction.h"
#include "store/engine.h"
#include "store/expiry.h"

namespace lmkv::net {
class Connection;
}

namespace lmkv::server {

class Shard;

// One write command on its way through the writer and back.
struct WriteRequest {
  net::Connection* conn = nullptr;  // held until the reply is delivered
  Shard* shard = nullptr;           // the loop that owns conn
  const commands::CommandSpec* spec = nullptr;
  int db = 0;
  int protocol = 2;
  std::string arena;  // the arguments' bytes, copied out of the read buffer
  // A huge command's arguments are not copied: the connection's read buffer
  // itself is handed over (Connection::lend_input), and the writer frees it
  // after the group, so neither the copy nor the free runs on the loop.
  std::unique_ptr<char, void (*)(void*)> lent{nullptr, &std::free};
  std::vector<std::pair<uint32_t, uint32_t>> spans;  // (offset, length) into base()
  const char* base() const { return lent ? lent.get() : arena.data(); }
  // Frees the lent buffer, keeping the first 128 bytes of each argument
  // (what SLOWLOG shows) in the arena. Writer thread.
  void drop_lent();
  std::string reply;  // filled by the writer
  // kTransaction commands (WATCH, EXEC...): the client, alive until the
  // reply is delivered (its pending_writes holds it).
  commands::Session* session = nullptr;
  // Nonzero: not a command but a closed client whose WATCHes the writer
  // forgets; no reply, no conn.
  uint64_t unwatch_client = 0;
  int64_t usec = 0;             // the handler's run time here (commandstats, SLOWLOG)
  bool suppress_reply = false;  // CLIENT REPLY OFF/SKIP: run it, send no reply
};

struct WriterStats {
  std::atomic<uint64_t> groups{0};
  std::atomic<uint64_t> commands{0};
  std::atomic<uint64_t> last_group_size{0};
  std::atomic<uint64_t> groups_on_loops{0};  // of groups: run by a loop (run_here)
};

class Writer {
 public:
  Writer(store::Engine& engine, commands::ServerApi& server);
  ~Writer();

  void start();
  // Executes what is queued, delivers it, then ends the thread.
  void stop();
  // Queues a loop's batch of write requests. Any thread.
  void submit(std::vector<WriteRequest>&& batch);
  // Runs a loop's batch on the calling thread instead, when that costs the
  // loop no wait: the writer is idle with nothing queued, and the group
  // cannot block on a log sync or on the apply throttle (--fsync everysec
  // or no, unapplied bytes below the throttle), and it is small (a large
  // value's copies would hold up the loop's other clients). A lone client's SET then
  // costs no thread hand-off (two wakeups and a mailbox message, about a
  // third of its round trip). Whether it ran: if so the replies are in the
  // requests, for the caller to deliver; if not, submit() it. Loop threads.
  bool run_here(std::vector<WriteRequest>& batch);
  const WriterStats& stats() const { return stats_; }
  // Runs `task` on the writer thread between two groups (SAVE/BGSAVE
  // freezing the MemTable at a group boundary). Tasks still queued at
  // stop() are dropped: their owner must not wait for them then. Any thread.
  void post(std::function<void()> task);

 private:
  void run();
  // Returns the weight the group added to the unapplied count.
  size_t execute(std::vector<WriteRequest>& group);
  void deliver(std::vector<WriteRequest>& group);
  [[noreturn]] static void die(const Error& e);

  store::Engine& engine_;
  commands::ServerApi& server_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<WriteRequest> queue_;
  std::vector<std::function<void()>> tasks_;  // post(), under mu_
  bool stopping_ = false;
  // Under mu_: a group runs (on the writer thread or a loop's, run_here).
  // Whoever sets it owns the writer's state below until it clears it.
  bool busy_ = false;
  // The writer thread has work besides a busy_ group. Under mu_.
  bool has_work() const { return !queue_.empty() || !tasks_.empty() || stopping_; }
  commands::WatchTable watches_;  // whoever holds busy_
  // Active expiry (store/expiry.h), run between groups by the writer
  // thread; its young-deadline queue is fed by every group (busy_).
  void run_expiry();
  store::ExpiryCycle expiry_;
  WriterStats stats_;
};

}  // namespace lmkv::server
