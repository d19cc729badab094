// tests/unit/commands/string_family_test.cc: GET, SET and its options,
// SETNX/SETEX/PSETEX, MSET/MSETNX/MGET, GETDEL, STRLEN, APPEND, INCR/DECR.
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
