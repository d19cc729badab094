// resp/parser.h: the incremental request parser (RESP2 multibulk and
// inline commands), zero-copy.
//
// Trust boundary: its input is raw bytes from the network. Every length is
// checked against the limits before it is used; a malformed request yields
// kError, and error() holds the whole text to send after "-ERR ", e.g.
// "Protocol error: invalid bulk length"; the connection must then be closed
// (the parser stays in the error state). It never reads past `len`.
//
// No libuv, no LMDB. One parser per connection, used by that connection's
// loop only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lmkv::resp {

struct ParserLimits {
  int64_t max_bulk_len = 512LL * 1024 * 1024;  // proto-max-bulk-len
  int64_t max_multibulk_len = 1024 * 1024;     // arguments per command
  size_t max_inline_len = 64 * 1024;           // PROTO_INLINE_MAX_SIZE
};

class RequestParser {
 public:
  enum class Status {
    kNeedMore,  // no complete command yet; call again with more bytes
    kCommand,   // args() holds one command; `consumed` bytes belong to it
    kEmpty,     // a blank inline line or "*0\r\n" was consumed; no command
    kError,     // protocol error; error() says what; close the connection
  };

  explicit RequestParser(ParserLimits limits = {}) : limits_(limits) {}

  // Parses at most one command from data[0, len). The request starts at
  // data[0]; the caller keeps the same unconsumed bytes at the front of the
  // buffer between calls (it may move the buffer: progress is kept as
  // offsets), only ever appending. On kCommand/kEmpty, `consumed` is the
  // command's size in bytes and args() view into `data` until the caller
  // discards those bytes. On kNeedMore, `hint` is how many bytes in total
  // the caller should make room for (large bulks), or 0.
  Status parse(const char* data, size_t len, size_t* consumed);

  const std::vector<std::string_view>& args() const { return args_; }
  const std::string& error() const { return error_; }
  // Total bytes the partial request is known to need (for reserving).
  size_t hint() const { return hint_; }
  void set_limits(const ParserLimits& limits) { limits_ = limits; }

 private:
  Status parse_inline(const char* data, size_t len, size_t* consumed);
  Status parse_multibulk(const char* data, size_t len, size_t* consumed);
  Status fail(std::string message);
  void reset();
  enum class HeaderStatus { kPartial, kFound, kTooBig };
  HeaderStatus find_header_end(const char* data, size_t len, size_t* cr);
  // The count of the header line at pos_ ("*<n>" or "$<n>"), its digits
  // from `start`: the common form in one pass, else the general path.
  // kFound sets *n and *next (the offset after its "\r\n").
  enum class CountStatus { kFound, kPartial, kTooBig, kInvalid };
  CountStatus read_count(const char* data, size_t len, size_t start, int64_t* n, size_t* next);
  bool read_header(const char* data, size_t len, std::string_view too_big,
                   std::string_view invalid, int64_t* n, size_t* next, Status* st);

  ParserLimits limits_;
  std::vector<std::string_view> args_;
  // Progress through a partial multibulk request, as offsets from its start.
  struct Span { size_t offset, len; };
  std::vector<Span> spans_;
  int64_t argc_ = -1;  // declared argument count; -1 before the header
  size_t pos_ = 0;     // where parsing resumes
  int64_t bulk_len_ = -1;  // declared length of the current bulk; -1 before its header
  size_t hint_ = 0;
  size_t scan_ = 0;  // where the search for the current line's end resumes
  std::string error_;
  std::vector<std::string> inline_args_;  // inline commands own their unquoted args
};

}  // namespace lmkv::resp
