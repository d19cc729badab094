// resp/errors.h: Redis's exact error texts as named constants, and the one
// table mapping each Code to its wire prefix. Clients and test suites match
// on these strings, so they are Redis 7's, byte for byte.
// No libuv, no LMDB; pure data, any thread.
#pragma once

#include <string>
#include <span>
#include <string_view>

#include "base/error.h"

namespace lmkv::resp {

// The prefix sent before an error's message: "ERR", "WRONGTYPE", ...
std::string_view prefix(Code code);

// Replaces '\r' and '\n' with spaces, for user text echoed inside an error.
std::string sanitize(std::string_view text);

namespace msg {
inline constexpr std::string_view kSyntax = "syntax error";
inline constexpr std::string_view kNotInteger = "value is not an integer or out of range";
inline constexpr std::string_view kNotFloat = "value is not a valid float";
inline constexpr std::string_view kWrongType =
    "Operation against a key holding the wrong kind of value";
inline constexpr std::string_view kDbIndexOutOfRange = "DB index is out of range";
inline constexpr std::string_view kInvalidCursor = "invalid cursor";
inline constexpr std::string_view kNoAuth = "Authentication required.";
inline constexpr std::string_view kKeyTooLong = "key too long (lmkv keys are at most 510 bytes)";
inline constexpr std::string_view kInvalidExpire = "invalid expire time in '{}' command";
inline constexpr std::string_view kOverflow = "increment or decrement would overflow";
}  // namespace msg

// "unknown command 'foo', with args beginning with: 'a' 'b' " (Redis 7).
Error unknown_command(std::string_view name, std::span<const std::string_view> args);
// "unknown subcommand 'x'. Try CLIENT HELP."
Error unknown_subcommand(std::string_view command, std::string_view sub);
// "wrong number of arguments for 'get' command" (name lower-cased as given,
// "client|setname" for subcommands).
Error wrong_arity(std::string_view name);
// "invalid expire time in 'set' command".
Error invalid_expire(std::string_view command);

}  // namespace lmkv::resp
