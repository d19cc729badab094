// commands/dispatcher.h: the only place for pre-checks, in Redis's order
// (processCommand): unknown command, arity, then the role and state checks
// the later issues add (NOAUTH, MULTI, NOPERM, OOM, READONLY, LOADING).
// Reads and connection commands then run on the loop; writes are handed to
// the writer through a WriteSink and their reply arrives later.
// Loop threads only; one Dispatcher is shared (it is immutable).
#pragma once

#include "commands/context.h"
#include "commands/registry.h"

namespace lmkv::commands {

// How a loop hands a write to the writer. The reply for it must be appended
// to the session's output, in submission order, once the write is durable.
class WriteSink {
 public:
  virtual ~WriteSink() = default;
  virtual void submit(Session& session, const CommandSpec& spec, Args args) = 0;
  // Tells the writer to drop the session's WATCHes (RESET, close), ordered
  // after any WATCH already submitted.
  virtual void forget_watches(Session& session) = 0;
};

enum class Outcome {
  kDone,       // the reply has been written
  kSubmitted,  // handed to the writer; the reply comes later
  kWait,       // not run: the session has writes in flight and this command
               // must see them; call again when pending_writes is 0
  kClose,      // the reply has been written; close after flushing it
};

class Dispatcher {
 public:
  explicit Dispatcher(const Registry& registry) : registry_(registry) {}

  // Runs one parsed command for `session`. `view` is the loop's ReadView.
  Outcome dispatch(Session& session, Args args, resp::ReplyWriter& reply, ServerApi& server,
                   store::ReadView& view, WriteSink& writes) const;

  // Runs a kWrite command on the writer thread inside the group `txn`.
  static void execute_write(const CommandSpec& spec, Args args, int db, int protocol,
                            resp::ReplyWriter& reply, ServerApi& server, store::WriteTxn& txn,
                            int64_t now_ms, std::vector<KeyspaceEvent>* events = nullptr);

  const Registry& registry() const { return registry_; }

 private:
  const Registry& registry_;
};

}  // namespace lmkv::commands
