// tests/fuzz/dispatcher_fuzz.cc: libFuzzer target for commands::Dispatcher
// and every registered command family.
//
// Input layout: lines separated by '\n' are commands; within a line,
// arguments are separated by single spaces, so an argument can hold any
// byte but ' ' and '\n' (binary keys and values included), and "a  b" has
// an empty argument between a and b. At most kMaxCommands commands with at
// most kMaxArgs arguments each run per input, which bounds the work.
//
// Each input runs against a fresh CommandFixture (tests/unit/commands/
// harness.h): a new store::Engine in its own temp directory, the real
// Registry and Dispatcher, a fake ServerApi and a writer that commits each
// write at once. So a crash reproduces from its input file alone.
//
// Checked for every command: the outcome is kDone, kSubmitted or kClose
// (kWait cannot happen, since writes complete synchronously), and the
// bytes written are exactly one well-formed RESP2/RESP3 reply (none only for
// a kClose: a successful SHUTDOWN). kClose (QUIT, SHUTDOWN) ends the input,
// as the connection would close.
// Test-only; single-threaded.
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "harness.h"

namespace {

using lmkv::commands::Outcome;
using lmkv::commands::testing::CommandFixture;

constexpr size_t kMaxCommands = 32;
constexpr size_t kMaxArgs = 64;
constexpr int kMaxDepth = 32;  // nesting of aggregate replies

[[noreturn]] void fail(const char* what, std::string_view command, std::string_view reply) {
  std::fprintf(stderr, "dispatcher_fuzz: invariant broken: %s\ncommand: %.*s\nreply: %.*s\n", what,
               static_cast<int>(command.size()), command.data(), static_cast<int>(reply.size()),
               reply.data());
  std::abort();
}

// Reads the line starting at *pos up to CRLF; false when there is none or
// it holds a bare CR or LF.
bool read_line(std::string_view r, size_t* pos, std::string_view* line) {
  const size_t eol = r.find("\r\n", *pos);
  if (eol == std::string_view::npos) return false;
  *line = r.substr(*pos, eol - *pos);
  *pos = eol + 2;
  return line->find_first_of("\r\n") == std::string_view::npos;
}

// A decimal 64-bit integer as RESP writes it: optional '-', digits only.
bool parse_int(std::string_view s, int64_t* v) {
  const char* end = s.data() + s.size();
  const auto [ptr, ec] = std::from_chars(s.data(), end, *v);
  return ec == std::errc() && ptr == end && !s.empty();
}

// Checks one reply starting at *pos and moves *pos past it. Accepts the
// RESP2 types and the RESP3 ones ReplyWriter can write.
bool valid_reply(std::string_view r, size_t* pos, int depth) {
  if (depth > kMaxDepth || *pos >= r.size()) return false;
  const char type = r[(*pos)++];
  std::string_view line;
  if (!read_line(r, pos, &line)) return false;
  int64_t n = 0;
  switch (type) {
    case '+':
    case '-':
      return true;
    case ',':  // a double; ReplyWriter never writes an empty one
      return !line.empty();
    case ':':
      return parse_int(line, &n);
    case '_':
      return line.empty();
    case '#':
      return line == "t" || line == "f";
    case '$':
    case '=': {
      if (!parse_int(line, &n)) return false;
      if (n == -1 && type == '$') return true;
      if (n < 0 || static_cast<uint64_t>(n) > r.size() - *pos) return false;
      const size_t end = *pos + static_cast<size_t>(n);
      if (type == '=' && (n < 4 || r[*pos + 3] != ':')) return false;  // "txt:..."
      if (r.substr(end, 2) != "\r\n") return false;
      *pos = end + 2;
      return true;
    }
    case '*':
    case '~':
    case '>':
    case '%': {
      if (!parse_int(line, &n)) return false;
      if (n == -1 && type == '*') return true;
      if (n < 0 || static_cast<uint64_t>(n) > r.size()) return false;
      const int64_t items = type == '%' ? 2 * n : n;
      for (int64_t i = 0; i < items; ++i) {
        if (!valid_reply(r, pos, depth + 1)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

// Splits the input into commands of argument views into `data`.
std::vector<std::vector<std::string_view>> split_commands(std::string_view data) {
  std::vector<std::vector<std::string_view>> commands;
  size_t start = 0;
  while (start < data.size() && commands.size() < kMaxCommands) {
    size_t end = data.find('\n', start);
    if (end == std::string_view::npos) end = data.size();
    const std::string_view line = data.substr(start, end - start);
    start = end + 1;
    if (line.empty()) continue;  // a blank line is no command, as with inline requests
    std::vector<std::string_view> args;
    size_t a = 0;
    while (args.size() < kMaxArgs) {
      const size_t sp = line.find(' ', a);
      if (sp == std::string_view::npos) {
        args.push_back(line.substr(a));
        break;
      }
      args.push_back(line.substr(a, sp - a));
      a = sp + 1;
    }
    commands.push_back(std::move(args));
  }
  return commands;
}

std::string join(const std::vector<std::string_view>& args) {
  std::string s;
  for (std::string_view a : args) (s += a) += ' ';
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto commands = split_commands(std::string_view(reinterpret_cast<const char*>(data), size));
  if (commands.empty()) return 0;
  CommandFixture fixture;
  for (const auto& args : commands) {
    const std::string reply = fixture.run_on(*fixture.session, args);
    const Outcome outcome = fixture.last_outcome;
    if (outcome == Outcome::kWait) fail("kWait with no write in flight", join(args), reply);
    if (fixture.session->pending_writes != 0) fail("pending_writes not 0", join(args), reply);
    // A successful SHUTDOWN closes the connection without a reply, as Redis does.
    if (outcome == Outcome::kClose && reply.empty()) break;
    size_t pos = 0;
    if (!valid_reply(reply, &pos, 0)) fail("malformed reply", join(args), reply);
    if (pos != reply.size()) fail("more than one reply", join(args), reply);
    if (outcome == Outcome::kClose) break;
  }
  return 0;
}
