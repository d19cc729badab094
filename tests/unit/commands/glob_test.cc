// tests/unit/commands/glob_test.cc: glob_match against Redis's answers, and
// glob_literal_prefix.
#include "commands/glob.h"

#include <boost/test/unit_test.hpp>

#include "glob_cases.h"

namespace lmkv::commands::testing {

BOOST_AUTO_TEST_SUITE(glob)

BOOST_AUTO_TEST_CASE(matches_what_redis_matches) {
  for (const auto& c : kRedisGlobCases) {
    for (const auto& key : kGlobKeys) {
      BOOST_TEST_INFO("pattern '" << c.pattern << "' key '" << key << "'");
      BOOST_TEST(glob_match(c.pattern, key) == (c.matches.count(key) == 1));
    }
  }
}

BOOST_AUTO_TEST_CASE(empty_text_and_pattern) {
  BOOST_TEST(glob_match("", ""));
  BOOST_TEST(glob_match("*", ""));
  BOOST_TEST(glob_match("**", ""));
  BOOST_TEST(!glob_match("?", ""));
  BOOST_TEST(!glob_match("", "a"));
  BOOST_TEST(!glob_match("[a]", ""));
}

BOOST_AUTO_TEST_CASE(nocase) {
  BOOST_TEST(glob_match("HeLLo", "hello", true));
  BOOST_TEST(!glob_match("HeLLo", "hello", false));
  BOOST_TEST(glob_match("h[A-C]*", "hbx", true));
  BOOST_TEST(glob_match("h[a-c]*", "HBX", true));
  BOOST_TEST(glob_match("max*", "MAXMEMORY", true));
  BOOST_TEST(glob_match("[^A]", "b", true));
  BOOST_TEST(!glob_match("[^A]", "a", true));
}

BOOST_AUTO_TEST_CASE(binary_bytes) {
  const std::string text(
      "a\0\xff"
      "b",
      4);
  BOOST_TEST(glob_match("a*b", text));
  BOOST_TEST(glob_match(std::string("a\0?b", 4), text));
  BOOST_TEST(glob_match("a?\xff?", text));
  BOOST_TEST(glob_match("a?[\xfe-\xff]b", text));
}

BOOST_AUTO_TEST_CASE(many_stars_do_not_explode) {
  const std::string text(2000, 'a');
  std::string pattern;
  for (int i = 0; i < 200; ++i) pattern += "*a";
  pattern += "*b";
  BOOST_TEST(!glob_match(pattern, text));
  BOOST_TEST(glob_match(pattern, text + "b"));
}

BOOST_AUTO_TEST_CASE(literal_prefix) {
  BOOST_TEST(glob_literal_prefix("user:*") == "user:");
  BOOST_TEST(glob_literal_prefix("*") == "");
  BOOST_TEST(glob_literal_prefix("") == "");
  BOOST_TEST(glob_literal_prefix("abc") == "abc");
  BOOST_TEST(glob_literal_prefix("ab?c") == "ab");
  BOOST_TEST(glob_literal_prefix("ab[c]") == "ab");
  BOOST_TEST(glob_literal_prefix("a\\*b*") == "a*b");
  BOOST_TEST(glob_literal_prefix("a\\") == "a\\");
  // Every match of a pattern starts with its prefix.
  for (const auto& c : kRedisGlobCases) {
    const std::string prefix = glob_literal_prefix(c.pattern);
    for (const auto& key : c.matches) {
      BOOST_TEST_INFO("pattern '" << c.pattern << "' key '" << key << "'");
      BOOST_TEST(key.compare(0, prefix.size(), prefix) == 0);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace lmkv::commands::testing
