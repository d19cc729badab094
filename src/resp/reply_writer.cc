#include "resp/reply_writer.h"

#include <algorithm>
#include <charconv>

#include "base/numbers.h"
#include "resp/errors.h"

namespace lmkv::resp {
namespace {

constexpr std::string_view kCrlf = "\r\n";

// Appends "<type><n>\r\n" without allocating: integers and headers are on
// every reply's path.
void append_line(std::string* out, char type, int64_t n) {
  char buf[24];  // type byte + 20 digits/sign + CRLF fits
  buf[0] = type;
  char* end = std::to_chars(buf + 1, buf + sizeof(buf) - 2, n).ptr;
  *end++ = '\r';
  *end++ = '\n';
  out->append(buf, end);
}

// Makes room for `extra` more bytes, growing geometrically: a bare reserve()
// per reply could reallocate on every call with some standard libraries.
void ensure(std::string* out, size_t extra) {
  const size_t need = out->size() + extra;
  if (need > out->capacity()) out->reserve(std::max(need, out->capacity() * 2));
}

}  // namespace

void ReplyWriter::header(char type, int64_t n) { append_line(out_, type, n); }

void ReplyWriter::ok() { out_->append("+OK\r\n"); }

void ReplyWriter::simple(std::string_view s) {
  ensure(out_, s.size() + 3);
  out_->push_back('+');
  out_->append(s);
  out_->append(kCrlf);
}

void ReplyWriter::error(const Error& e) { error(e.code, e.message); }

// "-PREFIX message\r\n"; the message may echo user text, so CR/LF in it
// are replaced rather than allowed to break the framing.
void ReplyWriter::error(Code code, std::string_view message) {
  const std::string_view p = prefix(code);
  ensure(out_, p.size() + message.size() + 4);
  out_->push_back('-');
  out_->append(p);
  out_->push_back(' ');
  for (char c : message) out_->push_back(c == '\r' || c == '\n' ? ' ' : c);
  out_->append(kCrlf);
}

void ReplyWriter::integer(int64_t v) { header(':', v); }

void ReplyWriter::bulk(std::string_view s) {
  ensure(out_, s.size() + 24 + 2);
  header('$', static_cast<int64_t>(s.size()));
  out_->append(s);
  out_->append(kCrlf);
}

void ReplyWriter::null() { out_->append(protocol_ >= 3 ? "_\r\n" : "$-1\r\n"); }

void ReplyWriter::null_array() { out_->append(protocol_ >= 3 ? "_\r\n" : "*-1\r\n"); }

void ReplyWriter::array(size_t n) { header('*', static_cast<int64_t>(n)); }

void ReplyWriter::map(size_t n) {
  if (protocol_ >= 3) {
    header('%', static_cast<int64_t>(n));
  } else {
    header('*', static_cast<int64_t>(n * 2));
  }
}

void ReplyWriter::set(size_t n) { header(protocol_ >= 3 ? '~' : '*', static_cast<int64_t>(n)); }

void ReplyWriter::push(size_t n) { header(protocol_ >= 3 ? '>' : '*', static_cast<int64_t>(n)); }

// Redis writes doubles with %.17g and infinities as "inf"/"-inf", in both
// protocols; RESP2 carries the text as a bulk string.
void ReplyWriter::dbl(double d) {
  const std::string text = format_double(d);
  if (protocol_ >= 3) {
    out_->push_back(',');
    out_->append(text);
    out_->append(kCrlf);
  } else {
    bulk(text);
  }
}

void ReplyWriter::boolean(bool b) {
  if (protocol_ >= 3) {
    out_->append(b ? "#t\r\n" : "#f\r\n");
  } else {
    out_->append(b ? ":1\r\n" : ":0\r\n");
  }
}

// RESP3 verbatim strings carry a 3-byte format and ':' before the text,
// counted in the length.
void ReplyWriter::verbatim(std::string_view s) {
  if (protocol_ < 3) return bulk(s);
  ensure(out_, s.size() + 24 + 6);
  header('=', static_cast<int64_t>(s.size() + 4));
  out_->append("txt:");
  out_->append(s);
  out_->append(kCrlf);
}

void ReplyWriter::bulks(std::span<const std::string_view> items) {
  size_t total = 24;
  for (std::string_view item : items) total += item.size() + 24;
  ensure(out_, total);
  array(items.size());
  for (std::string_view item : items) bulk(item);
}

}  // namespace lmkv::resp
