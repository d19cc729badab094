#include "commands/dispatcher.h"

#include <chrono>
#include <optional>

#include <fmt/format.h>

#include "base/clock.h"
#include "base/numbers.h"
#include "commands/acl.h"
#include "commands/command_stats.h"
#include "commands/pubsub.h"
#include "commands/transaction.h"
#include "resp/errors.h"

namespace lmkv::commands {
namespace {

// [stats] Records what one dispatch did when it goes out of scope, so every
// return path (including the pre-check slots') is counted: a command that
// ran feeds INFO commandstats and the SLOWLOG, a refused one counts as
// rejected, and every error reply feeds errorstats. Writes are recorded
// when their reply comes back from the writer (Shard), not here.
class AfterRun {
 public:
  AfterRun(ServerApi& server, Session& session, Args args, std::string* out)
      : server_(server), session_(session), args_(args), out_(out), mark_(out ? out->size() : 0) {}
  ~AfterRun() {
    if (!out_ || skip_) return;
    const std::string_view reply = std::string_view(*out_).substr(mark_);
    if (!spec_) {  // unknown command: only its error is counted
      if (auto* stats = server_.command_stats(); stats && !reply.empty() && reply[0] == '-')
        stats->error_reply(reply);
      return;
    }
    const int64_t usec = ran_ ? std::chrono::duration_cast<std::chrono::microseconds>(
                                    std::chrono::steady_clock::now() - start_)
                                    .count()
                              : 0;
    record_command(server_, &session_, *spec_, args_, ran_, usec, reply);
  }
  void found(const CommandSpec* spec) { spec_ = spec; }
  void running(std::chrono::steady_clock::time_point start) {
    ran_ = true;
    start_ = start;
  }
  void skip() { skip_ = true; }

 private:
  ServerApi& server_;
  Session& session_;
  Args args_;
  std::string* out_;
  size_t mark_;
  const CommandSpec* spec_ = nullptr;
  bool ran_ = false, skip_ = false;
  std::chrono::steady_clock::time_point start_;
};

// Admin commands (CONFIG SET, DEBUG, MONITOR...) never show in MONITOR; a
// container's subcommand decides for itself, as Redis's are flagged apart.
bool hidden_from_monitor(const CommandSpec& spec, Args args) {
  if (args.size() >= 2) {
    for (const CommandSpec& sub : spec.subcommand_specs)
      if (iequals(sub.name, args[1])) return sub.flags & kAdmin;
  }
  return spec.flags & kAdmin;
}

// [pubsub] A RESP2 client with subscriptions may only (un)subscribe, PING
// (answered ["pong", message] as Redis does there), QUIT and RESET; RESET
// also ends its subscriptions and MONITOR. Returns the outcome when the
// command was answered here.
std::optional<Outcome> pubsub_precheck(Session& session, const CommandSpec& spec, Args args,
                                       resp::ReplyWriter& reply, ServerApi& server) {
  const std::string_view name = spec.lower_name;
  if (name == "reset") {
    if (PubSub* ps = server.pubsub()) ps->drop(session);
    session.subscriptions = 0;
    session.monitor = false;
    return std::nullopt;
  }
  if (session.subscriptions == 0 || session.protocol.load(std::memory_order_relaxed) != 2)
    return std::nullopt;
  if (name == "ping" && args.size() <= 2) {
    reply.array(2);
    reply.bulk("pong");
    reply.bulk(args.size() == 2 ? args[1] : std::string_view());
    return Outcome::kDone;
  }
  static constexpr std::string_view kAllowed[] = {"subscribe",  "unsubscribe", "psubscribe",
                                                  "punsubscribe", "ssubscribe", "sunsubscribe",
                                                  "ping",       "quit",        "reset"};
  for (std::string_view allowed : kAllowed)
    if (name == allowed) return std::nullopt;
  // Redis names the subcommand too: 'client|id'.
  std::string full(name);
  if (args.size() >= 2) {
    for (const CommandSpec& sub : spec.subcommand_specs)
      if (iequals(sub.name, args[1])) full = sub.lower_name;
  }
  reply.error(Code::kErr, fmt::format(fmt::runtime(resp::msg::kSubscribedContext), full));
  return Outcome::kDone;
}

// A write that passes every pre-check without an answer: it goes straight
// to the writer. Probes the auth check into a scratch buffer (it only
// answers, never changes the session, on refusal).
bool plain_write(Session& session, const CommandSpec* spec, Args args, ServerApi& server) {
  if (!spec || !(spec->flags & kWrite) || !arity_ok(spec->arity, args.size())) return false;
  if (session.multi || session.subscriptions > 0 || session.monitor) return false;
  std::string scratch;
  resp::ReplyWriter probe(&scratch, session.protocol.load(std::memory_order_relaxed));
  return check_auth(server.acl(), session, *spec, args, probe) == AuthVerdict::kRun;
}

}  // namespace

Outcome Dispatcher::dispatch(Session& session, Args args, resp::ReplyWriter& reply,
                             ServerApi& server, store::ReadView& view, WriteSink& writes) const {
  AfterRun after_run(server, session, args, reply.buffer());
  const CommandSpec* spec = registry_.find(args[0]);
  after_run.found(spec);
  // Replies leave in command order: while this session's writes are in
  // flight, anything answered here (an error included) would overtake
  // theirs, so only a plain write may go ahead; the rest runs again, checks
  // and all, once those replies are back.
  if (session.pending_writes > 0 && !plain_write(session, spec, args, server)) {
    after_run.skip();
    return Outcome::kWait;
  }
  if (!spec) {
    flag_transaction(session);
    reply.error(resp::unknown_command(args[0], args));
    return Outcome::kDone;
  }
  if (!arity_ok(spec->arity, args.size())) {
    flag_transaction(session);
    reply.error(resp::wrong_arity(spec->lower_name));
    return Outcome::kDone;
  }
  // The pre-checks, in Redis's order (processCommand). Each concern owns one
  // slot; keep them in this order.
  // [auth] NOAUTH, then NOPERM (issue 2).
  switch (check_auth(server.acl(), session, *spec, args, reply)) {
    case AuthVerdict::kRun: break;
    case AuthVerdict::kReplied: return Outcome::kDone;
    case AuthVerdict::kClose: return Outcome::kClose;
  }
  // [pubsub] RESP2 subscribed state: only (P)SUBSCRIBE, (P)UNSUBSCRIBE,
  // PING, QUIT, RESET (issue 5).
  if (session.subscriptions > 0 || session.monitor) {
    if (auto o = pubsub_precheck(session, *spec, args, reply, server)) return *o;
  }
  // [monitor] What passed the checks is shown to MONITOR clients, except
  // admin commands (Redis hides them), a read that will be retried after
  // kWait, and the second run of a held DBSIZE or INFO. Queued commands
  // show when queued, not when EXEC runs them.
  if (PubSub* ps = server.pubsub();
      ps && ps->has_monitors() && session.hold != Session::Hold::kRerun &&
      !hidden_from_monitor(*spec, args) && ((spec->flags & kWrite) || session.pending_writes == 0))
    ps->feed_monitors(session, session.db.load(std::memory_order_relaxed), args);
  // [multi] Inside MULTI every command but EXEC, DISCARD, MULTI, WATCH,
  // QUIT and RESET is queued (issue 5); unknown/arity errors above also
  // flag the transaction (EXECABORT).
  if (session.multi || (spec->flags & kTransaction)) {
    if (auto o = transaction_precheck(session, *spec, args, reply, writes, registry_)) {
      if (*o != Outcome::kDone) after_run.skip();  // waiting, or recorded by the writer's reply
      return *o;
    }
  }

  // One monotonic reading serves the idle time and commandstats' run time
  // (mono_ms() reads the same clock): clock reads are a visible share of a GET.
  const auto started = std::chrono::steady_clock::now();
  session.last_interaction_ms.store(
      std::chrono::duration_cast<std::chrono::milliseconds>(started.time_since_epoch()).count(),
      std::memory_order_relaxed);
  session.last_command.store(spec->lower_name.c_str(), std::memory_order_relaxed);

  if (spec->flags & kWrite) {
    ++session.pending_writes;
    after_run.skip();
    writes.submit(session, *spec, args);
    return Outcome::kSubmitted;
  }
  // Anything else must observe this session's own writes first.
  if (session.pending_writes > 0) {
    after_run.skip();
    return Outcome::kWait;
  }

  // Read here, not above: a write takes the writer's clock (execute_write).
  const int64_t now = unix_ms();
  Context ctx{.reply = reply,
              .server = server,
              .db = session.db.load(std::memory_order_relaxed),
              .now_ms = now,
              .session = &session,
              .view = &view,
              .registry = &registry_};
  after_run.running(started);
  spec->run(ctx, args);
  if (session.hold == Session::Hold::kHeld) after_run.skip();  // the rerun is recorded
  return session.close_after_reply ? Outcome::kClose : Outcome::kDone;
}

void Dispatcher::execute_write(const CommandSpec& spec, Args args, int db, int protocol,
                               resp::ReplyWriter& reply, ServerApi& server, store::WriteTxn& txn,
                               int64_t now_ms, std::vector<KeyspaceEvent>* events) {
  reply.set_protocol(protocol);
  Context ctx{.reply = reply, .server = server, .db = db, .now_ms = now_ms, .txn = &txn};
  ctx.events = events;
  spec.run(ctx, args);
}

}  // namespace lmkv::commands
