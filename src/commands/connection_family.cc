// commands/connection_family.cc: commands about the connection itself
// (PING, ECHO, SELECT, QUIT, HELLO, AUTH, RESET, CLIENT ...). They run on
// the client's loop with ctx.session set and never touch the keyspace.
// The dispatcher has already checked existence and the top-level arity;
// subcommand arity is checked here, as Redis does ("client|setname").

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/numbers.h"
#include "commands/acl.h"
#include "commands/arguments.h"
#include "commands/client_registry.h"
#include "commands/registry.h"
#include "commands/subcommands.h"
#include "resp/errors.h"

namespace lmkv::commands {
namespace {

constexpr std::string_view kNoPasswordConfigured =
    "AUTH <password> called without any password configured for the default user. Are you "
    "sure your configuration is correct?";
constexpr std::string_view kWrongPass = "invalid username-password pair or user is disabled.";
constexpr std::string_view kHelloNoAuth =
    "HELLO must be called with the client already authenticated, otherwise the HELLO AUTH "
    "<user> <pass> option can be used to authenticate the client and select the RESP protocol "
    "version at the same time";
constexpr std::string_view kBadClientName =
    "Client names cannot contain spaces, newlines or special characters.";

// A subcommand entry of this family (see subcommands.h).
CommandSpec sub(std::string_view name, std::string full, int arity, uint32_t flags, Handler run,
                std::string_view summary, std::string_view since) {
  return subcommand("connection", name, std::move(full), arity, flags, run, summary, since);
}

// Redis accepts client names made only of the printable ASCII range '!'..'~'.
bool valid_client_name(std::string_view name) {
  for (char c : name)
    if (c < '!' || c > '~') return false;
  return true;
}

// Sets (or, with an empty name, clears) the session's name; false after
// replying the error for a name with spaces or control bytes.
bool set_client_name(Context& ctx, std::string_view name) {
  if (!valid_client_name(name)) {
    ctx.reply.error(Code::kErr, kBadClientName);
    return false;
  }
  ctx.server.clients().set_name(*ctx.session, std::string(name));
  return true;
}

// Checks a username/password pair against the ACL (commands/acl.h, digests
// compared in constant time) and, on success, makes the session that user.
// Without an ACL the default user has no password (Redis's "nopass"): any
// password is accepted for it, and every other user name is unknown. False
// after replying WRONGPASS.
bool authenticate(Context& ctx, std::string_view user, std::string_view password) {
  const Acl* acl = ctx.server.acl();
  if (acl ? !acl->authenticate(user, password) : user != "default") {
    ctx.reply.error(Code::kWrongPass, kWrongPass);
    return false;
  }
  ctx.server.clients().set_user(*ctx.session, std::string(user));
  ctx.session->authenticated = true;
  return true;
}

// ===================================================================
// PING ECHO SELECT QUIT AUTH HELLO RESET
// ===================================================================

// PING [message]: +PONG, or the message as a bulk string.
void ping(Context& ctx, Args args) {
  if (args.size() > 2) return ctx.reply.error(resp::wrong_arity("ping"));
  if (args.size() == 2) return ctx.reply.bulk(args[1]);
  ctx.reply.simple("PONG");
}

// ECHO message.
void echo(Context& ctx, Args args) { ctx.reply.bulk(args[1]); }

// SELECT index: switches the session's database.
void select(Context& ctx, Args args) {
  auto index = parse_db_index(args[1], ctx.server.databases());
  if (!index) return ctx.reply.error(index.error());
  ctx.session->db.store(*index, std::memory_order_relaxed);
  ctx.db = *index;
  ctx.reply.ok();
}

// QUIT: +OK, then the connection closes once the reply is flushed.
void quit(Context& ctx, Args) {
  ctx.reply.ok();
  ctx.session->close_after_reply = true;
}

// AUTH [username] password. Without a configured password (the default
// user is nopass), the one-argument form is an error pointing at the
// configuration (Redis's exact text); otherwise it authenticates "default".
void auth(Context& ctx, Args args) {
  if (args.size() > 3) return ctx.reply.error(Code::kErr, resp::msg::kSyntax);
  const Acl* acl = ctx.server.acl();
  if (args.size() == 2) {
    if (!acl || acl->default_nopass())
      return ctx.reply.error(Code::kErr, kNoPasswordConfigured);
    if (authenticate(ctx, "default", args[1])) ctx.reply.ok();
    return;
  }
  if (authenticate(ctx, args[1], args[2])) ctx.reply.ok();
}

// HELLO [protover [AUTH username password] [SETNAME name]]: validates
// everything, then authenticates, names the client, switches the protocol,
// and replies the server's handshake map in the new protocol.
void hello(Context& ctx, Args args) {
  int64_t version = 0;
  if (args.size() >= 2) {
    auto v = parse_i64(args[1]);
    if (!v)
      return ctx.reply.error(Code::kErr, "Protocol version is not an integer or out of range");
    if (*v < 2 || *v > 3) return ctx.reply.error(Code::kNoProto, "unsupported protocol version");
    version = *v;
  }
  std::string_view user, password, name;
  bool has_auth = false, has_name = false;
  for (size_t i = 2; i < args.size(); ++i) {
    const size_t more = args.size() - 1 - i;
    if (iequals(args[i], "AUTH") && more >= 2) {
      user = args[i + 1];
      password = args[i + 2];
      has_auth = true;
      i += 2;
    } else if (iequals(args[i], "SETNAME") && more >= 1) {
      name = args[i + 1];
      has_name = true;
      i += 1;
    } else {
      return ctx.reply.error(Code::kErr,
                             "Syntax error in HELLO option '" + resp::sanitize(args[i]) + "'");
    }
  }
  if (has_auth && !authenticate(ctx, user, password)) return;
  const Acl* acl = ctx.server.acl();
  if (!ctx.session->authenticated && acl && acl->auth_required())
    return ctx.reply.error(Code::kNoAuth, kHelloNoAuth);
  if (has_name && !set_client_name(ctx, name)) return;
  if (version) {
    ctx.session->protocol.store(static_cast<int>(version), std::memory_order_relaxed);
    ctx.reply.set_protocol(static_cast<int>(version));
  }
  // Clients look only at "proto"; the rest mirrors Redis 7.0 so that tools
  // checking the server name or version accept lmkv.
  ctx.reply.map(7);
  ctx.reply.bulk("server");
  ctx.reply.bulk("redis");
  ctx.reply.bulk("version");
  ctx.reply.bulk("7.0.15");
  ctx.reply.bulk("proto");
  ctx.reply.integer(ctx.session->protocol.load(std::memory_order_relaxed));
  ctx.reply.bulk("id");
  ctx.reply.integer(static_cast<int64_t>(ctx.session->id));
  ctx.reply.bulk("mode");
  ctx.reply.bulk("standalone");
  ctx.reply.bulk("role");
  ctx.reply.bulk("master");
  ctx.reply.bulk("modules");
  ctx.reply.array(0);
}

// RESET: back to a fresh connection's state: database 0, RESP2, no name,
// replies on, the default user (authenticated only if it needs no
// password). The dispatcher's slots have already ended MULTI, WATCH,
// subscriptions and MONITOR.
void reset(Context& ctx, Args) {
  Session& s = *ctx.session;
  s.db.store(0, std::memory_order_relaxed);
  ctx.db = 0;
  s.reply_mode = Session::ReplyMode::kOn;
  ctx.server.clients().set_user(s, "default");
  const Acl* acl = ctx.server.acl();
  s.authenticated = !(acl && acl->auth_required());
  ctx.session->protocol.store(2, std::memory_order_relaxed);
  ctx.reply.set_protocol(2);
  ctx.server.clients().set_name(*ctx.session, {});
  ctx.reply.simple("RESET");
}

// ===================================================================
// CLIENT
// ===================================================================

void client(Context& ctx, Args args) { run_subcommand(ctx, args); }

// CLIENT ID: the session's unique id.
void client_id(Context& ctx, Args) { ctx.reply.integer(static_cast<int64_t>(ctx.session->id)); }

// CLIENT GETNAME: the name, or null when none was set.
void client_getname(Context& ctx, Args) {
  std::string name = ctx.server.clients().name(*ctx.session);
  if (name.empty()) return ctx.reply.null();
  ctx.reply.bulk(name);
}

// CLIENT SETNAME name: an empty name clears it.
void client_setname(Context& ctx, Args args) {
  if (set_client_name(ctx, args[2])) ctx.reply.ok();
}

// CLIENT INFO: this client's CLIENT LIST line (verbatim text in RESP3).
void client_info(Context& ctx, Args) {
  ctx.reply.verbatim(ctx.server.clients().describe(*ctx.session, mono_ms()) + "\n");
}

// CLIENT LIST [TYPE NORMAL|MASTER|REPLICA|SLAVE|PUBSUB] [ID id ...]. Every
// lmkv client is a normal one (replication and pub/sub come later), so the
// other types list nothing. Redis accepts TYPE only as the sole option, and
// ID with at least one id.
void client_list(Context& ctx, Args args) {
  ClientRegistry& clients = ctx.server.clients();
  const int64_t now = mono_ms();
  if (args.size() == 2) return ctx.reply.verbatim(clients.list(now));
  if (args.size() == 4 && iequals(args[2], "TYPE")) {
    const auto type = parse_client_type(args[3]);
    if (!type)
      return ctx.reply.error(Code::kErr, "Unknown client type '" + resp::sanitize(args[3]) + "'");
    return ctx.reply.verbatim(clients.list_type(*type, now));
  }
  if (args.size() > 3 && iequals(args[2], "ID")) {
    std::vector<uint64_t> ids;
    for (size_t i = 3; i < args.size(); ++i) {
      // Redis rejects only non-integers; ids below 1 simply match nothing.
      auto id = parse_i64(args[i]);
      if (!id) return ctx.reply.error(Code::kErr, "Invalid client ID");
      if (*id > 0) ids.push_back(static_cast<uint64_t>(*id));
    }
    return ctx.reply.verbatim(clients.list_ids(ids, now));
  }
  ctx.reply.error(Code::kErr, resp::msg::kSyntax);
}

// CLIENT SETINFO LIB-NAME|LIB-VER value (Redis 7.2; redis-py sends it on
// connect). Accepted and not recorded; the name rules are Redis 7.2's.
void client_setinfo(Context& ctx, Args args) {
  const bool lib_name = iequals(args[2], "LIB-NAME");
  if (!lib_name && !iequals(args[2], "LIB-VER"))
    return ctx.reply.error(Code::kErr, "Unrecognized option '" + resp::sanitize(args[2]) + "'");
  if (!valid_client_name(args[3]))
    return ctx.reply.error(Code::kErr,
                           std::string(lib_name ? "lib-name" : "lib-ver") +
                               " cannot contain spaces, newlines or special characters.");
  ctx.reply.ok();
}

// CLIENT KILL ip:port (the old form: +OK, or "No such client") or
// CLIENT KILL <filter> <value> ... with ID, TYPE, USER, ADDR, LADDR and
// SKIPME (default yes): the number of clients closed. Other clients are
// closed on their own loops; this one after its reply.
void client_kill(Context& ctx, Args args) {
  KillFilter f;
  const bool old_form = args.size() == 3;
  if (old_form) {
    f.addr = std::string(args[2]);
    f.skipme = false;
  } else if (args.size() % 2 != 0) {
    return ctx.reply.error(Code::kErr, resp::msg::kSyntax);
  }
  for (size_t i = 2; !old_form && i < args.size(); i += 2) {
    const std::string_view opt = args[i], v = args[i + 1];
    if (iequals(opt, "ID")) {
      auto id = parse_i64(v);
      if (!id || *id < 1)
        return ctx.reply.error(Code::kErr, "client-id should be greater than 0");
      f.id = static_cast<uint64_t>(*id);
    } else if (iequals(opt, "TYPE")) {
      f.type = parse_client_type(v);
      if (!f.type)
        return ctx.reply.error(Code::kErr, "Unknown client type '" + resp::sanitize(v) + "'");
    } else if (iequals(opt, "ADDR")) {
      f.addr = std::string(v);
    } else if (iequals(opt, "LADDR")) {
      f.laddr = std::string(v);
    } else if (iequals(opt, "USER")) {
      const Acl* acl = ctx.server.acl();
      if (acl ? !acl->exists(v) : v != "default")
        return ctx.reply.error(Code::kErr, "No such user '" + resp::sanitize(v) + "'");
      f.user = std::string(v);
    } else if (iequals(opt, "SKIPME")) {
      if (iequals(v, "yes"))
        f.skipme = true;
      else if (iequals(v, "no"))
        f.skipme = false;
      else
        return ctx.reply.error(Code::kErr, resp::msg::kSyntax);
    } else {
      return ctx.reply.error(Code::kErr, resp::msg::kSyntax);
    }
  }
  bool self = false;
  const int n = ctx.server.clients().kill(f, ctx.session, &self);
  if (self) ctx.session->close_after_reply = true;
  if (!old_form) return ctx.reply.integer(n);
  if (n == 0) return ctx.reply.error(Code::kErr, "No such client");
  ctx.reply.ok();
}

// CLIENT REPLY ON|OFF|SKIP. Only ON is answered; the loop drops the
// replies (Shard::on_command, and write replies when they come back).
void client_reply(Context& ctx, Args args) {
  using Mode = Session::ReplyMode;
  if (iequals(args[2], "ON")) {
    ctx.session->reply_mode = Mode::kOn;
    return ctx.reply.ok();
  }
  if (iequals(args[2], "OFF"))
    ctx.session->reply_mode = Mode::kOff;
  else if (iequals(args[2], "SKIP"))
    ctx.session->reply_mode = Mode::kSkip;
  else
    return ctx.reply.error(Code::kErr, resp::msg::kSyntax);
  // Not seen by the client: its reply is dropped with the mode just set.
  ctx.reply.ok();
}

// CLIENT PAUSE timeout [WRITE|ALL]: for `timeout` ms, every client's
// commands (ALL, the default) or only its writes wait; CLIENT UNPAUSE ends
// it early. The loops hold the commands back (Shard::hold_for_pause).
void client_pause(Context& ctx, Args args) {
  if (args.size() > 4) return ctx.reply.error(Code::kErr, resp::msg::kSyntax);
  auto ms = parse_i64(args[2]);
  if (!ms) return ctx.reply.error(Code::kErr, "timeout is not an integer or out of range");
  if (*ms < 0) return ctx.reply.error(Code::kErr, "timeout is negative");
  bool all = true;
  if (args.size() == 4) {
    if (iequals(args[3], "WRITE"))
      all = false;
    else if (!iequals(args[3], "ALL"))
      return ctx.reply.error(Code::kErr, "CLIENT PAUSE mode must be WRITE or ALL");
  }
  const int64_t now = mono_ms();
  const int64_t until = *ms > INT64_MAX - now ? INT64_MAX : now + *ms;
  ctx.server.clients().pause(until, all);
  ctx.reply.ok();
}

void client_unpause(Context& ctx, Args) {
  ctx.server.clients().unpause();
  ctx.reply.ok();
}

// CLIENT NO-EVICT ON|OFF: lmkv never evicts clients, so there is nothing
// to exempt; accepted for clients that send it.
void client_no_evict(Context& ctx, Args args) {
  if (!iequals(args[2], "ON") && !iequals(args[2], "OFF"))
    return ctx.reply.error(Code::kErr, resp::msg::kSyntax);
  ctx.reply.ok();
}

void client_help(Context& ctx, Args) {
  reply_help(
      ctx, "CLIENT",
      {"GETNAME", "    Return the name of the current connection.", "ID",
       "    Return the ID of the current connection.", "INFO",
       "    Return information about the current client connection.", "KILL <ip:port>",
       "    Kill connection made from <ip:port>.",
       "KILL <option> <value> [<option> <value> [...]]", "    Kill connections. Options are:",
       "    * ADDR (<ip:port>|<unixsocket>:0)", "      Kill connections made from the specified address",
       "    * LADDR (<ip:port>|<unixsocket>:0)",
       "      Kill connections made to specified local address",
       "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)", "      Kill connections by type.",
       "    * USER <username>", "      Kill connections authenticated by <username>.",
       "    * SKIPME (YES|NO)", "      Skip killing current connection (default: yes).",
       "LIST [options ...]",
       "    Return information about client connections. Options:",
       "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)", "      Return clients of specified type.",
       "    * ID <client-id> [<client-id> ...]", "      Return clients with the specified IDs.",
       "UNPAUSE", "    Stop the current client pause, resuming traffic.",
       "PAUSE <timeout> [WRITE|ALL]",
       "    Suspend all, or just write, clients for <timeout> milliseconds.", "REPLY (ON|OFF|SKIP)",
       "    Control the replies sent to the current connection.",
       "SETINFO <option> <value>", "    Set client meta attr. Options are: LIB-NAME, LIB-VER.",
       "SETNAME <name>", "    Assign the name <name> to the current connection.",
       "NO-EVICT (ON|OFF)", "    Protect current client connection from eviction."});
}

}  // namespace

// clang-format off
void register_connection_family(Registry& r) {
  constexpr uint32_t kConn = kLoading | kStale | kFast;
  constexpr uint32_t kHandshake = kNoScript | kLoading | kStale | kFast | kNoAuth;
  constexpr uint32_t kClientSub = kNoScript | kLoading | kStale;
  constexpr uint32_t kClientAdmin = kAdmin | kNoScript | kLoading | kStale;
  r.add({.name = "PING", .arity = -1, .flags = kFast, .run = ping, .group = "connection", .summary = "Ping the server"});
  r.add({.name = "ECHO", .arity = 2, .flags = kConn, .run = echo, .group = "connection", .summary = "Echo the given string"});
  r.add({.name = "SELECT", .arity = 2, .flags = kConn, .run = select, .group = "connection", .summary = "Change the selected database for the current connection", .since = "1.0.0"});
  r.add({.name = "QUIT", .arity = -1, .flags = kHandshake, .run = quit, .group = "connection", .summary = "Close the connection"});
  r.add({.name = "AUTH", .arity = -2, .flags = kHandshake, .run = auth, .group = "connection", .summary = "Authenticate to the server"});
  r.add({.name = "HELLO", .arity = -1, .flags = kHandshake, .run = hello, .group = "connection", .summary = "Handshake with Redis", .since = "6.0.0"});
  r.add({.name = "RESET", .arity = 1, .flags = kHandshake, .run = reset, .group = "connection", .summary = "Reset the connection", .since = "6.2.0"});
  r.add({.name = "CLIENT", .arity = -2, .run = client, .group = "connection", .summary = "A container for client connection commands", .since = "2.4.0",
         .subcommand_specs = {
             sub("ID", "client|id", 2, kClientSub, client_id, "Returns the client ID for the current connection", "5.0.0"),
             sub("GETNAME", "client|getname", 2, kClientSub, client_getname, "Get the current connection name", "2.6.9"),
             sub("SETNAME", "client|setname", 3, kClientSub, client_setname, "Set the current connection name", "2.6.9"),
             sub("INFO", "client|info", 2, kClientSub, client_info, "Returns information about the current client connection.", "6.2.0"),
             sub("LIST", "client|list", -2, kClientAdmin, client_list, "Get the list of client connections", "2.4.0"),
             sub("SETINFO", "client|setinfo", 4, kClientSub, client_setinfo, "Set client or connection specific info", "7.2.0"),
             sub("KILL", "client|kill", -3, kClientAdmin, client_kill, "Kill the connection of a client", "2.4.0"),
             sub("REPLY", "client|reply", 3, kClientSub, client_reply, "Instruct the server whether to reply to commands", "3.2.0"),
             sub("PAUSE", "client|pause", -3, kClientAdmin, client_pause, "Stop processing commands from clients for some time", "2.9.50"),
             sub("UNPAUSE", "client|unpause", 2, kClientAdmin, client_unpause, "Resume processing of clients that were paused", "6.2.0"),
             sub("NO-EVICT", "client|no-evict", 3, kClientAdmin, client_no_evict, "Set client eviction mode for the current connection", "7.0.0"),
             sub("HELP", "client|help", 2, kLoading | kStale, client_help, "Show helpful text about the different subcommands", "5.0.0")}});
}
// clang-format on

}  // namespace lmkv::commands
