// commands/keys_family.cc: commands on the keyspace regardless of type:
// DEL, UNLINK, EXISTS, TYPE, TOUCH, KEYS, SCAN, RANDOMKEY, RENAME,
// RENAMENX, COPY, MOVE, OBJECT, MEMORY USAGE, DBSIZE, FLUSHDB, FLUSHALL.
// Expiry commands are in expire_family.cc.
//
// Reads run on the loop against ctx.view, writes on the writer against
// ctx.txn. Keys too long to store cannot exist, so they count as absent.

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "base/numbers.h"
#include "commands/arguments.h"
#include "commands/glob.h"
#include "commands/registry.h"
#include "commands/scan_cursors.h"
#include "commands/subcommands.h"
#include "resp/errors.h"

namespace lmkv::commands {
namespace {

using store::Bound;
using store::ValueView;

// ===========================================================================
// Single keys

// DEL key [key ...] (and UNLINK): how many live keys were deleted; a key
// named twice counts once.
void del(Context& ctx, Args args) {
  int64_t deleted = 0;
  for (size_t i = 1; i < args.size(); ++i) {
    if (!store::key_fits(args[i])) continue;
    auto gone = ctx.txn->del(ctx.db, args[i], ctx.now_ms);
    if (!gone) return ctx.fail(gone.error());
    if (*gone) {
      ++deleted;
      notify(ctx, kNotifyGeneric, "del", args[i]);
    }
  }
  ctx.reply.integer(deleted);
}

// EXISTS key [key ...]: how many of the named keys exist, repeats counted.
void exists(Context& ctx, Args args) {
  int64_t found = 0;
  for (size_t i = 1; i < args.size(); ++i) {
    auto v = ctx.view->get(ctx.db, args[i], ctx.now_ms);
    if (!v) return ctx.fail(v.error());
    if (*v) ++found;
  }
  ctx.reply.integer(found);
}

// TYPE key: "string", or "none" when absent (simple strings).
void type(Context& ctx, Args args) {
  auto v = ctx.view->get(ctx.db, args[1], ctx.now_ms);
  if (!v) return ctx.fail(v.error());
  ctx.reply.simple(*v ? store::type_name((*v)->type) : "none");
}

// TOUCH key [key ...]: how many of the named keys exist, repeats counted.
// Redis also refreshes their LRU clock; lmkv keeps no access times (see
// OBJECT IDLETIME), so this is EXISTS.
void touch(Context& ctx, Args args) { exists(ctx, args); }

// ===========================================================================
// Walking the keyspace

// The key range a glob pattern can match: from its literal prefix
// (inclusive) to the first key past every key with that prefix.
struct PatternRange {
  std::string prefix, end;
  Bound lo() const { return prefix.empty() ? Bound::unbounded() : Bound::at(prefix, true); }
  Bound hi() const { return end.empty() ? Bound::unbounded() : Bound::at(end, false); }
};

PatternRange pattern_range(std::string_view pattern) {
  PatternRange r;
  r.prefix = glob_literal_prefix(pattern);
  r.end = prefix_end(r.prefix);
  return r;
}

// KEYS pattern: every live key matching, in byte order. Seeks to the
// pattern's literal prefix and stops past it.
void keys(Context& ctx, Args args) {
  const std::string_view pattern = args[1];
  const PatternRange range = pattern_range(pattern);
  const bool match_all = pattern == "*";
  std::vector<std::string_view> found;  // views valid until the view ends
  auto walked = ctx.view->scan(ctx.db, range.lo(), range.hi(), false, ctx.now_ms,
                               [&](std::string_view key, const ValueView&) {
                                 if (match_all || glob_match(pattern, key)) found.push_back(key);
                                 return true;
                               });
  if (!walked) return ctx.fail(walked.error());
  ctx.reply.bulks(found);
}

// SCAN's options, parsed before anything is touched.
struct ScanOptions {
  uint64_t cursor = 0;
  std::optional<std::string_view> pattern;
  int64_t count = 10;
  std::optional<std::string_view> type;
};

// Parses SCAN cursor [MATCH p] [COUNT n] [TYPE t]; options may repeat (the
// last wins), as in Redis. A cursor that is not a number is "invalid
// cursor", like one that is unknown.
Result<ScanOptions> parse_scan(Args args) {
  ScanOptions o;
  auto cursor = parse_u64(args[1]);
  if (!cursor) return error_text(resp::msg::kInvalidCursor);
  o.cursor = *cursor;
  for (size_t i = 2; i < args.size(); i += 2) {
    if (i + 1 >= args.size()) return error_text(resp::msg::kSyntax);
    const std::string_view value = args[i + 1];
    if (is_option(args[i], "COUNT")) {
      auto count = parse_positive_count(value);
      if (!count) return count.error();
      o.count = *count;
    } else if (is_option(args[i], "MATCH")) {
      o.pattern = value;
    } else if (is_option(args[i], "TYPE")) {
      o.type = value;
    } else {
      return error_text(resp::msg::kSyntax);
    }
  }
  return o;
}

// How many entries one SCAN call may examine per key asked for: skipped
// non-matches count, so a sparse MATCH returns short (even empty) pages
// with a nonzero cursor, as Redis does, instead of walking everything.
constexpr uint64_t kScanWorkFactor = 10;

// SCAN cursor [MATCH p] [COUNT n] [TYPE t] (DESIGN.md "SCAN cursors"):
// [next cursor, [keys...]]. Cursor 0 starts; a nonzero cursor names {db,
// last key examined} in the server's table and is used up by this call.
// Keys come back in byte order after that key, so each key present for the
// whole scan is returned exactly once. The reply cursor is 0 when the walk
// reached the end of the keyspace (or of the pattern's prefix).
void scan(Context& ctx, Args args) {
  auto opts = parse_scan(args);
  if (!opts) return ctx.reply.error(opts.error());

  std::string after;  // the last key examined by the previous call
  bool resume = false;
  if (opts->cursor != 0) {
    auto pos = ctx.server.scan_cursors().take(opts->cursor, ctx.now_ms);
    // A cursor from another database would silently scan the wrong keys.
    if (!pos || pos->db != ctx.db) return ctx.reply.error(error_text(resp::msg::kInvalidCursor));
    after = std::move(pos->last_key);
    resume = true;
  }
  const PatternRange range = pattern_range(opts->pattern.value_or(""));
  Bound lo = range.lo();
  if (resume && (range.prefix.empty() || after >= range.prefix)) lo = Bound::at(after, false);

  // COUNT is a hint; range-max-limit bounds one call's work as it bounds
  // RANGE's pages.
  const auto count = static_cast<uint64_t>(
      std::min<int64_t>(opts->count, std::max<int64_t>(1, ctx.server.range_max_limit())));
  const uint64_t budget = count > std::numeric_limits<uint64_t>::max() / kScanWorkFactor
                              ? std::numeric_limits<uint64_t>::max()
                              : count * kScanWorkFactor;
  std::vector<std::string_view> found;  // views valid until the view ends
  std::string last;                     // copied: the next visit may reuse the key's buffer
  uint64_t examined = 0;
  bool more = false;
  auto walked = ctx.view->scan(ctx.db, lo, range.hi(), false, ctx.now_ms,
                               [&](std::string_view key, const ValueView& v) {
                                 // Stop only on reaching a key we will not examine, so "more" is
                                 // exact and the final page comes back with cursor 0.
                                 if (examined == budget || found.size() == count) {
                                   more = true;
                                   return false;
                                 }
                                 ++examined;
                                 last.assign(key);
                                 if (opts->type && !iequals(*opts->type, store::type_name(v.type)))
                                   return true;
                                 if (opts->pattern && !glob_match(*opts->pattern, key)) return true;
                                 found.push_back(key);
                                 return true;
                               });
  if (!walked) return ctx.fail(walked.error());

  uint64_t next = 0;
  if (more) next = ctx.server.scan_cursors().save({ctx.db, std::move(last)}, ctx.now_ms);
  ctx.reply.array(2);
  ctx.reply.bulk(std::to_string(next));
  ctx.reply.bulks(found);
}

// RANDOMKEY: some live key, or null when the database is empty. It seeks to
// a random first byte and takes the next key, wrapping to the start: cheap,
// though not uniform.
void randomkey(Context& ctx, Args) {
  std::random_device rd;
  const std::string seek(1, static_cast<char>(rd() & 0xff));
  std::optional<std::string_view> picked;
  auto take_first = [&](std::string_view key, const ValueView&) {
    picked = key;
    return false;
  };
  auto walked = ctx.view->scan(ctx.db, Bound::at(seek, true), Bound::unbounded(), false, ctx.now_ms,
                               take_first);
  if (walked && !picked) {
    walked = ctx.view->scan(ctx.db, Bound::unbounded(), Bound::unbounded(), false, ctx.now_ms,
                            take_first);
  }
  if (!walked) return ctx.fail(walked.error());
  if (picked) return ctx.reply.bulk(*picked);
  ctx.reply.null();
}

// ===========================================================================
// Renaming, copying and moving

// Records `event` for `key` in database `db` (notify() uses ctx.db), for
// the halves of COPY and MOVE that happen in another database.
void notify_in(Context& ctx, int db, std::string_view event, std::string_view key) {
  const int saved = ctx.db;
  ctx.db = db;
  notify(ctx, kNotifyGeneric, event, key);
  ctx.db = saved;
}

// A DB argument of COPY and MOVE, checked as Redis 7.0 does: "value is not
// an integer or out of range", then the C int range, then "DB index is out
// of range" outside [0, databases).
Result<int> parse_db_arg(std::string_view s, int databases) {
  auto v = parse_integer(s);
  if (!v) return v.error();
  if (*v < std::numeric_limits<int>::min() || *v > std::numeric_limits<int>::max())
    return error_text(resp::msg::kIntOutOfRange);
  if (*v < 0 || *v >= databases) return error_text(resp::msg::kDbIndexOutOfRange);
  return static_cast<int>(*v);
}

// Stores a copy of `v` (deadline included) under `key` in `db`. The data is
// copied first: `v` views into the store, which the put may move.
Status put_copy(Context& ctx, int db, std::string_view key, const ValueView& v) {
  const std::string data(v.data);
  return ctx.txn->put(db, key, ValueView{v.type, v.deadline_ms, data});
}

// RENAME and RENAMENX key newkey: moves the value and its deadline to
// newkey, replacing it (RENAME) or only if it is absent (RENAMENX). A
// missing key is "no such key", even when both names are equal; renaming a
// key to itself is a no-op (OK, or 0 for RENAMENX), as in Redis 7.
void rename_generic(Context& ctx, Args args, bool nx) {
  const std::string_view from = args[1], to = args[2];
  auto src = ctx.txn->get(ctx.db, from, ctx.now_ms);
  if (!src) return ctx.fail(src.error());
  if (!*src) return ctx.reply.error(error_text(resp::msg::kNoSuchKey));
  if (from == to) return nx ? ctx.reply.integer(0) : ctx.reply.ok();
  if (auto fits = check_key_fits(to); !fits) return ctx.reply.error(fits.error());
  if (nx) {
    auto dst = ctx.txn->get(ctx.db, to, ctx.now_ms);
    if (!dst) return ctx.fail(dst.error());
    if (*dst) return ctx.reply.integer(0);
  }
  if (auto put = put_copy(ctx, ctx.db, to, **src); !put) return ctx.fail(put.error());
  if (auto gone = ctx.txn->del(ctx.db, from, ctx.now_ms); !gone) return ctx.fail(gone.error());
  notify(ctx, kNotifyGeneric, "rename_from", from);
  notify(ctx, kNotifyGeneric, "rename_to", to);
  nx ? ctx.reply.integer(1) : ctx.reply.ok();
}

void rename(Context& ctx, Args args) { rename_generic(ctx, args, false); }
void renamenx(Context& ctx, Args args) { rename_generic(ctx, args, true); }

// COPY source destination [DB n] [REPLACE]: 1 if the value (and deadline)
// was copied, 0 if the source is absent or the destination exists without
// REPLACE. Options are checked first, then "source and destination objects
// are the same" (same key, same database), as in Redis 7.0.
void copy(Context& ctx, Args args) {
  int dst_db = ctx.db;
  bool replace = false;
  for (size_t i = 3; i < args.size(); ++i) {
    if (is_option(args[i], "REPLACE")) {
      replace = true;
    } else if (is_option(args[i], "DB") && i + 1 < args.size()) {
      auto db = parse_db_arg(args[++i], ctx.server.databases());
      if (!db) return ctx.reply.error(db.error());
      dst_db = *db;
    } else {
      return ctx.reply.error(error_text(resp::msg::kSyntax));
    }
  }
  const std::string_view from = args[1], to = args[2];
  if (dst_db == ctx.db && from == to) return ctx.reply.error(error_text(resp::msg::kSameObject));
  auto src = ctx.txn->get(ctx.db, from, ctx.now_ms);
  if (!src) return ctx.fail(src.error());
  if (!*src) return ctx.reply.integer(0);
  if (auto fits = check_key_fits(to); !fits) return ctx.reply.error(fits.error());
  if (!replace) {
    auto dst = ctx.txn->get(dst_db, to, ctx.now_ms);
    if (!dst) return ctx.fail(dst.error());
    if (*dst) return ctx.reply.integer(0);
  }
  if (auto put = put_copy(ctx, dst_db, to, **src); !put) return ctx.fail(put.error());
  notify_in(ctx, dst_db, "copy_to", to);
  ctx.reply.integer(1);
}

// MOVE key db: moves the key (and its deadline) to database `db`: 1, or 0 if
// it is absent here or already exists there. Moving within the current
// database is "source and destination objects are the same".
void move(Context& ctx, Args args) {
  auto dst_db = parse_db_arg(args[2], ctx.server.databases());
  if (!dst_db) return ctx.reply.error(dst_db.error());
  if (*dst_db == ctx.db) return ctx.reply.error(error_text(resp::msg::kSameObject));
  const std::string_view key = args[1];
  auto dst = ctx.txn->get(*dst_db, key, ctx.now_ms);
  if (!dst) return ctx.fail(dst.error());
  const bool taken = dst->has_value();
  auto src = ctx.txn->get(ctx.db, key, ctx.now_ms);
  if (!src) return ctx.fail(src.error());
  if (!*src || taken) return ctx.reply.integer(0);
  if (auto put = put_copy(ctx, *dst_db, key, **src); !put) return ctx.fail(put.error());
  if (auto gone = ctx.txn->del(ctx.db, key, ctx.now_ms); !gone) return ctx.fail(gone.error());
  notify(ctx, kNotifyGeneric, "move_from", key);
  notify_in(ctx, *dst_db, "move_to", key);
  ctx.reply.integer(1);
}

// ===========================================================================
// Introspection: OBJECT and MEMORY
//
// lmkv keeps values on disk, one copy each, and tracks no access times or
// frequencies, so these answer what the stored bytes justify.

// The encoding Redis would pick for a string value: "int" when it is a
// canonical 64-bit integer (at most 20 characters, as Redis's string2l),
// "embstr" up to 44 bytes, else "raw". Values Redis builds by APPEND or
// SETRANGE would say "raw" there; lmkv does not remember how a value was
// made, so it answers from the value alone.
std::string_view string_encoding(std::string_view data) {
  if (parse_i64(data)) return "int";
  return data.size() <= 44 ? "embstr" : "raw";
}

// Looks up OBJECT/MEMORY's key (args[2]); replies null and returns nullopt
// when it is absent (or on a store error, after replying it).
std::optional<ValueView> lookup_or_null(Context& ctx, std::string_view key) {
  auto v = ctx.view->get(ctx.db, key, ctx.now_ms);
  if (!v) {
    ctx.fail(v.error());
    return std::nullopt;
  }
  if (!*v) ctx.reply.null();
  return *v;
}

void object(Context& ctx, Args args) { run_subcommand(ctx, args); }

// OBJECT ENCODING key: see string_encoding.
void object_encoding(Context& ctx, Args args) {
  if (auto v = lookup_or_null(ctx, args[2])) ctx.reply.bulk(string_encoding(v->data));
}

// OBJECT REFCOUNT key: 1. Redis shares small integers (and reports
// INT_MAX for them); every lmkv value is a single stored copy.
void object_refcount(Context& ctx, Args args) {
  if (lookup_or_null(ctx, args[2])) ctx.reply.integer(1);
}

// OBJECT IDLETIME key: an error for an existing key. lmkv records no access
// times (recording one would turn every read into a disk write), and any
// number would be invented; Redis itself refuses IDLETIME with an error
// under an LFU policy, so clients already handle one.
constexpr std::string_view kIdleNotTracked =
    "lmkv does not track key access times, idle time not tracked.";
void object_idletime(Context& ctx, Args args) {
  if (lookup_or_null(ctx, args[2])) ctx.reply.error(error_text(kIdleNotTracked));
}

// OBJECT FREQ key: Redis's error when no LFU policy is selected, which is
// always lmkv's case.
void object_freq(Context& ctx, Args args) {
  if (lookup_or_null(ctx, args[2])) ctx.reply.error(error_text(resp::msg::kLfuNotSelected));
}

void object_help(Context& ctx, Args) {
  reply_help(ctx, "OBJECT",
             {
                 "ENCODING <key>",
                 "    Return the kind of internal representation used in order to store the value",
                 "    associated with a <key>.",
                 "FREQ <key>",
                 "    Return the access frequency index of the <key>. The returned integer is",
                 "    proportional to the logarithm of the recent access frequency of the key.",
                 "IDLETIME <key>",
                 "    Return the idle time of the <key>, that is the approximated number of",
                 "    seconds elapsed since the last access to the key.",
                 "REFCOUNT <key>",
                 "    Return the number of references of the value associated with the specified",
                 "    <key>.",
             });
}

// Bytes a stored entry costs beyond its key and value: the key's namespace
// byte, the value's header byte, LMDB's 8-byte node header and 2-byte slot
// in the page index, plus 8 bytes of deadline when it has one. Page fill
// and overflow-page rounding are not counted, so it is an approximation.
constexpr int64_t kEntryOverhead = 1 + 1 + 8 + 2;
constexpr int64_t kDeadlineBytes = 8;

void memory(Context& ctx, Args args) { run_subcommand(ctx, args); }

// MEMORY USAGE key [SAMPLES n]: the approximate bytes the key takes on disk
// (see kEntryOverhead), or null when absent. SAMPLES is checked as Redis
// does and otherwise ignored: a string has nothing to sample.
void memory_usage(Context& ctx, Args args) {
  for (size_t i = 3; i < args.size(); i += 2) {
    if (!is_option(args[i], "SAMPLES") || i + 1 >= args.size())
      return ctx.reply.error(error_text(resp::msg::kSyntax));
    auto n = parse_integer(args[i + 1]);
    if (!n) return ctx.reply.error(n.error());
    if (*n < 0) return ctx.reply.error(error_text(resp::msg::kSyntax));
  }
  auto v = lookup_or_null(ctx, args[2]);
  if (!v) return;
  const int64_t bytes = static_cast<int64_t>(args[2].size() + v->data.size()) + kEntryOverhead +
                        (v->deadline_ms != 0 ? kDeadlineBytes : 0);
  ctx.reply.integer(bytes);
}

void memory_help(Context& ctx, Args) {
  reply_help(ctx, "MEMORY",
             {
                 "USAGE <key> [SAMPLES <count>]",
                 "    Return memory in bytes used by <key> and its value. Nested values are",
                 "    sampled up to <count> times (default: 5, 0 means sample all).",
             });
}

// A subcommand entry of this family (see subcommands.h).
CommandSpec sub(std::string_view name, std::string full, int arity, uint32_t flags, Handler run,
                std::string_view summary, std::string_view since) {
  return subcommand("generic", name, std::move(full), arity, flags, run, summary, since);
}

// ===========================================================================
// Whole databases

// DBSIZE: keys in the current database (expired ones not yet reclaimed
// count, as in Redis).
void dbsize(Context& ctx, Args) {
  if (ctx.hold_for_counts(ctx.db)) return;
  auto n = ctx.view->dbsize(ctx.db);
  if (!n) return ctx.fail(n.error());
  ctx.reply.integer(static_cast<int64_t>(*n));
}

// FLUSHDB/FLUSHALL take an optional ASYNC|SYNC; both empty the database
// inside the writer's transaction, so the mode changes nothing here.
Status check_flush_mode(Args args) {
  if (args.size() > 2 ||
      (args.size() == 2 && !is_option(args[1], "ASYNC") && !is_option(args[1], "SYNC")))
    return error_text(resp::msg::kSyntax);
  return {};
}

// FLUSHDB [ASYNC|SYNC]: empties the current database.
void flushdb(Context& ctx, Args args) {
  if (auto mode = check_flush_mode(args); !mode) return ctx.reply.error(mode.error());
  auto cleared = ctx.txn->clear(ctx.db);
  if (!cleared) return ctx.fail(cleared.error());
  ctx.reply.ok();
}

// FLUSHALL [ASYNC|SYNC]: empties every database, atomically.
void flushall(Context& ctx, Args args) {
  if (auto mode = check_flush_mode(args); !mode) return ctx.reply.error(mode.error());
  for (int db = 0; db < ctx.server.databases(); ++db) {
    auto cleared = ctx.txn->clear(db);
    if (!cleared) return ctx.fail(cleared.error());
  }
  ctx.reply.ok();
}

// SWAPDB index1 index2: swaps two databases, atomically for every client
// (store::WriteTxn::swap). Errors as Redis 7: a non-integer (or beyond C
// int) index is "invalid first/second DB index", then the range check.
void swapdb(Context& ctx, Args args) {
  int ids[2];
  for (int i = 0; i < 2; ++i) {
    auto v = parse_integer(args[1 + i]);
    if (!v || *v < std::numeric_limits<int>::min() || *v > std::numeric_limits<int>::max())
      return ctx.reply.error(
          error_text(i == 0 ? resp::msg::kInvalidFirstDb : resp::msg::kInvalidSecondDb));
    ids[i] = static_cast<int>(*v);
  }
  for (int id : ids)
    if (id < 0 || id >= ctx.server.databases())
      return ctx.reply.error(error_text(resp::msg::kDbIndexOutOfRange));
  if (auto s = ctx.txn->swap(ids[0], ids[1]); !s) return ctx.fail(s.error());
  ctx.reply.ok();
}

}  // namespace

// clang-format off
void register_keys_family(Registry& r) {
  r.add({.name = "DEL",       .arity = -2, .flags = kWrite,         .keys = {1, -1, 1}, .run = del,       .group = "generic", .summary = "Delete a key", .since = "1.0.0"});
  r.add({.name = "UNLINK",    .arity = -2, .flags = kWrite | kFast, .keys = {1, -1, 1}, .run = del,       .group = "generic", .summary = "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.", .since = "4.0.0"});
  r.add({.name = "EXISTS",    .arity = -2, .flags = kRead | kFast,  .keys = {1, -1, 1}, .run = exists,    .group = "generic", .summary = "Determine if a key exists", .since = "1.0.0"});
  r.add({.name = "TYPE",      .arity = 2,  .flags = kRead | kFast,  .keys = {1, 1, 1},  .run = type,      .group = "generic", .summary = "Determine the type stored at key", .since = "1.0.0"});
  r.add({.name = "TOUCH",     .arity = -2, .flags = kRead | kFast,  .keys = {1, -1, 1}, .run = touch,     .group = "generic", .summary = "Alters the last access time of a key(s). Returns the number of existing keys specified.", .since = "3.2.1"});
  r.add({.name = "RENAME",    .arity = 3,  .flags = kWrite,         .keys = {1, 2, 1},  .run = rename,    .group = "generic", .summary = "Rename a key", .since = "1.0.0"});
  r.add({.name = "RENAMENX",  .arity = 3,  .flags = kWrite | kFast, .keys = {1, 2, 1},  .run = renamenx,  .group = "generic", .summary = "Rename a key, only if the new key does not exist", .since = "1.0.0"});
  r.add({.name = "COPY",      .arity = -3, .flags = kWrite | kDenyOom, .keys = {1, 2, 1}, .run = copy,   .group = "generic", .summary = "Copy a key", .since = "6.2.0"});
  r.add({.name = "MOVE",      .arity = 3,  .flags = kWrite | kFast, .keys = {1, 1, 1},  .run = move,      .group = "generic", .summary = "Move a key to another database", .since = "1.0.0"});
  r.add({.name = "OBJECT",    .arity = -2, .flags = 0,              .keys = {},         .run = object,    .group = "generic", .summary = "A container for object introspection commands", .since = "2.2.3",
         .subcommand_specs = {
             sub("ENCODING", "object|encoding", 3, kRead, object_encoding, "Inspect the internal encoding of a Redis object", "2.2.3"),
             sub("FREQ", "object|freq", 3, kRead, object_freq, "Get the logarithmic access frequency counter of a Redis object", "4.0.0"),
             sub("IDLETIME", "object|idletime", 3, kRead, object_idletime, "Get the time since a Redis object was last accessed", "2.2.3"),
             sub("REFCOUNT", "object|refcount", 3, kRead, object_refcount, "Get the number of references to the value of the key", "2.2.3"),
             sub("HELP", "object|help", 2, kLoading | kStale, object_help, "Show helpful text about the different subcommands", "6.2.0")}});
  r.add({.name = "MEMORY",    .arity = -2, .flags = 0,              .keys = {},         .run = memory,    .group = "server",  .summary = "A container for memory diagnostics commands", .since = "4.0.0",
         .subcommand_specs = {
             sub("USAGE", "memory|usage", -3, kRead, memory_usage, "Estimate the memory usage of a key", "4.0.0"),
             sub("HELP", "memory|help", 2, kLoading | kStale, memory_help, "Show helpful text about the different subcommands", "4.0.0")}});
  r.add({.name = "KEYS",      .arity = 2,  .flags = kRead,          .keys = {},         .run = keys,      .group = "generic", .summary = "Find all keys matching the given pattern", .since = "1.0.0"});
  r.add({.name = "SCAN",      .arity = -2, .flags = kRead,          .keys = {},         .run = scan,      .group = "generic", .summary = "Incrementally iterate the keys space", .since = "2.8.0"});
  r.add({.name = "RANDOMKEY", .arity = 1,  .flags = kRead,          .keys = {},         .run = randomkey, .group = "generic", .summary = "Return a random key from the keyspace", .since = "1.0.0"});
  r.add({.name = "DBSIZE",    .arity = 1,  .flags = kRead | kFast,  .keys = {},         .run = dbsize,    .group = "server",  .summary = "Return the number of keys in the selected database", .since = "1.0.0"});
  r.add({.name = "FLUSHDB",   .arity = -1, .flags = kWrite,         .keys = {},         .run = flushdb,   .group = "server",  .summary = "Remove all keys from the current database", .since = "1.0.0"});
  r.add({.name = "FLUSHALL",  .arity = -1, .flags = kWrite,         .keys = {},         .run = flushall,  .group = "server",  .summary = "Remove all keys from all databases", .since = "1.0.0"});
  r.add({.name = "SWAPDB",    .arity = 3,  .flags = kWrite | kFast, .keys = {},         .run = swapdb,    .group = "server",  .summary = "Swaps two Redis databases", .since = "4.0.0"});
}
// clang-format on

}  // namespace lmkv::commands
