#include "resp/errors.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

#include "base/numbers.h"

namespace lmkv::resp {
namespace {

// Redis truncates echoed names and argument lists at 128 bytes ("%.128s").
constexpr size_t kEchoMax = 128;

// The single Code -> prefix table (STYLE.md §3); indexed by the enum value.
constexpr std::array<std::pair<Code, std::string_view>, 13> kPrefixes = {{
    {Code::kErr, "ERR"},
    {Code::kWrongType, "WRONGTYPE"},
    {Code::kNoAuth, "NOAUTH"},
    {Code::kWrongPass, "WRONGPASS"},
    {Code::kNoPerm, "NOPERM"},
    {Code::kReadOnly, "READONLY"},
    {Code::kLoading, "LOADING"},
    {Code::kMasterDown, "MASTERDOWN"},
    {Code::kExecAbort, "EXECABORT"},
    {Code::kOom, "OOM"},
    {Code::kNoReplicas, "NOREPLICAS"},
    {Code::kBusyKey, "BUSYKEY"},
    {Code::kNoProto, "NOPROTO"},
}};

// The table is written in enum order, so a lookup is an index; this keeps
// the two from drifting apart silently.
constexpr bool prefixes_in_enum_order() {
  for (size_t i = 0; i < kPrefixes.size(); ++i)
    if (static_cast<size_t>(kPrefixes[i].first) != i) return false;
  return true;
}
static_assert(prefixes_in_enum_order());

// Redis formats echoed user text with "%.*s", which also stops at a NUL byte.
std::string_view truncated(std::string_view s, size_t max) {
  return s.substr(0, std::min(max, s.find('\0')));
}

}  // namespace

std::string_view prefix(Code code) {
  const auto i = static_cast<size_t>(code);
  return i < kPrefixes.size() ? kPrefixes[i].second : "ERR";
}

std::string sanitize(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (c == '\r' || c == '\n') c = ' ';
  return out;
}

// Redis lists arguments while the list is shorter than 128 bytes, cutting
// the last one so the list stops at 128 bytes (before its closing "' ").
Error unknown_command(std::string_view name, std::span<const std::string_view> args) {
  std::string listed;
  for (size_t i = 1; i < args.size() && listed.size() < kEchoMax; ++i) {
    listed += '\'';
    listed += truncated(args[i], kEchoMax - listed.size() + 1);
    listed += "' ";
  }
  std::string message = "unknown command '";
  message += truncated(name, kEchoMax);
  message += "', with args beginning with: ";
  message += listed;
  return Error{Code::kErr, sanitize(message)};
}

// The command is upper-cased in the "Try X HELP." hint, as Redis does.
Error unknown_subcommand(std::string_view command, std::string_view sub) {
  std::string upper(truncated(command, command.size()));
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::string message = "unknown subcommand '";
  message += truncated(sub, kEchoMax);
  message += "'. Try ";
  message += upper;
  message += " HELP.";
  return Error{Code::kErr, sanitize(message)};
}

Error wrong_arity(std::string_view name) {
  return Error{Code::kErr,
               "wrong number of arguments for '" + sanitize(to_lower(name)) + "' command"};
}

Error invalid_expire(std::string_view command) {
  return Error{Code::kErr, "invalid expire time in '" + sanitize(to_lower(command)) + "' command"};
}

}  // namespace lmkv::resp
