#include "server/writer.h"

#include <map>
#include <optional>

#include "base/clock.h"
#include "base/log.h"
#include "commands/dispatcher.h"
#include "resp/reply_writer.h"
#include "server/shard.h"
#include "store/write_txn.h"

namespace lmkv::server {

Writer::Writer(store::Env& env, commands::ServerApi& server) : env_(env), server_(server) {}

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
  int64_t last_sync = mono_ms();
  bool unsynced = false;
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
      unsynced = env_.fsync() != store::Fsync::kAlways;
      deliver(group);
      group.clear();
    }
    // --fsync everysec: the OS has every committed group; make it durable
    // once a second.
    if (unsynced && env_.fsync() == store::Fsync::kEverysec && mono_ms() - last_sync >= 1000) {
      if (auto s = env_.sync(); !s) log::warning("fsync: {}", s.error().message);
      stats_.syncs.fetch_add(1, std::memory_order_relaxed);
      last_sync = mono_ms();
      unsynced = false;
    }
  }
  if (unsynced) (void)env_.sync();
}

// Runs one group in one write transaction. If any store call or the commit
// fails, nothing of the group is kept, and every command in it is answered
// with the error: nothing unacknowledged becomes visible, and nothing
// acknowledged is lost.
void Writer::execute(std::vector<WriteRequest>& group) {
  const int64_t now = unix_ms();
  std::vector<std::string_view> args;
  std::optional<Error> failure;
  auto txn = store::WriteTxn::begin(env_);
  if (!txn) {
    failure = txn.error();
  } else {
    for (auto& req : group) {
      args.clear();
      for (auto [off, len] : req.spans) args.emplace_back(req.arena.data() + off, len);
      resp::ReplyWriter reply(&req.reply, req.protocol);
      if (!commands::Dispatcher::execute_write(*req.spec, args, req.db, req.protocol, reply,
                                               server_, *txn, now)) {
        failure = err("write failed; the whole group was rolled back");
        break;
      }
    }
    if (!failure) {
      if (auto s = txn->commit(); !s) failure = s.error();
    } else {
      txn->abort();
    }
  }
  if (failure) {
    log::warning("write group of {} commands failed: {}", group.size(), failure->message);
    stats_.failed_groups.fetch_add(1, std::memory_order_relaxed);
    for (auto& req : group) {
      req.reply.clear();
      resp::ReplyWriter(&req.reply, req.protocol).error(*failure);
    }
  }
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
