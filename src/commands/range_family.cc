// commands/range_family.cc: RANGE, lmkv's ordered range read (DESIGN.md
// "The user's operations").
//
//   RANGE min max [LIMIT count] [REV] [KEYSONLY]
//
// Bounds use ZRANGEBYLEX's grammar: "[key" inclusive, "(key" exclusive, "-"
// and "+" the ends of the keyspace; with REV the first bound is the max, as
// in ZREVRANGEBYLEX. The reply is a flat array k1 v1 k2 v2 ... (keys only
// with KEYSONLY) in byte order, descending with REV. A page holds at most
// LIMIT entries (default range-default-limit, at most range-max-limit), so
// one call never runs unbounded; clients page on with "(lastkey".
// Runs on the loop against ctx.view.

#include <cstdint>
#include <string>
#include <vector>

#include "commands/arguments.h"
#include "commands/registry.h"
#include "resp/errors.h"

namespace lmkv::commands {
namespace {

using store::Bound;

struct RangeOptions {
  int64_t limit = 0;
  bool rev = false;
  bool keys_only = false;
};

// Parses the options after the bounds, in any order and any case. LIMIT's
// count must be 0..range-max-limit: a larger one is refused rather than
// clamped, so a client never mistakes a short page for the end.
Result<RangeOptions> parse_range_options(Args args, int64_t default_limit, int64_t max_limit) {
  RangeOptions o{.limit = default_limit};
  for (size_t i = 3; i < args.size(); ++i) {
    if (is_option(args[i], "REV")) {
      o.rev = true;
    } else if (is_option(args[i], "KEYSONLY")) {
      o.keys_only = true;
    } else if (is_option(args[i], "LIMIT") && i + 1 < args.size()) {
      auto limit = parse_integer(args[++i]);
      if (!limit) return limit.error();
      if (*limit < 0) return error_text(msg::kRangeLimitNegative);
      if (*limit > max_limit)
        return err(std::string(msg::kRangeLimitTooBig) + " (" + std::to_string(max_limit) + ")");
      o.limit = *limit;
    } else {
      return error_text(resp::msg::kSyntax);
    }
  }
  return o;
}

// One parsed bound. `empty` marks "+" as the lower or "-" as the upper
// bound, which no key can satisfy (ZRANGEBYLEX replies empty too).
struct RangeBound {
  Bound bound;
  bool empty = false;
};

// Parses "[key", "(key", "-" or "+" as the lower (`is_min`) or upper bound.
Result<RangeBound> parse_bound(std::string_view s, bool is_min) {
  if (s == "-") return RangeBound{Bound::unbounded(), !is_min};
  if (s == "+") return RangeBound{Bound::unbounded(), is_min};
  if (!s.empty() && (s[0] == '[' || s[0] == '('))
    return RangeBound{Bound::at(s.substr(1), s[0] == '['), false};
  return error_text(msg::kBadRangeItem);
}

// True when no key lies between `lo` and `hi`.
bool empty_range(const RangeBound& lo, const RangeBound& hi) {
  if (lo.empty || hi.empty) return true;
  if (lo.bound.infinite || hi.bound.infinite) return false;
  const int c = lo.bound.key.compare(hi.bound.key);
  return c > 0 || (c == 0 && !(lo.bound.inclusive && hi.bound.inclusive));
}

// RANGE min max [LIMIT count] [REV] [KEYSONLY] (see the file comment).
void range(Context& ctx, Args args) {
  auto opts =
      parse_range_options(args, ctx.server.range_default_limit(), ctx.server.range_max_limit());
  if (!opts) return ctx.reply.error(opts.error());
  auto lo = parse_bound(opts->rev ? args[2] : args[1], true);
  auto hi = parse_bound(opts->rev ? args[1] : args[2], false);
  if (!lo) return ctx.reply.error(lo.error());
  if (!hi) return ctx.reply.error(hi.error());

  std::vector<std::string_view> items;  // views valid until the view ends
  if (opts->limit > 0 && !empty_range(*lo, *hi)) {
    const auto limit = static_cast<size_t>(opts->limit);
    const size_t per_entry = opts->keys_only ? 1 : 2;
    auto walked = ctx.view->scan(ctx.db, lo->bound, hi->bound, opts->rev, ctx.now_ms,
                                 [&](std::string_view key, const store::ValueView& v) {
                                   items.push_back(key);
                                   if (!opts->keys_only) items.push_back(v.data);
                                   return items.size() < limit * per_entry;
                                 });
    if (!walked) return ctx.fail(walked.error());
  }
  ctx.reply.bulks(items);
}

}  // namespace

// clang-format off
void register_range_family(Registry& r) {
  r.add({.name = "RANGE", .arity = -3, .flags = kRead, .keys = {}, .run = range, .group = "generic", .summary = "Return keys and values in a lexicographical key range, in order", .since = "0.1.0"});
}
// clang-format on

}  // namespace lmkv::commands
