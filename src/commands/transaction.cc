// commands/transaction.cc: MULTI/EXEC/DISCARD/WATCH/UNWATCH, the loop-side
// queue and the writer's WATCH table. See transaction.h.
#include "commands/transaction.h"

#include <algorithm>
#include <limits>
#include <memory>

#include "base/clock.h"
#include "resp/errors.h"

namespace lmkv::commands {
namespace {

// The earliest possible time: every stored value is unexpired then, so a
// read at it sees whether a key is present at all.
constexpr int64_t kBeginningOfTime = std::numeric_limits<int64_t>::min();

bool is(const CommandSpec& spec, std::string_view name) { return spec.name == name; }

// Hands a kTransaction command to the writer, ordered with every write.
Outcome submit(Session& session, const CommandSpec& spec, Args args, WriteSink& writes) {
  session.last_interaction_ms.store(mono_ms(), std::memory_order_relaxed);
  session.last_command.store(spec.lower_name.c_str(), std::memory_order_relaxed);
  ++session.pending_writes;
  writes.submit(session, spec, args);
  return Outcome::kSubmitted;
}

// Replies on the loop; earlier writes' replies must leave first.
bool must_wait(const Session& session) { return session.pending_writes > 0; }

// ===================================================================
// The loop side: MULTI and queueing
// ===================================================================

Outcome queue(Session& session, const CommandSpec& spec, Args args, resp::ReplyWriter& reply) {
  if (must_wait(session)) return Outcome::kWait;
  auto& multi = *session.multi;
  if (spec.flags & kNoMulti) {
    multi.error = true;
    reply.error(err(std::string(resp::msg::kNotAllowedInMulti)));
    return Outcome::kDone;
  }
  MultiState::Queued q{.spec = &spec, .args = {}};
  q.args.reserve(args.size());
  for (auto a : args) q.args.emplace_back(a);
  multi.queue.push_back(std::move(q));
  reply.simple("QUEUED");
  return Outcome::kDone;
}

}  // namespace

std::optional<Outcome> transaction_precheck(Session& session, const CommandSpec& spec, Args args,
                                            resp::ReplyWriter& reply, WriteSink& writes,
                                            const Registry& registry) {
  // Everything after an EXEC waits for its reply: a SELECT inside it
  // changes the database the next commands use.
  if (session.multi && session.multi->executing) {
    if (must_wait(session)) return Outcome::kWait;
    session.multi.reset();
  }
  if (session.multi && !is(spec, "EXEC") && !is(spec, "DISCARD") && !is(spec, "MULTI") &&
      !is(spec, "WATCH") && !is(spec, "QUIT") && !is(spec, "RESET")) {
    return queue(session, spec, args, reply);
  }
  if (is(spec, "RESET")) {  // RESET also ends the transaction and its watches
    if (must_wait(session)) return Outcome::kWait;
    session.multi.reset();
    if (session.watching) writes.forget_watches(session);
    return std::nullopt;
  }
  if (!(spec.flags & kTransaction)) return std::nullopt;

  if (is(spec, "MULTI")) {
    if (must_wait(session)) return Outcome::kWait;
    if (session.multi) {
      reply.error(err(std::string(resp::msg::kMultiNested)));
    } else {
      session.multi = std::make_shared<MultiState>();
      session.multi->registry = &registry;
      reply.ok();
    }
    return Outcome::kDone;
  }
  if (is(spec, "EXEC")) {
    if (!session.multi) {
      if (must_wait(session)) return Outcome::kWait;
      reply.error(err(std::string(resp::msg::kExecWithoutMulti)));
      return Outcome::kDone;
    }
    // The writer reads the queue; the loop leaves it alone until the reply.
    session.multi->executing = true;
    session.watching = false;  // EXEC unwatches everything
    return submit(session, spec, args, writes);
  }
  if (is(spec, "DISCARD")) {
    if (must_wait(session)) return Outcome::kWait;
    if (!session.multi) {
      reply.error(err(std::string(resp::msg::kDiscardWithoutMulti)));
      return Outcome::kDone;
    }
    session.multi.reset();
    if (session.watching) {
      session.watching = false;
      return submit(session, spec, args, writes);
    }
    reply.ok();
    return Outcome::kDone;
  }
  if (is(spec, "WATCH")) {
    if (session.multi) {
      if (must_wait(session)) return Outcome::kWait;
      reply.error(err(std::string(resp::msg::kWatchInMulti)));
      return Outcome::kDone;
    }
    session.watching = true;
    return submit(session, spec, args, writes);
  }
  // UNWATCH outside a transaction (inside one it was queued above).
  if (session.watching) {
    session.watching = false;
    return submit(session, spec, args, writes);
  }
  if (must_wait(session)) return Outcome::kWait;
  reply.ok();
  return Outcome::kDone;
}

// ===================================================================
// The writer side: the WATCH table
// ===================================================================

size_t WatchTable::watched_keys() const {
  size_t n = 0;
  for (const auto& [id, c] : clients_) n += c.keys.size();
  return n;
}

void WatchTable::watch(uint64_t client, int db, std::string_view key, store::WriteTxn& txn,
                       int64_t now_ms) {
  if (db < 0) return;
  if (by_db_.size() <= static_cast<size_t>(db)) by_db_.resize(db + 1);
  auto& map = by_db_[db];
  auto it = map.find(key);
  if (it == map.end()) it = map.emplace(std::string(key), std::vector<Watcher>{}).first;
  for (const auto& w : it->second)
    if (w.client == client) return;  // already watched
  // An unreadable key counts as present: a later flush then aborts the
  // EXEC rather than missing a change.
  auto v = txn.get(db, key, kBeginningOfTime);
  const bool existed = !v || *v;
  const bool expired = v && *v && (*v)->expired(now_ms);
  it->second.push_back({client, existed, expired});
  clients_[client].keys.emplace_back(db, std::string(key));
}

bool WatchTable::changed(uint64_t client, store::WriteTxn& txn, int64_t now_ms) {
  auto c = clients_.find(client);
  if (c == clients_.end()) return false;
  if (c->second.dirty) return true;
  // A key that was live at WATCH time and has expired since is a change,
  // though nothing deleted it yet.
  for (const auto& [db, key] : c->second.keys) {
    auto& watchers = by_db_[db].find(key)->second;
    auto w = std::find_if(watchers.begin(), watchers.end(),
                          [&](const Watcher& x) { return x.client == client; });
    if (w->expired) continue;
    auto v = txn.get(db, key, kBeginningOfTime);
    if (v && *v && (*v)->expired(now_ms)) return true;
  }
  return false;
}

void WatchTable::unwatch(uint64_t client) {
  auto c = clients_.find(client);
  if (c == clients_.end()) return;
  for (const auto& [db, key] : c->second.keys) {
    auto& map = by_db_[db];
    auto it = map.find(key);
    if (it == map.end()) continue;
    std::erase_if(it->second, [&](const Watcher& w) { return w.client == client; });
    if (it->second.empty()) map.erase(it);
  }
  clients_.erase(c);
}

// A key already expired at WATCH time that is now gone changed nothing
// logically (Redis 7); from then on it is an absent key like any other.
void WatchTable::mark(std::vector<Watcher>& watchers, int db, std::string_view key) {
  bool gone_checked = false, gone = false;
  for (auto& w : watchers) {
    if (w.expired) {
      if (!gone_checked) {
        auto v = txn_->get(db, key, kBeginningOfTime);
        gone = v && !*v;
        gone_checked = true;
      }
      if (gone) {
        w.expired = false;
        w.existed = false;
        continue;
      }
    }
    clients_[w.client].dirty = true;
  }
}

void WatchTable::touched(int db, std::string_view key) {
  if (db < 0 || static_cast<size_t>(db) >= by_db_.size()) return;
  auto& map = by_db_[db];
  auto it = map.find(key);
  if (it != map.end()) mark(it->second, db, key);
}

// A flush changes only the watched keys that existed (clients watching an
// absent key are not disturbed, as in Redis); an already expired one
// vanishing is no change.
void WatchTable::touched_db(int db) {
  if (db < 0 || static_cast<size_t>(db) >= by_db_.size()) return;
  for (auto& [key, watchers] : by_db_[db]) {
    for (auto& w : watchers) {
      if (w.expired) {
        w.expired = false;
        w.existed = false;
      } else if (w.existed) {
        clients_[w.client].dirty = true;
      }
    }
  }
}

// ===================================================================
// The writer side: the commands
// ===================================================================

namespace {

// WATCH key [key ...]
void watch(Context& ctx, Args args) {
  for (size_t i = 1; i < args.size(); ++i)
    ctx.watches->watch(ctx.session->id, ctx.db, args[i], *ctx.txn, ctx.now_ms);
  ctx.reply.ok();
}

// UNWATCH, and DISCARD when keys were watched (the loop already dropped the
// queue).
void unwatch(Context& ctx, Args) {
  if (ctx.watches) ctx.watches->unwatch(ctx.session->id);
  ctx.reply.ok();
}

// MULTI runs in transaction_precheck; this is never reached.
void multi(Context& ctx, Args) { ctx.reply.error(err(std::string(resp::msg::kMultiNested))); }

// EXEC: the whole queue in this writer turn, so its effects are one log
// group and no reader sees part of it. A queued command's run-time error
// is its element of the reply; the others still run (no rollback).
void exec(Context& ctx, Args) {
  Session& session = *ctx.session;
  const MultiState& multi = *session.multi;
  const uint64_t id = session.id;
  if (multi.error) {
    ctx.watches->unwatch(id);
    return ctx.reply.error(Code::kExecAbort, resp::msg::kExecAbort);
  }
  const bool aborted = ctx.watches->changed(id, *ctx.txn, ctx.now_ms);
  ctx.watches->unwatch(id);
  if (aborted) return ctx.reply.null_array();

  ctx.reply.array(multi.queue.size());
  int db = ctx.db;
  std::vector<std::string_view> args;
  for (const auto& q : multi.queue) {
    args.assign(q.args.begin(), q.args.end());
    Context c{.reply = ctx.reply,
              .server = ctx.server,
              .db = db,
              .now_ms = ctx.now_ms,
              .session = &session,
              .view = &ctx.txn->view(),
              .txn = ctx.txn,
              .registry = multi.registry,
              .events = ctx.events,
              .watches = ctx.watches};
    q.spec->run(c, args);
    // SELECT and HELLO inside the transaction apply to what follows.
    db = session.db.load(std::memory_order_relaxed);
    ctx.reply.set_protocol(session.protocol.load(std::memory_order_relaxed));
  }
}

}  // namespace

void execute_sequenced(const CommandSpec& spec, Args args, Session& session, int db, int protocol,
                       resp::ReplyWriter& reply, ServerApi& server, store::WriteTxn& txn,
                       WatchTable& watches, int64_t now_ms, std::vector<KeyspaceEvent>* events) {
  reply.set_protocol(protocol);
  Context ctx{.reply = reply,
              .server = server,
              .db = db,
              .now_ms = now_ms,
              .session = &session,
              .view = &txn.view(),
              .txn = &txn,
              .events = events,
              .watches = &watches};
  spec.run(ctx, args);
}

// clang-format off
void register_transaction_family(Registry& r) {
  constexpr uint32_t kTxn = kTransaction | kNoScript | kLoading | kStale;
  r.add({.name = "MULTI", .arity = 1, .flags = kTxn | kFast, .run = multi, .group = "transactions", .summary = "Start a transaction block", .since = "1.2.0"});
  r.add({.name = "EXEC", .arity = 1, .flags = kTxn, .run = exec, .group = "transactions", .summary = "Execute all commands issued after MULTI", .since = "1.2.0"});
  r.add({.name = "DISCARD", .arity = 1, .flags = kTxn | kFast, .run = unwatch, .group = "transactions", .summary = "Discard all commands issued after MULTI", .since = "2.0.0"});
  r.add({.name = "WATCH", .arity = -2, .flags = kTxn | kFast, .keys = {1, -1, 1}, .run = watch, .group = "transactions", .summary = "Watch the given keys to determine execution of the MULTI/EXEC block", .since = "2.2.0"});
  r.add({.name = "UNWATCH", .arity = 1, .flags = kTxn | kFast, .run = unwatch, .group = "transactions", .summary = "Forget about all watched keys", .since = "2.2.0"});
}
// clang-format on

}  // namespace lmkv::commands
