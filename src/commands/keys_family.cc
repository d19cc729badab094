// commands/keys_family.cc: commands on the keyspace regardless of type:
// DEL, UNLINK, EXISTS, TYPE, KEYS, SCAN, RANDOMKEY, DBSIZE, FLUSHDB,
// FLUSHALL.
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
    if (*gone) ++deleted;
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

  const auto count = static_cast<uint64_t>(opts->count);
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
// Whole databases

// DBSIZE: keys in the current database (expired ones not yet reclaimed
// count, as in Redis).
void dbsize(Context& ctx, Args) {
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

}  // namespace

// clang-format off
void register_keys_family(Registry& r) {
  r.add({.name = "DEL",       .arity = -2, .flags = kWrite,         .keys = {1, -1, 1}, .run = del,       .group = "generic", .summary = "Delete a key", .since = "1.0.0"});
  r.add({.name = "UNLINK",    .arity = -2, .flags = kWrite | kFast, .keys = {1, -1, 1}, .run = del,       .group = "generic", .summary = "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.", .since = "4.0.0"});
  r.add({.name = "EXISTS",    .arity = -2, .flags = kRead | kFast,  .keys = {1, -1, 1}, .run = exists,    .group = "generic", .summary = "Determine if a key exists", .since = "1.0.0"});
  r.add({.name = "TYPE",      .arity = 2,  .flags = kRead | kFast,  .keys = {1, 1, 1},  .run = type,      .group = "generic", .summary = "Determine the type stored at key", .since = "1.0.0"});
  r.add({.name = "KEYS",      .arity = 2,  .flags = kRead,          .keys = {},         .run = keys,      .group = "generic", .summary = "Find all keys matching the given pattern", .since = "1.0.0"});
  r.add({.name = "SCAN",      .arity = -2, .flags = kRead,          .keys = {},         .run = scan,      .group = "generic", .summary = "Incrementally iterate the keys space", .since = "2.8.0"});
  r.add({.name = "RANDOMKEY", .arity = 1,  .flags = kRead,          .keys = {},         .run = randomkey, .group = "generic", .summary = "Return a random key from the keyspace", .since = "1.0.0"});
  r.add({.name = "DBSIZE",    .arity = 1,  .flags = kRead | kFast,  .keys = {},         .run = dbsize,    .group = "server",  .summary = "Return the number of keys in the selected database", .since = "1.0.0"});
  r.add({.name = "FLUSHDB",   .arity = -1, .flags = kWrite,         .keys = {},         .run = flushdb,   .group = "server",  .summary = "Remove all keys from the current database", .since = "1.0.0"});
  r.add({.name = "FLUSHALL",  .arity = -1, .flags = kWrite,         .keys = {},         .run = flushall,  .group = "server",  .summary = "Remove all keys from all databases", .since = "1.0.0"});
}
// clang-format on

}  // namespace lmkv::commands
