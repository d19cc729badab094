// tests/fuzz/resp_parser_fuzz.cc: libFuzzer target for resp::RequestParser.
//
// Input layout: byte 0 chooses the limits (bit 0: small limits, so the
// limit errors are reachable with short inputs) and seeds the split
// pattern (bits 1-7); the remaining bytes are what a client sent.
//
// The bytes are fed as a connection does: appended chunk by chunk, parsed
// until the parser needs more, consumed bytes dropped from the front. Every
// call gets a fresh heap copy of exactly the unconsumed bytes, so a read
// past `len` is an ASan report, and a parser that kept a pointer into an
// earlier buffer reads freed memory. Checked on every call:
//   - consumed <= len; consumed > 0 exactly for kCommand and kEmpty;
//   - kNeedMore's hint is 0 or more than len;
//   - kError carries a "Protocol error: " text and every later call, with
//     or without more bytes, is kError again;
//   - the commands, errors and leftovers do not depend on the splits: the
//     same bytes fed in one piece give the same outcome (parser.h promises
//     split independence, and the unit tests check it on fixtures).
// Test-only; single-threaded.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "resp/parser.h"

namespace {

using lmkv::resp::ParserLimits;
using lmkv::resp::RequestParser;
using Status = RequestParser::Status;

// Reports a broken invariant and aborts, which libFuzzer records as a crash.
[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "resp_parser_fuzz: invariant broken: %s\n", what);
  std::abort();
}

#define CHECK(cond)           \
  do {                        \
    if (!(cond)) fail(#cond); \
  } while (0)

struct Outcome {
  std::vector<std::vector<std::string>> commands;  // an empty one is a kEmpty result
  std::string error;                               // empty when there was none
  size_t leftover = 0;                             // unconsumed bytes at the end
};

// A small deterministic generator for the chunk sizes (xorshift32).
class Splits {
 public:
  explicit Splits(uint32_t seed) : state_(seed * 2654435761u + 1) {}
  // The next chunk size, 1 .. left: single bytes, short runs and large
  // pieces, so both the byte-at-a-time and the whole-request paths run.
  size_t next(size_t left) {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 17;
    state_ ^= state_ << 5;
    size_t n = 1;
    switch (state_ % 4) {
      case 0:
        n = 1;
        break;
      case 1:
        n = 1 + (state_ >> 8) % 4;
        break;
      case 2:
        n = 1 + (state_ >> 8) % 32;
        break;
      default:
        n = left;
        break;
    }
    return n < left ? n : left;
  }

 private:
  uint32_t state_;
};

// One parse() call on an exact-size heap copy of `pending`, which *copy
// owns afterwards (the args view into it until the next call frees it).
Status parse_copy(RequestParser& parser, const std::string& pending, size_t* consumed,
                  std::unique_ptr<char[]>* copy_out) {
  const size_t len = pending.size();
  std::unique_ptr<char[]>& copy = *copy_out;
  copy.reset(new char[len == 0 ? 1 : len]);
  if (len > 0) std::memcpy(copy.get(), pending.data(), len);
  // A zero-length input must not be read at all: hand over a pointer with
  // nothing readable behind it when len is 0.
  const char* data = len == 0 ? copy.get() + 1 : copy.get();
  *consumed = ~size_t{0};
  const Status status = parser.parse(data, len, consumed);
  CHECK(*consumed <= len);
  switch (status) {
    case Status::kCommand:
      CHECK(*consumed > 0);
      CHECK(!parser.args().empty());
      break;
    case Status::kEmpty:
      CHECK(*consumed > 0);
      CHECK(parser.args().empty());
      break;
    case Status::kNeedMore:
      CHECK(*consumed == 0);
      CHECK(parser.hint() == 0 || parser.hint() > len);
      break;
    case Status::kError:
      CHECK(*consumed == 0);
      CHECK(parser.error().rfind("Protocol error: ", 0) == 0);
      break;
  }
  if (status == Status::kCommand) {
    // Touch every argument byte: a view into freed or foreign memory is an
    // ASan report here rather than a silent copy later.
    for (std::string_view arg : parser.args()) {
      volatile unsigned sum = 0;
      for (char c : arg) sum = sum + static_cast<unsigned char>(c);
      (void)sum;
    }
  }
  return status;
}

// Feeds `input` in the chunks `splits` chooses (whole when splits is null).
Outcome feed(std::string_view input, const ParserLimits& limits, Splits* splits) {
  RequestParser parser(limits);
  Outcome out;
  std::string pending;
  std::unique_ptr<char[]> buffer;  // what the parser saw last; args() view into it
  size_t off = 0;
  while (off < input.size()) {
    const size_t n = splits ? splits->next(input.size() - off) : input.size() - off;
    pending.append(input.substr(off, n));
    off += n;
    // Each kCommand/kEmpty consumes at least one byte, so this ends.
    while (true) {
      size_t consumed = 0;
      const Status status = parse_copy(parser, pending, &consumed, &buffer);
      if (status == Status::kNeedMore) break;
      if (status == Status::kError) {
        out.error = parser.error();
        // The parser stays failed, with the same text, whatever follows.
        size_t again = 0;
        CHECK(parse_copy(parser, pending, &again, &buffer) == Status::kError);
        pending.append("*1\r\n$4\r\nPING\r\n");
        CHECK(parse_copy(parser, pending, &again, &buffer) == Status::kError);
        CHECK(parser.error() == out.error);
        out.leftover = 0;  // the connection closes; the unread bytes do not matter
        return out;
      }
      std::vector<std::string> command;
      if (status == Status::kCommand) {
        for (std::string_view arg : parser.args()) command.emplace_back(arg);
      }
      out.commands.push_back(std::move(command));
      pending.erase(0, consumed);
    }
  }
  out.leftover = pending.size();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  ParserLimits limits;
  if (data[0] & 1) {
    limits.max_bulk_len = 64;
    limits.max_multibulk_len = 8;
    limits.max_inline_len = 32;
  }
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);

  Splits splits(data[0] >> 1);
  const Outcome split = feed(input, limits, &splits);
  const Outcome whole = feed(input, limits, nullptr);
  CHECK(split.commands == whole.commands);
  CHECK(split.error == whole.error);
  CHECK(split.leftover == whole.leftover);
  return 0;
}
