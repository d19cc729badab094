// resp/reply_writer.h: builds replies in RESP2 or RESP3 into a byte buffer.
// The only place RESP reply bytes are formatted; handlers call these
// methods and never spell protocol bytes. RESP3-only types degrade to their
// RESP2 shapes (map -> flat array, null -> $-1 or *-1, double -> bulk,
// boolean -> integer, verbatim -> bulk, push -> array).
// No libuv, no LMDB; owned by one thread at a time.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "base/error.h"

namespace lmkv::resp {

class ReplyWriter {
 public:
  // Appends to *out, which must outlive the writer. protocol is 2 or 3.
  explicit ReplyWriter(std::string* out, int protocol = 2) : out_(out), protocol_(protocol) {}

  int protocol() const { return protocol_; }
  void set_protocol(int protocol) { protocol_ = protocol; }
  std::string* buffer() { return out_; }

  void ok();                                // +OK
  void simple(std::string_view s);          // +s (s must hold no CR/LF)
  void error(const Error& e);               // -PREFIX message
  void error(Code code, std::string_view message);
  void integer(int64_t v);                  // :v
  void bulk(std::string_view s);            // $len s
  void null();                              // RESP3 _, RESP2 $-1
  void null_array();                        // RESP3 _, RESP2 *-1
  void array(size_t n);                     // *n, followed by n replies
  void map(size_t n);                       // RESP3 %n, RESP2 *2n; n pairs follow
  void set(size_t n);                       // RESP3 ~n, RESP2 *n
  void push(size_t n);                      // RESP3 >n, RESP2 *n
  void dbl(double d);                       // RESP3 ,d, RESP2 bulk
  void boolean(bool b);                     // RESP3 #t/#f, RESP2 :1/:0
  void verbatim(std::string_view s);        // RESP3 =len txt:s, RESP2 bulk
  void bulks(std::span<const std::string_view> items);  // array of bulks

 private:
  void header(char type, int64_t n);
  std::string* out_;
  int protocol_;
};

}  // namespace lmkv::resp
