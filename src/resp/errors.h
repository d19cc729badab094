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
inline constexpr std::string_view kInvalidFirstDb = "invalid first DB index";  // SWAPDB
inline constexpr std::string_view kInvalidSecondDb = "invalid second DB index";
inline constexpr std::string_view kInvalidCursor = "invalid cursor";
inline constexpr std::string_view kNoAuth = "Authentication required.";
inline constexpr std::string_view kKeyTooLong = "key too long (lmkv keys are at most 510 bytes)";
// A write refused because the log or data.mdb cannot grow (-OOM), and
// the EXEC that held such writes (-EXECABORT, Redis's execCommandAbort form).
inline constexpr std::string_view kDiskFull =
    "command not allowed: the disk is full (lmkv cannot grow its log or data file)";
// ... because no descriptor is left to open the log's next segment.
inline constexpr std::string_view kNoDescriptors =
    "command not allowed: lmkv is out of file descriptors (it cannot open its next log file)";
inline constexpr std::string_view kExecAbortBecause = "Transaction discarded because of: ";
inline constexpr std::string_view kInvalidExpire = "invalid expire time in '{}' command";
// Keyspace commands (EXPIRE options, RENAME, COPY, MOVE, OBJECT).
inline constexpr std::string_view kExpireNxConflict =
    "NX and XX, GT or LT options at the same time are not compatible";
inline constexpr std::string_view kExpireGtLt =
    "GT and LT options at the same time are not compatible";
inline constexpr std::string_view kUnsupportedOption = "Unsupported option ";  // + the option
inline constexpr std::string_view kNoSuchKey = "no such key";
inline constexpr std::string_view kSameObject = "source and destination objects are the same";
inline constexpr std::string_view kIntOutOfRange =
    "value is out of range, value must between -2147483648 and 2147483647";
inline constexpr std::string_view kLfuNotSelected =
    "An LFU maxmemory policy is not selected, access frequency not tracked. Please note that "
    "when switching between policies at runtime LRU and LFU data will take some time to adjust.";
inline constexpr std::string_view kOverflow = "increment or decrement would overflow";
// A RESP2 client in the subscribed state ran another command; {} is its
// full name ("get", "client|id").
inline constexpr std::string_view kSubscribedContext =
    "Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are "
    "allowed in this context";
// Transactions (MULTI/EXEC/WATCH).
inline constexpr std::string_view kMultiNested = "MULTI calls can not be nested";
inline constexpr std::string_view kExecWithoutMulti = "EXEC without MULTI";
inline constexpr std::string_view kDiscardWithoutMulti = "DISCARD without MULTI";
inline constexpr std::string_view kWatchInMulti = "WATCH inside MULTI is not allowed";
inline constexpr std::string_view kNotAllowedInMulti = "Command not allowed inside a transaction";
inline constexpr std::string_view kExecAbort = "Transaction discarded because of previous errors.";
// String and bitmap commands (SETRANGE, INCRBYFLOAT, LCS, SETBIT, BITPOS, BITOP).
inline constexpr std::string_view kOffsetOutOfRange = "offset is out of range";
inline constexpr std::string_view kStringTooLong =
    "string exceeds maximum allowed size (proto-max-bulk-len)";
inline constexpr std::string_view kNanOrInfinity = "increment would produce NaN or Infinity";
inline constexpr std::string_view kLcsLenAndIdx =
    "If you want both the length and indexes, please just use IDX.";
inline constexpr std::string_view kLcsNotString = "The specified keys must contain string values";
inline constexpr std::string_view kLcsTooBig =
    "Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len";
inline constexpr std::string_view kBitOffset = "bit offset is not an integer or out of range";
inline constexpr std::string_view kBitValue = "bit is not an integer or out of range";
inline constexpr std::string_view kBitArgument = "The bit argument must be 1 or 0.";
inline constexpr std::string_view kBitopNot = "BITOP NOT must be called with a single source key.";
inline constexpr std::string_view kBitfieldType =
    "Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";
inline constexpr std::string_view kBitfieldOverflow = "Invalid OVERFLOW type specified";
inline constexpr std::string_view kBitfieldRoOnlyGet = "BITFIELD_RO only supports the GET subcommand";
// SAVE, BGSAVE (issue 6).
inline constexpr std::string_view kBgsaveInProgress = "Background save already in progress";
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
