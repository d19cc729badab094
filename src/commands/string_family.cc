// commands/string_family.cc: commands on string values (GET, SET and its
// variants, MSET/MGET, APPEND, INCR/DECR...).
//
// Reads run on the loop against ctx.view; writes run on the writer against
// ctx.txn, which sees the latest state including earlier commands of the
// same group. Every argument is validated before the store is touched; a
// store failure goes through ctx.fail so the writer aborts the group. A
// deadline is absolute Unix ms in the value header; the store hides keys
// past it. Keys longer than the store allows cannot exist: reads treat them
// as absent, writes that would create one reply kKeyTooLong.

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "base/numbers.h"
#include "commands/arguments.h"
#include "commands/registry.h"
#include "resp/errors.h"

namespace lmkv::commands {
namespace {

using store::ValueView;

// Replies WRONGTYPE and returns true when `v` is not a string. Only strings
// exist today; this keeps handlers right when other types arrive.
bool wrong_type(Context& ctx, const ValueView& v) {
  if (v.type == store::Type::kString) return false;
  ctx.reply.error(Code::kWrongType, resp::msg::kWrongType);
  return true;
}

// Replies with a string value, or null when absent.
void reply_value(Context& ctx, const std::optional<ValueView>& v) {
  if (!v) return ctx.reply.null();
  if (wrong_type(ctx, *v)) return;
  ctx.reply.bulk(v->data);
}

// Stores `data` under `key` with `deadline_ms` (0: none). A deadline already
// past deletes the key instead, as Redis does for SET ... PXAT <past>.
bool store_string(Context& ctx, std::string_view key, std::string_view data, int64_t deadline_ms) {
  if (deadline_ms != 0 && deadline_ms <= ctx.now_ms) {
    auto deleted = ctx.txn->del(ctx.db, key, ctx.now_ms);
    if (!deleted) ctx.fail(deleted.error());
    return deleted.ok();
  }
  auto put = ctx.txn->put(ctx.db, key, ValueView{store::Type::kString, deadline_ms, data});
  if (!put) ctx.fail(put.error());
  return put.ok();
}

// ===========================================================================
// SET and its variants

struct SetOptions {
  bool nx = false;
  bool xx = false;
  bool get = false;
  ExpireOption expire;
};

// Parses SET's options from args[3...]: NX|XX, GET and one expire option.
// Repeating an option is allowed; NX with XX, or two expire kinds, is a
// syntax error (Redis's parseExtendedStringArgumentsOrReply).
Result<SetOptions> parse_set_options(Args args) {
  SetOptions o;
  for (size_t i = 3; i < args.size();) {
    bool syntax_error = false;
    if (parse_expire_option(args, &i, &o.expire, &syntax_error)) {
      if (syntax_error) return error_text(resp::msg::kSyntax);
      continue;
    }
    const std::string_view a = args[i];
    if (is_option(a, "NX") && !o.xx) {
      o.nx = true;
    } else if (is_option(a, "XX") && !o.nx) {
      o.xx = true;
    } else if (is_option(a, "GET")) {
      o.get = true;
    } else {
      return error_text(resp::msg::kSyntax);
    }
    ++i;
  }
  return o;
}

// One validated SET-style write.
struct SetRequest {
  std::string_view key, value;
  bool nx = false, xx = false, get = false, keep_ttl = false;
  int64_t deadline_ms = 0;  // absolute; 0 = no expiry
};

struct SetOutcome {
  bool written = false;
  std::optional<std::string> old;  // the previous value, when asked for (GET)
};

// The body shared by SET, SETNX, SETEX and PSETEX (Redis's
// setGenericCommand). Returns nullopt after replying with an error.
std::optional<SetOutcome> set_generic(Context& ctx, const SetRequest& r) {
  auto current = ctx.txn->get(ctx.db, r.key, ctx.now_ms);
  if (!current) {
    ctx.fail(current.error());
    return std::nullopt;
  }
  SetOutcome out;
  const std::optional<ValueView>& cur = *current;
  if (r.get && cur) {
    if (wrong_type(ctx, *cur)) return std::nullopt;
    out.old = std::string(cur->data);
  }
  if ((r.nx && cur) || (r.xx && !cur)) return out;
  const int64_t deadline = (r.keep_ttl && cur) ? cur->deadline_ms : r.deadline_ms;
  if (!store_string(ctx, r.key, r.value, deadline)) return std::nullopt;
  out.written = true;
  return out;
}

// SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL]: OK, or
// null when NX/XX prevented the write; with GET, the old value (or null).
void set(Context& ctx, Args args) {
  auto opts = parse_set_options(args);
  if (!opts) return ctx.reply.error(opts.error());
  SetRequest r{.key = args[1], .value = args[2], .nx = opts->nx, .xx = opts->xx, .get = opts->get};
  using Kind = ExpireOption::Kind;
  if (opts->expire.kind == Kind::kKeepTtl) {
    r.keep_ttl = true;
  } else if (opts->expire.kind != Kind::kNone) {
    auto deadline = expire_deadline(opts->expire, ctx.now_ms, "set");
    if (!deadline) return ctx.reply.error(deadline.error());
    r.deadline_ms = *deadline;
  }
  if (auto fits = check_key_fits(args[1]); !fits) return ctx.reply.error(fits.error());

  auto outcome = set_generic(ctx, r);
  if (!outcome) return;
  if (r.get) {
    if (outcome->old) return ctx.reply.bulk(*outcome->old);
    return ctx.reply.null();
  }
  if (outcome->written) return ctx.reply.ok();
  ctx.reply.null();
}

// SETNX key value: 1 if set, 0 if the key existed.
void setnx(Context& ctx, Args args) {
  if (auto fits = check_key_fits(args[1]); !fits) return ctx.reply.error(fits.error());
  auto outcome = set_generic(ctx, {.key = args[1], .value = args[2], .nx = true});
  if (outcome) ctx.reply.integer(outcome->written ? 1 : 0);
}

// SETEX and PSETEX share one body; only the unit of the TTL differs.
void set_with_ttl(Context& ctx, Args args, bool seconds) {
  auto deadline = relative_deadline(args[2], seconds, ctx.now_ms, seconds ? "setex" : "psetex");
  if (!deadline) return ctx.reply.error(deadline.error());
  if (auto fits = check_key_fits(args[1]); !fits) return ctx.reply.error(fits.error());
  if (set_generic(ctx, {.key = args[1], .value = args[3], .deadline_ms = *deadline}))
    ctx.reply.ok();
}

void setex(Context& ctx, Args args) { set_with_ttl(ctx, args, true); }
void psetex(Context& ctx, Args args) { set_with_ttl(ctx, args, false); }

// ===========================================================================
// Multi-key

// MSET k v [k v ...]: OK. Atomic, since the writer runs it in one txn.
void mset(Context& ctx, Args args) {
  if (args.size() % 2 == 0) return ctx.reply.error(resp::wrong_arity("mset"));
  if (auto fits = check_keys_fit(args, 1, 2); !fits) return ctx.reply.error(fits.error());
  for (size_t i = 1; i < args.size(); i += 2) {
    if (!store_string(ctx, args[i], args[i + 1], 0)) return;
  }
  ctx.reply.ok();
}

// MSETNX k v [k v ...]: 1 if every key was absent and all were set, else 0.
void msetnx(Context& ctx, Args args) {
  if (args.size() % 2 == 0) return ctx.reply.error(resp::wrong_arity("msetnx"));
  if (auto fits = check_keys_fit(args, 1, 2); !fits) return ctx.reply.error(fits.error());
  for (size_t i = 1; i < args.size(); i += 2) {
    auto cur = ctx.txn->get(ctx.db, args[i], ctx.now_ms);
    if (!cur) return ctx.fail(cur.error());
    if (*cur) return ctx.reply.integer(0);
  }
  for (size_t i = 1; i < args.size(); i += 2) {
    if (!store_string(ctx, args[i], args[i + 1], 0)) return;
  }
  ctx.reply.integer(1);
}

// MGET key [key ...]: one value or null per key (null for other types too).
void mget(Context& ctx, Args args) {
  std::vector<std::optional<std::string_view>> values;
  values.reserve(args.size() - 1);
  for (size_t i = 1; i < args.size(); ++i) {
    auto v = ctx.view->get(ctx.db, args[i], ctx.now_ms);
    if (!v) return ctx.fail(v.error());
    if (*v && (*v)->type == store::Type::kString) {
      values.emplace_back((*v)->data);  // valid until the view ends
    } else {
      values.emplace_back();
    }
  }
  ctx.reply.array(values.size());
  for (const auto& v : values) {
    if (v) {
      ctx.reply.bulk(*v);
    } else {
      ctx.reply.null();
    }
  }
}

// ===========================================================================
// Single-key reads and read-modify-writes

// GET key: the value, or null.
void get(Context& ctx, Args args) {
  auto v = ctx.view->get(ctx.db, args[1], ctx.now_ms);
  if (!v) return ctx.fail(v.error());
  reply_value(ctx, *v);
}

// STRLEN key: the value's length, 0 when absent.
void strlen(Context& ctx, Args args) {
  auto v = ctx.view->get(ctx.db, args[1], ctx.now_ms);
  if (!v) return ctx.fail(v.error());
  if (!*v) return ctx.reply.integer(0);
  if (wrong_type(ctx, **v)) return;
  ctx.reply.integer(static_cast<int64_t>((*v)->data.size()));
}

// GETDEL key: the value, deleting the key; null when absent.
void getdel(Context& ctx, Args args) {
  auto v = ctx.txn->get(ctx.db, args[1], ctx.now_ms);
  if (!v) return ctx.fail(v.error());
  if (!*v) return ctx.reply.null();
  if (wrong_type(ctx, **v)) return;
  std::string old((*v)->data);  // the view dies with the delete
  auto deleted = ctx.txn->del(ctx.db, args[1], ctx.now_ms);
  if (!deleted) return ctx.fail(deleted.error());
  ctx.reply.bulk(old);
}

// APPEND key value: the new length. The key keeps its TTL, as in Redis.
void append(Context& ctx, Args args) {
  if (auto fits = check_key_fits(args[1]); !fits) return ctx.reply.error(fits.error());
  auto v = ctx.txn->get(ctx.db, args[1], ctx.now_ms);
  if (!v) return ctx.fail(v.error());
  std::string data;
  int64_t deadline = 0;
  if (*v) {
    if (wrong_type(ctx, **v)) return;
    data.reserve((*v)->data.size() + args[2].size());
    data = (*v)->data;
    deadline = (*v)->deadline_ms;
  }
  data += args[2];
  if (store_string(ctx, args[1], data, deadline))
    ctx.reply.integer(static_cast<int64_t>(data.size()));
}

// Adds `delta` to the integer stored at `key` (0 when absent) and replies
// with the result, keeping the key's TTL (Redis's incrDecrCommand).
void incr_by(Context& ctx, std::string_view key, int64_t delta) {
  if (auto fits = check_key_fits(key); !fits) return ctx.reply.error(fits.error());
  auto v = ctx.txn->get(ctx.db, key, ctx.now_ms);
  if (!v) return ctx.fail(v.error());
  int64_t current = 0, deadline = 0;
  if (*v) {
    if (wrong_type(ctx, **v)) return;
    auto n = parse_i64((*v)->data);
    if (!n) return ctx.reply.error(error_text(resp::msg::kNotInteger));
    current = *n;
    deadline = (*v)->deadline_ms;
  }
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  if ((delta > 0 && current > kMax - delta) || (delta < 0 && current < kMin - delta))
    return ctx.reply.error(error_text(resp::msg::kOverflow));
  const int64_t result = current + delta;
  if (store_string(ctx, key, std::to_string(result), deadline)) ctx.reply.integer(result);
}

void incr(Context& ctx, Args args) { incr_by(ctx, args[1], 1); }
void decr(Context& ctx, Args args) { incr_by(ctx, args[1], -1); }

void incrby(Context& ctx, Args args) {
  auto delta = parse_integer(args[2]);
  if (!delta) return ctx.reply.error(delta.error());
  incr_by(ctx, args[1], *delta);
}

void decrby(Context& ctx, Args args) {
  auto delta = parse_integer(args[2]);
  if (!delta) return ctx.reply.error(delta.error());
  // Its negation does not fit in 64 bits.
  if (*delta == std::numeric_limits<int64_t>::min())
    return ctx.reply.error(error_text(msg::kDecrementOverflow));
  incr_by(ctx, args[1], -*delta);
}

}  // namespace

// clang-format off
void register_string_family(Registry& r) {
  r.add({.name = "GET",    .arity = 2,  .flags = kRead | kFast,              .keys = {1, 1, 1},  .run = get,    .group = "string", .summary = "Get the value of a key", .since = "1.0.0"});
  r.add({.name = "SET",    .arity = -3, .flags = kWrite | kDenyOom,          .keys = {1, 1, 1},  .run = set,    .group = "string", .summary = "Set the string value of a key", .since = "1.0.0"});
  r.add({.name = "SETNX",  .arity = 3,  .flags = kWrite | kDenyOom | kFast,  .keys = {1, 1, 1},  .run = setnx,  .group = "string", .summary = "Set the value of a key, only if the key does not exist", .since = "1.0.0"});
  r.add({.name = "SETEX",  .arity = 4,  .flags = kWrite | kDenyOom,          .keys = {1, 1, 1},  .run = setex,  .group = "string", .summary = "Set the value and expiration of a key", .since = "2.0.0"});
  r.add({.name = "PSETEX", .arity = 4,  .flags = kWrite | kDenyOom,          .keys = {1, 1, 1},  .run = psetex, .group = "string", .summary = "Set the value and expiration in milliseconds of a key", .since = "2.6.0"});
  r.add({.name = "MSET",   .arity = -3, .flags = kWrite | kDenyOom,          .keys = {1, -1, 2}, .run = mset,   .group = "string", .summary = "Set multiple keys to multiple values", .since = "1.0.1"});
  r.add({.name = "MSETNX", .arity = -3, .flags = kWrite | kDenyOom,          .keys = {1, -1, 2}, .run = msetnx, .group = "string", .summary = "Set multiple keys to multiple values, only if none of the keys exist", .since = "1.0.1"});
  r.add({.name = "MGET",   .arity = -2, .flags = kRead | kFast,              .keys = {1, -1, 1}, .run = mget,   .group = "string", .summary = "Get the values of all the given keys", .since = "1.0.0"});
  r.add({.name = "STRLEN", .arity = 2,  .flags = kRead | kFast,              .keys = {1, 1, 1},  .run = strlen, .group = "string", .summary = "Get the length of the value stored in a key", .since = "2.2.0"});
  r.add({.name = "GETDEL", .arity = 2,  .flags = kWrite | kFast,             .keys = {1, 1, 1},  .run = getdel, .group = "string", .summary = "Get the value of a key and delete the key", .since = "6.2.0"});
  r.add({.name = "APPEND", .arity = 3,  .flags = kWrite | kDenyOom | kFast,  .keys = {1, 1, 1},  .run = append, .group = "string", .summary = "Append a value to a key", .since = "2.0.0"});
  r.add({.name = "INCR",   .arity = 2,  .flags = kWrite | kDenyOom | kFast,  .keys = {1, 1, 1},  .run = incr,   .group = "string", .summary = "Increment the integer value of a key by one", .since = "1.0.0"});
  r.add({.name = "DECR",   .arity = 2,  .flags = kWrite | kDenyOom | kFast,  .keys = {1, 1, 1},  .run = decr,   .group = "string", .summary = "Decrement the integer value of a key by one", .since = "1.0.0"});
  r.add({.name = "INCRBY", .arity = 3,  .flags = kWrite | kDenyOom | kFast,  .keys = {1, 1, 1},  .run = incrby, .group = "string", .summary = "Increment the integer value of a key by the given amount", .since = "1.0.0"});
  r.add({.name = "DECRBY", .arity = 3,  .flags = kWrite | kDenyOom | kFast,  .keys = {1, 1, 1},  .run = decrby, .group = "string", .summary = "Decrement the integer value of a key by the given number", .since = "1.0.0"});
}
// clang-format on

}  // namespace lmkv::commands
