// tests/unit/commands/keys_family_test.cc: DEL, UNLINK, EXISTS, TYPE, KEYS,
// SCAN (cursors, options, completeness under concurrent changes),
// RANDOMKEY, DBSIZE, FLUSHDB, FLUSHALL, TOUCH, RENAME, RENAMENX, COPY, MOVE,
// OBJECT, MEMORY USAGE (texts are Redis 7.0.15's).
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

// Runs one write command as its own group with keyspace events collected;
// checks its reply and returns the events as "event key@db".
std::vector<std::string> events_of(CommandFixture& f, std::vector<std::string_view> args,
                                   const std::string& expected_reply) {
  const CommandSpec* spec = f.registry.find(args[0]);
  BOOST_TEST_REQUIRE(spec != nullptr);
  store::WriteTxn txn(f.engine());
  std::string out;
  resp::ReplyWriter reply(&out, 2);
  std::vector<KeyspaceEvent> events;
  Context ctx{.reply = reply,
              .server = f.server,
              .db = 0,
              .now_ms = unix_ms(),
              .txn = &txn,
              .events = &events};
  spec->run(ctx, args);
  BOOST_TEST_REQUIRE(txn.commit().ok());
  BOOST_TEST(out == expected_reply);
  std::vector<std::string> got;
  for (const auto& e : events) got.push_back(e.event + " " + e.key + "@" + std::to_string(e.db));
  return got;
}

using Events = std::vector<std::string>;

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

// ---------------------------------------------------------------------------
// TOUCH, RENAME, COPY, MOVE

BOOST_AUTO_TEST_CASE(touch) {
  BOOST_TEST(run({"MSET", "a", "1", "b", "2"}) == kOk);
  BOOST_TEST(run({"TOUCH", "a", "nosuch", "a", "b"}) == integer(3));
  BOOST_TEST(run({"TOUCH"}) == error("wrong number of arguments for 'touch' command"));
}

BOOST_AUTO_TEST_CASE(rename_and_renamenx) {
  BOOST_TEST(run({"RENAME", "nosuch", "x"}) == error("no such key"));
  BOOST_TEST(run({"RENAME", "nosuch", "nosuch"}) == error("no such key"));
  BOOST_TEST(run({"RENAMENX", "nosuch", "x"}) == error("no such key"));
  BOOST_TEST(run({"SET", "a", "1", "EX", "100"}) == kOk);
  BOOST_TEST(run({"SET", "b", "2", "EX", "5000"}) == kOk);
  BOOST_TEST(run({"RENAME", "a", "a"}) == kOk);
  BOOST_TEST(run({"RENAMENX", "a", "a"}) == integer(0));
  BOOST_TEST(run({"RENAMENX", "a", "b"}) == integer(0));
  BOOST_TEST(run({"GET", "b"}) == bulk("2"));
  BOOST_TEST(run({"RENAME", "a", "b"}) == kOk);
  BOOST_TEST(run({"EXISTS", "a"}) == integer(0));
  BOOST_TEST(run({"GET", "b"}) == bulk("1"));
  BOOST_TEST(run({"TTL", "b"}) == integer(100));  // the source's deadline
  BOOST_TEST(run({"RENAMENX", "b", "c"}) == integer(1));
  BOOST_TEST(run({"TTL", "c"}) == integer(100));
  BOOST_TEST(run({"EXISTS", "b"}) == integer(0));
  BOOST_TEST(run({"RENAME", "c", std::string(511, 'k')}) ==
             error("key too long (lmkv keys are at most 510 bytes)"));
  BOOST_TEST(run({"GET", "c"}) == bulk("1"));
  BOOST_TEST(run({"RENAME", "c"}) == error("wrong number of arguments for 'rename' command"));
}

BOOST_AUTO_TEST_CASE(copy) {
  BOOST_TEST(run({"SET", "src", "v", "EX", "100"}) == kOk);
  BOOST_TEST(run({"COPY", "src", "dst"}) == integer(1));
  BOOST_TEST(run({"GET", "dst"}) == bulk("v"));
  BOOST_TEST(run({"TTL", "dst"}) == integer(100));
  BOOST_TEST(run({"SET", "other", "x"}) == kOk);
  BOOST_TEST(run({"COPY", "other", "dst"}) == integer(0));
  BOOST_TEST(run({"COPY", "other", "dst", "REPLACE", "replace"}) == integer(1));
  BOOST_TEST(run({"GET", "dst"}) == bulk("x"));
  BOOST_TEST(run({"TTL", "dst"}) == integer(-1));
  BOOST_TEST(run({"COPY", "nosuch", "dst", "REPLACE"}) == integer(0));
  BOOST_TEST(run({"COPY", "src", "src", "DB", "3"}) == integer(1));
  BOOST_TEST(run({"COPY", "other", "src", "db", "3"}) == integer(0));
  session->db = 3;
  BOOST_TEST(run({"GET", "src"}) == bulk("v"));
  BOOST_TEST(run({"TTL", "src"}) == integer(100));
  session->db = 0;

  const std::string same = error("source and destination objects are the same");
  BOOST_TEST(run({"COPY", "src", "src"}) == same);
  BOOST_TEST(run({"COPY", "nosuch", "nosuch", "DB", "0"}) == same);
  BOOST_TEST(run({"COPY", "src", "x", "DB", "16"}) == error("DB index is out of range"));
  BOOST_TEST(run({"COPY", "src", "x", "DB", "-1"}) == error("DB index is out of range"));
  BOOST_TEST(run({"COPY", "src", "x", "DB", "x"}) ==
             error("value is not an integer or out of range"));
  BOOST_TEST(run({"COPY", "src", "x", "DB", "4294967296"}) ==
             error("value is out of range, value must between -2147483648 and 2147483647"));
  BOOST_TEST(run({"COPY", "src", "x", "DB"}) == error("syntax error"));
  BOOST_TEST(run({"COPY", "src", "x", "bogus"}) == error("syntax error"));
  BOOST_TEST(run({"EXISTS", "x"}) == integer(0));
}

BOOST_AUTO_TEST_CASE(move) {
  BOOST_TEST(run({"SET", "k", "v", "PX", "100000"}) == kOk);
  const std::string same = error("source and destination objects are the same");
  BOOST_TEST(run({"MOVE", "k", "0"}) == same);
  BOOST_TEST(run({"MOVE", "nosuch", "0"}) == same);
  BOOST_TEST(run({"MOVE", "k", "16"}) == error("DB index is out of range"));
  BOOST_TEST(run({"MOVE", "k", "x"}) == error("value is not an integer or out of range"));
  BOOST_TEST(run({"MOVE", "k", "-4294967297"}) ==
             error("value is out of range, value must between -2147483648 and 2147483647"));
  BOOST_TEST(run({"MOVE", "nosuch", "1"}) == integer(0));
  session->db = 1;
  BOOST_TEST(run({"SET", "k", "there"}) == kOk);
  session->db = 0;
  BOOST_TEST(run({"MOVE", "k", "1"}) == integer(0));  // taken there
  BOOST_TEST(run({"GET", "k"}) == bulk("v"));
  session->db = 1;
  BOOST_TEST(run({"DEL", "k"}) == integer(1));
  session->db = 0;
  BOOST_TEST(run({"MOVE", "k", "1"}) == integer(1));
  BOOST_TEST(run({"EXISTS", "k"}) == integer(0));
  session->db = 1;
  BOOST_TEST(run({"GET", "k"}) == bulk("v"));
  BOOST_TEST(run({"TTL", "k"}) == integer(100));
  session->db = 0;
}

BOOST_AUTO_TEST_CASE(events) {
  BOOST_TEST(run({"MSET", "a", "1", "b", "2"}) == kOk);
  BOOST_TEST(events_of(*this, {"RENAME", "a", "c"}, kOk) ==
             (Events{"rename_from a@0", "rename_to c@0"}));
  BOOST_TEST(events_of(*this, {"RENAMENX", "c", "b"}, integer(0)).empty());
  BOOST_TEST(events_of(*this, {"COPY", "c", "d", "DB", "2"}, integer(1)) == Events{"copy_to d@2"});
  BOOST_TEST(events_of(*this, {"COPY", "c", "e"}, integer(1)) == Events{"copy_to e@0"});
  BOOST_TEST(events_of(*this, {"MOVE", "c", "5"}, integer(1)) ==
             (Events{"move_from c@0", "move_to c@5"}));
  BOOST_TEST(events_of(*this, {"MOVE", "c", "5"}, integer(0)).empty());
}

// ---------------------------------------------------------------------------
// OBJECT, MEMORY

BOOST_AUTO_TEST_CASE(object_encoding) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"123", "int"},
      {"-123", "int"},
      {"0", "int"},
      {"9223372036854775807", "int"},
      {"-9223372036854775808", "int"},
      {"9223372036854775808", "embstr"},
      {"12345678901234567890", "embstr"},
      {"-0", "embstr"},
      {"007", "embstr"},
      {"+5", "embstr"},
      {" 1", "embstr"},
      {"1.5", "embstr"},
      {"", "embstr"},
      {std::string(44, 'a'), "embstr"},
      {std::string(45, 'a'), "raw"}};
  for (const auto& [value, encoding] : cases) {
    BOOST_TEST_INFO("value '" << value << "'");
    BOOST_TEST_REQUIRE(run({"SET", "e", value}) == kOk);
    BOOST_TEST(run({"OBJECT", "ENCODING", "e"}) == bulk(encoding));
  }
  BOOST_TEST(run({"OBJECT", "encoding", "nosuch"}) == kNil);
  BOOST_TEST(run3({"OBJECT", "ENCODING", "nosuch"}) == "_\r\n");
}

BOOST_AUTO_TEST_CASE(object_other_subcommands) {
  for (const char* sub : {"FREQ", "IDLETIME", "REFCOUNT"})
    BOOST_TEST(run({"OBJECT", sub, "nosuch"}) == kNil);
  BOOST_TEST(run({"SET", "k", "5"}) == kOk);
  BOOST_TEST(run({"OBJECT", "REFCOUNT", "k"}) == integer(1));
  BOOST_TEST(run({"OBJECT", "FREQ", "k"}) ==
             error("An LFU maxmemory policy is not selected, access frequency not tracked. "
                   "Please note that when switching between policies at runtime LRU and LFU "
                   "data will take some time to adjust."));
  BOOST_TEST(run({"OBJECT", "IDLETIME", "k"}) ==
             error("lmkv does not track key access times, idle time not tracked."));
  BOOST_TEST(run({"OBJECT", "BOGUS", "k"}) ==
             error("unknown subcommand 'BOGUS'. Try OBJECT HELP."));
  BOOST_TEST(run({"OBJECT", "ENCODING"}) ==
             error("wrong number of arguments for 'object|encoding' command"));
  BOOST_TEST(run({"OBJECT", "ENCODING", "k", "x"}) ==
             error("wrong number of arguments for 'object|encoding' command"));
  BOOST_TEST(run({"OBJECT"}) == error("wrong number of arguments for 'object' command"));
  const std::string help = run({"OBJECT", "HELP"});
  BOOST_TEST(
      help.starts_with("*15\r\n+OBJECT <subcommand> [<arg> [value] [opt] ...]. "
                       "Subcommands are:\r\n+ENCODING <key>\r\n"));
  BOOST_TEST(help.ends_with("+HELP\r\n+    Prints this help.\r\n"));
}

BOOST_AUTO_TEST_CASE(memory_usage) {
  BOOST_TEST(run({"MEMORY", "USAGE", "nosuch"}) == kNil);
  BOOST_TEST(run({"SET", "key", std::string(100, 'v')}) == kOk);
  // key + value + 12 bytes of header and LMDB node overhead.
  BOOST_TEST(run({"MEMORY", "USAGE", "key"}) == integer(3 + 100 + 12));
  BOOST_TEST(run({"MEMORY", "USAGE", "key", "SAMPLES", "0"}) == integer(115));
  BOOST_TEST(run({"EXPIRE", "key", "100"}) == integer(1));
  BOOST_TEST(run({"MEMORY", "USAGE", "key"}) == integer(115 + 8));  // the deadline
  BOOST_TEST(run({"MEMORY", "USAGE", "key", "SAMPLES"}) == error("syntax error"));
  BOOST_TEST(run({"MEMORY", "USAGE", "key", "SAMPLES", "-1"}) == error("syntax error"));
  BOOST_TEST(run({"MEMORY", "USAGE", "key", "SAMPLES", "x"}) ==
             error("value is not an integer or out of range"));
  BOOST_TEST(run({"MEMORY", "USAGE", "key", "bogus", "1"}) == error("syntax error"));
  BOOST_TEST(run({"MEMORY", "USAGE"}) ==
             error("wrong number of arguments for 'memory|usage' command"));
  BOOST_TEST(run({"MEMORY", "bogus"}) == error("unknown subcommand 'bogus'. Try MEMORY HELP."));
  BOOST_TEST(run({"MEMORY", "HELP"}).starts_with("*6\r\n+MEMORY <subcommand>"));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace lmkv::commands::testing
