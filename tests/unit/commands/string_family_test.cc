// tests/unit/commands/string_family_test.cc: GET, SET and its options,
// SETNX/SETEX/PSETEX, MSET/MSETNX/MGET, GETDEL, STRLEN, APPEND, INCR/DECR,
// GETSET, GETEX, GETRANGE/SUBSTR, SETRANGE, INCRBYFLOAT, LCS.
// Expected bytes and error texts are redis-server 7.0.15's.
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <thread>

#include "harness.h"

namespace lmkv::commands::testing {
namespace {

// The stored deadline of `key` in db 0 (0: none), or -1 when absent, read
// in a throwaway view so the fixture's ReadView is untouched.
int64_t deadline_of(CommandFixture& f, std::string_view key) {
  store::ReadView view(f.engine());
  auto v = view.get(0, key, unix_ms());
  BOOST_TEST_REQUIRE(v.ok());
  return *v ? (*v)->deadline_ms : -1;
}

void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

const std::string kLongKey(511, 'k');
const std::string kMaxKey(510, 'k');

}  // namespace

BOOST_FIXTURE_TEST_SUITE(string_family, CommandFixture)

BOOST_AUTO_TEST_CASE(get_set) {
  BOOST_TEST(run({"GET", "k"}) == kNil);
  BOOST_TEST(run3({"GET", "k"}) == "_\r\n");
  BOOST_TEST(run({"SET", "k", "v"}) == kOk);
  BOOST_TEST(run({"GET", "k"}) == bulk("v"));
  BOOST_TEST(run({"SET", "k", ""}) == kOk);
  BOOST_TEST(run({"GET", "k"}) == "$0\r\n\r\n");
  const std::string binary("a\0\r\nb", 5);
  BOOST_TEST(run({"SET", binary, binary}) == kOk);
  BOOST_TEST(run({"GET", binary}) == bulk(binary));
  BOOST_TEST(run({"SET", "", "empty key"}) == kOk);
  BOOST_TEST(run({"GET", ""}) == bulk("empty key"));
}

BOOST_AUTO_TEST_CASE(set_nx_xx) {
  BOOST_TEST(run({"SET", "k", "v", "XX"}) == kNil);
  BOOST_TEST(run({"GET", "k"}) == kNil);
  BOOST_TEST(run({"SET", "k", "v", "nx"}) == kOk);
  BOOST_TEST(run({"SET", "k", "w", "NX"}) == kNil);
  BOOST_TEST(run3({"SET", "k", "w", "NX"}) == "_\r\n");
  BOOST_TEST(run({"GET", "k"}) == bulk("v"));
  BOOST_TEST(run({"SET", "k", "w", "xx"}) == kOk);
  BOOST_TEST(run({"GET", "k"}) == bulk("w"));
  BOOST_TEST(run({"SET", "k", "x", "NX", "NX"}) == kNil);  // repeats are allowed
  BOOST_TEST(run({"SET", "k", "x", "NX", "XX"}) == error("syntax error"));
  BOOST_TEST(run({"SET", "k", "x", "XX", "NX"}) == error("syntax error"));
  BOOST_TEST(run({"SET", "k", "x", "bogus"}) == error("syntax error"));
  BOOST_TEST(run({"GET", "k"}) == bulk("w"));
}

BOOST_AUTO_TEST_CASE(set_get_option) {
  BOOST_TEST(run({"SET", "k", "v1", "GET"}) == kNil);
  BOOST_TEST(run({"SET", "k", "v2", "GET"}) == bulk("v1"));
  BOOST_TEST(run({"SET", "k", "v3", "get", "get"}) == bulk("v2"));
  // NX/XX with GET reply with the old value whether or not they wrote.
  BOOST_TEST(run({"SET", "k", "v4", "NX", "GET"}) == bulk("v3"));
  BOOST_TEST(run({"GET", "k"}) == bulk("v3"));
  BOOST_TEST(run({"SET", "k", "v5", "XX", "GET"}) == bulk("v3"));
  BOOST_TEST(run({"GET", "k"}) == bulk("v5"));
  BOOST_TEST(run({"SET", "n", "v", "XX", "GET"}) == kNil);
  BOOST_TEST(run({"GET", "n"}) == kNil);
  BOOST_TEST(run({"SET", "n", "v", "NX", "GET"}) == kNil);
  BOOST_TEST(run({"GET", "n"}) == bulk("v"));
}

BOOST_AUTO_TEST_CASE(set_expire_relative) {
  const int64_t before = unix_ms();
  BOOST_TEST(run({"SET", "k", "v", "EX", "100"}) == kOk);
  const int64_t d = deadline_of(*this, "k");
  BOOST_TEST(d >= before + 100000);
  BOOST_TEST(d <= unix_ms() + 100000);
  BOOST_TEST(run({"SET", "k", "v", "px", "100000"}) == kOk);
  BOOST_TEST(deadline_of(*this, "k") >= before + 100000);
  BOOST_TEST(deadline_of(*this, "k") <= unix_ms() + 100000);
  // A plain SET drops the TTL.
  BOOST_TEST(run({"SET", "k", "v"}) == kOk);
  BOOST_TEST(deadline_of(*this, "k") == 0);
  // A short TTL really expires.
  BOOST_TEST(run({"SET", "short", "v", "PX", "20"}) == kOk);
  BOOST_TEST(run({"GET", "short"}) == bulk("v"));
  sleep_ms(40);
  BOOST_TEST(run({"GET", "short"}) == kNil);
  BOOST_TEST(run({"EXISTS", "short"}) == integer(0));
}

BOOST_AUTO_TEST_CASE(set_expire_absolute) {
  BOOST_TEST(run({"SET", "k", "v", "PXAT", "4102444800000"}) == kOk);  // 2100-01-01
  BOOST_TEST(deadline_of(*this, "k") == 4102444800000);
  BOOST_TEST(run({"SET", "k", "v", "EXAT", "4102444800"}) == kOk);
  BOOST_TEST(deadline_of(*this, "k") == 4102444800000);
  BOOST_TEST(run({"SET", "k", "v", "PXAT", "9223372036854775807"}) == kOk);
  BOOST_TEST(run({"GET", "k"}) == bulk("v"));
  // A deadline in the past: the key is gone, and not counted by DBSIZE.
  BOOST_TEST(run({"SET", "k", "v", "PXAT", "1"}) == kOk);
  BOOST_TEST(run({"GET", "k"}) == kNil);
  BOOST_TEST(run({"DBSIZE"}) == integer(0));
  BOOST_TEST(run({"SET", "k", "v1"}) == kOk);
  BOOST_TEST(run({"SET", "k", "v2", "EXAT", "1", "GET"}) == bulk("v1"));
  BOOST_TEST(run({"GET", "k"}) == kNil);
  // Near future: visible now, gone after it passes.
  const std::string soon = std::to_string(unix_ms() + 30);
  BOOST_TEST(run({"SET", "k", "v", "PXAT", soon}) == kOk);
  BOOST_TEST(run({"GET", "k"}) == bulk("v"));
  sleep_ms(50);
  BOOST_TEST(run({"GET", "k"}) == kNil);
}

BOOST_AUTO_TEST_CASE(set_keepttl) {
  BOOST_TEST(run({"SET", "k", "v", "PXAT", "4102444800000"}) == kOk);
  BOOST_TEST(run({"SET", "k", "w", "KEEPTTL"}) == kOk);
  BOOST_TEST(deadline_of(*this, "k") == 4102444800000);
  BOOST_TEST(run({"GET", "k"}) == bulk("w"));
  BOOST_TEST(run({"SET", "k", "x", "keepttl", "KEEPTTL"}) == kOk);
  BOOST_TEST(deadline_of(*this, "k") == 4102444800000);
  BOOST_TEST(run({"SET", "new", "v", "KEEPTTL"}) == kOk);
  BOOST_TEST(deadline_of(*this, "new") == 0);
  // The kept TTL really expires.
  BOOST_TEST(run({"SET", "s", "v", "PX", "20"}) == kOk);
  BOOST_TEST(run({"SET", "s", "w", "KEEPTTL"}) == kOk);
  sleep_ms(40);
  BOOST_TEST(run({"GET", "s"}) == kNil);
}

BOOST_AUTO_TEST_CASE(set_expire_errors) {
  const std::string invalid = error("invalid expire time in 'set' command");
  const std::string not_int = error("value is not an integer or out of range");
  const std::string syntax = error("syntax error");
  BOOST_TEST(run({"SET", "k", "v", "EX", "0"}) == invalid);
  BOOST_TEST(run({"SET", "k", "v", "PX", "-5"}) == invalid);
  BOOST_TEST(run({"SET", "k", "v", "EXAT", "0"}) == invalid);
  BOOST_TEST(run({"SET", "k", "v", "PXAT", "-1"}) == invalid);
  BOOST_TEST(run({"SET", "k", "v", "EX", "9223372036854775807"}) == invalid);
  BOOST_TEST(run({"SET", "k", "v", "EXAT", "9223372036854775807"}) == invalid);
  BOOST_TEST(run({"SET", "k", "v", "PX", "9223372036854775000"}) == invalid);
  BOOST_TEST(run({"SET", "k", "v", "EX", "abc"}) == not_int);
  BOOST_TEST(run({"SET", "k", "v", "EX", "1.5"}) == not_int);
  BOOST_TEST(run({"SET", "k", "v", "EX", " 1"}) == not_int);
  BOOST_TEST(run({"SET", "k", "v", "EX"}) == syntax);
  BOOST_TEST(run({"SET", "k", "v", "EX", "10", "PX", "10"}) == syntax);
  BOOST_TEST(run({"SET", "k", "v", "EXAT", "1", "PXAT", "2"}) == syntax);
  BOOST_TEST(run({"SET", "k", "v", "EX", "5", "KEEPTTL"}) == syntax);
  BOOST_TEST(run({"SET", "k", "v", "KEEPTTL", "PX", "5"}) == syntax);
  // Syntax is checked before the expire value, as in Redis.
  BOOST_TEST(run({"SET", "k", "v", "EX", "abc", "NX", "XX"}) == syntax);
  BOOST_TEST(run({"GET", "k"}) == kNil);
  // The same option twice is allowed; the last value wins.
  BOOST_TEST(run({"SET", "k", "v", "PXAT", "4102444800000", "PXAT", "4102444800001"}) == kOk);
  BOOST_TEST(deadline_of(*this, "k") == 4102444800001);
}

BOOST_AUTO_TEST_CASE(setnx_setex_psetex) {
  BOOST_TEST(run({"SETNX", "k", "v"}) == integer(1));
  BOOST_TEST(run({"SETNX", "k", "w"}) == integer(0));
  BOOST_TEST(run({"GET", "k"}) == bulk("v"));

  const int64_t before = unix_ms();
  BOOST_TEST(run({"SETEX", "k", "100", "x"}) == kOk);
  BOOST_TEST(run({"GET", "k"}) == bulk("x"));
  BOOST_TEST(deadline_of(*this, "k") >= before + 100000);
  BOOST_TEST(run({"PSETEX", "k", "100000", "y"}) == kOk);
  BOOST_TEST(run({"GET", "k"}) == bulk("y"));
  BOOST_TEST(deadline_of(*this, "k") <= unix_ms() + 100000);
  BOOST_TEST(run({"PSETEX", "p", "20", "z"}) == kOk);
  sleep_ms(40);
  BOOST_TEST(run({"GET", "p"}) == kNil);

  BOOST_TEST(run({"SETEX", "k", "0", "v"}) == error("invalid expire time in 'setex' command"));
  BOOST_TEST(run({"SETEX", "k", "9223372036854775807", "v"}) ==
             error("invalid expire time in 'setex' command"));
  BOOST_TEST(run({"PSETEX", "k", "-1", "v"}) == error("invalid expire time in 'psetex' command"));
  BOOST_TEST(run({"PSETEX", "k", "9223372036854775807", "v"}) ==
             error("invalid expire time in 'psetex' command"));
  BOOST_TEST(run({"SETEX", "k", "x", "v"}) == error("value is not an integer or out of range"));
  BOOST_TEST(run({"GET", "k"}) == bulk("y"));
  BOOST_TEST(run({"SETEX", "k", "1"}) == error("wrong number of arguments for 'setex' command"));
}

BOOST_AUTO_TEST_CASE(mset_mget) {
  BOOST_TEST(run({"MSET", "a", "1", "b", "2", "c", "3"}) == kOk);
  BOOST_TEST(run({"MGET", "a", "nosuch", "c", "b", "a"}) ==
             "*5\r\n$1\r\n1\r\n$-1\r\n$1\r\n3\r\n$1\r\n2\r\n$1\r\n1\r\n");
  BOOST_TEST(run3({"MGET", "a", "nosuch"}) == "*2\r\n$1\r\n1\r\n_\r\n");
  BOOST_TEST(run({"MSET", "a"}) == error("wrong number of arguments for 'mset' command"));
  BOOST_TEST(run({"MSET", "a", "x", "b"}) == error("wrong number of arguments for 'mset' command"));
  BOOST_TEST(run({"GET", "a"}) == bulk("1"));
  // A repeated key: the last value wins. MSET drops TTLs.
  BOOST_TEST(run({"SET", "t", "v", "PXAT", "4102444800000"}) == kOk);
  BOOST_TEST(run({"MSET", "a", "x", "a", "y", "t", "w"}) == kOk);
  BOOST_TEST(run({"GET", "a"}) == bulk("y"));
  BOOST_TEST(deadline_of(*this, "t") == 0);
  BOOST_TEST(run({"MGET"}) == error("wrong number of arguments for 'mget' command"));
}

BOOST_AUTO_TEST_CASE(msetnx) {
  BOOST_TEST(run({"MSETNX", "a", "1", "b", "2"}) == integer(1));
  BOOST_TEST(run({"MSETNX", "b", "x", "c", "3"}) == integer(0));
  BOOST_TEST(run({"MGET", "a", "b", "c"}) == "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n");
  BOOST_TEST(run({"MSETNX", "a", "1", "b"}) ==
             error("wrong number of arguments for 'msetnx' command"));
}

BOOST_AUTO_TEST_CASE(getdel_strlen) {
  BOOST_TEST(run({"GETDEL", "k"}) == kNil);
  BOOST_TEST(run({"SET", "k", "hello"}) == kOk);
  BOOST_TEST(run({"STRLEN", "k"}) == integer(5));
  BOOST_TEST(run({"STRLEN", "nosuch"}) == integer(0));
  BOOST_TEST(run({"GETDEL", "k"}) == bulk("hello"));
  BOOST_TEST(run({"GET", "k"}) == kNil);
  BOOST_TEST(run({"GETDEL", "k"}) == kNil);
  BOOST_TEST(run3({"GETDEL", "k"}) == "_\r\n");
}

BOOST_AUTO_TEST_CASE(append) {
  BOOST_TEST(run({"APPEND", "k", "abc"}) == integer(3));
  BOOST_TEST(run({"APPEND", "k", "de"}) == integer(5));
  BOOST_TEST(run({"APPEND", "k", ""}) == integer(5));
  BOOST_TEST(run({"GET", "k"}) == bulk("abcde"));
  // APPEND keeps the TTL.
  BOOST_TEST(run({"SET", "t", "x", "PXAT", "4102444800000"}) == kOk);
  BOOST_TEST(run({"APPEND", "t", "y"}) == integer(2));
  BOOST_TEST(deadline_of(*this, "t") == 4102444800000);
  BOOST_TEST(run({"GET", "t"}) == bulk("xy"));
}

BOOST_AUTO_TEST_CASE(incr_decr) {
  BOOST_TEST(run({"INCR", "n"}) == integer(1));
  BOOST_TEST(run({"INCR", "n"}) == integer(2));
  BOOST_TEST(run({"DECR", "n"}) == integer(1));
  BOOST_TEST(run({"INCRBY", "n", "10"}) == integer(11));
  BOOST_TEST(run({"DECRBY", "n", "20"}) == integer(-9));
  BOOST_TEST(run({"INCRBY", "n", "-1"}) == integer(-10));
  BOOST_TEST(run({"GET", "n"}) == bulk("-10"));
  BOOST_TEST(run({"DECR", "fresh"}) == integer(-1));

  const std::string not_int = error("value is not an integer or out of range");
  BOOST_TEST(run({"SET", "s", "abc"}) == kOk);
  BOOST_TEST(run({"INCR", "s"}) == not_int);
  BOOST_TEST(run({"SET", "s", " 1"}) == kOk);
  BOOST_TEST(run({"INCR", "s"}) == not_int);
  BOOST_TEST(run({"SET", "s", "01"}) == kOk);
  BOOST_TEST(run({"INCR", "s"}) == not_int);
  BOOST_TEST(run({"INCRBY", "n", "1.5"}) == not_int);
  BOOST_TEST(run({"INCRBY", "n", "x"}) == not_int);
  BOOST_TEST(run({"GET", "n"}) == bulk("-10"));

  BOOST_TEST(run({"SET", "big", "9223372036854775807"}) == kOk);
  BOOST_TEST(run({"INCR", "big"}) == error("increment or decrement would overflow"));
  BOOST_TEST(run({"SET", "small", "-9223372036854775808"}) == kOk);
  BOOST_TEST(run({"DECR", "small"}) == error("increment or decrement would overflow"));
  BOOST_TEST(run({"INCRBY", "small", "-1"}) == error("increment or decrement would overflow"));
  BOOST_TEST(run({"DECRBY", "n", "-9223372036854775808"}) == error("decrement would overflow"));
  BOOST_TEST(run({"GET", "big"}) == bulk("9223372036854775807"));

  // INCR keeps the TTL.
  BOOST_TEST(run({"SET", "t", "5", "PXAT", "4102444800000"}) == kOk);
  BOOST_TEST(run({"INCR", "t"}) == integer(6));
  BOOST_TEST(deadline_of(*this, "t") == 4102444800000);
}

BOOST_AUTO_TEST_CASE(getset) {
  BOOST_TEST(run({"GETSET", "k", "1"}) == kNil);
  BOOST_TEST(run({"GETSET", "k", "2"}) == bulk("1"));
  BOOST_TEST(run({"GET", "k"}) == bulk("2"));
  // GETSET drops the TTL.
  BOOST_TEST(run({"SET", "t", "x", "PXAT", "4102444800000"}) == kOk);
  BOOST_TEST(run({"GETSET", "t", "y"}) == bulk("x"));
  BOOST_TEST(deadline_of(*this, "t") == 0);
  BOOST_TEST(run({"GETSET", "k"}) == error("wrong number of arguments for 'getset' command"));
}

BOOST_AUTO_TEST_CASE(getex) {
  const std::string syntax = error("syntax error");
  const std::string invalid = error("invalid expire time in 'getex' command");
  BOOST_TEST(run({"GETEX", "nokey"}) == kNil);
  BOOST_TEST(run({"GETEX", "nokey", "EX", "0"}) == kNil);  // not validated for an absent key
  BOOST_TEST(run({"GETEX", "nokey", "bogus"}) == syntax);
  BOOST_TEST(run({"SET", "k", "hello"}) == kOk);
  BOOST_TEST(run({"GETEX", "k"}) == bulk("hello"));
  BOOST_TEST(deadline_of(*this, "k") == 0);
  BOOST_TEST(run({"GETEX", "k", "EX", "0"}) == invalid);
  BOOST_TEST(run({"GETEX", "k", "PX", "9223372036854775807"}) == invalid);
  BOOST_TEST(run({"GETEX", "k", "EX", "abc"}) == error("value is not an integer or out of range"));
  BOOST_TEST(run({"GETEX", "k", "KEEPTTL"}) == syntax);
  BOOST_TEST(run({"GETEX", "k", "NX"}) == syntax);
  BOOST_TEST(run({"GETEX", "k", "GET"}) == syntax);
  BOOST_TEST(run({"GETEX", "k", "EX"}) == syntax);
  BOOST_TEST(run({"GETEX", "k", "PERSIST", "EX", "10"}) == syntax);
  BOOST_TEST(run({"GETEX", "k", "EX", "10", "PERSIST"}) == syntax);
  BOOST_TEST(run({"GETEX", "k", "EX", "10", "PX", "10"}) == syntax);
  BOOST_TEST(deadline_of(*this, "k") == 0);

  const int64_t before = unix_ms();
  BOOST_TEST(run({"GETEX", "k", "ex", "10", "EX", "100"}) == bulk("hello"));  // last wins
  BOOST_TEST(deadline_of(*this, "k") >= before + 100000);
  BOOST_TEST(deadline_of(*this, "k") <= unix_ms() + 100000);
  BOOST_TEST(run({"GETEX", "k", "PXAT", "4102444800000"}) == bulk("hello"));
  BOOST_TEST(deadline_of(*this, "k") == 4102444800000);
  BOOST_TEST(run({"GETEX", "k", "EXAT", "4102444801"}) == bulk("hello"));
  BOOST_TEST(deadline_of(*this, "k") == 4102444801000);
  BOOST_TEST(run({"GETEX", "k", "PERSIST", "persist"}) == bulk("hello"));
  BOOST_TEST(deadline_of(*this, "k") == 0);
  BOOST_TEST(run({"GETEX", "k", "PX", "100000"}) == bulk("hello"));
  BOOST_TEST(deadline_of(*this, "k") > 0);
  // A deadline already past: the value is returned, then the key is gone.
  BOOST_TEST(run({"GETEX", "k", "EXAT", "1"}) == bulk("hello"));
  BOOST_TEST(run({"EXISTS", "k"}) == integer(0));
  BOOST_TEST(run3({"GETEX", "k"}) == "_\r\n");
  BOOST_TEST(run({"GETEX"}) == error("wrong number of arguments for 'getex' command"));
}

BOOST_AUTO_TEST_CASE(getrange_substr) {
  BOOST_TEST(run({"SET", "s", "This is a string"}) == kOk);
  BOOST_TEST(run({"GETRANGE", "s", "0", "3"}) == bulk("This"));
  BOOST_TEST(run({"GETRANGE", "s", "-3", "-1"}) == bulk("ing"));
  BOOST_TEST(run({"GETRANGE", "s", "0", "-1"}) == bulk("This is a string"));
  BOOST_TEST(run({"GETRANGE", "s", "10", "100"}) == bulk("string"));
  BOOST_TEST(run({"GETRANGE", "s", "-1", "-5"}) == bulk(""));
  BOOST_TEST(run({"GETRANGE", "s", "5", "2"}) == bulk(""));
  BOOST_TEST(run({"GETRANGE", "s", "-100", "-50"}) == bulk("T"));
  BOOST_TEST(run({"GETRANGE", "s", "100", "200"}) == bulk(""));
  BOOST_TEST(run({"GETRANGE", "s", "-9223372036854775808", "9223372036854775807"}) ==
             bulk("This is a string"));
  BOOST_TEST(run({"GETRANGE", "nokey", "0", "1"}) == bulk(""));
  BOOST_TEST(run3({"GETRANGE", "nokey", "0", "1"}) == "$0\r\n\r\n");
  BOOST_TEST(run({"GETRANGE", "s", "a", "1"}) == error("value is not an integer or out of range"));
  BOOST_TEST(run({"GETRANGE", "s", "0", "1.5"}) ==
             error("value is not an integer or out of range"));
  BOOST_TEST(run({"SUBSTR", "s", "0", "3"}) == bulk("This"));
  BOOST_TEST(run({"SET", "e", ""}) == kOk);
  BOOST_TEST(run({"GETRANGE", "e", "0", "-1"}) == bulk(""));
  BOOST_TEST(run({"GETRANGE", "s", "0"}) ==
             error("wrong number of arguments for 'getrange' command"));
}

BOOST_AUTO_TEST_CASE(setrange) {
  BOOST_TEST(run({"SET", "k", "Hello World"}) == kOk);
  BOOST_TEST(run({"SETRANGE", "k", "6", "Redis"}) == integer(11));
  BOOST_TEST(run({"GET", "k"}) == bulk("Hello Redis"));
  BOOST_TEST(run({"SETRANGE", "pad", "5", "hi"}) == integer(7));
  BOOST_TEST(run({"GET", "pad"}) == bulk(std::string("\0\0\0\0\0hi", 7)));
  BOOST_TEST(run({"SETRANGE", "pad", "0", ""}) == integer(7));
  BOOST_TEST(run({"SETRANGE", "pad", "100", ""}) == integer(7));
  BOOST_TEST(run({"SETRANGE", "nokey", "5", ""}) == integer(0));
  BOOST_TEST(run({"EXISTS", "nokey"}) == integer(0));
  BOOST_TEST(run({"SETRANGE", "k", "-1", "x"}) == error("offset is out of range"));
  BOOST_TEST(run({"SETRANGE", "k", "abc", "x"}) ==
             error("value is not an integer or out of range"));
  BOOST_TEST(run({"SETRANGE", "k", "99999999999999999999", "x"}) ==
             error("value is not an integer or out of range"));
  const std::string too_big = error("string exceeds maximum allowed size (proto-max-bulk-len)");
  BOOST_TEST(run({"SETRANGE", "k", "536870912", "x"}) == too_big);
  BOOST_TEST(run({"SETRANGE", "k", "536870911", "xy"}) == too_big);
  BOOST_TEST(run({"SETRANGE", "k", "9223372036854775807", "x"}) == too_big);
  BOOST_TEST(run({"SETRANGE", "nokey", "536870912", "x"}) == too_big);
  BOOST_TEST(run({"SETRANGE", "nokey", "536870912", ""}) == integer(0));
  BOOST_TEST(run({"GET", "k"}) == bulk("Hello Redis"));
  // SETRANGE keeps the TTL.
  BOOST_TEST(run({"SET", "t", "ab", "PXAT", "4102444800000"}) == kOk);
  BOOST_TEST(run({"SETRANGE", "t", "1", "z"}) == integer(2));
  BOOST_TEST(deadline_of(*this, "t") == 4102444800000);
  BOOST_TEST(run({"GET", "t"}) == bulk("az"));
  BOOST_TEST(run({"SETRANGE", kLongKey, "0", "x"}) ==
             error("key too long (lmkv keys are at most 510 bytes)"));
}

BOOST_AUTO_TEST_CASE(incrbyfloat) {
  BOOST_TEST(run({"SET", "f", "10.50"}) == kOk);
  BOOST_TEST(run({"INCRBYFLOAT", "f", "0.1"}) == bulk("10.6"));
  BOOST_TEST(run({"INCRBYFLOAT", "f", "-5"}) == bulk("5.6"));
  BOOST_TEST(run({"SET", "g", "5.0e3"}) == kOk);
  BOOST_TEST(run({"INCRBYFLOAT", "g", "2.0e2"}) == bulk("5200"));
  BOOST_TEST(run({"GET", "g"}) == bulk("5200"));
  BOOST_TEST(run({"SET", "h", "3.0e3"}) == kOk);
  BOOST_TEST(run({"INCRBYFLOAT", "h", "2.0e2"}) == bulk("3200"));
  BOOST_TEST(run3({"INCRBYFLOAT", "new", "0.1"}) == bulk("0.1"));
  BOOST_TEST(run({"INCRBYFLOAT", "n1", "-1.5"}) == bulk("-1.5"));
  BOOST_TEST(run({"INCRBYFLOAT", "n2", "1.23e-10"}) == bulk("0.000000000123"));
  BOOST_TEST(run({"INCRBYFLOAT", "n3", "1e20"}) == bulk("100000000000000000000"));
  BOOST_TEST(run({"INCRBYFLOAT", "n4", "0x10"}) == bulk("16"));
  BOOST_TEST(run({"INCRBYFLOAT", "n4", "-0.0"}) == bulk("16"));
  BOOST_TEST(run({"INCRBYFLOAT", "n5", "+5"}) == bulk("5"));
  BOOST_TEST(run({"INCRBYFLOAT", "n5", "-5"}) == bulk("0"));
  BOOST_TEST(run({"INCRBYFLOAT", "n5", "-0.5"}) == bulk("-0.5"));
  BOOST_TEST(run({"INCRBYFLOAT", "n5", "0.5"}) == bulk("0"));
  BOOST_TEST(run({"INCRBYFLOAT", "n6", ".5"}) == bulk("0.5"));
  BOOST_TEST(run({"INCRBYFLOAT", "n6", "5."}) == bulk("5.5"));
  BOOST_TEST(run({"SET", "i", "5"}) == kOk);
  BOOST_TEST(run({"INCRBYFLOAT", "i", "3"}) == bulk("8"));

  const std::string not_float = error("value is not a valid float");
  BOOST_TEST(run({"INCRBYFLOAT", "x", "abc"}) == not_float);
  BOOST_TEST(run({"INCRBYFLOAT", "x", " 1"}) == not_float);
  BOOST_TEST(run({"INCRBYFLOAT", "x", "1 "}) == not_float);
  BOOST_TEST(run({"INCRBYFLOAT", "x", ""}) == not_float);
  BOOST_TEST(run({"INCRBYFLOAT", "x", "nan"}) == not_float);
  BOOST_TEST(run({"INCRBYFLOAT", "x", "1e-5000"}) == not_float);
  BOOST_TEST(run({"INCRBYFLOAT", "x", "1e5000"}) == not_float);
  BOOST_TEST(run({"SET", "s", "  1"}) == kOk);
  BOOST_TEST(run({"INCRBYFLOAT", "s", "1"}) == not_float);
  BOOST_TEST(run({"EXISTS", "x"}) == integer(0));

  const std::string nan_inf = error("increment would produce NaN or Infinity");
  BOOST_TEST(run({"INCRBYFLOAT", "x", "inf"}) == nan_inf);
  // Near the top of the long double range every digit is printed (Redis's
  // reply is 4933 digits ending as below).
  const std::string big = run({"INCRBYFLOAT", "big", "1e4932"});
  BOOST_TEST(big.substr(0, 32) == "$4933\r\n1000000000000000000006018");
  BOOST_TEST(big.substr(big.size() - 32) == "163141086538418113791886622720\r\n");
  BOOST_TEST(run({"INCRBYFLOAT", "big", "1e4932"}) == nan_inf);
  BOOST_TEST(run({"EXISTS", "x"}) == integer(0));
  // Large doubles print in full, as Redis does.
  BOOST_TEST(run({"INCRBYFLOAT", "d", "1e400"}) ==
             bulk("10000000000000000000281880683947586514586453433629052038625910693539685534008629"
                  "8620393639948483241605220940539273176162002958227772592557340238289765933406610"
                  "1779744743454617391786244811667497172377894382439159333804747067502624668440135"
                  "9237513603830343735485505244955964979021825038280091068414947402456898653040951"
                  "0175126580926158275889201834725116433165913626641381763097348063437324974302219"
                  "46880"));

  // The TTL is kept.
  BOOST_TEST(run({"SET", "t", "1.5", "PXAT", "4102444800000"}) == kOk);
  BOOST_TEST(run({"INCRBYFLOAT", "t", "1"}) == bulk("2.5"));
  BOOST_TEST(deadline_of(*this, "t") == 4102444800000);
  BOOST_TEST(run({"INCRBYFLOAT", "t"}) ==
             error("wrong number of arguments for 'incrbyfloat' command"));
}

BOOST_AUTO_TEST_CASE(lcs) {
  BOOST_TEST(run({"MSET", "key1", "ohmytext", "key2", "mynewtext"}) == kOk);
  BOOST_TEST(run({"LCS", "key1", "key2"}) == bulk("mytext"));
  BOOST_TEST(run({"LCS", "key1", "key2", "LEN"}) == integer(6));
  BOOST_TEST(run({"LCS", "key1", "key2", "len", "len"}) == integer(6));
  const std::string idx =
      "*4\r\n$7\r\nmatches\r\n*2\r\n"
      "*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n"
      "*2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n"
      "$3\r\nlen\r\n:6\r\n";
  BOOST_TEST(run({"LCS", "key1", "key2", "IDX"}) == idx);
  BOOST_TEST(run({"LCS", "key1", "key2", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"}) ==
             "*4\r\n$7\r\nmatches\r\n*1\r\n"
             "*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n"
             "$3\r\nlen\r\n:6\r\n");
  BOOST_TEST(run3({"LCS", "key1", "key2", "IDX", "MINMATCHLEN", "-5", "WITHMATCHLEN"}) ==
             "%2\r\n$7\r\nmatches\r\n*2\r\n"
             "*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n"
             "*3\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n:2\r\n"
             "$3\r\nlen\r\n:6\r\n");
  BOOST_TEST(run({"LCS", "key1", "key2", "WITHMATCHLEN"}) == bulk("mytext"));
  BOOST_TEST(run({"LCS", "key1", "nokey"}) == bulk(""));
  BOOST_TEST(run({"LCS", "nokey", "nokey2", "IDX"}) ==
             "*4\r\n$7\r\nmatches\r\n*0\r\n$3\r\nlen\r\n:0\r\n");
  const std::string both = error("If you want both the length and indexes, please just use IDX.");
  BOOST_TEST(run({"LCS", "key1", "key2", "IDX", "LEN"}) == both);
  BOOST_TEST(run({"LCS", "key1", "key2", "LEN", "IDX"}) == both);
  BOOST_TEST(run({"LCS", "key1", "key2", "bogus"}) == error("syntax error"));
  BOOST_TEST(run({"LCS", "key1", "key2", "MINMATCHLEN"}) == error("syntax error"));
  BOOST_TEST(run({"LCS", "key1", "key2", "MINMATCHLEN", "x"}) ==
             error("value is not an integer or out of range"));
  BOOST_TEST(run({"LCS", "key1"}) == error("wrong number of arguments for 'lcs' command"));
  // Identical strings: one match covering both.
  BOOST_TEST(run({"MSET", "a", "abc", "b", "abc"}) == kOk);
  BOOST_TEST(run({"LCS", "a", "b", "IDX", "WITHMATCHLEN"}) ==
             "*4\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:0\r\n:2\r\n*2\r\n:0\r\n:2\r\n:3\r\n"
             "$3\r\nlen\r\n:3\r\n");
  // The DP table would exceed proto-max-bulk-len (512 MB).
  BOOST_TEST(run(std::vector<std::string>{"MSET", "big1", std::string(12000, 'a'), "big2",
                                          std::string(12000, 'b')}) == kOk);
  BOOST_TEST(run({"LCS", "big1", "big2"}) ==
             error("Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"));
}

BOOST_AUTO_TEST_CASE(long_keys) {
  const std::string too_long = error("key too long (lmkv keys are at most 510 bytes)");
  BOOST_TEST(run({"SET", kMaxKey, "v"}) == kOk);
  BOOST_TEST(run({"GET", kMaxKey}) == bulk("v"));
  BOOST_TEST(run({"SET", kLongKey, "v"}) == too_long);
  BOOST_TEST(run({"SETNX", kLongKey, "v"}) == too_long);
  BOOST_TEST(run({"SETEX", kLongKey, "10", "v"}) == too_long);
  BOOST_TEST(run({"APPEND", kLongKey, "v"}) == too_long);
  BOOST_TEST(run({"INCR", kLongKey}) == too_long);
  // MSET refuses the whole batch.
  BOOST_TEST(run({"MSET", "a", "1", kLongKey, "v"}) == too_long);
  BOOST_TEST(run({"GET", "a"}) == kNil);
  // Reads treat them as absent.
  BOOST_TEST(run({"GET", kLongKey}) == kNil);
  BOOST_TEST(run({"MGET", kLongKey, kMaxKey}) == "*2\r\n$-1\r\n$1\r\nv\r\n");
  BOOST_TEST(run({"STRLEN", kLongKey}) == integer(0));
  BOOST_TEST(run({"GETDEL", kLongKey}) == kNil);
  BOOST_TEST(run({"EXISTS", kLongKey}) == integer(0));
  BOOST_TEST(run({"DEL", kLongKey, kMaxKey}) == integer(1));
}

BOOST_AUTO_TEST_CASE(databases_are_separate) {
  BOOST_TEST(run({"SET", "k", "db0"}) == kOk);
  session->db = 5;
  BOOST_TEST(run({"GET", "k"}) == kNil);
  BOOST_TEST(run({"SET", "k", "db5"}) == kOk);
  BOOST_TEST(run({"GET", "k"}) == bulk("db5"));
  session->db = 0;
  BOOST_TEST(run({"GET", "k"}) == bulk("db0"));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace lmkv::commands::testing
