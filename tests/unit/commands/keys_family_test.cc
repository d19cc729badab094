// tests/unit/commands/keys_family_test.cc: DEL, UNLINK, EXISTS, TYPE, KEYS,
// SCAN (cursors, options, completeness under concurrent changes),
// RANDOMKEY, DBSIZE, FLUSHDB, FLUSHALL.
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "base/numbers.h"
#include "glob_cases.h"
#include "harness.h"

namespace lmkv::commands::testing {
namespace {

// One SCAN call's reply: the next cursor and the keys.
struct Page {
  std::string cursor;
  std::vector<std::string> keys;
};

Page scan_page(CommandFixture& f, std::vector<std::string> args) {
  args.insert(args.begin(), "SCAN");
  const std::string reply = f.run(args);
  BOOST_TEST_REQUIRE(reply.starts_with("*2\r\n$"), reply);
  auto items = flatten(reply);
  Page p{items.front(), {items.begin() + 1, items.end()}};
  return p;
}

// Runs a whole scan with the given options; checks every page's keys are
// ascending and after the previous page's, and returns all keys.
std::vector<std::string> scan_all(CommandFixture& f, const std::vector<std::string>& options,
                                  size_t* calls = nullptr) {
  std::vector<std::string> all;
  std::string cursor = "0";
  size_t n = 0;
  do {
    std::vector<std::string> args{cursor};
    args.insert(args.end(), options.begin(), options.end());
    Page p = scan_page(f, args);
    for (auto& k : p.keys) {
      BOOST_TEST((all.empty() || all.back() < k));
      all.push_back(k);
    }
    cursor = p.cursor;
    BOOST_TEST_REQUIRE(++n < 100000u);
  } while (cursor != "0");
  if (calls) *calls = n;
  return all;
}

void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

std::string key_name(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "key:%05d", i);
  return buf;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(keys_family, CommandFixture)

BOOST_AUTO_TEST_CASE(del_unlink_exists) {
  BOOST_TEST(run({"MSET", "a", "1", "b", "2", "c", "3"}) == kOk);
  BOOST_TEST(run({"EXISTS", "a"}) == integer(1));
  BOOST_TEST(run({"EXISTS", "a", "a", "nosuch", "b"}) == integer(3));
  BOOST_TEST(run({"DEL", "a", "a", "nosuch"}) == integer(1));
  BOOST_TEST(run({"EXISTS", "a"}) == integer(0));
  BOOST_TEST(run({"UNLINK", "b", "c"}) == integer(2));
  BOOST_TEST(run({"UNLINK", "b"}) == integer(0));
  BOOST_TEST(run({"DEL"}) == error("wrong number of arguments for 'del' command"));
  BOOST_TEST(run({"EXISTS"}) == error("wrong number of arguments for 'exists' command"));
}

BOOST_AUTO_TEST_CASE(expired_keys_are_invisible) {
  BOOST_TEST(run({"SET", "gone", "v", "PX", "20"}) == kOk);
  BOOST_TEST(run({"SET", "live", "v"}) == kOk);
  sleep_ms(40);
  BOOST_TEST(run({"EXISTS", "gone", "live"}) == integer(1));
  BOOST_TEST(run({"TYPE", "gone"}) == "+none\r\n");
  BOOST_TEST(run({"KEYS", "*"}) == bulks({"live"}));
  BOOST_TEST(run({"SCAN", "0"}) == "*2\r\n$1\r\n0\r\n" + bulks({"live"}));
  BOOST_TEST(run({"DEL", "gone"}) == integer(0));  // already dead
  BOOST_TEST(run({"DBSIZE"}) == integer(1));
}

BOOST_AUTO_TEST_CASE(type) {
  BOOST_TEST(run({"SET", "k", "v"}) == kOk);
  BOOST_TEST(run({"TYPE", "k"}) == "+string\r\n");
  BOOST_TEST(run({"TYPE", "nosuch"}) == "+none\r\n");
  BOOST_TEST(run3({"TYPE", "k"}) == "+string\r\n");
}

BOOST_AUTO_TEST_CASE(keys_matches_redis) {
  for (const auto& k : kGlobKeys) BOOST_TEST_REQUIRE(run({"SET", k, "1"}) == kOk);
  for (const auto& c : kRedisGlobCases) {
    BOOST_TEST_INFO("pattern '" << c.pattern << "'");
    std::vector<std::string> expected(c.matches.begin(), c.matches.end());  // byte order
    BOOST_TEST(run({"KEYS", c.pattern}) == bulks(expected));
  }
  BOOST_TEST(run({"KEYS"}) == error("wrong number of arguments for 'keys' command"));
}

BOOST_AUTO_TEST_CASE(keys_with_prefix_edges) {
  const std::string ff("a\xff", 2),
      ffx("a\xff"
          "x",
          3),
      b("b");
  BOOST_TEST(run({"MSET", "a", "1", ff, "2", ffx, "3", b, "4", "\xff\xff", "5"}) == kOk);
  BOOST_TEST(run({"KEYS", "a*"}) == bulks({"a", ff, ffx}));
  BOOST_TEST(run({"KEYS", ff + "*"}) == bulks({ff, ffx}));
  BOOST_TEST(run({"KEYS", "\xff*"}) == bulks({"\xff\xff"}));
  BOOST_TEST(run({"KEYS", "\xff\xff"}) == bulks({"\xff\xff"}));
  BOOST_TEST(run({"KEYS", "nosuch*"}) == "*0\r\n");
  BOOST_TEST(run({"KEYS", "a"}) == bulks({"a"}));
}

BOOST_AUTO_TEST_CASE(dbsize_flushdb_flushall) {
  BOOST_TEST(run({"DBSIZE"}) == integer(0));
  BOOST_TEST(run({"MSET", "a", "1", "b", "2"}) == kOk);
  BOOST_TEST(run({"DBSIZE"}) == integer(2));
  session->db = 3;
  BOOST_TEST(run({"SET", "c", "3"}) == kOk);
  BOOST_TEST(run({"DBSIZE"}) == integer(1));
  BOOST_TEST(run({"FLUSHDB", "bogus"}) == error("syntax error"));
  BOOST_TEST(run({"FLUSHDB", "ASYNC", "SYNC"}) == error("syntax error"));
  BOOST_TEST(run({"FLUSHDB", "sync"}) == kOk);
  BOOST_TEST(run({"DBSIZE"}) == integer(0));
  session->db = 0;
  BOOST_TEST(run({"DBSIZE"}) == integer(2));
  BOOST_TEST(run({"FLUSHDB"}) == kOk);
  BOOST_TEST(run({"DBSIZE"}) == integer(0));

  BOOST_TEST(run({"SET", "a", "1"}) == kOk);
  session->db = 15;
  BOOST_TEST(run({"SET", "z", "1"}) == kOk);
  BOOST_TEST(run({"FLUSHALL", "x"}) == error("syntax error"));
  BOOST_TEST(run({"DBSIZE"}) == integer(1));
  BOOST_TEST(run({"FLUSHALL", "ASYNC"}) == kOk);
  BOOST_TEST(run({"DBSIZE"}) == integer(0));
  session->db = 0;
  BOOST_TEST(run({"DBSIZE"}) == integer(0));
  BOOST_TEST(run({"SET", "a", "1"}) == kOk);
  BOOST_TEST(run({"FLUSHALL"}) == kOk);
  BOOST_TEST(run({"GET", "a"}) == kNil);
  BOOST_TEST(run({"DBSIZE", "x"}) == error("wrong number of arguments for 'dbsize' command"));
}

BOOST_AUTO_TEST_CASE(randomkey) {
  BOOST_TEST(run({"RANDOMKEY"}) == kNil);
  BOOST_TEST(run3({"RANDOMKEY"}) == "_\r\n");
  BOOST_TEST(run({"SET", "only", "v"}) == kOk);
  for (int i = 0; i < 20; ++i) BOOST_TEST(run({"RANDOMKEY"}) == bulk("only"));
  BOOST_TEST(run({"MSET", "a", "1", "\xf0", "2", "m", "3"}) == kOk);
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    auto items = flatten(run({"RANDOMKEY"}));
    BOOST_TEST_REQUIRE(items.size() == 1u);
    seen.insert(items[0]);
  }
  for (const auto& k : seen) BOOST_TEST((k == "only" || k == "a" || k == "\xf0" || k == "m"));
  BOOST_TEST(seen.size() >= 2u);
}

// ---------------------------------------------------------------------------
// SCAN

BOOST_AUTO_TEST_CASE(scan_reply_shape) {
  BOOST_TEST(run({"SCAN", "0"}) == "*2\r\n$1\r\n0\r\n*0\r\n");
  BOOST_TEST(run({"MSET", "b", "2", "a", "1"}) == kOk);
  BOOST_TEST(run({"SCAN", "0"}) == "*2\r\n$1\r\n0\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n");
  BOOST_TEST(run3({"SCAN", "0"}) == "*2\r\n$1\r\n0\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n");
  // COUNT 1: a nonzero cursor below 2^53, then the rest.
  Page p = scan_page(*this, {"0", "COUNT", "1"});
  BOOST_TEST(p.keys == std::vector<std::string>{"a"});
  auto id = parse_u64(p.cursor);
  BOOST_TEST_REQUIRE(id.has_value());
  BOOST_TEST(*id != 0u);
  BOOST_TEST(*id < (uint64_t{1} << 53));
  Page q = scan_page(*this, {p.cursor, "count", "1"});
  BOOST_TEST(q.keys == std::vector<std::string>{"b"});
  // The walk reached the end exactly when the last key came back.
  BOOST_TEST(q.cursor == "0");
}

BOOST_AUTO_TEST_CASE(scan_errors) {
  const std::string invalid = error("invalid cursor");
  BOOST_TEST(run({"SCAN", "abc"}) == invalid);
  BOOST_TEST(run({"SCAN", "-1"}) == invalid);
  BOOST_TEST(run({"SCAN", "18446744073709551616"}) == invalid);
  BOOST_TEST(run({"SCAN", "12345"}) == invalid);  // never issued
  BOOST_TEST(run({"SCAN", "0", "COUNT", "0"}) == error("syntax error"));
  BOOST_TEST(run({"SCAN", "0", "COUNT", "-3"}) == error("syntax error"));
  BOOST_TEST(run({"SCAN", "0", "COUNT", "x"}) == error("value is not an integer or out of range"));
  BOOST_TEST(run({"SCAN", "0", "MATCH"}) == error("syntax error"));
  BOOST_TEST(run({"SCAN", "0", "BOGUS", "1"}) == error("syntax error"));
  BOOST_TEST(run({"SCAN"}) == error("wrong number of arguments for 'scan' command"));
}

BOOST_AUTO_TEST_CASE(scan_cursor_is_single_use_and_per_db) {
  BOOST_TEST(run({"MSET", "a", "1", "b", "2", "c", "3"}) == kOk);
  Page p = scan_page(*this, {"0", "COUNT", "1"});
  BOOST_TEST_REQUIRE(p.cursor != "0");
  BOOST_TEST(scan_page(*this, {p.cursor, "COUNT", "1"}).keys == std::vector<std::string>{"b"});
  // Used up: asking again never restarts silently.
  BOOST_TEST(run({"SCAN", p.cursor}) == error("invalid cursor"));
  // A cursor from another database is refused, not applied here.
  Page r = scan_page(*this, {"0", "COUNT", "1"});
  session->db = 1;
  BOOST_TEST(run({"SCAN", r.cursor}) == error("invalid cursor"));
  session->db = 0;
  // Invalid options do not use up the cursor.
  Page s = scan_page(*this, {"0", "COUNT", "1"});
  BOOST_TEST(run({"SCAN", s.cursor, "COUNT", "0"}) == error("syntax error"));
  BOOST_TEST(scan_page(*this, {s.cursor, "COUNT", "1"}).keys == std::vector<std::string>{"b"});
  // Another session (a pooled connection) may continue the scan.
  Page t = scan_page(*this, {"0", "COUNT", "1"});
  Session& other = new_session();
  const std::vector<std::string_view> args{"SCAN", t.cursor};
  const std::string reply = run_on(other, args);
  BOOST_TEST(reply == "*2\r\n$1\r\n0\r\n" + bulks({"b", "c"}));
}

BOOST_AUTO_TEST_CASE(scan_options) {
  for (int i = 0; i < 50; ++i) BOOST_TEST_REQUIRE(run({"SET", key_name(i), "v"}) == kOk);
  BOOST_TEST(run({"MSET", "other:1", "x", "other:2", "y"}) == kOk);
  // Default COUNT 10: 52 keys need 6 calls.
  size_t calls = 0;
  auto all = scan_all(*this, {}, &calls);
  BOOST_TEST(all.size() == 52u);
  BOOST_TEST(calls == 6u);
  BOOST_TEST(scan_all(*this, {"COUNT", "1000"}, &calls).size() == 52u);
  BOOST_TEST(calls == 1u);
  // MATCH with a literal prefix seeks to it: only its keys are examined.
  BOOST_TEST(scan_all(*this, {"MATCH", "other:*", "COUNT", "1"}, &calls) ==
             (std::vector<std::string>{"other:1", "other:2"}));
  BOOST_TEST(calls == 2u);
  auto ones = scan_all(*this, {"MATCH", "key:*1", "COUNT", "5"});
  BOOST_TEST(ones == (std::vector<std::string>{"key:00001", "key:00011", "key:00021", "key:00031",
                                               "key:00041"}));
  auto by_glob = scan_all(*this, {"MATCH", "*:?0001"});
  BOOST_TEST(by_glob == (std::vector<std::string>{"key:00001"}));
  // The last MATCH/COUNT wins, as in Redis.
  BOOST_TEST(scan_all(*this, {"MATCH", "key:*", "MATCH", "other:*"}).size() == 2u);
  // TYPE: only strings exist.
  BOOST_TEST(scan_all(*this, {"TYPE", "string"}).size() == 52u);
  BOOST_TEST(scan_all(*this, {"TYPE", "STRING", "MATCH", "other:*"}).size() == 2u);
  BOOST_TEST(scan_all(*this, {"TYPE", "hash"}).empty());
}

BOOST_AUTO_TEST_CASE(scan_work_is_bounded) {
  for (int i = 0; i < 300; ++i) BOOST_TEST_REQUIRE(run({"SET", key_name(i), "v"}) == kOk);
  // A pattern matching nothing, with no literal prefix: each call examines at
  // most COUNT*10 keys and replies with an empty page and a live cursor.
  Page p = scan_page(*this, {"0", "MATCH", "*nomatch*", "COUNT", "5"});
  BOOST_TEST(p.keys.empty());
  BOOST_TEST(p.cursor != "0");
  size_t calls = 0;
  BOOST_TEST(scan_all(*this, {"MATCH", "*nomatch*", "COUNT", "5"}, &calls).empty());
  BOOST_TEST(calls == 6u);  // 300 keys / 50 per call
  // A COUNT so large that COUNT*10 overflows still works.
  BOOST_TEST(scan_all(*this, {"COUNT", "9223372036854775807"}, &calls).size() == 300u);
  BOOST_TEST(calls == 1u);
}

// Every key present for the whole scan comes back exactly once, even while
// other keys are deleted and added between calls (DESIGN.md "SCAN cursors").
BOOST_AUTO_TEST_CASE(scan_complete_under_changes) {
  std::mt19937 rng(12345);
  std::set<std::string> stable, volatile_keys;
  for (int i = 0; i < 400; ++i) {
    const std::string k = key_name(i);
    BOOST_TEST_REQUIRE(run({"SET", k, "v"}) == kOk);
    (i % 3 == 0 ? volatile_keys : stable).insert(k);
  }
  std::multiset<std::string> returned;
  std::string cursor = "0";
  int next_new = 1000;
  int calls = 0;
  do {
    Page p = scan_page(*this, {cursor, "COUNT", std::to_string(1 + rng() % 7)});
    for (auto& k : p.keys) returned.insert(k);
    cursor = p.cursor;
    // Mutate: delete a few volatile keys, add new keys anywhere in order.
    for (int j = 0; j < 3 && !volatile_keys.empty(); ++j) {
      auto it = volatile_keys.begin();
      std::advance(it, rng() % volatile_keys.size());
      BOOST_TEST_REQUIRE(run({"DEL", *it}) == integer(1));
      volatile_keys.erase(it);
    }
    const std::string added =
        key_name(static_cast<int>(rng() % 400)) + "+" + std::to_string(next_new++);
    BOOST_TEST_REQUIRE(run({"SET", added, "v"}) == kOk);
    // Overwriting a stable key does not make it appear twice.
    BOOST_TEST_REQUIRE(run({"SET", *stable.begin(), "w"}) == kOk);
    BOOST_TEST_REQUIRE(++calls < 10000);
  } while (cursor != "0");
  for (const auto& k : stable) {
    BOOST_TEST_INFO(k);
    BOOST_TEST(returned.count(k) == 1u);
  }
  for (const auto& k : returned) {
    BOOST_TEST_INFO(k);
    BOOST_TEST(returned.count(k) == 1u);
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace lmkv::commands::testing
