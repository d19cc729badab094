#include "server/shard.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/clock.h"
#include "base/log.h"
#include "base/numbers.h"
#include "commands/command_stats.h"
#include "commands/pubsub.h"
#include "server/server.h"

namespace lmkv::server {
namespace {

constexpr uint64_t kCronMs = 1000;

}  // namespace

// A connection's session, kept alive until its last write reply has come
// back even if the connection closed first.
struct Shard::Client {
  commands::Session session;
  bool closed = false;
};

Shard::Shard(int index, Server& server)
    : server_(server), loop_(index), view_(server.engine()) {
  loop_.set_turn_end([this] { turn_end(); });
}

void Shard::listen(int fd) {
  uv_timer_init(loop_.uv(), &cron_);
  cron_.data = this;
  cron_started_ = true;
  uv_timer_start(
      &cron_, [](uv_timer_t* t) { static_cast<Shard*>(t->data)->cron(); }, kCronMs, kCronMs);
  // The cron alone must not keep a draining loop alive.
  uv_unref(reinterpret_cast<uv_handle_t*>(&cron_));
  auto l = net::Listener::start(loop_, fd, [this](uv_stream_t* s) {
    net::Connection::accept(loop_, s, *this, server_.parser_limits());
  });
  if (!l) {
    log::warning("loop {}: {}", loop_.index(), l.error().message);
    return;
  }
  listener_ = *l;
}

void Shard::stop_intake() {
  draining_ = true;
  if (listener_) listener_->close();
  listener_ = nullptr;
  turn_end();
}

void Shard::drain() {
  draining_ = true;
  // Copy: closing a connection removes it from the set.
  std::vector<net::Connection*> open(connections_.begin(), connections_.end());
  for (net::Connection* c : open) c->close_after_flush();
  for (net::Connection* c : open) c->flush();
  view_.end();
  if (connections_.empty()) return finish_drain();
  // A client that does not read its last replies must not hold the process:
  // whatever is still open after a grace period is closed.
  uv_timer_init(loop_.uv(), &grace_);
  grace_.data = this;
  grace_started_ = true;
  uv_timer_start(
      &grace_,
      [](uv_timer_t* t) {
        auto* self = static_cast<Shard*>(t->data);
        std::vector<net::Connection*> left(self->connections_.begin(), self->connections_.end());
        for (net::Connection* c : left) c->close();
      },
      2000, 0);
}

// The last connection is gone: close the loop's remaining handles, so
// uv_run returns and the loop closes with nothing left open.
void Shard::finish_drain() {
  if (drained_) return;
  drained_ = true;
  if (grace_started_) uv_close(reinterpret_cast<uv_handle_t*>(&grace_), nullptr);
  if (cron_started_) uv_close(reinterpret_cast<uv_handle_t*>(&cron_), nullptr);
  if (pause_timer_started_) uv_close(reinterpret_cast<uv_handle_t*>(&pause_timer_), nullptr);
  loop_.stop();
}

void Shard::on_open(net::Connection& c) {
  server_.stats().connections_received.fetch_add(1, std::memory_order_relaxed);
  // Answered and closed at once, as Redis does: a flood of refused
  // connections holds no descriptors until the loop's turn ends.
  auto refuse = [&c](std::string_view reply) {
    c.out() += reply;
    c.close_after_flush();
    c.flush();
  };
  auto refuse_full = [&] {
    server_.stats().rejected_connections.fetch_add(1, std::memory_order_relaxed);
    refuse("-ERR max number of clients reached\r\n");
  };
  if (draining_) return refuse_full();
  if (commands::protected_mode_denies(server_.protected_mode(), server_.acl()->default_nopass(),
                                      c.peer()))
    return refuse(fmt::format("-DENIED {}\r\n", commands::kProtectedModeDenied));
  auto& clients = server_.clients();
  auto client = std::make_unique<Client>();
  auto& s = client->session;
  // Redis: a connection starts authenticated when the default user needs
  // no password.
  s.authenticated = !server_.acl()->auth_required();
  s.id = clients.next_id();
  s.addr = c.peer();
  s.laddr = c.local();
  s.fd = c.fd();
  s.created_ms = mono_ms();
  s.last_interaction_ms = s.created_ms;
  s.loop = loop_.index();
  // CLIENT KILL from any loop closes the connection here, on its own loop.
  auto closer = [this, id = s.id] { loop_.post([this, id] { kill_client(id); }); };
  if (!clients.add(&s, static_cast<size_t>(server_.maxclients()), closer)) return refuse_full();
  c.user = client.release();
  connections_.insert(&c);
  by_id_[s.id] = &c;
}

net::Verdict Shard::on_command(net::Connection& c, std::span<const std::string_view> args) {
  // Shutting down: leave the command unread; it was never acknowledged.
  if (draining_) return net::Verdict::kWait;
  auto* client = static_cast<Client*>(c.user);
  auto& session = client->session;
  if (!deferred_.empty()) {
    // A SAVE kept unconsumed: its reply, once it has come. A held DBSIZE
    // runs again, with the reply mode it had (SKIP was spent on the hold).
    auto it = deferred_.find(session.id);
    if (it != deferred_.end()) {
      if (!it->second.done) return net::Verdict::kWait;
      const Deferred d = std::move(it->second);
      deferred_.erase(it);
      if (d.rerun) {
        using ReplyMode = commands::Session::ReplyMode;
        if (d.suppress && session.reply_mode == ReplyMode::kOn)
          session.reply_mode = ReplyMode::kSkip;
        session.hold = commands::Session::Hold::kRerun;
      } else {
        if (!d.suppress) c.out() += d.reply;
        commands_.fetch_add(1, std::memory_order_relaxed);
        return net::Verdict::kNext;
      }
    }
  }
  if (hold_for_pause(c, args)) return net::Verdict::kWait;
  // CLIENT REPLY: SKIP drops the next command's reply, OFF every reply
  // (CLIENT REPLY OFF's and SKIP's own included); ON's own reply is sent.
  using ReplyMode = commands::Session::ReplyMode;
  const bool skip_this = session.reply_mode == ReplyMode::kSkip;
  if (skip_this) session.reply_mode = ReplyMode::kOn;
  suppress_current_ = skip_this || session.reply_mode == ReplyMode::kOff;
  const size_t mark = c.out().size();
  current_ = &c;
  resp::ReplyWriter reply(&c.out(), session.protocol.load(std::memory_order_relaxed));
  auto outcome = server_.dispatcher().dispatch(session, args, reply, server_, view_, *this);
  current_ = nullptr;
  if (session.hold == commands::Session::Hold::kRerun)
    session.hold = commands::Session::Hold::kNone;
  if (deferring_) {
    deferring_ = false;
    return net::Verdict::kWait;
  }
  // CLIENT REPLY ON right after SKIP is answered: it clears the skip too.
  const bool reply_on = skip_this && args.size() == 3 && iequals(args[0], "CLIENT") &&
                        iequals(args[1], "REPLY") && iequals(args[2], "ON");
  if (outcome != commands::Outcome::kWait && !reply_on &&
      (skip_this || session.reply_mode != ReplyMode::kOn))
    c.out().resize(mark);
  switch (outcome) {
    case commands::Outcome::kWait:
      if (skip_this) session.reply_mode = ReplyMode::kSkip;  // not run: skip it next time
      return net::Verdict::kWait;
    case commands::Outcome::kClose:
      commands_.fetch_add(1, std::memory_order_relaxed);
      return net::Verdict::kClose;
    default:
      commands_.fetch_add(1, std::memory_order_relaxed);
      return net::Verdict::kNext;
  }
}

std::optional<Shard::Target> Shard::find_client(uint64_t id) {
  auto it = by_id_.find(id);
  if (it == by_id_.end() || it->second->closing()) return std::nullopt;
  return Target{it->second, &static_cast<Client*>(it->second->user)->session};
}

void Shard::on_close(net::Connection& c) {
  connections_.erase(&c);
  paused_.erase(&c);
  auto* client = static_cast<Client*>(c.user);
  if (!client) {  // refused at open
    if (drain_started() && connections_.empty()) finish_drain();
    return;
  }
  server_.clients().remove(&client->session);
  by_id_.erase(client->session.id);
  deferred_.erase(client->session.id);
  // No subscription or MONITOR outlives its connection.
  if (client->session.subscriptions > 0 || client->session.monitor) {
    if (auto* ps = server_.pubsub()) ps->drop(client->session);
  }
  client->closed = true;
  if (client->session.watching) forget_watches(client->session);
  if (client->session.pending_writes == 0) delete client;
  if (drain_started() && connections_.empty()) finish_drain();
}

// Takes the connection's read buffer for a huge command's arguments; false
// when they are not all in it (an inline command) or too far in for spans.
bool Shard::lend(WriteRequest& req, commands::Args args) {
  for (auto a : args)
    if (a.data() + a.size() - args[0].data() > UINT32_MAX) return false;
  char* buf = current_->lend_input(args);
  if (buf == nullptr) return false;
  req.lent.reset(buf);
  for (auto a : args)
    req.spans.emplace_back(static_cast<uint32_t>(a.data() - buf), static_cast<uint32_t>(a.size()));
  return true;
}

// The writer forgets the session's watches, after any WATCH still in this
// turn's batch.
void Shard::forget_watches(commands::Session& session) {
  session.watching = false;
  WriteRequest forget;
  forget.shard = this;
  forget.unwatch_client = session.id;
  batch_.push_back(std::move(forget));
}

int64_t Shard::query_buffer_limit() { return server_.query_buffer_limit(); }

// A subscribed client is in Redis's pubsub class; every other one is
// normal. (The replica class waits for replication to mark its sessions.)
net::OutputLimit Shard::output_limit(net::Connection& c) {
  auto* client = static_cast<Client*>(c.user);
  if (client && client->session.subscriptions > 0) return server_.output_limit(kPubsubClass);
  return server_.output_limit(kNormalClass);
}

// Once a second: closes clients idle for longer than `timeout` (except
// subscribed and MONITOR clients, and those waiting for a write, as Redis
// spares its pub/sub, replica and blocked clients), lets each connection
// apply its soft output limit, and records the buffer peaks for INFO. One
// timer per loop; the scan is a pass over this loop's connections.
void Shard::cron() {
  const uint64_t now = uv_now(loop_.uv());
  const int64_t timeout_s = server_.idle_timeout_s();
  std::pair<size_t, size_t> peak{0, 0};
  // close() only starts closing; connections_ changes in on_close, later.
  for (net::Connection* c : connections_) {
    if (c->closing()) continue;
    auto* client = static_cast<Client*>(c->user);
    const auto& s = client->session;
    if (timeout_s > 0 && s.subscriptions == 0 && !s.monitor && s.pending_writes == 0 &&
        now - c->last_io_ms() > static_cast<uint64_t>(timeout_s) * 1000) {
      log::verbose("Closing idle client addr={}", c->peer());
      c->close();
      continue;
    }
    auto [in, out] = c->take_peaks();
    peak.first = std::max(peak.first, in);
    peak.second = std::max(peak.second, out);
    c->cron(now);
  }
  peak_slot_ = (peak_slot_ + 1) % peaks_.size();
  peaks_[peak_slot_] = peak;
  size_t in = 0, out = 0;
  for (auto [i, o] : peaks_) {
    in = std::max(in, i);
    out = std::max(out, o);
  }
  recent_in_.store(in, std::memory_order_relaxed);
  recent_out_.store(out, std::memory_order_relaxed);
}

void Shard::submit(commands::Session&, const commands::CommandSpec& spec, commands::Args args) {
  auto* client = static_cast<Client*>(current_->user);
  WriteRequest req;
  req.conn = current_;
  req.shard = this;
  req.spec = &spec;
  req.db = client->session.db.load(std::memory_order_relaxed);
  req.protocol = client->session.protocol.load(std::memory_order_relaxed);
  req.suppress_reply = suppress_current_;
  // WATCH, UNWATCH, DISCARD, EXEC: the writer needs the client's identity
  // and transaction (commands/transaction.h).
  if (spec.flags & commands::kTransaction) req.session = &client->session;
  // The arguments are copied out of the read buffer, which the connection
  // reuses; a huge command takes the buffer itself instead, so that a
  // 500 MB SET costs this loop no copy and no free (see WriteRequest::lent).
  size_t total = 0;
  for (auto a : args) total += a.size();
  if (total >= kLendAt && lend(req, args)) {
    current_->hold();
    batch_.push_back(std::move(req));
    return;
  }
  if (!spare_arenas_.empty()) {
    req.arena = std::move(spare_arenas_.back());
    spare_arenas_.pop_back();
  }
  if (!spare_spans_.empty()) {
    req.spans = std::move(spare_spans_.back());
    spare_spans_.pop_back();
  }
  req.arena.reserve(total);
  req.spans.reserve(args.size());
  for (auto a : args) {
    req.spans.emplace_back(static_cast<uint32_t>(req.arena.size()), static_cast<uint32_t>(a.size()));
    req.arena.append(a);
  }
  current_->hold();
  batch_.push_back(std::move(req));
}

// Once per loop turn: hand the turn's writes to the writer in one batch and
// let go of the read snapshot. When the writer is idle the loop runs the
// batch itself (Writer::run_here) and answers at once, unless replies of
// this loop are still with the writer: they would be overtaken. Answering
// may resume clients whose next writes make a new batch: a few rounds
// here, then the rest goes to the writer.
void Shard::turn_end() {
  constexpr int kRoundsHere = 8;
  for (int round = 0; !batch_.empty(); ++round) {
    std::vector<WriteRequest> group;
    group.swap(batch_);
    batch_.reserve(group.size());  // the next turn is likely as busy
    if (round < kRoundsHere && in_flight_ == 0 && server_.writer().run_here(group)) {
      complete(group);
      continue;
    }
    for (const auto& req : group) in_flight_ += req.conn != nullptr;
    server_.writer().submit(std::move(group));
    break;
  }
  view_.end();
}

void Shard::deliver(std::vector<WriteRequest>&& done) {
  // std::function wants a copyable closure; a request (its lent buffer) is not.
  auto batch = std::make_shared<std::vector<WriteRequest>>(std::move(done));
  loop_.post([this, batch] {
    in_flight_ -= batch->size();
    complete(*batch);
  });
}

void Shard::complete(std::vector<WriteRequest>& done) {
  // A snapshot taken earlier in this turn predates these writes, and the
  // clients resumed below may read them next (SET k v; GET k).
  view_.end();
  for (auto& req : done) {
    net::Connection* c = req.conn;
    if (!c) continue;  // a closed client's unwatch: no reply
    auto* client = static_cast<Client*>(c->user);
    if (!c->closing() && !req.suppress_reply) {
      c->out() += req.reply;
      c->mark_dirty();
    }
    // INFO commandstats, errorstats and SLOWLOG for the write, now that its
    // reply and run time are known (the session outlives its replies).
    // The arguments again, as views (on the stack for any usual command).
    std::string_view small[8];
    std::vector<std::string_view> large;
    std::span<std::string_view> args(small, req.spans.size());
    if (req.spans.size() > std::size(small)) {
      large.resize(req.spans.size());
      args = large;
    }
    for (size_t i = 0; i < req.spans.size(); ++i)
      args[i] = std::string_view(req.base() + req.spans[i].first, req.spans[i].second);
    commands::record_command(server_, &client->session, *req.spec, args, true, req.usec,
                             req.reply);
    recycle(req);
    if (--client->session.pending_writes == 0) {
      if (client->closed) delete client;
      else c->resume();
    }
    c->release();
  }
}

void Shard::defer_current(uint64_t client_id, bool rerun) {
  Deferred d;
  d.suppress = suppress_current_;
  d.rerun = rerun;
  deferred_[client_id] = std::move(d);
  deferring_ = true;
}

void Shard::finish_deferred(uint64_t client_id, std::optional<std::string> reply) {
  auto it = deferred_.find(client_id);
  if (it == deferred_.end()) return;  // the client has gone
  it->second.done = true;
  if (reply) it->second.reply = std::move(*reply);
  auto conn = by_id_.find(client_id);
  if (conn != by_id_.end()) conn->second->resume();
}

// Keeps a delivered write's buffers for the next submit(), up to a bound
// in count and size, so a burst of huge writes leaves no memory behind.
void Shard::recycle(WriteRequest& req) {
  constexpr size_t kMaxSpare = 4096, kMaxArena = 4096, kMaxSpans = 64;
  if (spare_arenas_.size() < kMaxSpare && req.arena.capacity() <= kMaxArena) {
    req.arena.clear();
    spare_arenas_.push_back(std::move(req.arena));
  }
  if (spare_spans_.size() < kMaxSpare && req.spans.capacity() <= kMaxSpans) {
    req.spans.clear();
    spare_spans_.push_back(std::move(req.spans));
  }
}

// ===================================================================
// CLIENT KILL and CLIENT PAUSE
// ===================================================================

// CLIENT KILL of a client of this loop (posted by the ClientRegistry's
// closer). Pending output is dropped, as Redis frees a killed client.
void Shard::kill_client(uint64_t id) {
  auto it = by_id_.find(id);
  if (it != by_id_.end() && !it->second->closing()) it->second->close();
}

// Holds a command back while CLIENT PAUSE applies to it: every command in
// ALL mode, writes in WRITE mode. Unknown commands and wrong arities are
// refused at once, as Redis checks them before the pause. The connection
// stops reading (kWait) and is retried when the pause ends (timer) or is
// lifted (retry_paused, posted by the ClientRegistry's listener).
bool Shard::hold_for_pause(net::Connection& c, std::span<const std::string_view> args) {
  auto& clients = server_.clients();
  if (!clients.maybe_paused()) return false;
  const int64_t now = mono_ms();
  if (clients.pause_left(/*is_write=*/true, now) == 0) return false;  // no pause at all
  const commands::CommandSpec* spec = server_.dispatcher().registry().find(args[0]);
  if (!spec || !commands::arity_ok(spec->arity, args.size())) return false;
  const int64_t left = clients.pause_left((spec->flags & commands::kWrite) != 0, now);
  if (left == 0) return false;
  paused_.insert(&c);
  if (!pause_timer_started_) {
    uv_timer_init(loop_.uv(), &pause_timer_);
    pause_timer_.data = this;
    pause_timer_started_ = true;
  }
  // Through the mailbox: replies are flushed at the turn's end (a check
  // handle), which a timer callback alone would leave for the next wakeup.
  uv_timer_start(
      &pause_timer_,
      [](uv_timer_t* t) {
        auto* self = static_cast<Shard*>(t->data);
        self->loop_.post([self] { self->retry_paused(); });
      },
      static_cast<uint64_t>(left) + 1, 0);
  return true;
}

void Shard::retry_paused() {
  if (drain_started()) return;
  // Copy: a retried client that is still paused puts itself back.
  std::vector<net::Connection*> held(paused_.begin(), paused_.end());
  paused_.clear();
  for (net::Connection* c : held) c->resume();
}

}  // namespace lmkv::server
