// commands/server_family.cc: commands about the server rather than the
// keyspace (INFO, TIME, CONFIG, COMMAND, SHUTDOWN). They run on the loop;
// everything server-wide goes through ctx.server (ServerApi), and COMMAND
// reads the registry the dispatcher passes in ctx.registry.

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/numbers.h"
#include "commands/arguments.h"
#include "commands/digest.h"
#include "commands/glob.h"
#include "commands/registry.h"
#include "commands/slowlog.h"
#include "commands/subcommands.h"
#include "resp/errors.h"

namespace lmkv::commands {
namespace {

// A subcommand entry of this family (see subcommands.h).
CommandSpec sub(std::string_view name, std::string full, int arity, uint32_t flags, Handler run,
                std::string_view summary, std::string_view since) {
  return subcommand("server", name, std::move(full), arity, flags, run, summary, since);
}

// ===================================================================
// INFO TIME SHUTDOWN
// ===================================================================

// INFO [section ...]: the server's INFO text; verbatim text in RESP3.
void info(Context& ctx, Args args) {
  std::vector<std::string> sections;
  for (size_t i = 1; i < args.size(); ++i) sections.push_back(to_lower(args[i]));
  if (info_section_wanted(sections, "keyspace") && ctx.hold_for_counts(-1)) return;
  ctx.reply.verbatim(ctx.server.info(sections));
}

// TIME: unix seconds and the microseconds within that second, as bulks.
void time(Context& ctx, Args) {
  const int64_t us = unix_us();
  ctx.reply.array(2);
  ctx.reply.bulk(std::to_string(us / 1000000));
  ctx.reply.bulk(std::to_string(us % 1000000));
}

// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]. lmkv's data is durable at
// every reply, so SAVE/NOSAVE/NOW/FORCE only pass Redis's syntax checks;
// ABORT has nothing to abort (no shutdown waits for replicas yet). On
// success, like Redis, the client gets no reply: the connection is closed
// and the server goes down. A refusal (a final sync failed) is replied.
void shutdown(Context& ctx, Args args) {
  bool save = false, nosave = false, abort = false;
  for (size_t i = 1; i < args.size(); ++i) {
    if (iequals(args[i], "NOSAVE"))
      nosave = true;
    else if (iequals(args[i], "SAVE"))
      save = true;
    else if (iequals(args[i], "ABORT"))
      abort = true;
    else if (!iequals(args[i], "NOW") && !iequals(args[i], "FORCE"))
      return ctx.reply.error(Code::kErr, resp::msg::kSyntax);
  }
  if ((save && nosave) || (abort && args.size() > 2))
    return ctx.reply.error(Code::kErr, resp::msg::kSyntax);
  if (abort) return ctx.reply.error(Code::kErr, "No shutdown in progress.");
  Status s = ctx.server.shutdown();
  if (!s) return ctx.reply.error(s.error());
  if (ctx.session) ctx.session->close_after_reply = true;
}

// ===================================================================
// CONFIG
// ===================================================================

void config(Context& ctx, Args args) { run_subcommand(ctx, args); }

// CONFIG GET pattern [pattern ...]: the matching directives as a map (flat
// array in RESP2), each directive once even when several patterns match it.
void config_get(Context& ctx, Args args) {
  std::vector<std::pair<std::string, std::string>> found;
  for (size_t i = 2; i < args.size(); ++i) {
    for (auto& kv : ctx.server.config_get(args[i])) {
      bool seen = false;
      for (const auto& f : found) seen = seen || f.first == kv.first;
      if (!seen) found.push_back(std::move(kv));
    }
  }
  ctx.reply.map(found.size());
  for (const auto& [name, value] : found) {
    ctx.reply.bulk(name);
    ctx.reply.bulk(value);
  }
}

// CONFIG SET name value [name value ...]. The pairs are checked for shape and
// duplicates first, as Redis does; the values themselves are validated by
// the server, whose error texts are Redis's. A failing pair stops the list.
void config_set(Context& ctx, Args args) {
  if ((args.size() - 2) % 2 != 0) return ctx.reply.error(Code::kErr, resp::msg::kSyntax);
  for (size_t i = 2; i < args.size(); i += 2) {
    for (size_t j = 2; j < i; j += 2) {
      if (iequals(args[i], args[j]))
        return ctx.reply.error(Code::kErr, "CONFIG SET failed (possibly related to argument '" +
                                               resp::sanitize(args[i]) +
                                               "') - duplicate parameter");
    }
  }
  // All or nothing: the server checks every pair before applying any.
  std::vector<std::pair<std::string_view, std::string_view>> pairs;
  for (size_t i = 2; i < args.size(); i += 2) pairs.emplace_back(args[i], args[i + 1]);
  Status s = ctx.server.config_set_many(pairs);
  if (!s) return ctx.reply.error(s.error());
  ctx.reply.ok();
}

// CONFIG RESETSTAT: INFO's stats, commandstats and errorstats start over
// (the SLOWLOG does not: SLOWLOG RESET).
void config_resetstat(Context& ctx, Args) {
  ctx.server.reset_stats();
  ctx.reply.ok();
}

// CONFIG REWRITE: the config file the server started with, rewritten in
// place with the running values (server/config.h rewrite_config_file).
void config_rewrite(Context& ctx, Args) {
  Status s = ctx.server.config_rewrite();
  if (!s) return ctx.reply.error(s.error());
  ctx.reply.ok();
}

void config_help(Context& ctx, Args) {
  reply_help(
      ctx, "CONFIG",
      {"GET <pattern>", "    Return parameters matching the glob-like <pattern> and their values.",
       "SET <directive> <value>", "    Set the configuration <directive> to <value>.", "RESETSTAT",
       "    Reset statistics reported by the INFO command.", "REWRITE",
       "    Rewrite the configuration file."});
}

// ===================================================================
// COMMAND
// ===================================================================
//
// COMMAND INFO entries have Redis 7's ten fields: name, arity, flags, first
// key, last key, step, ACL categories, tips, key specs, subcommands; in
// RESP3 every list in it but the entry itself is a set, as in Redis. Flags,
// categories and key specs are derived from the registry's flags, group and
// KeySpec, in Redis's order, so tools that read them (redis-py's key
// extraction for cluster routing, redis-cli's hints) see the usual shape.

// Flag names in the order Redis lists them.
constexpr std::pair<uint32_t, std::string_view> kFlagNames[] = {
    {kWrite, "write"},   {kRead, "readonly"},     {kDenyOom, "denyoom"},  {kAdmin, "admin"},
    {kPubSub, "pubsub"}, {kNoScript, "noscript"}, {kLoading, "loading"},  {kStale, "stale"},
    {kFast, "fast"},     {kNoAuth, "no_auth"},    {kNoMulti, "no_multi"},
};

// The ACL categories of a command, in Redis's category order, derived from
// its flags and COMMAND DOCS group.
std::vector<std::string_view> acl_categories(const CommandSpec& c) {
  std::vector<std::string_view> out;
  if (c.group == "generic") out.push_back("@keyspace");
  if (c.flags & kRead) out.push_back("@read");
  if (c.flags & kWrite) out.push_back("@write");
  if (c.group == "set") out.push_back("@set");
  if (c.group == "sorted-set") out.push_back("@sortedset");
  if (c.group == "list") out.push_back("@list");
  if (c.group == "hash") out.push_back("@hash");
  if (c.group == "string") out.push_back("@string");
  if (c.flags & kPubSub) out.push_back("@pubsub");
  if (c.flags & kAdmin) out.push_back("@admin");
  out.push_back((c.flags & kFast) ? "@fast" : "@slow");
  if (c.flags & kAdmin) out.push_back("@dangerous");
  if (c.group == "connection") out.push_back("@connection");
  return out;
}

// One key spec from the legacy (first, last, step) triple, in Redis's
// begin_search index / find_keys range form.
void reply_key_specs(Context& ctx, const CommandSpec& c) {
  if (c.keys.first <= 0) return ctx.reply.set(0);
  auto& r = ctx.reply;
  r.set(1);
  r.map(3);
  r.bulk("flags");
  r.set(2);
  if (c.flags & kWrite) {
    r.simple("RW");
    r.simple("update");
  } else {
    r.simple("RO");
    r.simple("access");
  }
  r.bulk("begin_search");
  r.map(2);
  r.bulk("type");
  r.bulk("index");
  r.bulk("spec");
  r.map(1);
  r.bulk("index");
  r.integer(c.keys.first);
  r.bulk("find_keys");
  r.map(2);
  r.bulk("type");
  r.bulk("range");
  r.bulk("spec");
  r.map(3);
  r.bulk("lastkey");
  r.integer(c.keys.last < 0 ? c.keys.last : c.keys.last - c.keys.first);
  r.bulk("keystep");
  r.integer(c.keys.step);
  r.bulk("limit");
  r.integer(0);
}

void reply_command_info(Context& ctx, const CommandSpec& c) {
  auto& r = ctx.reply;
  r.array(10);
  r.bulk(c.lower_name);
  r.integer(c.arity);
  size_t nflags = 0;
  for (const auto& [bit, name] : kFlagNames) nflags += (c.flags & bit) ? 1 : 0;
  r.set(nflags);
  for (const auto& [bit, name] : kFlagNames)
    if (c.flags & bit) r.simple(name);
  r.integer(c.keys.first);
  r.integer(c.keys.last);
  r.integer(c.keys.step);
  const auto cats = acl_categories(c);
  r.set(cats.size());
  for (std::string_view cat : cats) r.simple(cat);
  r.set(0);  // tips
  reply_key_specs(ctx, c);
  r.set(c.subcommand_specs.size());
  for (const CommandSpec& s : c.subcommand_specs) reply_command_info(ctx, s);
}

// COMMAND DOCS entry: summary, since, group, and the subcommands' docs.
void reply_command_docs(Context& ctx, const CommandSpec& c) {
  auto& r = ctx.reply;
  const bool subs = !c.subcommand_specs.empty();
  r.map(subs ? 4 : 3);
  r.bulk("summary");
  r.bulk(c.summary);
  r.bulk("since");
  r.bulk(c.since);
  r.bulk("group");
  r.bulk(c.group);
  if (!subs) return;
  r.bulk("subcommands");
  r.map(c.subcommand_specs.size());
  for (const CommandSpec& s : c.subcommand_specs) {
    r.bulk(s.lower_name);
    reply_command_docs(ctx, s);
  }
}

// Finds "get" or "client|setname" (any case), as COMMAND INFO/DOCS accept.
const CommandSpec* find_command(const Registry& reg, std::string_view name) {
  const size_t bar = name.find('|');
  if (bar == std::string_view::npos) return reg.find(name);
  const CommandSpec* parent = reg.find(name.substr(0, bar));
  if (!parent) return nullptr;
  for (const CommandSpec& s : parent->subcommand_specs)
    if (iequals(s.name, name.substr(bar + 1))) return &s;
  return nullptr;
}

// COMMAND with no subcommand: every command's info.
void command_all(Context& ctx) {
  const auto& all = ctx.registry->all();
  ctx.reply.array(all.size());
  for (const CommandSpec* c : all) reply_command_info(ctx, *c);
}

void command(Context& ctx, Args args) {
  if (!ctx.registry) return ctx.reply.error(Code::kErr, "COMMAND is not available here");
  if (args.size() == 1) return command_all(ctx);
  run_subcommand(ctx, args);
}

void command_count(Context& ctx, Args) {
  ctx.reply.integer(static_cast<int64_t>(ctx.registry->all().size()));
}

// COMMAND INFO [name ...]: all commands, or one entry per name (null for an
// unknown one).
void command_info(Context& ctx, Args args) {
  if (args.size() == 2) return command_all(ctx);
  ctx.reply.array(args.size() - 2);
  for (size_t i = 2; i < args.size(); ++i) {
    const CommandSpec* c = find_command(*ctx.registry, args[i]);
    if (c)
      reply_command_info(ctx, *c);
    else
      ctx.reply.null();
  }
}

// COMMAND DOCS [name ...]: a map of name -> docs; unknown names are left out.
void command_docs(Context& ctx, Args args) {
  std::vector<const CommandSpec*> found;
  if (args.size() == 2) {
    found = ctx.registry->all();
  } else {
    for (size_t i = 2; i < args.size(); ++i)
      if (const CommandSpec* c = find_command(*ctx.registry, args[i])) found.push_back(c);
  }
  ctx.reply.map(found.size());
  for (const CommandSpec* c : found) {
    ctx.reply.bulk(c->lower_name);
    reply_command_docs(ctx, *c);
  }
}

// COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]:
// every command and subcommand name (lmkv has no modules).
void command_list(Context& ctx, Args args) {
  enum class Filter { kNone, kModule, kAclCat, kPattern } filter = Filter::kNone;
  std::string_view value;
  if (args.size() == 5 && iequals(args[2], "FILTERBY")) {
    value = args[4];
    if (iequals(args[3], "MODULE"))
      filter = Filter::kModule;
    else if (iequals(args[3], "ACLCAT"))
      filter = Filter::kAclCat;
    else if (iequals(args[3], "PATTERN"))
      filter = Filter::kPattern;
    else
      return ctx.reply.error(Code::kErr, resp::msg::kSyntax);
  } else if (args.size() != 2) {
    return ctx.reply.error(Code::kErr, resp::msg::kSyntax);
  }
  auto keep = [&](const CommandSpec& c) {
    switch (filter) {
      case Filter::kNone:
        return true;
      case Filter::kModule:
        return false;
      case Filter::kAclCat:
        for (std::string_view cat : acl_categories(c))
          if (iequals(cat.substr(1), value)) return true;
        return false;
      case Filter::kPattern:
        return glob_match(value, c.lower_name, /*nocase=*/true);
    }
    return false;
  };
  std::vector<std::string_view> names;
  for (const CommandSpec* c : ctx.registry->all()) {
    if (keep(*c)) names.push_back(c->lower_name);
    for (const CommandSpec& s : c->subcommand_specs)
      if (keep(s)) names.push_back(s.lower_name);
  }
  ctx.reply.bulks(names);
}

// The key arguments of the full command in args[2..], from its (first,
// last, step) key positions; null after replying Redis's error.
const CommandSpec* command_keys(Context& ctx, Args args, std::vector<std::string_view>* keys) {
  const CommandSpec* c = ctx.registry->find(args[2]);
  if (!c) {
    ctx.reply.error(Code::kErr, "Invalid command specified");
    return nullptr;
  }
  const Args cmd = args.subspan(2);
  if (!arity_ok(c->arity, cmd.size())) {
    ctx.reply.error(Code::kErr, "Invalid number of arguments specified for command");
    return nullptr;
  }
  if (c->keys.first <= 0) {
    ctx.reply.error(Code::kErr, "The command has no key arguments");
    return nullptr;
  }
  const int n = static_cast<int>(cmd.size());
  const int last = c->keys.last < 0 ? n + c->keys.last : std::min(c->keys.last, n - 1);
  const int step = c->keys.step > 0 ? c->keys.step : 1;
  for (int i = c->keys.first; i <= last; i += step) keys->push_back(cmd[i]);
  return c;
}

// COMMAND GETKEYS command [arg ...]: the key arguments of a full command.
void command_getkeys(Context& ctx, Args args) {
  std::vector<std::string_view> keys;
  if (command_keys(ctx, args, &keys)) ctx.reply.bulks(keys);
}

// COMMAND GETKEYSANDFLAGS command [arg ...]: each key with its key-spec
// flags, the same ones COMMAND INFO shows (RW update for writes, RO access
// for reads; Redis's per-command flags are finer).
void command_getkeysandflags(Context& ctx, Args args) {
  std::vector<std::string_view> keys;
  const CommandSpec* c = command_keys(ctx, args, &keys);
  if (!c) return;
  const bool write = c->flags & kWrite;
  ctx.reply.array(keys.size());
  for (std::string_view key : keys) {
    ctx.reply.array(2);
    ctx.reply.bulk(key);
    ctx.reply.set(2);
    ctx.reply.simple(write ? "RW" : "RO");
    ctx.reply.simple(write ? "update" : "access");
  }
}

void command_help(Context& ctx, Args) {
  reply_help(ctx, "COMMAND",
             {"(no subcommand)", "    Return details about all Redis commands.", "COUNT",
              "    Return the total number of commands in this Redis server.", "LIST",
              "    Return a list of all commands in this Redis server.",
              "INFO [<command-name> ...]", "    Return details about multiple Redis commands.",
              "    If no command names are given, documentation details for all",
              "    commands are returned.", "DOCS [<command-name> ...]",
              "    Return documentation details about multiple Redis commands.",
              "    If no command names are given, documentation details for all",
              "    commands are returned.", "GETKEYS <full-command>",
              "    Return the keys from a full Redis command.", "GETKEYSANDFLAGS <full-command>",
              "    Return the keys and the access flags from a full Redis command."});
}

// ===================================================================
// SLOWLOG LASTSAVE
// ===================================================================

void slowlog(Context& ctx, Args args) { run_subcommand(ctx, args); }

// SLOWLOG GET [count]: the newest `count` entries (default 10, -1: all),
// newest first: id, unix time, microseconds, arguments, address, name.
void slowlog_get(Context& ctx, Args args) {
  if (args.size() > 3)
    return ctx.reply.error(Code::kErr, "unknown subcommand or wrong number of arguments for '" +
                                           resp::sanitize(args[1]) + "'. Try SLOWLOG HELP.");
  int64_t count = 10;
  if (args.size() == 3) {
    auto n = parse_i64(args[2]);
    if (!n || *n < -1)
      return ctx.reply.error(Code::kErr, "count should be greater than or equal to -1");
    count = *n;
  }
  SlowLog* log = ctx.server.slowlog();
  const auto entries = log ? log->newest(count) : std::vector<SlowLogEntry>{};
  auto& r = ctx.reply;
  r.array(entries.size());
  for (const SlowLogEntry& e : entries) {
    r.array(6);
    r.integer(e.id);
    r.integer(e.unix_s);
    r.integer(e.usec);
    r.array(e.args.size());
    for (const std::string& a : e.args) r.bulk(a);
    r.bulk(e.addr);
    r.bulk(e.name);
  }
}

void slowlog_len(Context& ctx, Args) {
  SlowLog* log = ctx.server.slowlog();
  ctx.reply.integer(log ? static_cast<int64_t>(log->size()) : 0);
}

void slowlog_reset(Context& ctx, Args) {
  if (SlowLog* log = ctx.server.slowlog()) log->reset();
  ctx.reply.ok();
}

void slowlog_help(Context& ctx, Args) {
  reply_help(ctx, "SLOWLOG",
             {"GET [<count>]",
              "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
              "    Entries are made of:",
              "    id, timestamp, time in microseconds, arguments array, client IP and port,",
              "    client name", "LEN", "    Return the length of the slowlog.", "RESET",
              "    Reset the slowlog."});
}

// LASTSAVE: the unix time of the last successful SAVE/BGSAVE snapshot, or
// of the server's start (when recovery had made the data on disk whole)
// before the first one. Every write is durable in the log anyway.
void lastsave(Context& ctx, Args) { ctx.reply.integer(ctx.server.lastsave()); }

// SAVE: a snapshot into <dir>/snapshot (server/backup.h). Only this client
// waits: the server writes its +OK (or the error) when the copy ends, and
// the loop serves everyone else meanwhile.
void save(Context& ctx, Args) {
  if (!ctx.session) return ctx.reply.error(Code::kErr, "SAVE is not allowed here");
  if (Status s = ctx.server.save(*ctx.session); !s) ctx.reply.error(s.error());
}

// BGSAVE [SCHEDULE]: starts the snapshot and answers at once. SCHEDULE
// changes nothing: lmkv has no other background job a save would wait for,
// and a save already running is an error either way, as in Redis.
void bgsave(Context& ctx, Args args) {
  if (args.size() > 2 || (args.size() == 2 && !iequals(args[1], "SCHEDULE")))
    return ctx.reply.error(Code::kErr, resp::msg::kSyntax);
  if (Status s = ctx.server.bgsave(); !s) return ctx.reply.error(s.error());
  ctx.reply.simple("Background saving started");
}

// ===================================================================
// DEBUG
// ===================================================================

void debug_unknown(Context& ctx, Args args) {
  ctx.reply.error(Code::kErr, "unknown subcommand or wrong number of arguments for '" +
                                  resp::sanitize(args[1]) + "'. Try DEBUG HELP.");
}

// DEBUG SLEEP seconds | DIGEST | DIGEST-VALUE key ... | HELP.
// SLEEP blocks this loop, like Redis's whole server, for tests that need a
// slow command; the seconds parse like C's strtod (garbage is 0).
// DIGEST fingerprints the whole dataset (commands/digest.h): the scan
// runs on this loop, through its view, so it is for tests and small sets.
void debug(Context& ctx, Args args) {
  const std::string_view sub = args[1];
  if (iequals(sub, "SLEEP") && args.size() == 3) {
    const double seconds = std::strtod(std::string(args[2]).c_str(), nullptr);
    if (seconds > 0)
      std::this_thread::sleep_for(std::chrono::microseconds(static_cast<int64_t>(seconds * 1e6)));
    return ctx.reply.ok();
  }
  if (iequals(sub, "DIGEST") && args.size() == 2) {
    auto d = dataset_digest(*ctx.view, ctx.server.databases(), ctx.now_ms);
    if (!d) return ctx.reply.error(d.error());
    return ctx.reply.simple(sha1_hex(*d));
  }
  if (iequals(sub, "DIGEST-VALUE")) {
    ctx.reply.array(args.size() - 2);
    for (size_t i = 2; i < args.size(); ++i) {
      auto v = ctx.view->get(ctx.db, args[i], ctx.now_ms);
      if (!v) return ctx.reply.error(v.error());  // an I/O error ends the reply
      ctx.reply.simple(sha1_hex(*v ? value_digest(**v) : Sha1Digest{}));
    }
    return;
  }
  if (iequals(sub, "HELP") && args.size() == 2) {
    return reply_help(
        ctx, "DEBUG",
        {"DIGEST", "    Output a hex signature representing the current DB content.",
         "DIGEST-VALUE <key> [<key> ...]",
         "    Output a hex signature of the values of all the specified keys.", "SLEEP <seconds>",
         "    Stop the server for <seconds>. Decimals allowed."});
  }
  debug_unknown(ctx, args);
}

}  // namespace

// clang-format off
void register_server_family(Registry& r) {
  constexpr uint32_t kAdminSub = kAdmin | kNoScript | kLoading | kStale;
  constexpr uint32_t kMeta = kLoading | kStale;
  r.add({.name = "INFO", .arity = -1, .flags = kLoading | kStale, .run = info, .group = "server", .summary = "Get information and statistics about the server"});
  r.add({.name = "TIME", .arity = 1, .flags = kLoading | kStale | kFast, .run = time, .group = "server", .summary = "Return the current server time", .since = "2.6.0"});
  r.add({.name = "SHUTDOWN", .arity = -1, .flags = kAdmin | kNoScript | kLoading | kStale | kNoMulti, .run = shutdown, .group = "server", .summary = "Synchronously save the dataset to disk and then shut down the server"});
  r.add({.name = "CONFIG", .arity = -2, .run = config, .group = "server", .summary = "A container for server configuration commands", .since = "2.0.0",
         .subcommand_specs = {
             sub("GET", "config|get", -3, kAdminSub, config_get, "Get the values of configuration parameters", "2.0.0"),
             sub("SET", "config|set", -4, kAdminSub, config_set, "Set configuration parameters to the given values", "2.0.0"),
             sub("RESETSTAT", "config|resetstat", 2, kAdminSub, config_resetstat, "Reset the stats returned by INFO", "2.0.0"),
             sub("REWRITE", "config|rewrite", 2, kAdminSub, config_rewrite, "Rewrite the configuration file with the in memory configuration", "2.8.0"),
             sub("HELP", "config|help", 2, kMeta, config_help, "Show helpful text about the different subcommands", "5.0.0")}});
  r.add({.name = "COMMAND", .arity = -1, .flags = kMeta, .run = command, .group = "server", .summary = "Get array of Redis command details", .since = "2.8.13",
         .subcommand_specs = {
             sub("COUNT", "command|count", 2, kMeta, command_count, "Get total number of Redis commands", "2.8.13"),
             sub("INFO", "command|info", -2, kMeta, command_info, "Get array of specific Redis command details, or all when no argument is given.", "2.8.13"),
             sub("DOCS", "command|docs", -2, kMeta, command_docs, "Get array of specific Redis command documentation", "7.0.0"),
             sub("LIST", "command|list", -2, kMeta, command_list, "Get an array of Redis command names", "7.0.0"),
             sub("GETKEYS", "command|getkeys", -4, kMeta, command_getkeys, "Extract keys given a full Redis command", "2.8.13"),
             sub("GETKEYSANDFLAGS", "command|getkeysandflags", -4, kMeta, command_getkeysandflags, "Extract keys and access flags given a full Redis command", "7.0.0"),
             sub("HELP", "command|help", 2, kMeta, command_help, "Show helpful text about the different subcommands", "5.0.0")}});
  r.add({.name = "SLOWLOG", .arity = -2, .run = slowlog, .group = "server", .summary = "A container for slow log commands", .since = "2.2.12",
         .subcommand_specs = {
             sub("GET", "slowlog|get", -2, kAdmin | kLoading | kStale, slowlog_get, "Get the slow log's entries", "2.2.12"),
             sub("LEN", "slowlog|len", 2, kAdmin | kLoading | kStale, slowlog_len, "Get the slow log's length", "2.2.12"),
             sub("RESET", "slowlog|reset", 2, kAdmin | kLoading | kStale, slowlog_reset, "Clear all entries from the slow log", "2.2.12"),
             sub("HELP", "slowlog|help", 2, kMeta, slowlog_help, "Show helpful text about the different subcommands", "6.2.0")}});
  r.add({.name = "SAVE", .arity = 1, .flags = kAdmin | kNoScript | kNoMulti, .run = save, .group = "server", .summary = "Synchronously save the dataset to disk"});
  r.add({.name = "BGSAVE", .arity = -1, .flags = kAdmin | kNoScript, .run = bgsave, .group = "server", .summary = "Asynchronously save the dataset to disk"});
  r.add({.name = "LASTSAVE", .arity = 1, .flags = kLoading | kStale | kFast, .run = lastsave, .group = "server", .summary = "Get the UNIX time stamp of the last successful save to disk"});
  r.add({.name = "DEBUG", .arity = -2, .flags = kAdmin | kNoScript | kLoading | kStale, .run = debug, .group = "server", .summary = "A container for debugging commands"});
}
// clang-format on

}  // namespace lmkv::commands
