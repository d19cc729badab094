#include "server/writer.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>

#include "base/clock.h"
#include "base/log.h"
#include "commands/dispatcher.h"
#include "commands/pubsub.h"
#include "resp/reply_writer.h"
#include "server/shard.h"
#include "store/write_txn.h"

namespace lmkv::server {
namespace {

// A write handler's own run time (Redis's commandstats "usec"), taken as
// laps of one clock: each command's end is the next one's start, so a
// command costs one clock reading on the writer thread, not two. The
// group's log sync, shared by the whole group, is not counted.
class LapClock {
 public:
  LapClock() : last_(std::chrono::steady_clock::now()) {}
  int64_t lap() {
    const auto now = std::chrono::steady_clock::now();
    const auto d = now - last_;
    last_ = now;
    return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  }

 private:
  std::chrono::steady_clock::time_point last_;
};

// Stores a lap in *usec at the end of its scope (every path of the loop).
class RunTimer {
 public:
  RunTimer(LapClock& clock, int64_t* usec) : clock_(clock), usec_(usec) {}
  ~RunTimer() { *usec_ = clock_.lap(); }

 private:
  LapClock& clock_;
  int64_t* usec_;
};

}  // namespace

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
      const int64_t wait_ms = std::min<int64_t>(100, expiry_.wait_ms(mono_ms()));
      cv_.wait_for(lock, std::chrono::milliseconds(wait_ms),
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
    if (expiry_.due(mono_ms())) run_expiry();
  }
}

// One bounded active expiry cycle: its DELs are one logged group of their
// own, WATCH hears of them, and each raises an "expired" keyspace event.
void Writer::run_expiry() {
  std::vector<store::ExpiredKey> expired;
  auto n = expiry_.run(
      engine_, unix_ms(), [this](store::WriteTxn& txn) { return watches_.observer(txn); },
      &expired);
  if (!n) die(n.error());
  // The cycle's group has committed, so the events are durable.
  commands::PubSub* pubsub = server_.pubsub();
  if (expired.empty() || !pubsub || !(pubsub->notify_flags() & commands::kNotifyExpired)) return;
  std::vector<commands::KeyspaceEvent> events;
  events.reserve(expired.size());
  for (auto& e : expired)
    events.push_back({commands::kNotifyExpired, e.db, "expired", std::move(e.key)});
  pubsub->publish_events(events);
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
  // Keyspace events are collected only while notify-keyspace-events selects
  // some, and published once the group is durable.
  commands::PubSub* pubsub = server_.pubsub();
  std::vector<commands::KeyspaceEvent> events;
  std::vector<commands::KeyspaceEvent>* collect =
      pubsub && (pubsub->notify_flags() & (commands::kNotifyKeyspace | commands::kNotifyKeyevent))
          ? &events
          : nullptr;
  LapClock clock;
  for (auto& req : group) {
    RunTimer timer(clock, &req.usec);
    if (req.unwatch_client) {
      watches_.unwatch(req.unwatch_client);
      continue;
    }
    args.clear();
    for (auto [off, len] : req.spans) args.emplace_back(req.base() + off, len);
    resp::ReplyWriter reply(&req.reply, req.protocol);
    // WATCH hears of every change, but only while someone watches.
    txn.set_observer(watches_.observer(txn));
    if (req.session) {
      commands::execute_sequenced(*req.spec, args, *req.session, req.db, req.protocol, reply,
                                  server_, txn, watches_, now, collect);
      continue;
    }
    commands::Dispatcher::execute_write(*req.spec, args, req.db, req.protocol, reply, server_,
                                        txn, now, collect);
  }
  if (auto s = txn.commit(); !s) die(s.error());
  if (!events.empty()) pubsub->publish_events(events);
  for (auto& req : group)
    if (req.lent) req.drop_lent();
  stats_.groups.fetch_add(1, std::memory_order_relaxed);
  stats_.commands.fetch_add(group.size(), std::memory_order_relaxed);
  stats_.last_group_size.store(group.size(), std::memory_order_relaxed);
}

void WriteRequest::drop_lent() {
  std::string kept;
  std::vector<std::pair<uint32_t, uint32_t>> spans_kept;
  for (auto [off, len] : spans) {
    const uint32_t n = std::min<uint32_t>(len, 128);
    spans_kept.emplace_back(static_cast<uint32_t>(kept.size()), n);
    kept.append(lent.get() + off, n);
  }
  arena = std::move(kept);
  spans = std::move(spans_kept);
  lent.reset();
}

// Hands each loop its replies in one mailbox message, in submission order.
void Writer::deliver(std::vector<WriteRequest>& group) {
  // Usually every request came from one loop: hand the group over whole
  // rather than moving each request into a vector of its own.
  Shard* only = group.empty() ? nullptr : group.front().shard;
  bool single = only != nullptr;
  for (const auto& req : group) single = single && req.conn && req.shard == only;
  if (single) {
    only->deliver(std::move(group));
    group.clear();  // moved from: valid, now certainly empty
    return;
  }
  std::map<Shard*, std::vector<WriteRequest>> by_shard;
  for (auto& req : group) {
    if (req.conn) by_shard[req.shard].push_back(std::move(req));  // not a closed client's unwatch
  }
  for (auto& [shard, done] : by_shard) shard->deliver(std::move(done));
}

}  // namespace lmkv::server
