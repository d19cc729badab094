// base/numbers.h: strict number parsing and formatting with Redis's rules
// (string2ll / string2ld): no spaces, no leading '+', no leading zeros but
// "0", the whole string must be the number. Pure functions, any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lmkv {

// Parses a signed 64-bit integer as Redis does; nullopt on any stray byte
// or overflow.
std::optional<int64_t> parse_i64(std::string_view s);

// Parses an unsigned 64-bit integer (SCAN cursors); same strictness.
std::optional<uint64_t> parse_u64(std::string_view s);

// Parses a finite or infinite double as Redis's string2ld does: no spaces,
// no NaN; nullopt otherwise.
std::optional<double> parse_double(std::string_view s);

// Formats a double the way Redis replies with it (%.17g, "inf", "-inf").
std::string format_double(double d);

// ASCII case-insensitive equality for command names and options.
bool iequals(std::string_view a, std::string_view b);

// ASCII lower-case copy.
std::string to_lower(std::string_view s);

}  // namespace lmkv
