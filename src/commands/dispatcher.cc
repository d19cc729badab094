#include "commands/dispatcher.h"

#include "base/clock.h"
#include "resp/errors.h"

namespace lmkv::commands {

Outcome Dispatcher::dispatch(Session& session, Args args, resp::ReplyWriter& reply,
                             ServerApi& server, store::ReadView& view, WriteSink& writes) const {
  const CommandSpec* spec = registry_.find(args[0]);
  if (!spec) {
    reply.error(resp::unknown_command(args[0], args));
    return Outcome::kDone;
  }
  if (!arity_ok(spec->arity, args.size())) {
    reply.error(resp::wrong_arity(spec->lower_name));
    return Outcome::kDone;
  }
  // The pre-checks, in Redis's order (processCommand). Each concern owns one
  // slot; keep them in this order.
  // [auth] NOAUTH, then NOPERM (issue 2).
  // [pubsub] RESP2 subscribed state: only (P)SUBSCRIBE, (P)UNSUBSCRIBE,
  // PING, QUIT, RESET (issue 5).
  // [multi] Inside MULTI every command but EXEC, DISCARD, MULTI, WATCH,
  // QUIT and RESET is queued (issue 5); unknown/arity errors above also
  // flag the transaction (EXECABORT).

  const int64_t now = unix_ms();
  session.last_interaction_ms.store(mono_ms(), std::memory_order_relaxed);
  session.last_command.store(spec->lower_name.c_str(), std::memory_order_relaxed);

  if (spec->flags & kWrite) {
    ++session.pending_writes;
    writes.submit(session, *spec, args);
    return Outcome::kSubmitted;
  }
  // Anything else must observe this session's own writes first.
  if (session.pending_writes > 0) return Outcome::kWait;

  Context ctx{.reply = reply,
              .server = server,
              .db = session.db.load(std::memory_order_relaxed),
              .now_ms = now,
              .session = &session,
              .view = &view,
              .registry = &registry_};
  spec->run(ctx, args);
  return session.close_after_reply ? Outcome::kClose : Outcome::kDone;
}

void Dispatcher::execute_write(const CommandSpec& spec, Args args, int db, int protocol,
                               resp::ReplyWriter& reply, ServerApi& server, store::WriteTxn& txn,
                               int64_t now_ms) {
  reply.set_protocol(protocol);
  Context ctx{.reply = reply, .server = server, .db = db, .now_ms = now_ms, .txn = &txn};
  spec.run(ctx, args);
}

}  // namespace lmkv::commands
