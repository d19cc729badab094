// server/shard.h: everything one event loop owns.
//
// A Shard is one net::Loop, its ReadView (one LMDB read transaction, reset
// at every turn end), and the sessions of its connections. It is the
// net::Handler for its connections: each parsed command goes through the
// shared Dispatcher; writes collect into the turn's batch, handed to the
// Writer once per turn, and their replies come back through the loop's
// mailbox. Loop thread only, except deliver().
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "commands/dispatcher.h"
#include "net/connection.h"
#include "net/listener.h"
#include "net/loop.h"
#include "server/writer.h"
#include "store/read_view.h"

namespace lmkv::server {

class Server;

class Shard : public net::Handler, public commands::WriteSink {
 public:
  Shard(int index, Server& server);

  net::Loop& loop() { return loop_; }
  // Starts accepting on the shared listening socket. Loop thread.
  void listen(int fd);
  // Stops accepting and taking commands (they stay unread), and hands the
  // turn's writes to the writer. Loop thread.
  void stop_intake();
  // Stops accepting, flushes and closes every connection, then stops the
  // loop. Loop thread.
  void drain();
  // Hands replies back from the writer. Any thread.
  void deliver(std::vector<WriteRequest>&& done);

  uint64_t commands_processed() const { return commands_.load(std::memory_order_relaxed); }
  void reset_commands_processed() { commands_.store(0, std::memory_order_relaxed); }  // RESETSTAT

  // The open connection of client `id` on this loop and its session, for
  // pub/sub and MONITOR delivery; nullopt once it is closing. Loop thread.
  struct Target {
    net::Connection* conn;
    commands::Session* session;
  };
  std::optional<Target> find_client(uint64_t id);
  // The largest client query buffer and output buffer seen on this loop in
  // the last few seconds (INFO client_recent_max_*). Any thread.
  size_t recent_max_input() const { return recent_in_.load(std::memory_order_relaxed); }
  size_t recent_max_output() const { return recent_out_.load(std::memory_order_relaxed); }

  // CLIENT PAUSE ended or changed: retries the clients it held. Loop thread.
  void retry_paused();

  // SAVE (issue 6): the running command's reply comes later. Its connection
  // keeps the command unconsumed and stops reading; finish_deferred()
  // brings the reply, which is written in place of running the command
  // again, so the client's later commands stay behind it. With `rerun`
  // (a DBSIZE held for the counts, Server::hold_for_counts) no reply comes
  // (nullopt): the command runs again instead. Loop thread.
  void defer_current(uint64_t client_id, bool rerun = false);
  void finish_deferred(uint64_t client_id, std::optional<std::string> reply);

  // net::Handler
  void on_open(net::Connection& c) override;
  net::Verdict on_command(net::Connection& c, std::span<const std::string_view> args) override;
  void on_close(net::Connection& c) override;
  int64_t query_buffer_limit() override;
  net::OutputLimit output_limit(net::Connection& c) override;
  // commands::WriteSink
  void submit(commands::Session& session, const commands::CommandSpec& spec,
              commands::Args args) override;
  void forget_watches(commands::Session& session) override;

  // Commands this large hand their read buffer to the writer (lend).
  static constexpr size_t kLendAt = size_t{1} << 20;

 private:
  struct Client;
  void turn_end();
  bool lend(WriteRequest& req, commands::Args args);
  void complete(std::vector<WriteRequest>& done);
  void recycle(WriteRequest& req);
  void finish_drain();
  bool drain_started() const { return grace_started_ || drained_; }

  Server& server_;
  net::Loop loop_;
  store::ReadView view_;
  net::Listener* listener_ = nullptr;
  net::Connection* current_ = nullptr;  // the connection whose command is running
  std::vector<WriteRequest> batch_;     // this turn's writes
  size_t in_flight_ = 0;                // requests with the writer, replies not yet back
  // Argument buffers of delivered writes, kept for the next ones: a write's
  // copy out of the read buffer then costs no malloc and no free here.
  std::vector<std::string> spare_arenas_;
  std::vector<std::vector<std::pair<uint32_t, uint32_t>>> spare_spans_;
  std::unordered_set<net::Connection*> connections_;
  std::unordered_map<uint64_t, net::Connection*> by_id_;  // client id -> its connection
  std::atomic<uint64_t> commands_{0};
  bool draining_ = false;     // no new connections or commands
  uv_timer_t grace_;          // drain(): closes clients that do not read
  bool grace_started_ = false;
  bool drained_ = false;      // the loop's handles are closing
  // The loop's client cron (issue 2): one timer scanning its connections
  // for idle timeouts, soft output limits and buffer peaks.
  void cron();
  uv_timer_t cron_;
  bool cron_started_ = false;
  std::array<std::pair<size_t, size_t>, 8> peaks_{};  // per second, a ring
  size_t peak_slot_ = 0;
  std::atomic<size_t> recent_in_{0}, recent_out_{0};
  // CLIENT KILL, PAUSE and REPLY (issue 5).
  void kill_client(uint64_t id);
  bool hold_for_pause(net::Connection& c, std::span<const std::string_view> args);
  std::unordered_set<net::Connection*> paused_;  // waiting for CLIENT PAUSE to end
  uv_timer_t pause_timer_;
  bool pause_timer_started_ = false;
  bool suppress_current_ = false;  // the running command's reply is not sent
  // SAVE replies on their way, by client id (defer_current).
  struct Deferred {
    bool done = false;
    bool suppress = false;  // CLIENT REPLY OFF/SKIP when it ran
    bool rerun = false;     // run the command again once done
    std::string reply;
  };
  std::unordered_map<uint64_t, Deferred> deferred_;
  bool deferring_ = false;  // the running command called defer_current
};

}  // namespace lmkv::server
