// commands/string_family.cc: commands on string values (GET, SET and its
// variants, MSET/MGET, GETSET/GETEX/GETDEL, GETRANGE/SETRANGE, APPEND,
// INCR/DECR/INCRBYFLOAT, LCS). Bitmaps are in bitmap_family.cc.
//
// Reads run on the loop against ctx.view; writes run on the writer against
// ctx.txn, which sees the latest state including earlier commands of the
// same group. Every argument is validated before the store is touched; a
// store failure goes through ctx.fail so the writer aborts the group. A
// deadline is absolute Unix ms in the value header; the store hides keys
// past it. Keys longer than the store allows cannot exist: reads treat them
// as absent, writes that would create one reply kKeyTooLong. Every write
// that changes a key raises Redis's keyspace event for it.

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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

// Redis's proto-max-bulk-len default: no string may grow beyond it.
constexpr int64_t kMaxStringSize = int64_t{512} * 1024 * 1024;

// Redis's checkStringLength: the error when writing `append` bytes at
// `offset` would make the string longer than kMaxStringSize.
Status check_string_length(int64_t offset, int64_t append) {
  if (offset > kMaxStringSize - append) return error_text(resp::msg::kStringTooLong);
  return {};
}

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

// Raises "set" and, when the write carried an expire option, "expire", as
// Redis's setGenericCommand does.
void notify_set(Context& ctx, std::string_view key, bool with_expire) {
  notify(ctx, kNotifyString, "set", key);
  if (with_expire) notify(ctx, kNotifyGeneric, "expire", key);
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
  // A blind SET never reads: the old value costs a lookup on the writer
  // thread (a B+tree descent beyond the write buffer), so only the options
  // and the "new" event that depend on it pay for it.
  const bool needs_old = r.get || r.nx || r.xx || r.keep_ttl || notifying(ctx, kNotifyNew);
  Result<std::optional<ValueView>> current = std::optional<ValueView>();
  if (needs_old) current = ctx.txn->get(ctx.db, r.key, ctx.now_ms);
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
  if (needs_old && !cur) notify(ctx, kNotifyNew, "new", r.key);  // as Redis, when added
  notify_set(ctx, r.key, r.deadline_ms != 0);
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
    if (i + 2 < args.size()) ctx.txn->prefetch(ctx.db, args[i + 2]);
    if (!store_string(ctx, args[i], args[i + 1], 0)) return;
    notify_set(ctx, args[i], false);
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
    notify_set(ctx, args[i], false);
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
  notify(ctx, kNotifyGeneric, "del", args[1]);
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
    const auto size = static_cast<int64_t>((*v)->data.size());
    if (auto fits = check_string_length(size, static_cast<int64_t>(args[2].size())); !fits)
      return ctx.reply.error(fits.error());
    data.reserve((*v)->data.size() + args[2].size());
    data = (*v)->data;
    deadline = (*v)->deadline_ms;
  }
  data += args[2];
  if (!store_string(ctx, args[1], data, deadline)) return;
  notify(ctx, kNotifyString, "append", args[1]);
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
  if (!store_string(ctx, key, std::to_string(result), deadline)) return;
  notify(ctx, kNotifyString, "incrby", key);  // Redis's event for INCR, DECR and DECRBY too
  ctx.reply.integer(result);
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

// ===========================================================================
// GETSET, GETEX

// GETSET key value: the old value (or null), setting the new one without a
// TTL. Deprecated in Redis 6.2 in favour of SET ... GET, still served.
void getset(Context& ctx, Args args) {
  if (auto fits = check_key_fits(args[1]); !fits) return ctx.reply.error(fits.error());
  auto outcome = set_generic(ctx, {.key = args[1], .value = args[2], .get = true});
  if (!outcome) return;
  if (outcome->old) return ctx.reply.bulk(*outcome->old);
  ctx.reply.null();
}

// GETEX's options: one of EX|PX|EXAT|PXAT (repeatable) or PERSIST. Anything
// else, KEEPTTL included, is a syntax error (Redis's parse for COMMAND_GET).
struct GetExOptions {
  ExpireOption expire;
  bool persist = false;
};

Result<GetExOptions> parse_getex_options(Args args) {
  GetExOptions o;
  for (size_t i = 2; i < args.size();) {
    if (is_option(args[i], "PERSIST")) {
      if (o.expire.kind != ExpireOption::Kind::kNone) return error_text(resp::msg::kSyntax);
      o.persist = true;
      ++i;
      continue;
    }
    if (is_option(args[i], "KEEPTTL")) return error_text(resp::msg::kSyntax);
    bool syntax_error = false;
    if (!parse_expire_option(args, &i, &o.expire, &syntax_error) || syntax_error || o.persist)
      return error_text(resp::msg::kSyntax);
  }
  return o;
}

// GETEX key [EX s|PX ms|EXAT s|PXAT ms|PERSIST]: the value (null when
// absent, without validating the expire value, as Redis), then changes the
// TTL: a deadline already past deletes the key ("del"), another sets it
// ("expire"), PERSIST drops it ("persist", only when there was one).
void getex(Context& ctx, Args args) {
  auto opts = parse_getex_options(args);
  if (!opts) return ctx.reply.error(opts.error());
  auto v = ctx.txn->get(ctx.db, args[1], ctx.now_ms);
  if (!v) return ctx.fail(v.error());
  if (!*v) return ctx.reply.null();
  if (wrong_type(ctx, **v)) return;
  const bool has_expire = opts->expire.kind != ExpireOption::Kind::kNone;
  int64_t deadline = 0;
  if (has_expire) {
    auto d = expire_deadline(opts->expire, ctx.now_ms, "getex");
    if (!d) return ctx.reply.error(d.error());
    deadline = *d;
  }
  std::string value((*v)->data);  // the view dies with the write
  const int64_t old_deadline = (*v)->deadline_ms;
  if (has_expire) {
    if (!store_string(ctx, args[1], value, deadline)) return;
    notify(ctx, kNotifyGeneric, deadline <= ctx.now_ms ? "del" : "expire", args[1]);
  } else if (opts->persist && old_deadline != 0) {
    if (!store_string(ctx, args[1], value, 0)) return;
    notify(ctx, kNotifyGeneric, "persist", args[1]);
  }
  ctx.reply.bulk(value);
}

// ===========================================================================
// Ranges: GETRANGE/SUBSTR, SETRANGE

// GETRANGE key start end: the bytes from start to end inclusive; negative
// indexes count from the end. Out-of-range indexes are clamped; an empty
// range (or an absent key) is an empty bulk.
void getrange(Context& ctx, Args args) {
  auto start = parse_integer(args[2]);
  if (!start) return ctx.reply.error(start.error());
  auto end = parse_integer(args[3]);
  if (!end) return ctx.reply.error(end.error());
  auto v = ctx.view->get(ctx.db, args[1], ctx.now_ms);
  if (!v) return ctx.fail(v.error());
  if (!*v) return ctx.reply.bulk("");
  if (wrong_type(ctx, **v)) return;
  const std::string_view data = (*v)->data;
  const auto len = static_cast<int64_t>(data.size());
  int64_t s = *start, e = *end;
  if (s < 0 && e < 0 && s > e) return ctx.reply.bulk("");
  if (s < 0) s += len;
  if (e < 0) e += len;
  if (s < 0) s = 0;
  if (e < 0) e = 0;
  if (e >= len) e = len - 1;
  if (s > e || len == 0) return ctx.reply.bulk("");
  ctx.reply.bulk(data.substr(static_cast<size_t>(s), static_cast<size_t>(e - s + 1)));
}

// SETRANGE key offset value: overwrites the bytes at offset, zero-padding
// the string as needed, and replies with the new length. An empty value
// changes nothing (and creates nothing). The key keeps its TTL.
void setrange(Context& ctx, Args args) {
  auto offset = parse_integer(args[2]);
  if (!offset) return ctx.reply.error(offset.error());
  if (*offset < 0) return ctx.reply.error(error_text(resp::msg::kOffsetOutOfRange));
  const std::string_view value = args[3];
  auto v = ctx.txn->get(ctx.db, args[1], ctx.now_ms);
  if (!v) return ctx.fail(v.error());
  if (*v && wrong_type(ctx, **v)) return;
  const int64_t old_len = *v ? static_cast<int64_t>((*v)->data.size()) : 0;
  if (value.empty()) return ctx.reply.integer(old_len);
  if (auto fits = check_string_length(*offset, static_cast<int64_t>(value.size())); !fits)
    return ctx.reply.error(fits.error());
  if (auto fits = check_key_fits(args[1]); !fits) return ctx.reply.error(fits.error());
  std::string data;
  int64_t deadline = 0;
  if (*v) {
    data = (*v)->data;
    deadline = (*v)->deadline_ms;
  }
  const auto at = static_cast<size_t>(*offset);
  if (data.size() < at + value.size()) data.resize(at + value.size(), '\0');
  data.replace(at, value.size(), value);
  if (!store_string(ctx, args[1], data, deadline)) return;
  notify(ctx, kNotifyString, "setrange", args[1]);
  ctx.reply.integer(static_cast<int64_t>(data.size()));
}

// ===========================================================================
// INCRBYFLOAT

// Redis's string2ld: strtold over the whole argument, refusing a leading
// space, stray bytes, NaN and overflow or underflow to zero. Arguments of
// 5 KiB or more are refused, as Redis's buffer is that size.
std::optional<long double> parse_long_double(std::string_view s) {
  constexpr size_t kMaxChars = 5 * 1024;
  if (s.empty() || s.size() >= kMaxChars) return std::nullopt;
  char buf[kMaxChars];
  std::memcpy(buf, s.data(), s.size());
  buf[s.size()] = '\0';
  if (std::isspace(static_cast<unsigned char>(buf[0]))) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  const long double v = std::strtold(buf, &end);
  // Redis stops at the first NUL too: "1\0x" reads as 1.
  if (*end != '\0' || std::isnan(v)) return std::nullopt;
  if (errno == ERANGE && (std::isinf(v) || std::fpclassify(v) == FP_ZERO)) return std::nullopt;
  return v;
}

// Redis's human-friendly long double format (ld2string LD_STR_HUMAN): fixed
// point with 17 decimals, trailing zeros and a bare '.' trimmed, "-0" as
// "0". 10.5 + 0.1 gives "10.6", 5.0e3 gives "5000". Every finite long double
// fits the buffer (at most 4933 integer digits).
std::string format_long_double(long double v) {
  char buf[5 * 1024];
  int n = std::snprintf(buf, sizeof(buf), "%.17Lf", v);
  if (n < 0 || static_cast<size_t>(n) >= sizeof(buf)) return {};
  if (std::memchr(buf, '.', static_cast<size_t>(n)) != nullptr) {
    while (buf[n - 1] == '0') --n;
    if (buf[n - 1] == '.') --n;
  }
  if (n == 2 && buf[0] == '-' && buf[1] == '0') return "0";
  return std::string(buf, static_cast<size_t>(n));
}

// INCRBYFLOAT key increment: adds a float and replies with the result as a
// bulk string, keeping the TTL. The log records the resulting value (a SET
// of the formatted string), so replay never recomputes floating point.
void incrbyfloat(Context& ctx, Args args) {
  auto v = ctx.txn->get(ctx.db, args[1], ctx.now_ms);
  if (!v) return ctx.fail(v.error());
  long double current = 0;
  int64_t deadline = 0;
  if (*v) {
    if (wrong_type(ctx, **v)) return;
    auto n = parse_long_double((*v)->data);
    if (!n) return ctx.reply.error(error_text(resp::msg::kNotFloat));
    current = *n;
    deadline = (*v)->deadline_ms;
  }
  auto incr = parse_long_double(args[2]);
  if (!incr) return ctx.reply.error(error_text(resp::msg::kNotFloat));
  const long double result = current + *incr;
  if (std::isnan(result) || std::isinf(result))
    return ctx.reply.error(error_text(resp::msg::kNanOrInfinity));
  if (auto fits = check_key_fits(args[1]); !fits) return ctx.reply.error(fits.error());
  const std::string text = format_long_double(result);
  if (!store_string(ctx, args[1], text, deadline)) return;
  notify(ctx, kNotifyString, "incrbyfloat", args[1]);
  ctx.reply.bulk(text);
}

// ===========================================================================
// LCS

struct LcsOptions {
  bool len = false, idx = false, with_match_len = false;
  int64_t min_match_len = 0;
};

Result<LcsOptions> parse_lcs_options(Args args) {
  LcsOptions o;
  for (size_t i = 3; i < args.size(); ++i) {
    const std::string_view a = args[i];
    if (is_option(a, "IDX")) {
      o.idx = true;
    } else if (is_option(a, "LEN")) {
      o.len = true;
    } else if (is_option(a, "WITHMATCHLEN")) {
      o.with_match_len = true;
    } else if (is_option(a, "MINMATCHLEN") && i + 1 < args.size()) {
      auto n = parse_integer(args[++i]);
      if (!n) return n.error();
      o.min_match_len = *n < 0 ? 0 : *n;
    } else {
      return error_text(resp::msg::kSyntax);
    }
  }
  if (o.idx && o.len) return error_text(resp::msg::kLcsLenAndIdx);
  return o;
}

// One IDX match: inclusive byte ranges in each string.
struct LcsMatch {
  int64_t a_start, a_end, b_start, b_end;
};

// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN n] [WITHMATCHLEN]: the longest
// common subsequence of two strings (absent keys are empty), its length
// (LEN), or the matching ranges, last first, with the length (IDX).
// Dynamic programming over a (|a|+1) x (|b|+1) table, refused like Redis
// when the table would exceed proto-max-bulk-len. Ties while walking back
// move in `b` first, as Redis does, so the chosen subsequence is the same.
void lcs(Context& ctx, Args args) {
  std::string_view s[2];
  for (int k = 0; k < 2; ++k) {
    auto v = ctx.view->get(ctx.db, args[1 + k], ctx.now_ms);
    if (!v) return ctx.fail(v.error());
    if (*v && (*v)->type != store::Type::kString)
      return ctx.reply.error(error_text(resp::msg::kLcsNotString));
    if (*v) s[k] = (*v)->data;  // valid until the view ends
  }
  auto opts = parse_lcs_options(args);
  if (!opts) return ctx.reply.error(opts.error());
  const std::string_view a = s[0], b = s[1];
  const uint64_t cells = (uint64_t{a.size()} + 1) * (uint64_t{b.size()} + 1);
  if (cells * sizeof(uint32_t) > static_cast<uint64_t>(kMaxStringSize))
    return ctx.reply.error(error_text(resp::msg::kLcsTooBig));

  const size_t width = b.size() + 1;
  std::vector<uint32_t> table(cells, 0);
  auto at = [&](size_t i, size_t j) -> uint32_t& { return table[i * width + j]; };
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      at(i, j) = a[i - 1] == b[j - 1] ? at(i - 1, j - 1) + 1 : std::max(at(i - 1, j), at(i, j - 1));
    }
  }
  const uint32_t total = at(a.size(), b.size());
  if (opts->len) return ctx.reply.integer(total);

  // Walk back from the end, building the subsequence and the ranges of
  // consecutive matches. A range ends at a mismatch or at the start of
  // either string.
  std::string result(total, '\0');
  std::vector<LcsMatch> matches;
  size_t i = a.size(), j = b.size(), pos = total;
  bool open = false;
  LcsMatch cur{};
  auto emit = [&] {
    if (opts->min_match_len == 0 || cur.a_end - cur.a_start + 1 >= opts->min_match_len)
      matches.push_back(cur);
    open = false;
  };
  while (i > 0 && j > 0) {
    if (a[i - 1] == b[j - 1]) {
      result[--pos] = a[i - 1];
      const auto ai = static_cast<int64_t>(i - 1), bj = static_cast<int64_t>(j - 1);
      if (!open) {
        cur = {ai, ai, bj, bj};
        open = true;
      } else {
        cur.a_start = ai;
        cur.b_start = bj;
      }
      --i;
      --j;
      if (i == 0 || j == 0) emit();
    } else {
      if (at(i - 1, j) > at(i, j - 1)) {
        --i;
      } else {
        --j;
      }
      if (open) emit();
    }
  }
  if (!opts->idx) return ctx.reply.bulk(result);

  ctx.reply.map(2);
  ctx.reply.bulk("matches");
  ctx.reply.array(matches.size());
  for (const auto& m : matches) {
    ctx.reply.array(opts->with_match_len ? 3 : 2);
    ctx.reply.array(2);
    ctx.reply.integer(m.a_start);
    ctx.reply.integer(m.a_end);
    ctx.reply.array(2);
    ctx.reply.integer(m.b_start);
    ctx.reply.integer(m.b_end);
    if (opts->with_match_len) ctx.reply.integer(m.a_end - m.a_start + 1);
  }
  ctx.reply.bulk("len");
  ctx.reply.integer(total);
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
  r.add({.name = "GETSET",      .arity = 3,  .flags = kWrite | kDenyOom | kFast, .keys = {1, 1, 1}, .run = getset,      .group = "string", .summary = "Set the string value of a key and return its old value", .since = "1.0.0"});
  r.add({.name = "GETEX",       .arity = -2, .flags = kWrite | kFast,            .keys = {1, 1, 1}, .run = getex,       .group = "string", .summary = "Get the value of a key and optionally set its expiration", .since = "6.2.0"});
  r.add({.name = "GETRANGE",    .arity = 4,  .flags = kRead,                     .keys = {1, 1, 1}, .run = getrange,    .group = "string", .summary = "Get a substring of the string stored at a key", .since = "2.4.0"});
  r.add({.name = "SUBSTR",      .arity = 4,  .flags = kRead,                     .keys = {1, 1, 1}, .run = getrange,    .group = "string", .summary = "Get a substring of the string stored at a key", .since = "1.0.0"});
  r.add({.name = "SETRANGE",    .arity = 4,  .flags = kWrite | kDenyOom,         .keys = {1, 1, 1}, .run = setrange,    .group = "string", .summary = "Overwrite part of a string at key starting at the specified offset", .since = "2.2.0"});
  r.add({.name = "INCRBYFLOAT", .arity = 3,  .flags = kWrite | kDenyOom | kFast, .keys = {1, 1, 1}, .run = incrbyfloat, .group = "string", .summary = "Increment the float value of a key by the given amount", .since = "2.6.0"});
  r.add({.name = "LCS",         .arity = -3, .flags = kRead,                     .keys = {1, 2, 1}, .run = lcs,         .group = "string", .summary = "Find longest common substring", .since = "7.0.0"});
}
// clang-format on

}  // namespace lmkv::commands
