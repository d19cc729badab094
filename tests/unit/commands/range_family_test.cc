// tests/unit/commands/range_family_test.cc: RANGE bounds, REV, LIMIT,
// KEYSONLY and errors, and a randomized comparison with a std::map model.
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <map>
#include <random>
#include <thread>

#include "harness.h"

namespace lmkv::commands::testing {
namespace {

// What RANGE should return for the model, bounds given as RANGE spells them.
std::vector<std::string> model_range(const std::map<std::string, std::string>& m,
                                     const std::string& first, const std::string& second, bool rev,
                                     size_t limit, bool keys_only) {
  const std::string& min = rev ? second : first;
  const std::string& max = rev ? first : second;
  auto above = [&](const std::string& k) {
    if (min == "-") return true;
    if (min == "+") return false;
    return min[0] == '[' ? k >= min.substr(1) : k > min.substr(1);
  };
  auto below = [&](const std::string& k) {
    if (max == "+") return true;
    if (max == "-") return false;
    return max[0] == '[' ? k <= max.substr(1) : k < max.substr(1);
  };
  std::vector<std::pair<std::string, std::string>> hits;
  for (const auto& kv : m) {
    if (above(kv.first) && below(kv.first)) hits.push_back(kv);
  }
  if (rev) std::reverse(hits.begin(), hits.end());
  if (hits.size() > limit) hits.resize(limit);
  std::vector<std::string> out;
  for (const auto& [k, v] : hits) {
    out.push_back(k);
    if (!keys_only) out.push_back(v);
  }
  return out;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(range_family, CommandFixture)

BOOST_AUTO_TEST_CASE(bounds) {
  BOOST_TEST(run({"RANGE", "-", "+"}) == "*0\r\n");
  BOOST_TEST(run({"MSET", "a", "1", "b", "2", "c", "3", "d", "4"}) == kOk);
  BOOST_TEST(run({"RANGE", "-", "+"}) == bulks({"a", "1", "b", "2", "c", "3", "d", "4"}));
  BOOST_TEST(run({"RANGE", "[b", "[c"}) == bulks({"b", "2", "c", "3"}));
  BOOST_TEST(run({"RANGE", "(b", "[c"}) == bulks({"c", "3"}));
  BOOST_TEST(run({"RANGE", "[b", "(c"}) == bulks({"b", "2"}));
  BOOST_TEST(run({"RANGE", "(b", "(c"}) == "*0\r\n");
  BOOST_TEST(run({"RANGE", "(a", "+"}) == bulks({"b", "2", "c", "3", "d", "4"}));
  BOOST_TEST(run({"RANGE", "-", "(b"}) == bulks({"a", "1"}));
  BOOST_TEST(run({"RANGE", "[bb", "[cc"}) == bulks({"c", "3"}));
  BOOST_TEST(run({"RANGE", "[", "(b"}) == bulks({"a", "1"}));  // "[" is the empty key
  // Empty or inverted ranges.
  BOOST_TEST(run({"RANGE", "[c", "[b"}) == "*0\r\n");
  BOOST_TEST(run({"RANGE", "[c", "(c"}) == "*0\r\n");
  BOOST_TEST(run({"RANGE", "[c", "[c"}) == bulks({"c", "3"}));
  BOOST_TEST(run({"RANGE", "+", "+"}) == "*0\r\n");
  BOOST_TEST(run({"RANGE", "-", "-"}) == "*0\r\n");
  BOOST_TEST(run({"RANGE", "+", "-"}) == "*0\r\n");
  // RESP3 replies with the same flat array.
  BOOST_TEST(run3({"RANGE", "[a", "[a"}) == bulks({"a", "1"}));
}

BOOST_AUTO_TEST_CASE(rev_limit_keysonly) {
  BOOST_TEST(run({"MSET", "a", "1", "b", "2", "c", "3", "d", "4"}) == kOk);
  BOOST_TEST(run({"RANGE", "+", "-", "REV"}) == bulks({"d", "4", "c", "3", "b", "2", "a", "1"}));
  BOOST_TEST(run({"RANGE", "(d", "[b", "rev"}) == bulks({"c", "3", "b", "2"}));
  BOOST_TEST(run({"RANGE", "-", "+", "REV"}) == "*0\r\n");  // max first with REV
  BOOST_TEST(run({"RANGE", "-", "+", "LIMIT", "2"}) == bulks({"a", "1", "b", "2"}));
  BOOST_TEST(run({"RANGE", "-", "+", "LIMIT", "0"}) == "*0\r\n");
  BOOST_TEST(run({"RANGE", "-", "+", "KEYSONLY"}) == bulks({"a", "b", "c", "d"}));
  BOOST_TEST(run({"RANGE", "+", "-", "keysonly", "Limit", "3", "Rev"}) == bulks({"d", "c", "b"}));
  BOOST_TEST(run({"RANGE", "-", "+", "LIMIT", "5", "LIMIT", "1"}) == bulks({"a", "1"}));
  // Paging with "(lastkey".
  BOOST_TEST(run({"RANGE", "(b", "+", "LIMIT", "1", "KEYSONLY"}) == bulks({"c"}));
}

BOOST_AUTO_TEST_CASE(default_and_max_limit) {
  for (int i = 0; i < 12; ++i)
    BOOST_TEST_REQUIRE(run({"SET", "k" + std::to_string(i + 10), "v"}) == kOk);
  server.default_limit = 5;
  server.max_limit = 8;
  BOOST_TEST(flatten(run({"RANGE", "-", "+", "KEYSONLY"})).size() == 5u);
  BOOST_TEST(flatten(run({"RANGE", "-", "+", "KEYSONLY", "LIMIT", "8"})).size() == 8u);
  BOOST_TEST(run({"RANGE", "-", "+", "LIMIT", "9"}) == error("LIMIT exceeds range-max-limit (8)"));
}

BOOST_AUTO_TEST_CASE(errors) {
  const std::string bad_item = error("min or max not valid string range item");
  BOOST_TEST(run({"RANGE", "a", "+"}) == bad_item);
  BOOST_TEST(run({"RANGE", "-", "b"}) == bad_item);
  BOOST_TEST(run({"RANGE", "", "+"}) == bad_item);
  BOOST_TEST(run({"RANGE", "--", "+"}) == bad_item);
  BOOST_TEST(run({"RANGE", "-", "+", "LIMIT"}) == error("syntax error"));
  BOOST_TEST(run({"RANGE", "-", "+", "BOGUS"}) == error("syntax error"));
  BOOST_TEST(run({"RANGE", "-", "+", "LIMIT", "x"}) ==
             error("value is not an integer or out of range"));
  BOOST_TEST(run({"RANGE", "-", "+", "LIMIT", "-1"}) == error("LIMIT can't be negative"));
  BOOST_TEST(run({"RANGE", "-", "+", "LIMIT", "100001"}) ==
             error("LIMIT exceeds range-max-limit (100000)"));
  BOOST_TEST(run({"RANGE", "-"}) == error("wrong number of arguments for 'range' command"));
  // Options are checked before the bounds, as ZRANGEBYLEX does.
  BOOST_TEST(run({"RANGE", "a", "b", "BOGUS"}) == error("syntax error"));
}

BOOST_AUTO_TEST_CASE(skips_expired_and_handles_binary) {
  BOOST_TEST(run({"MSET", "a", "1", "c", "3"}) == kOk);
  BOOST_TEST(run({"SET", "b", "2", "PX", "20"}) == kOk);
  BOOST_TEST(run({"RANGE", "-", "+", "KEYSONLY"}) == bulks({"a", "b", "c"}));
  std::this_thread::sleep_for(std::chrono::milliseconds(40));
  BOOST_TEST(run({"RANGE", "-", "+", "KEYSONLY"}) == bulks({"a", "c"}));
  BOOST_TEST(run({"RANGE", "+", "-", "KEYSONLY", "LIMIT", "1", "REV"}) == bulks({"c"}));
  const std::string zero("\0", 1), ff("\xff\xff", 2);
  BOOST_TEST(run({"MSET", zero, "z", ff, "f"}) == kOk);
  BOOST_TEST(run({"RANGE", "-", "+", "KEYSONLY"}) == bulks({zero, "a", "c", ff}));
  BOOST_TEST(run({"RANGE", "(" + zero, "(" + ff, "KEYSONLY"}) == bulks({"a", "c"}));
  // A bound longer than any key still selects correctly.
  const std::string long_bound = "[b" + std::string(600, 'x');
  BOOST_TEST(run({"RANGE", "-", long_bound, "KEYSONLY"}) == bulks({zero, "a"}));
  BOOST_TEST(run({"RANGE", long_bound, "+", "KEYSONLY"}) == bulks({"c", ff}));
}

BOOST_AUTO_TEST_CASE(matches_a_model) {
  std::mt19937 rng(4242);
  std::map<std::string, std::string> model;
  auto random_key = [&] {
    std::string k;
    const size_t n = rng() % 4;
    for (size_t i = 0; i < n; ++i) k.push_back("ab\xff\0"[rng() % 4]);
    return k;
  };
  for (int i = 0; i < 60; ++i) {
    const std::string k = random_key(), v = std::to_string(rng() % 1000);
    BOOST_TEST_REQUIRE(run({"SET", k, v}) == kOk);
    model[k] = v;
  }
  auto random_bound = [&] {
    switch (rng() % 6) {
      case 0:
        return std::string("-");
      case 1:
        return std::string("+");
      case 2:
      case 3:
        return "[" + random_key();
      default:
        return "(" + random_key();
    }
  };
  for (int i = 0; i < 400; ++i) {
    const std::string first = random_bound(), second = random_bound();
    const bool rev = rng() % 2, keys_only = rng() % 2, with_limit = rng() % 2;
    const size_t limit = with_limit ? rng() % 10 : 1000;
    std::vector<std::string> args{"RANGE", first, second};
    if (rev) args.push_back("REV");
    if (with_limit) {
      args.push_back("LIMIT");
      args.push_back(std::to_string(limit));
    }
    if (keys_only) args.push_back("KEYSONLY");
    BOOST_TEST_INFO("RANGE " << first << " " << second << " rev=" << rev << " limit=" << limit);
    BOOST_TEST(run(args) == bulks(model_range(model, first, second, rev, limit, keys_only)));
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace lmkv::commands::testing
