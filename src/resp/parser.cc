#include "resp/parser.h"

#include <algorithm>
#include <climits>
#include <cstring>

#include "base/numbers.h"

namespace lmkv::resp {
namespace {

// Error texts, without the "ERR " prefix the connection adds. Redis's where
// Redis has one; Redis does not check the CRLF after a bulk at all.
constexpr std::string_view kInvalidMultibulkLength = "Protocol error: invalid multibulk length";
constexpr std::string_view kInvalidBulkLength = "Protocol error: invalid bulk length";
constexpr std::string_view kTooBigMbulkCount = "Protocol error: too big mbulk count string";
constexpr std::string_view kTooBigBulkCount = "Protocol error: too big bulk count string";
constexpr std::string_view kTooBigInline = "Protocol error: too big inline request";
constexpr std::string_view kUnbalancedQuotes = "Protocol error: unbalanced quotes in request";
constexpr std::string_view kMissingBulkCrlf = "Protocol error: expected CRLF after bulk data";

// A declared count only bounds the request; never preallocate more than
// this for it, or a 12-byte header could reserve megabytes (Redis caps too).
constexpr size_t kMaxPrealloc = 1024;

// C's isspace in the "C" locale, which Redis's sdssplitargs uses.
bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The character a backslash escape stands for inside "double quotes".
char unescape(char c) {
  switch (c) {
    case 'n':
      return '\n';
    case 'r':
      return '\r';
    case 't':
      return '\t';
    case 'b':
      return '\b';
    case 'a':
      return '\a';
    default:
      return c;  // \\, \" and any other escaped byte stand for themselves
  }
}

// One inline argument: a view into the line, or (owned) an index into the
// parser's inline_args_ for arguments that needed unquoting.
struct InlinePiece {
  size_t offset;
  size_t len;
  bool owned;
};

// Splits an inline line into arguments with Redis's sdssplitargs rules:
// whitespace separates arguments; "double quotes" understand \n \r \t \b \a,
// \xHH and \<any>; 'single quotes' understand only \'; a closing quote must
// be followed by whitespace or the end of the line. The line holds no NUL
// (see parse_inline), so reading '\0' at `end` stands for the end of the C
// string sdssplitargs reads. Returns false on unbalanced quotes.
bool split_inline(const char* line, size_t end, std::vector<InlinePiece>* pieces,
                  std::vector<std::string>* owned) {
  size_t p = 0;
  while (true) {
    while (p < end && is_space(line[p])) ++p;
    if (p >= end) return true;

    const size_t start = p;
    bool in_double = false, in_single = false, done = false, is_owned = false;
    size_t plain_end = 0;
    std::string cur;
    while (!done) {
      const char c = p < end ? line[p] : '\0';
      if (in_double) {
        if (c == '\\' && p + 3 < end && line[p + 1] == 'x' && hex_value(line[p + 2]) >= 0 &&
            hex_value(line[p + 3]) >= 0) {
          cur += static_cast<char>(hex_value(line[p + 2]) * 16 + hex_value(line[p + 3]));
          p += 3;
        } else if (c == '\\' && p + 1 < end) {
          cur += unescape(line[++p]);
        } else if (c == '"') {
          if (p + 1 < end && !is_space(line[p + 1])) return false;
          done = true;
        } else if (p >= end) {
          return false;
        } else {
          cur += c;
        }
      } else if (in_single) {
        if (c == '\\' && p + 1 < end && line[p + 1] == '\'') {
          ++p;
          cur += '\'';
        } else if (c == '\'') {
          if (p + 1 < end && !is_space(line[p + 1])) return false;
          done = true;
        } else if (p >= end) {
          return false;
        } else {
          cur += c;
        }
      } else {
        switch (c) {
          case ' ':
          case '\n':
          case '\r':
          case '\t':
          case '\0':
            plain_end = p;
            done = true;
            break;
          case '"':
          case '\'':
            // A quote inside a word continues it: foo"bar" is "foobar".
            if (!is_owned) cur.assign(line + start, p - start);
            is_owned = true;
            (c == '"' ? in_double : in_single) = true;
            break;
          default:
            if (is_owned) cur += c;
            break;
        }
      }
      if (p < end) ++p;
    }
    if (is_owned) {
      pieces->push_back({owned->size(), 0, true});
      owned->push_back(std::move(cur));
    } else {
      pieces->push_back({start, plain_end - start, false});
    }
  }
}

// Looks for `terminator` in data[from, len), as Redis does with strchr on
// its query buffer: a NUL byte hides everything after it, so a line with a
// NUL before its terminator never ends (Redis then waits until the request
// is too big; so do we, which keeps its error texts for such garbage).
// Returns the terminator's offset, or len when it is not (yet) visible, and
// moves *scan to where the next search resumes: past the bytes searched, or
// onto the NUL, which the next search then finds at once.
size_t find_visible(const char* data, size_t len, size_t from, char terminator, size_t* scan) {
  if (from < len && data[from] == '\0') return len;  // stuck on a NUL already
  const void* t = std::memchr(data + from, terminator, len - from);
  const size_t stop = t ? static_cast<size_t>(static_cast<const char*>(t) - data) : len;
  const void* nul = std::memchr(data + from, '\0', stop - from);
  if (nul != nullptr) {
    *scan = static_cast<size_t>(static_cast<const char*>(nul) - data);
    return len;
  }
  *scan = stop;
  return stop;
}

// The common header "<digits>\r\n" at data[from, len), read in one pass:
// 1 to 18 digits, no sign, no leading zero, both terminator bytes present.
// Returns the offset after the '\n' and the count, or 0 for anything else
// (partial, negative, malformed), which the general path then handles with
// its error texts. It spares a pipelined GET two memchr scans and a
// from_chars per header.
size_t quick_count(const char* data, size_t len, size_t from, int64_t* n) {
  size_t p = from;
  int64_t v = 0;
  const size_t stop = std::min(len, from + 18);
  while (p < stop && data[p] >= '0' && data[p] <= '9') v = v * 10 + (data[p++] - '0');
  if (p == from || (data[from] == '0' && p - from > 1)) return 0;
  if (p + 1 >= len || data[p] != '\r' || data[p + 1] != '\n') return 0;
  *n = v;
  return p + 2;
}

}  // namespace

// The request type is decided by its first byte, which stays at data[0]
// until the request is consumed, so it needs no state of its own. After an
// error the parser stays failed: the connection is about to be closed, and
// nothing after garbage can be trusted to be a command boundary.
RequestParser::Status RequestParser::parse(const char* data, size_t len, size_t* consumed) {
  *consumed = 0;
  hint_ = 0;
  args_.clear();
  inline_args_.clear();
  if (!error_.empty()) return Status::kError;
  // Offsets beyond the data mean the caller broke the contract (dropped
  // unconsumed bytes); restart rather than read out of bounds.
  if (pos_ > len || scan_ > len) reset();
  if (len == 0) return Status::kNeedMore;
  return data[0] == '*' ? parse_multibulk(data, len, consumed) : parse_inline(data, len, consumed);
}

// An inline command is one line ending in "\n" (a preceding "\r" is
// stripped). The search for the newline resumes at scan_, so a long line
// arriving byte by byte is scanned once. A line longer than max_inline_len
// is refused whether or not its newline has arrived, so the outcome does
// not depend on how the bytes were split.
RequestParser::Status RequestParser::parse_inline(const char* data, size_t len, size_t* consumed) {
  const size_t newline = find_visible(data, len, scan_, '\n', &scan_);
  if (newline == len) {
    if (len > limits_.max_inline_len) return fail(std::string(kTooBigInline));
    return Status::kNeedMore;
  }
  if (newline > limits_.max_inline_len) return fail(std::string(kTooBigInline));
  size_t end = newline;
  if (end > 0 && data[end - 1] == '\r') --end;

  std::vector<InlinePiece> pieces;
  if (!split_inline(data, end, &pieces, &inline_args_)) return fail(std::string(kUnbalancedQuotes));
  // inline_args_ is complete, so views into its strings stay valid.
  args_.reserve(pieces.size());
  for (const InlinePiece& piece : pieces) {
    if (piece.owned) {
      args_.push_back(inline_args_[piece.offset]);
    } else {
      args_.emplace_back(data + piece.offset, piece.len);
    }
  }
  *consumed = newline + 1;
  reset();
  return args_.empty() ? Status::kEmpty : Status::kCommand;
}

// Finds the '\r' ending the header line ("*<n>" or "$<n>") that starts at
// pos_, resuming the search at scan_. kFound also guarantees the byte after
// '\r' has arrived. A header longer than max_inline_len is kTooBig.
RequestParser::HeaderStatus RequestParser::find_header_end(const char* data, size_t len,
                                                           size_t* cr) {
  *cr = find_visible(data, len, std::max(scan_, pos_), '\r', &scan_);
  if (*cr == len) {
    if (len - pos_ > limits_.max_inline_len) return HeaderStatus::kTooBig;
    return HeaderStatus::kPartial;
  }
  if (*cr - pos_ > limits_.max_inline_len) return HeaderStatus::kTooBig;
  if (*cr + 1 >= len) {
    scan_ = *cr;  // found again next time, when the '\n' may be there
    return HeaderStatus::kPartial;
  }
  return HeaderStatus::kFound;
}

RequestParser::CountStatus RequestParser::read_count(const char* data, size_t len, size_t start,
                                                     int64_t* n, size_t* next) {
  if ((*next = quick_count(data, len, start, n)) != 0) return CountStatus::kFound;
  size_t cr = 0;
  switch (find_header_end(data, len, &cr)) {
    case HeaderStatus::kPartial:
      return CountStatus::kPartial;
    case HeaderStatus::kTooBig:
      return CountStatus::kTooBig;
    case HeaderStatus::kFound:
      break;
  }
  const auto parsed = parse_i64(std::string_view(data + start, cr - start));
  if (!parsed || data[cr + 1] != '\n') return CountStatus::kInvalid;
  *n = *parsed;
  *next = cr + 2;
  return CountStatus::kFound;
}

// read_count() of the header at pos_ ('*' or '$'): true when found;
// otherwise *st is the call's result, kNeedMore or the header kind's error.
bool RequestParser::read_header(const char* data, size_t len, std::string_view too_big,
                                std::string_view invalid, int64_t* n, size_t* next, Status* st) {
  switch (read_count(data, len, pos_ + 1, n, next)) {
    case CountStatus::kFound:
      return true;
    case CountStatus::kPartial:
      *st = Status::kNeedMore;
      return false;
    case CountStatus::kTooBig:
      *st = fail(std::string(too_big));
      return false;
    case CountStatus::kInvalid:
      *st = fail(std::string(invalid));
      return false;
  }
  return false;
}

// A multibulk request: "*<argc>\r\n" then argc times "$<len>\r\n<bytes>\r\n".
// Progress (argc_, the finished spans_, pos_ and the current bulk_len_)
// survives between calls, so each call only looks at bytes it has not seen;
// a bulk's payload is never scanned, only its length compared. Every byte
// is checked as soon as it arrives: a wrong byte fails the request at once.
RequestParser::Status RequestParser::parse_multibulk(const char* data, size_t len,
                                                     size_t* consumed) {
  if (argc_ < 0) {
    int64_t n = 0;
    size_t next = 0;
    if (Status st; !read_header(data, len, kTooBigMbulkCount, kInvalidMultibulkLength, &n, &next,
                                &st))
      return st;
    if (n > INT_MAX || n > limits_.max_multibulk_len)
      return fail(std::string(kInvalidMultibulkLength));
    pos_ = next;
    // Redis treats any count <= 0 ("*0", "*-1", "*-10") as an empty request.
    if (n <= 0) {
      *consumed = pos_;
      reset();
      return Status::kEmpty;
    }
    argc_ = n;
    spans_.clear();
    spans_.reserve(std::min(static_cast<size_t>(argc_), kMaxPrealloc));
  }

  while (spans_.size() < static_cast<size_t>(argc_)) {
    if (bulk_len_ < 0) {
      if (pos_ >= len) return Status::kNeedMore;
      // Checked before the line has ended, unlike Redis, which gives the
      // same error once the '\r' arrives. A NUL is left to the line search.
      if (data[pos_] != '$' && data[pos_] != '\0') {
        std::string message = "Protocol error: expected '$', got ' '";
        if (data[pos_] != '\r' && data[pos_] != '\n') message[message.size() - 2] = data[pos_];
        return fail(std::move(message));
      }
      int64_t n = 0;
      size_t next = 0;
      if (Status st; !read_header(data, len, kTooBigBulkCount, kInvalidBulkLength, &n, &next, &st))
        return st;
      if (n < 0 || n > limits_.max_bulk_len) return fail(std::string(kInvalidBulkLength));
      bulk_len_ = n;
      pos_ = next;
    }
    // The payload is bulk_len_ bytes followed by "\r\n"; check the two
    // terminator bytes as soon as each has arrived.
    const size_t bulk = static_cast<size_t>(bulk_len_);
    const size_t avail = len - pos_;
    if (avail > bulk && data[pos_ + bulk] != '\r') return fail(std::string(kMissingBulkCrlf));
    if (avail > bulk + 1 && data[pos_ + bulk + 1] != '\n')
      return fail(std::string(kMissingBulkCrlf));
    if (avail < bulk + 2) {
      hint_ = pos_ + bulk + 2;
      return Status::kNeedMore;
    }
    spans_.push_back({pos_, bulk});
    pos_ += bulk + 2;
    bulk_len_ = -1;
  }

  args_.reserve(spans_.size());
  for (const Span& span : spans_) args_.emplace_back(data + span.offset, span.len);
  *consumed = pos_;
  reset();
  return Status::kCommand;
}

RequestParser::Status RequestParser::fail(std::string message) {
  error_ = std::move(message);
  args_.clear();
  reset();
  return Status::kError;
}

void RequestParser::reset() {
  spans_.clear();
  argc_ = -1;
  pos_ = 0;
  bulk_len_ = -1;
  scan_ = 0;
}

}  // namespace lmkv::resp
