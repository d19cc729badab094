// tests/unit/commands/expire_family_test.cc: EXPIRE, PEXPIRE, EXPIREAT,
// PEXPIREAT (NX|XX|GT|LT and their errors), TTL, PTTL, EXPIRETIME,
// PEXPIRETIME, PERSIST, and the keyspace events they raise. Expected bytes
// and texts are Redis 7.0.15's.
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/numbers.h"
#include "harness.h"

namespace lmkv::commands::testing {
namespace {

void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

int64_t as_int(const std::string& reply) {
  BOOST_TEST_REQUIRE(reply.starts_with(":"), reply);
  return *parse_i64(std::string_view(reply).substr(1, reply.size() - 3));
}

// Runs one write command as its own group with keyspace events collected,
// and returns the events as "event key@db" strings (the reply is checked
// against `expected_reply`).
std::vector<std::string> events_of(CommandFixture& f, std::vector<std::string_view> args,
                                   const std::string& expected_reply, int db = 0) {
  const CommandSpec* spec = f.registry.find(args[0]);
  BOOST_TEST_REQUIRE(spec != nullptr);
  store::WriteTxn txn(f.engine());
  std::string out;
  resp::ReplyWriter reply(&out, 2);
  std::vector<KeyspaceEvent> events;
  Context ctx{.reply = reply,
              .server = f.server,
              .db = db,
              .now_ms = unix_ms(),
              .txn = &txn,
              .events = &events};
  spec->run(ctx, args);
  BOOST_TEST_REQUIRE(txn.commit().ok());
  BOOST_TEST(out == expected_reply);
  std::vector<std::string> got;
  for (const auto& e : events) {
    BOOST_TEST((e.cls & kNotifyGeneric) != 0u);
    got.push_back(e.event + " " + e.key + "@" + std::to_string(e.db));
  }
  return got;
}

using Events = std::vector<std::string>;

}  // namespace

BOOST_FIXTURE_TEST_SUITE(expire_family, CommandFixture)

BOOST_AUTO_TEST_CASE(expire_and_ttl) {
  BOOST_TEST(run({"EXPIRE", "nosuch", "100"}) == integer(0));
  BOOST_TEST(run({"TTL", "nosuch"}) == integer(-2));
  BOOST_TEST(run({"PTTL", "nosuch"}) == integer(-2));
  BOOST_TEST(run({"EXPIRETIME", "nosuch"}) == integer(-2));
  BOOST_TEST(run({"PEXPIRETIME", "nosuch"}) == integer(-2));
  BOOST_TEST(run({"SET", "k", "v"}) == kOk);
  BOOST_TEST(run({"TTL", "k"}) == integer(-1));
  BOOST_TEST(run({"PTTL", "k"}) == integer(-1));
  BOOST_TEST(run({"EXPIRETIME", "k"}) == integer(-1));
  BOOST_TEST(run({"PEXPIRETIME", "k"}) == integer(-1));
  BOOST_TEST(run({"EXPIRE", "k", "100"}) == integer(1));
  BOOST_TEST(run({"TTL", "k"}) == integer(100));
  const int64_t pttl = as_int(run({"PTTL", "k"}));
  BOOST_TEST((pttl > 99000 && pttl <= 100000));
  const int64_t at = as_int(run({"PEXPIRETIME", "k"}));
  BOOST_TEST((at > unix_ms() + 99000 && at <= unix_ms() + 100000));
  // EXPIRETIME rounds to the nearest second, as Redis's (ms+500)/1000.
  BOOST_TEST(as_int(run({"EXPIRETIME", "k"})) == (at + 500) / 1000);
  BOOST_TEST(run({"GET", "k"}) == bulk("v"));  // the value is untouched

  BOOST_TEST(run({"PEXPIRE", "k", "5000"}) == integer(1));
  BOOST_TEST(run({"TTL", "k"}) == integer(5));
  const int64_t when = unix_ms() / 1000 + 1000;
  BOOST_TEST(run({"EXPIREAT", "k", std::to_string(when)}) == integer(1));
  BOOST_TEST(run({"EXPIRETIME", "k"}) == integer(when));
  BOOST_TEST(run({"PEXPIRETIME", "k"}) == integer(when * 1000));
  BOOST_TEST(run({"PEXPIREAT", "k", std::to_string(when * 1000 + 1)}) == integer(1));
  BOOST_TEST(run({"PEXPIRETIME", "k"}) == integer(when * 1000 + 1));
  // INT64_MAX is a valid absolute deadline; seconds round without overflow.
  BOOST_TEST(run({"PEXPIREAT", "k", "9223372036854775807"}) == integer(1));
  BOOST_TEST(run({"EXPIRETIME", "k"}) == integer(9223372036854776));
}

BOOST_AUTO_TEST_CASE(ttl_counts_down_and_key_expires) {
  BOOST_TEST(run({"SET", "k", "v"}) == kOk);
  BOOST_TEST(run({"PEXPIRE", "k", "300"}) == integer(1));
  const int64_t first = as_int(run({"PTTL", "k"}));
  sleep_ms(60);
  const int64_t second = as_int(run({"PTTL", "k"}));
  BOOST_TEST(second < first);
  BOOST_TEST(second > 0);
  sleep_ms(300);
  BOOST_TEST(run({"PTTL", "k"}) == integer(-2));
  BOOST_TEST(run({"GET", "k"}) == kNil);
  BOOST_TEST(run({"EXISTS", "k"}) == integer(0));
  BOOST_TEST(run({"EXPIRE", "k", "100"}) == integer(0));
}

BOOST_AUTO_TEST_CASE(past_deadline_deletes) {
  BOOST_TEST(run({"SET", "k", "v"}) == kOk);
  BOOST_TEST(run({"EXPIRE", "k", "-1"}) == integer(1));
  BOOST_TEST(run({"EXISTS", "k"}) == integer(0));
  BOOST_TEST(run({"SET", "k", "v"}) == kOk);
  BOOST_TEST(run({"EXPIRE", "k", "0"}) == integer(1));
  BOOST_TEST(run({"EXISTS", "k"}) == integer(0));
  BOOST_TEST(run({"SET", "k", "v"}) == kOk);
  BOOST_TEST(run({"PEXPIREAT", "k", "1"}) == integer(1));
  BOOST_TEST(run({"EXISTS", "k"}) == integer(0));
  BOOST_TEST(run({"SET", "k", "v"}) == kOk);
  BOOST_TEST(run({"EXPIREAT", "k", "-5"}) == integer(1));
  BOOST_TEST(run({"EXISTS", "k"}) == integer(0));
  BOOST_TEST(run({"SET", "k", "v"}) == kOk);
  BOOST_TEST(run({"PEXPIRE", "k", "-9223372036854775807"}) == integer(1));
  BOOST_TEST(run({"EXISTS", "k"}) == integer(0));
  BOOST_TEST(run({"EXPIRE", "k", "-1"}) == integer(0));  // gone already
  // A flag that refuses keeps the key even with a past time.
  BOOST_TEST(run({"SET", "k", "v"}) == kOk);
  BOOST_TEST(run({"EXPIRE", "k", "-1", "GT"}) == integer(0));
  BOOST_TEST(run({"EXISTS", "k"}) == integer(1));
}

BOOST_AUTO_TEST_CASE(flags_matrix) {
  BOOST_TEST(run({"SET", "k", "v"}) == kOk);
  // No deadline: NX sets, XX and GT refuse, LT sets.
  BOOST_TEST(run({"EXPIRE", "k", "100", "XX"}) == integer(0));
  BOOST_TEST(run({"EXPIRE", "k", "100", "GT"}) == integer(0));
  BOOST_TEST(run({"TTL", "k"}) == integer(-1));
  BOOST_TEST(run({"EXPIRE", "k", "100", "lt"}) == integer(1));
  BOOST_TEST(run({"PERSIST", "k"}) == integer(1));
  BOOST_TEST(run({"EXPIRE", "k", "100", "nx"}) == integer(1));
  // Deadline 100 s: NX refuses, XX sets, GT only larger, LT only smaller.
  BOOST_TEST(run({"EXPIRE", "k", "200", "NX"}) == integer(0));
  BOOST_TEST(run({"EXPIRE", "k", "100", "NX", "NX"}) == integer(0));
  BOOST_TEST(run({"EXPIRE", "k", "100", "XX"}) == integer(1));
  BOOST_TEST(run({"EXPIRE", "k", "50", "GT"}) == integer(0));
  BOOST_TEST(run({"EXPIRE", "k", "200", "GT"}) == integer(1));
  BOOST_TEST(run({"TTL", "k"}) == integer(200));
  BOOST_TEST(run({"EXPIRE", "k", "300", "LT"}) == integer(0));
  BOOST_TEST(run({"EXPIRE", "k", "150", "LT"}) == integer(1));
  BOOST_TEST(run({"TTL", "k"}) == integer(150));
  BOOST_TEST(run({"EXPIRE", "k", "120", "XX", "LT"}) == integer(1));
  BOOST_TEST(run({"EXPIRE", "k", "130", "XX", "GT"}) == integer(1));
  BOOST_TEST(run({"EXPIRE", "k", "10", "XX", "GT"}) == integer(0));
  BOOST_TEST(run({"TTL", "k"}) == integer(130));
}

BOOST_AUTO_TEST_CASE(errors) {
  BOOST_TEST(run({"SET", "k", "v"}) == kOk);
  const std::string nx_conflict =
      error("NX and XX, GT or LT options at the same time are not compatible");
  BOOST_TEST(run({"EXPIRE", "k", "100", "NX", "XX"}) == nx_conflict);
  BOOST_TEST(run({"EXPIRE", "k", "100", "GT", "NX"}) == nx_conflict);
  BOOST_TEST(run({"EXPIRE", "k", "100", "NX", "LT"}) == nx_conflict);
  BOOST_TEST(run({"EXPIRE", "k", "100", "GT", "LT"}) ==
             error("GT and LT options at the same time are not compatible"));
  BOOST_TEST(run({"EXPIRE", "k", "100", "bogus"}) == error("Unsupported option bogus"));
  // Options are checked before the time.
  BOOST_TEST(run({"EXPIRE", "k", "abc", "bogus"}) == error("Unsupported option bogus"));
  BOOST_TEST(run({"EXPIRE", "k", "abc"}) == error("value is not an integer or out of range"));
  BOOST_TEST(run({"EXPIRE", "k", "1.5"}) == error("value is not an integer or out of range"));
  BOOST_TEST(run({"EXPIRE", "k", "9223372036854775807"}) ==
             error("invalid expire time in 'expire' command"));
  BOOST_TEST(run({"EXPIRE", "k", "9223372036854775"}) ==
             error("invalid expire time in 'expire' command"));
  BOOST_TEST(run({"EXPIRE", "k", "-92233720368547758"}) ==
             error("invalid expire time in 'expire' command"));
  BOOST_TEST(run({"PEXPIRE", "k", "9223372036854775807"}) ==
             error("invalid expire time in 'pexpire' command"));
  BOOST_TEST(run({"EXPIREAT", "k", "9223372036854775807"}) ==
             error("invalid expire time in 'expireat' command"));
  BOOST_TEST(run({"EXPIRE", "k"}) == error("wrong number of arguments for 'expire' command"));
  BOOST_TEST(run({"TTL"}) == error("wrong number of arguments for 'ttl' command"));
  BOOST_TEST(run({"TTL", "a", "b"}) == error("wrong number of arguments for 'ttl' command"));
  BOOST_TEST(run({"PERSIST"}) == error("wrong number of arguments for 'persist' command"));
  BOOST_TEST(run({"TTL", "k"}) == integer(-1));  // nothing above changed the key
}

BOOST_AUTO_TEST_CASE(persist) {
  BOOST_TEST(run({"PERSIST", "nosuch"}) == integer(0));
  BOOST_TEST(run({"SET", "k", "v", "EX", "100"}) == kOk);
  BOOST_TEST(run({"PERSIST", "k"}) == integer(1));
  BOOST_TEST(run({"PERSIST", "k"}) == integer(0));
  BOOST_TEST(run({"TTL", "k"}) == integer(-1));
  BOOST_TEST(run({"GET", "k"}) == bulk("v"));
}

BOOST_AUTO_TEST_CASE(append_keeps_and_set_clears_deadline) {
  // APPEND keeps the deadline; SET without KEEPTTL clears it, as in Redis.
  BOOST_TEST(run({"SET", "k", "v"}) == kOk);
  BOOST_TEST(run({"EXPIRE", "k", "100"}) == integer(1));
  BOOST_TEST(run({"APPEND", "k", "w"}) == integer(2));
  BOOST_TEST(run({"TTL", "k"}) == integer(100));
  BOOST_TEST(run({"SET", "k", "x"}) == kOk);
  BOOST_TEST(run({"TTL", "k"}) == integer(-1));
}

BOOST_AUTO_TEST_CASE(events) {
  BOOST_TEST(run({"SET", "k", "v"}) == kOk);
  BOOST_TEST(events_of(*this, {"EXPIRE", "k", "100"}, integer(1)) == Events{"expire k@0"});
  BOOST_TEST(events_of(*this, {"EXPIRE", "k", "50", "GT"}, integer(0)).empty());
  BOOST_TEST(events_of(*this, {"PERSIST", "k"}, integer(1)) == Events{"persist k@0"});
  BOOST_TEST(events_of(*this, {"PERSIST", "k"}, integer(0)).empty());
  BOOST_TEST(events_of(*this, {"PEXPIRE", "k", "-1"}, integer(1)) == Events{"del k@0"});
  BOOST_TEST(events_of(*this, {"EXPIRE", "k", "100"}, integer(0)).empty());
  BOOST_TEST(
      events_of(*this, {"EXPIRE", "k", "x"}, error("value is not an integer or out of range"))
          .empty());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace lmkv::commands::testing
