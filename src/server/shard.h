// server/shard.h: everything one event loop owns.
//
// A Shard is one net::Loop, its ReadView (one LMDB read transaction, reset
// at every turn end), and the sessions of its connections. It is the
// net::Handler for its connections: each parsed command goes through the
// shared Dispatcher; writes collect into the turn's batch, handed to the
// Writer once per turn, and their replies come back through the loop's
// mailbox. Loop thread only, except deliver().
#pragma once

#include <atomic>
#include <memory>
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

  // net::Handler
  void on_open(net::Connection& c) override;
  net::Verdict on_command(net::Connection& c, std::span<const std::string_view> args) override;
  void on_close(net::Connection& c) override;
  // commands::WriteSink
  void submit(commands::Session& session, const commands::CommandSpec& spec,
              commands::Args args) override;

 private:
  struct Client;
  void turn_end();
  void complete(std::vector<WriteRequest>& done);
  void finish_drain();
  bool drain_started() const { return grace_started_ || drained_; }

  Server& server_;
  net::Loop loop_;
  store::ReadView view_;
  net::Listener* listener_ = nullptr;
  net::Connection* current_ = nullptr;  // the connection whose command is running
  std::vector<WriteRequest> batch_;     // this turn's writes
  std::unordered_set<net::Connection*> connections_;
  std::atomic<uint64_t> commands_{0};
  bool draining_ = false;     // no new connections or commands
  uv_timer_t grace_;          // drain(): closes clients that do not read
  bool grace_started_ = false;
  bool drained_ = false;      // the loop's handles are closing
};

}  // namespace lmkv::server
