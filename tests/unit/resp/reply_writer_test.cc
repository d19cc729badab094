// Every ReplyWriter method, byte for byte, in RESP2 and RESP3.
#include "resp/reply_writer.h"

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

using namespace lmkv;
using namespace lmkv::resp;

namespace {

// Runs `write` against a fresh writer in the given protocol; returns the bytes.
std::string render(int protocol, const std::function<void(ReplyWriter&)>& write) {
  std::string out;
  ReplyWriter w(&out, protocol);
  write(w);
  return out;
}

// Checks the same call against its RESP2 and RESP3 encodings.
void check(const std::function<void(ReplyWriter&)>& write, const std::string& resp2,
           const std::string& resp3) {
  BOOST_TEST(render(2, write) == resp2);
  BOOST_TEST(render(3, write) == resp3);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(reply_writer)

BOOST_AUTO_TEST_CASE(simple_types) {
  check([](ReplyWriter& w) { w.ok(); }, "+OK\r\n", "+OK\r\n");
  check([](ReplyWriter& w) { w.simple("PONG"); }, "+PONG\r\n", "+PONG\r\n");
  check([](ReplyWriter& w) { w.simple(""); }, "+\r\n", "+\r\n");
}

BOOST_AUTO_TEST_CASE(errors) {
  check(
      [](ReplyWriter& w) {
        w.error(Error{Code::kErr, "syntax error"});
      },
      "-ERR syntax error\r\n", "-ERR syntax error\r\n");
  check([](ReplyWriter& w) { w.error(Code::kWrongType, "Operation against a key"); },
        "-WRONGTYPE Operation against a key\r\n", "-WRONGTYPE Operation against a key\r\n");
  check([](ReplyWriter& w) { w.error(Code::kBusyKey, "Target key name already exists."); },
        "-BUSYKEY Target key name already exists.\r\n",
        "-BUSYKEY Target key name already exists.\r\n");
  // User text echoed in a message cannot break the framing.
  check([](ReplyWriter& w) { w.error(Code::kErr, "bad\r\nkey\n"); }, "-ERR bad  key \r\n",
        "-ERR bad  key \r\n");
  check([](ReplyWriter& w) { w.error(Code::kNoAuth, "Authentication required."); },
        "-NOAUTH Authentication required.\r\n", "-NOAUTH Authentication required.\r\n");
}

BOOST_AUTO_TEST_CASE(integers) {
  check([](ReplyWriter& w) { w.integer(0); }, ":0\r\n", ":0\r\n");
  check([](ReplyWriter& w) { w.integer(-1); }, ":-1\r\n", ":-1\r\n");
  check([](ReplyWriter& w) { w.integer(1234567); }, ":1234567\r\n", ":1234567\r\n");
  check([](ReplyWriter& w) { w.integer(std::numeric_limits<int64_t>::max()); },
        ":9223372036854775807\r\n", ":9223372036854775807\r\n");
  check([](ReplyWriter& w) { w.integer(std::numeric_limits<int64_t>::min()); },
        ":-9223372036854775808\r\n", ":-9223372036854775808\r\n");
}

BOOST_AUTO_TEST_CASE(bulks_and_nulls) {
  check([](ReplyWriter& w) { w.bulk("hello"); }, "$5\r\nhello\r\n", "$5\r\nhello\r\n");
  check([](ReplyWriter& w) { w.bulk(""); }, "$0\r\n\r\n", "$0\r\n\r\n");
  const std::string binary("a\0\r\nb", 5);
  check([&](ReplyWriter& w) { w.bulk(binary); }, "$5\r\n" + binary + "\r\n",
        "$5\r\n" + binary + "\r\n");
  const std::string big(100000, 'x');
  check([&](ReplyWriter& w) { w.bulk(big); }, "$100000\r\n" + big + "\r\n",
        "$100000\r\n" + big + "\r\n");
  check([](ReplyWriter& w) { w.null(); }, "$-1\r\n", "_\r\n");
  check([](ReplyWriter& w) { w.null_array(); }, "*-1\r\n", "_\r\n");
}

BOOST_AUTO_TEST_CASE(aggregates) {
  check([](ReplyWriter& w) { w.array(0); }, "*0\r\n", "*0\r\n");
  check([](ReplyWriter& w) { w.array(3); }, "*3\r\n", "*3\r\n");
  check([](ReplyWriter& w) { w.map(2); }, "*4\r\n", "%2\r\n");
  check([](ReplyWriter& w) { w.map(0); }, "*0\r\n", "%0\r\n");
  check([](ReplyWriter& w) { w.set(3); }, "*3\r\n", "~3\r\n");
  check([](ReplyWriter& w) { w.push(3); }, "*3\r\n", ">3\r\n");
  const std::vector<std::string_view> items = {"a", "", "ccc"};
  check([&](ReplyWriter& w) { w.bulks(items); }, "*3\r\n$1\r\na\r\n$0\r\n\r\n$3\r\nccc\r\n",
        "*3\r\n$1\r\na\r\n$0\r\n\r\n$3\r\nccc\r\n");
  check([](ReplyWriter& w) { w.bulks({}); }, "*0\r\n", "*0\r\n");
}

BOOST_AUTO_TEST_CASE(nested_map_reply) {
  check(
      [](ReplyWriter& w) {
        w.map(2);
        w.bulk("k");
        w.integer(1);
        w.bulk("m");
        w.null();
      },
      "*4\r\n$1\r\nk\r\n:1\r\n$1\r\nm\r\n$-1\r\n", "%2\r\n$1\r\nk\r\n:1\r\n$1\r\nm\r\n_\r\n");
}

BOOST_AUTO_TEST_CASE(doubles) {
  check([](ReplyWriter& w) { w.dbl(1.5); }, "$3\r\n1.5\r\n", ",1.5\r\n");
  check([](ReplyWriter& w) { w.dbl(0); }, "$1\r\n0\r\n", ",0\r\n");
  check([](ReplyWriter& w) { w.dbl(-2); }, "$2\r\n-2\r\n", ",-2\r\n");
  // %.17g: 0.1 is not exactly representable.
  check([](ReplyWriter& w) { w.dbl(0.1); }, "$19\r\n0.10000000000000001\r\n",
        ",0.10000000000000001\r\n");
  check([](ReplyWriter& w) { w.dbl(1e20); }, "$5\r\n1e+20\r\n", ",1e+20\r\n");
  check([](ReplyWriter& w) { w.dbl(1e300); }, "$23\r\n1.0000000000000001e+300\r\n",
        ",1.0000000000000001e+300\r\n");
  check([](ReplyWriter& w) { w.dbl(HUGE_VAL); }, "$3\r\ninf\r\n", ",inf\r\n");
  check([](ReplyWriter& w) { w.dbl(-HUGE_VAL); }, "$4\r\n-inf\r\n", ",-inf\r\n");
}

BOOST_AUTO_TEST_CASE(booleans_and_verbatim) {
  check([](ReplyWriter& w) { w.boolean(true); }, ":1\r\n", "#t\r\n");
  check([](ReplyWriter& w) { w.boolean(false); }, ":0\r\n", "#f\r\n");
  check([](ReplyWriter& w) { w.verbatim("hi\r\nthere"); }, "$9\r\nhi\r\nthere\r\n",
        "=13\r\ntxt:hi\r\nthere\r\n");
  check([](ReplyWriter& w) { w.verbatim(""); }, "$0\r\n\r\n", "=4\r\ntxt:\r\n");
}

BOOST_AUTO_TEST_CASE(appends_and_switches_protocol) {
  std::string out = "prefix";
  ReplyWriter w(&out);
  BOOST_TEST(w.protocol() == 2);
  BOOST_TEST(w.buffer() == &out);
  w.null();
  w.set_protocol(3);
  BOOST_TEST(w.protocol() == 3);
  w.null();
  w.integer(7);
  BOOST_TEST(out == "prefix$-1\r\n_\r\n:7\r\n");
}

BOOST_AUTO_TEST_SUITE_END()
