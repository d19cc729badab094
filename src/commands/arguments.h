// commands/arguments.h: argument parsing shared by several command
// families (integers, counts, DB indexes, expire options, key lengths), so
// each Redis error text is produced in one place. Also the few Redis error
// texts that resp/errors.h does not carry.
// Pure functions of their arguments: no store, no replies; any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "base/error.h"
#include "commands/context.h"

namespace lmkv::commands {

namespace msg {
// DECRBY key -9223372036854775808 (Redis 7's decrbyCommand).
inline constexpr std::string_view kDecrementOverflow = "decrement would overflow";
// ZRANGEBYLEX's text, reused by RANGE for a bound that is not "[k", "(k", "-" or "+".
inline constexpr std::string_view kBadRangeItem = "min or max not valid string range item";
// RANGE ... LIMIT with a negative count (lmkv's own command).
inline constexpr std::string_view kRangeLimitNegative = "LIMIT can't be negative";
// RANGE ... LIMIT above the configured cap; followed by " (<cap>)".
inline constexpr std::string_view kRangeLimitTooBig = "LIMIT exceeds range-max-limit";
}  // namespace msg

// An Error with Redis's "ERR" prefix and the given text.
Error error_text(std::string_view text);

// True when `arg` is the option `name`, ignoring ASCII case.
bool is_option(std::string_view arg, std::string_view name);

// Whether INFO's (lower-case) section arguments ask for section `name`, as
// Redis reads them: none or "default" mean every section but commandstats,
// "all" and "everything" every one.
bool info_section_wanted(std::span<const std::string> sections, std::string_view name);

// A signed 64-bit integer argument; "value is not an integer or out of range".
Result<int64_t> parse_integer(std::string_view s);

// A count that must be at least 1 (SCAN COUNT): a non-integer gets "value is
// not an integer or out of range", a count below 1 "syntax error" (Redis).
Result<int64_t> parse_positive_count(std::string_view s);

// A database index for SELECT/MOVE/SWAPDB: "value is not an integer or out of
// range", then "DB index is out of range" outside [0, databases).
Result<int> parse_db_index(std::string_view s, int databases);

// ---------------------------------------------------------------------------
// Expire options (SET's EX|PX|EXAT|PXAT|KEEPTTL; GETEX would share them).

struct ExpireOption {
  enum class Kind { kNone, kEx, kPx, kExAt, kPxAt, kKeepTtl };
  Kind kind = Kind::kNone;
  std::string_view value;  // the number after EX/PX/EXAT/PXAT, still unparsed
};

// Tries to read an expire option at args[*i]. Returns false if args[*i] is
// not one (the caller tries its other options). Otherwise consumes it (and
// its value) into *opt, advancing *i past it, and returns true; a
// conflicting or valueless option sets *syntax_error instead. Redis allows
// repeating the same option (the last value wins) but not mixing two.
bool parse_expire_option(Args args, size_t* i, ExpireOption* opt, bool* syntax_error);

// The absolute deadline in Unix ms that `opt` (kEx..kPxAt) names at time
// `now_ms`. Errors as Redis: "value is not an integer or out of range", then
// "invalid expire time in '<command>' command" for a value <= 0 or one that
// overflows once scaled to ms or made absolute.
Result<int64_t> expire_deadline(const ExpireOption& opt, int64_t now_ms, std::string_view command);

// The same for SETEX/PSETEX-style relative values in seconds or ms.
Result<int64_t> relative_deadline(std::string_view value, bool seconds, int64_t now_ms,
                                  std::string_view command);

// ---------------------------------------------------------------------------
// Keys.

// The kKeyTooLong error when `key` cannot be stored.
Status check_key_fits(std::string_view key);

// Checks that every key args[first], args[first+step], ... fits the store;
// the kKeyTooLong error otherwise. Writes that create keys call it first.
Status check_keys_fit(Args args, size_t first, size_t step);

// The smallest key greater than every key starting with `prefix`, or ""
// when there is none (prefix empty or all 0xff): the exclusive end of a
// prefix scan.
std::string prefix_end(std::string_view prefix);

}  // namespace lmkv::commands
