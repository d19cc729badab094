#include "server/writer.h"

#include <cstdlib>
#include <map>

#include "base/clock.h"
#include "base/log.h"
#include "commands/dispatcher.h"
#include "resp/reply_writer.h"
#include "server/shard.h"
#include "store/write_txn.h"

namespace lmkv::server {

Writer::Writer(store::Engine& engine, commands::ServerApi& server)
    : engine_(engine), server_(server) {}

Writer::~Writer() { stop(); }

void Writer::start() { thread_ = std::thread([this] { run(); }); }

void Writer::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void Writer::submit(std::vector<WriteRequest>&& batch) {
  {
    std::lock_guard lock(mu_);
    if (queue_.empty()) {
      queue_.swap(batch);
    } else {
      for (auto& r : batch) queue_.push_back(std::move(r));
    }
  }
  cv_.notify_one();
}

void Writer::run() {
  std::vector<WriteRequest> group;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(100),
                   [this] { return !queue_.empty() || stopping_; });
      if (queue_.empty() && stopping_) break;
      group.swap(queue_);
    }
    if (!group.empty()) {
      execute(group);
      deliver(group);
      group.clear();
    }
    if (auto s = engine_.tick(); !s) die(s.error());
  }
}

// The log may now hold part of a frame, and executed effects cannot be
// undone: exit, and let recovery cut the log at its last whole frame.
void Writer::die(const Error& e) {
  log::warning("fatal: the write-ahead log failed: {}; exiting to recover from the log",
               e.message);
  std::_Exit(1);
}

// Runs one group: every command against the latest state, then one log
// frame. Replies are filled in as the handlers run, and leave only after
// commit() returned, i.e. once the group is durable.
void Writer::execute(std::vector<WriteRequest>& group) {
  const int64_t now = unix_ms();
  std::vector<std::string_view> args;
  store::WriteTxn txn(engine_);
  for (auto& req : group) {
    args.clear();
    for (auto [off, len] : req.spans) args.emplace_back(req.arena.data() + off, len);
    resp::ReplyWriter reply(&req.reply, req.protocol);
    commands::Dispatcher::execute_write(*req.spec, args, req.db, req.protocol, reply, server_,
                                        txn, now);
  }
  if (auto s = txn.commit(); !s) die(s.error());
  stats_.groups.fetch_add(1, std::memory_order_relaxed);
  stats_.commands.fetch_add(group.size(), std::memory_order_relaxed);
  stats_.last_group_size.store(group.size(), std::memory_order_relaxed);
}

// Hands each loop its replies in one mailbox message, in submission order.
void Writer::deliver(std::vector<WriteRequest>& group) {
  std::map<Shard*, std::vector<WriteRequest>> by_shard;
  for (auto& req : group) by_shard[req.shard].push_back(std::move(req));
  for (auto& [shard, done] : by_shard) shard->deliver(std::move(done));
}

}  // namespace lmkv::server
