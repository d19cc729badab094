#include "server/shard.h"

#include "base/clock.h"
#include "base/log.h"
#include "server/server.h"

namespace lmkv::server {

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
  loop_.stop();
}

void Shard::on_open(net::Connection& c) {
  server_.stats().connections_received.fetch_add(1, std::memory_order_relaxed);
  auto& clients = server_.clients();
  if (draining_ || static_cast<int64_t>(clients.size()) >= server_.maxclients()) {
    server_.stats().rejected_connections.fetch_add(1, std::memory_order_relaxed);
    c.out() += "-ERR max number of clients reached\r\n";
    c.close_after_flush();
    return;
  }
  auto* client = new Client();
  auto& s = client->session;
  s.id = clients.next_id();
  s.addr = c.peer();
  s.laddr = c.local();
  s.fd = c.fd();
  s.created_ms = mono_ms();
  s.last_interaction_ms = s.created_ms;
  c.user = client;
  clients.add(&s);
  connections_.insert(&c);
}

net::Verdict Shard::on_command(net::Connection& c, std::span<const std::string_view> args) {
  // Shutting down: leave the command unread; it was never acknowledged.
  if (draining_) return net::Verdict::kWait;
  auto* client = static_cast<Client*>(c.user);
  auto& session = client->session;
  current_ = &c;
  resp::ReplyWriter reply(&c.out(), session.protocol.load(std::memory_order_relaxed));
  auto outcome = server_.dispatcher().dispatch(session, args, reply, server_, view_, *this);
  current_ = nullptr;
  switch (outcome) {
    case commands::Outcome::kWait:
      return net::Verdict::kWait;
    case commands::Outcome::kClose:
      commands_.fetch_add(1, std::memory_order_relaxed);
      return net::Verdict::kClose;
    default:
      commands_.fetch_add(1, std::memory_order_relaxed);
      return net::Verdict::kNext;
  }
}

void Shard::on_close(net::Connection& c) {
  connections_.erase(&c);
  auto* client = static_cast<Client*>(c.user);
  if (!client) {  // refused at open
    if (drain_started() && connections_.empty()) finish_drain();
    return;
  }
  server_.clients().remove(&client->session);
  client->closed = true;
  if (client->session.pending_writes == 0) delete client;
  if (drain_started() && connections_.empty()) finish_drain();
}

void Shard::submit(commands::Session&, const commands::CommandSpec& spec, commands::Args args) {
  auto* client = static_cast<Client*>(current_->user);
  WriteRequest req;
  req.conn = current_;
  req.shard = this;
  req.spec = &spec;
  req.db = client->session.db.load(std::memory_order_relaxed);
  req.protocol = client->session.protocol.load(std::memory_order_relaxed);
  size_t total = 0;
  for (auto a : args) total += a.size();
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
// let go of the read snapshot.
void Shard::turn_end() {
  if (!batch_.empty()) {
    server_.writer().submit(std::move(batch_));
    batch_.clear();
  }
  view_.end();
}

void Shard::deliver(std::vector<WriteRequest>&& done) {
  loop_.post([this, done = std::move(done)]() mutable { complete(done); });
}

void Shard::complete(std::vector<WriteRequest>& done) {
  for (auto& req : done) {
    net::Connection* c = req.conn;
    auto* client = static_cast<Client*>(c->user);
    if (!c->closing()) {
      c->out() += req.reply;
      c->mark_dirty();
    }
    if (--client->session.pending_writes == 0) {
      if (client->closed) delete client;
      else c->resume();
    }
    c->release();
  }
}

}  // namespace lmkv::server
