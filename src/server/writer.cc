#include "server/writer.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>

#include <fmt/format.h>

#include "base/clock.h"
#include "base/log.h"
#include "commands/dispatcher.h"
#include "commands/pubsub.h"
#include "resp/errors.h"
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

// ===================================================================
// Disk full (DESIGN.md "Durability and space", store/engine.h admit())
// ===================================================================

// Whether a request may log effects: a write, or an EXEC queueing one.
bool writes_log(const WriteRequest& req) {
  if (req.unwatch_client || !req.spec) return false;
  if (req.spec->flags & commands::kWrite) return true;
  // An EXEC with a queue-time error only answers EXECABORT: nothing to log.
  if (!req.session || req.spec->name != "EXEC" || !req.session->multi || req.session->multi->error)
    return false;
  for (const auto& q : req.session->multi->queue)
    if (q.spec->flags & commands::kWrite) return true;
  return false;
}

// An estimate of the log bytes a request's effects take: its arguments plus
// framing. Effects larger than their command (EXPIRE of a huge value) are
// covered by the engine's headroom.
uint64_t frame_estimate(const WriteRequest& req) {
  if (!writes_log(req)) return 0;
  constexpr uint64_t kPerCommand = 64, kPerArgument = 16;
  uint64_t bytes = kPerCommand;
  if (req.spec->flags & commands::kWrite) {
    for (auto [off, len] : req.spans) bytes += len + kPerArgument;
    return bytes;
  }
  for (const auto& q : req.session->multi->queue) {
    bytes += kPerCommand;
    for (const auto& a : q.args) bytes += a.size() + kPerArgument;
  }
  return bytes;
}

// Answers a request of a refused group without running it: -OOM `why` for
// a write, -EXECABORT for an EXEC holding writes (which also ends its
// WATCHes, as EXEC does). Whether it was refused; the others run.
bool refuse_write(WriteRequest& req, commands::WatchTable& watches, std::string_view why) {
  if (!writes_log(req)) return false;
  resp::ReplyWriter reply(&req.reply, req.protocol);
  if (req.spec->flags & commands::kWrite) {
    reply.error(Error{Code::kOom, std::string(why)});
  } else {
    watches.unwatch(req.session->id);
    reply.error(
        Error{Code::kExecAbort, fmt::format("{}OOM {}", resp::msg::kExecAbortBecause, why)});
  }
  return true;
}

// Starts loading what a write of the request's first key touches in the
// write buffer (its hash slot and filter words: store::MemTable::prefetch),
// so that those misses overlap the requests run before it. A steady SET
// -P 16 load spent ~8% of the core in those two misses. Long keys are
// left alone: the hint hashes the key once more.
void prefetch_first_key(const WriteRequest& req, const store::WriteTxn& txn) {
  constexpr uint32_t kMaxKey = 256;
  if (req.unwatch_client || !req.spec || !(req.spec->flags & commands::kWrite)) return;
  const auto first = static_cast<size_t>(req.spec->keys.first);
  if (first == 0 || first >= req.spans.size() || req.spans[first].second > kMaxKey) return;
  txn.prefetch(req.db,
               std::string_view(req.base() + req.spans[first].first, req.spans[first].second));
}

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

void Writer::post(std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    tasks_.push_back(std::move(task));
  }
  cv_.notify_one();
}

bool Writer::run_here(std::vector<WriteRequest>& batch) {
  if (engine_.fsync() == store::Fsync::kAlways) return false;  // would wait for the sync
  // Copying a large value into the log and the buffer would hold up the
  // loop's other clients (a 500 MB SET: seconds); the writer thread does it.
  constexpr uint64_t kMaxBytesHere = 256 << 10;
  uint64_t bytes = 0;
  for (const auto& req : batch) {
    if (req.lent) return false;
    for (auto [off, len] : req.spans) bytes += len;
  }
  if (bytes > kMaxBytesHere) return false;
  {
    std::lock_guard lock(mu_);
    if (busy_ || has_work()) return false;
    busy_ = true;
  }
  // Checked while owning the writer: no other group can add bytes meanwhile.
  const bool throttled = engine_.throttling();
  if (!throttled) {
    execute(batch);
    stats_.groups_on_loops.fetch_add(1, std::memory_order_relaxed);
  }
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    busy_ = false;
    wake = has_work();  // queued meanwhile: the writer thread waits for !busy_
  }
  // Only then: the writer thread always waits, and a needless wakeup would
  // cost the very hand-off this saves.
  if (wake) cv_.notify_one();
  return !throttled;
}

void Writer::run() {
  std::vector<WriteRequest> group;
  std::vector<std::function<void()>> tasks;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      // While a loop runs a group itself (busy_), the expiry state is its:
      // look again shortly, as that loop wakes this thread only for work.
      const int64_t wait_ms = busy_ ? 10 : std::min<int64_t>(100, expiry_.wait_ms(mono_ms()));
      cv_.wait_for(lock, std::chrono::milliseconds(wait_ms),
                   [this] { return !busy_ && has_work(); });
      if (busy_) continue;  // timed out while a loop runs a group
      if (queue_.empty() && stopping_) break;
      group.swap(queue_);
      tasks.swap(tasks_);
      busy_ = true;
    }
    if (!group.empty()) {
      const size_t added = execute(group);
      deliver(group);
      group.clear();
      // Paced after the replies left, so a slowed group's clients wait for
      // one pause, not for the one after their own group too.
      if (added > 0) engine_.throttle(added);
    }
    // After the group: a task sees every group before it committed.
    for (auto& task : tasks) task();
    tasks.clear();
    if (auto s = engine_.tick(); !s) die(s.error());
    if (expiry_.due(mono_ms())) {
      // Its DELs need log space too; it waits quietly while writes are refused.
      if (engine_.writes_refused()) {
        expiry_.postpone(mono_ms());
      } else {
        run_expiry();
      }
    }
    std::lock_guard lock(mu_);
    busy_ = false;
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
size_t Writer::execute(std::vector<WriteRequest>& group) {
  const int64_t now = unix_ms();
  std::vector<std::string_view> args;
  // The group's log frame is reserved before anything runs; if the disk is
  // full its writes are refused untouched (the rest, WATCH and such, run).
  uint64_t frame_bytes = 0;
  for (const auto& req : group) frame_bytes += frame_estimate(req);
  bool admitted = true;
  if (frame_bytes > 0) {
    auto s = engine_.admit(frame_bytes);
    if (!s && s.error().code != Code::kOom) die(s.error());
    admitted = s.ok();
  }
  const std::string_view refusal =
      engine_.log_out_of_descriptors() ? resp::msg::kNoDescriptors : resp::msg::kDiskFull;
  store::WriteTxn txn(engine_);
  txn.set_deadline_observer(&expiry_);
  // Keyspace events are collected only while notify-keyspace-events selects
  // some, and published once the group is durable.
  commands::PubSub* pubsub = server_.pubsub();
  std::vector<commands::KeyspaceEvent> events;
  std::vector<commands::KeyspaceEvent>* collect =
      pubsub && (pubsub->notify_flags() & (commands::kNotifyKeyspace | commands::kNotifyKeyevent))
          ? &events
          : nullptr;
  constexpr size_t kPrefetchAhead = 2;
  for (size_t i = 0; i < std::min(kPrefetchAhead, group.size()); ++i)
    prefetch_first_key(group[i], txn);
  LapClock clock;
  for (size_t i = 0; i < group.size(); ++i) {
    auto& req = group[i];
    if (i + kPrefetchAhead < group.size()) prefetch_first_key(group[i + kPrefetchAhead], txn);
    RunTimer timer(clock, &req.usec);
    if (req.unwatch_client) {
      watches_.unwatch(req.unwatch_client);
      continue;
    }
    if (!admitted && refuse_write(req, watches_, refusal)) continue;
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
  const size_t added = txn.weight();
  if (auto s = txn.commit(); !s) die(s.error());
  if (!events.empty()) pubsub->publish_events(events);
  for (auto& req : group)
    if (req.lent) req.drop_lent();
  stats_.groups.fetch_add(1, std::memory_order_relaxed);
  stats_.commands.fetch_add(group.size(), std::memory_order_relaxed);
  stats_.last_group_size.store(group.size(), std::memory_order_relaxed);
  return added;
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
