// commands/transaction.h: MULTI, EXEC, DISCARD, WATCH and UNWATCH.
//
// The loop side (transaction_precheck, run from the dispatcher's [multi]
// slot) keeps a session's MultiState: it queues the commands sent between
// MULTI and EXEC, answering +QUEUED, and remembers queue-time errors so
// EXEC answers EXECABORT. WATCH, UNWATCH, DISCARD (when keys are watched)
// and EXEC go through the writer like writes, so they are ordered with
// every change: the writer's WatchTable, told of each change by
// store::WriteTxn (TouchObserver), marks watching clients dirty, and EXEC
// checks that and then runs its whole queue, reads included, in one writer
// turn against the WriteTxn's view, so its effects are one log group.
//
// Knows nothing of libuv or the log. MultiState belongs to its session's
// loop, except that while its EXEC is in flight the writer reads the queue
// and the loop leaves it alone (the session waits for the reply).
// WatchTable and execute_sequenced(): writer thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "commands/context.h"
#include "commands/dispatcher.h"
#include "commands/registry.h"
#include "store/write_txn.h"

namespace lmkv::commands {

// A session's transaction between MULTI and the end of its EXEC.
struct MultiState {
  struct Queued {
    const CommandSpec* spec = nullptr;
    std::vector<std::string> args;  // copied: the read buffer moves on
  };
  std::vector<Queued> queue;
  const Registry* registry = nullptr;  // for COMMAND inside EXEC
  bool error = false;                  // a queue-time error: EXEC answers EXECABORT
  bool executing = false;              // EXEC submitted: the session waits for its reply
};

// Records a queue-time error (unknown command, wrong arity, a rejected
// pre-check) in the session's open transaction, if any. Loop thread.
inline void flag_transaction(Session& session) {
  if (session.multi && !session.multi->executing) session.multi->error = true;
}

// The [multi] slot of the dispatcher: handles MULTI, EXEC, DISCARD, WATCH
// and UNWATCH on the loop (replying, or submitting them to the writer), and
// queues any other command while a transaction is open. Returns nothing when
// the command is to run as usual. The fast path (no transaction, not one of
// these commands) is the caller's inline check of `session.multi` and
// kTransaction.
std::optional<Outcome> transaction_precheck(Session& session, const CommandSpec& spec, Args args,
                                            resp::ReplyWriter& reply, WriteSink& writes,
                                            const Registry& registry);

// The writer's record of WATCHed keys: (db, key) -> watching clients, and
// per client whether a watched key changed. Installed as the group's
// TouchObserver only while some client watches (observer()), so a group
// with no WATCH anywhere pays nothing per change. Writer thread only.
class WatchTable : public store::TouchObserver {
 public:
  // The observer for the next command of `txn`'s group: this table, or
  // null when nobody watches.
  store::TouchObserver* observer(store::WriteTxn& txn) {
    if (clients_.empty()) return nullptr;
    txn_ = &txn;
    return this;
  }
  bool empty() const { return clients_.empty(); }
  size_t watched_keys() const;  // (client, key) pairs, for tests

  // Client `client` watches `key` of `db` from now on (as of `txn`'s state).
  void watch(uint64_t client, int db, std::string_view key, store::WriteTxn& txn, int64_t now_ms);
  // True when a key `client` watches changed since its WATCH, or expired
  // since (Redis 7 aborts EXEC then too).
  bool changed(uint64_t client, store::WriteTxn& txn, int64_t now_ms);
  // Forgets every watch of `client` (UNWATCH, EXEC, DISCARD, close).
  void unwatch(uint64_t client);

  // store::TouchObserver
  void touched(int db, std::string_view key) override;
  void touched_db(int db) override;

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  // One client's watch of one key. `existed`: present at WATCH time
  // (expired or not), so a FLUSHDB of a database without it changes
  // nothing, as in Redis. `expired`: present but already expired then, so
  // its deletion is no change and only a new value is.
  struct Watcher {
    uint64_t client;
    bool existed;
    bool expired;
  };
  using KeyMap = std::unordered_map<std::string, std::vector<Watcher>, Hash, std::equal_to<>>;
  struct Client {
    bool dirty = false;
    std::vector<std::pair<int, std::string>> keys;
  };
  void mark(std::vector<Watcher>& watchers, int db, std::string_view key);

  std::vector<KeyMap> by_db_;  // indexed by db, grown on demand
  std::unordered_map<uint64_t, Client> clients_;
  store::WriteTxn* txn_ = nullptr;  // the group being executed
};

// Runs a kTransaction command (WATCH, UNWATCH, DISCARD, EXEC) on the writer
// inside the group `txn`: like Dispatcher::execute_write, but with the
// client's session (its id, and the MultiState EXEC runs) and the
// writer's WatchTable. `events` collects the keyspace events of EXEC's
// writes (null: nobody listens).
void execute_sequenced(const CommandSpec& spec, Args args, Session& session, int db, int protocol,
                       resp::ReplyWriter& reply, ServerApi& server, store::WriteTxn& txn,
                       WatchTable& watches, int64_t now_ms,
                       std::vector<KeyspaceEvent>* events = nullptr);

}  // namespace lmkv::commands
