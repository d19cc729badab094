// commands/context.h: what a command handler sees.
//
// A handler runs either on its connection's loop (reads and connection
// commands: `view` and `session` are set) or on the writer (kWrite
// commands: `txn` is set, `session` is null, `db` and the protocol are the
// client's at submission). The dispatcher has already checked existence,
// arity and the other pre-checks, so handlers index their arguments
// directly.
#pragma once

#include <atomic>
#include <memory>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.h"
#include "commands/notify.h"
#include "resp/reply_writer.h"
#include "store/read_view.h"
#include "store/write_txn.h"

namespace lmkv::commands {

// A command's arguments; index 0 is the command name. They borrow the
// connection's buffer (or the write request's copy) until the handler
// returns: copy what you keep.
using Args = std::span<const std::string_view>;

class Acl;
class ClientRegistry;
class CommandStats;
class PubSub;
class Registry;
class SlowLog;
class WatchTable;
class ScanCursors;

// One client connection's state. Owned by its loop; the fields other loops
// read (CLIENT LIST) are atomics or guarded by the ClientRegistry's mutex.
struct Session {
  uint64_t id = 0;
  std::string addr;   // "127.0.0.1:53012"
  std::string laddr;  // "127.0.0.1:6379"
  int fd = -1;
  int64_t created_ms = 0;
  std::atomic<int> db{0};
  std::atomic<int> protocol{2};
  std::atomic<int64_t> last_interaction_ms{0};
  std::atomic<const char*> last_command{"NULL"};  // points into the registry
  std::string name;   // guarded by the ClientRegistry mutex
  bool close_after_reply = false;  // QUIT
  bool killed = false;             // CLIENT KILL from another loop (atomic via registry)
  uint32_t pending_writes = 0;     // submitted, reply not yet written

  // Authentication and ACL (issue 2).
  bool authenticated = true;       // false until AUTH when the user needs a password
  std::string user = "default";   // guarded by the ClientRegistry mutex

  // MULTI ... EXEC (issue 5): the queued commands; null outside a
  // transaction. Defined by commands/transaction.h.
  std::shared_ptr<struct MultiState> multi;
  bool watching = false;  // WATCH sent since the last UNWATCH/EXEC/DISCARD

  // Pub/sub and MONITOR (issue 5).
  uint32_t subscriptions = 0;      // channels + patterns: in the subscribed state when > 0
  bool monitor = false;
  int loop = -1;                   // index of the owning loop, for pub/sub delivery

  // CLIENT REPLY (issue 5).
  enum class ReplyMode { kOn, kOff, kSkip } reply_mode = ReplyMode::kOn;

  // A DBSIZE or INFO held until the counts are summed (Context::
  // hold_for_counts): kHeld after the run that held it, which is not
  // recorded; kRerun while it runs again, which is recorded, is not shown
  // to MONITOR a second time and is not held again.
  enum class Hold { kNone, kHeld, kRerun } hold = Hold::kNone;
};

// What commands may ask of the server around them. Implemented by server/,
// which owns the configuration, INFO and the process lifecycle. Any loop
// thread may call it.
class ServerApi {
 public:
  virtual ~ServerApi() = default;
  // The INFO text for the given (lower-case) section names; empty = default.
  virtual std::string info(std::span<const std::string> sections) = 0;
  // Directive/value pairs matching a glob pattern (CONFIG GET).
  virtual std::vector<std::pair<std::string, std::string>> config_get(std::string_view pattern) = 0;
  // Sets one directive (CONFIG SET); the error text is Redis's.
  virtual Status config_set(std::string_view name, std::string_view value) = 0;
  // Begins a clean shutdown (SHUTDOWN, signals). Returns an error when it
  // must not (a final sync failed).
  virtual Status shutdown() = 0;
  virtual ClientRegistry& clients() = 0;
  virtual ScanCursors& scan_cursors() = 0;
  // Server limits read by commands.
  virtual int databases() const = 0;
  virtual int64_t range_default_limit() const = 0;
  virtual int64_t range_max_limit() const = 0;
  // Users and permissions (commands/acl.h); null: no ACL, everyone is the
  // default user without a password.
  virtual Acl* acl() { return nullptr; }

  // Introspection and admin (issue 5). The defaults suit a server that
  // keeps no statistics and has no config file (unit-test fakes).
  virtual CommandStats* command_stats() { return nullptr; }
  virtual SlowLog* slowlog() { return nullptr; }
  // CONFIG SET with several pairs: all are applied or none is.
  virtual Status config_set_many(
      std::span<const std::pair<std::string_view, std::string_view>> pairs) {
    for (const auto& [name, value] : pairs)
      if (Status s = config_set(name, value); !s) return s;
    return {};
  }
  // CONFIG RESETSTAT: INFO stats, commandstats and errorstats.
  virtual void reset_stats() {}
  // CONFIG REWRITE of the file the server was started with.
  virtual Status config_rewrite() { return err("The server is running without a config file"); }
  // LASTSAVE: unix seconds of the last durable snapshot.
  virtual int64_t lastsave() const { return 0; }
  // SAVE and BGSAVE (issue 6): a snapshot of the store into
  // <dir>/snapshot (server/backup.h). bgsave() starts one and returns.
  // save() starts one whose reply the server sends `session` itself when it
  // ends, holding that client's next commands meanwhile (the handler
  // replies only to an error). Both: "Background save already in progress"
  // while one runs.
  virtual Status bgsave() { return err("snapshots are not supported here"); }
  virtual Status save(Session&) { return err("snapshots are not supported here"); }
  // DBSIZE and INFO keyspace with many writes left to sum (store/
  // counter.h): holds the client's command, has the counts summed off the
  // loop, then runs the command again. Returns whether it did.
  virtual bool hold_for_counts(Session&) { return false; }
  // The pub/sub broker (channels, patterns, MONITOR, keyspace events);
  // null in fakes without one.
  virtual PubSub* pubsub() { return nullptr; }
};

// Everything a handler may touch.
struct Context {
  resp::ReplyWriter& reply;
  ServerApi& server;
  int db = 0;
  int64_t now_ms = 0;
  Session* session = nullptr;       // loop-side commands
  store::ReadView* view = nullptr;  // loop-side commands
  store::WriteTxn* txn = nullptr;   // kWrite commands, on the writer
  // The command table, for COMMAND (INFO, COUNT, DOCS, LIST); set by the
  // dispatcher on the loop.
  const Registry* registry = nullptr;
  // The group's keyspace events (writer only; null: nobody listens). See
  // commands/notify.h.
  std::vector<KeyspaceEvent>* events = nullptr;
  // The writer's WATCH table (WATCH, UNWATCH, EXEC on the writer; null
  // elsewhere). See commands/transaction.h.
  WatchTable* watches = nullptr;

  // DBSIZE and INFO keyspace, before counting `db` (-1: every database):
  // true when more log entries are left to sum than a loop should look up
  // itself and the server holds the command to run it again once they are
  // summed; the handler then replies nothing. Never inside EXEC (on the
  // writer), nor for the run that follows a hold. The bound is ~2-4 ms of
  // lookups in RAM: more than the ~10 ms of writes an awake counter leaves
  // on a core with room (held there, DBSIZE took 3.4-4.6 ms against 1.5-2.5
  // inline), far less than a saturated core leaves (50-90 ms inline).
  static constexpr size_t kCountsOnLoop = 4096;
  bool hold_for_counts(int for_db) {
    if (txn || !session || session->hold == Session::Hold::kRerun) return false;
    if (view->counts_pending(for_db) <= kCountsOnLoop || !server.hold_for_counts(*session))
      return false;
    session->hold = Session::Hold::kHeld;
    return true;
  }

  // Replies with a store error. Nothing needs undoing: handlers validate
  // before mutating, and a mutation itself cannot fail (the log can, which
  // is fatal to the process).
  void fail(const Error& e) { reply.error(e); }
};

}  // namespace lmkv::commands
