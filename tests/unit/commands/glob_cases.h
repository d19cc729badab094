// tests/unit/commands/glob_cases.h: glob patterns with the keys Redis 7.0.15
// matched for each (stringmatchlen), shared by the glob and KEYS tests.
#pragma once

#include <set>
#include <string>
#include <vector>

namespace lmkv::commands::testing {

// Every key below was stored in redis-server 7.0.15 and each pattern run through
// KEYS there: `matches` is exactly what Redis returned.
inline const std::vector<std::string> kGlobKeys = {
    "a",   "b",    "ab",     "abc",     "abd",        "aXc",     "a*c",   "a?c",      "a[c",
    "a]c", "a\\c", "a-c",    "hello",   "hallo",      "hillo",   "hxllo", "heeeello", "hllo",
    "H",   "h",    "user:1", "user:22", "user:",      "xuser:1", "^",     "]",        "\\",
    "*",   "[",    "z",      "-",       "aaaaaaaaab", "AbC",     "ABC",
};

struct GlobCase {
  std::string pattern;
  std::set<std::string> matches;
};

inline const std::vector<GlobCase> kRedisGlobCases = {
    {"*",
     {"*",    "-",     "ABC",   "AbC",    "H",       "[",       "\\",       "]",     "^",
      "a",    "a*c",   "a-c",   "a?c",    "aXc",     "a[c",     "a\\c",     "a]c",   "aaaaaaaaab",
      "ab",   "abc",   "abd",   "b",      "h",       "hallo",   "heeeello", "hello", "hillo",
      "hllo", "hxllo", "user:", "user:1", "user:22", "xuser:1", "z"}},
    {"?", {"*", "-", "H", "[", "\\", "]", "^", "a", "b", "h", "z"}},
    {"a*",
     {"a", "a*c", "a-c", "a?c", "aXc", "a[c", "a\\c", "a]c", "aaaaaaaaab", "ab", "abc", "abd"}},
    {"*c", {"a*c", "a-c", "a?c", "aXc", "a[c", "a\\c", "a]c", "abc"}},
    {"a?c", {"a*c", "a-c", "a?c", "aXc", "a[c", "a\\c", "a]c", "abc"}},
    {"a*c", {"a*c", "a-c", "a?c", "aXc", "a[c", "a\\c", "a]c", "abc"}},
    {"h?llo", {"hallo", "hello", "hillo", "hxllo"}},
    {"h*llo", {"hallo", "heeeello", "hello", "hillo", "hllo", "hxllo"}},
    {"h[ae]llo", {"hallo", "hello"}},
    {"h[^e]llo", {"hallo", "hillo", "hxllo"}},
    {"h[a-b]llo", {"hallo"}},
    {"h[b-a]llo", {"hallo"}},
    {"a\\*c", {"a*c"}},
    {"a\\?c", {"a?c"}},
    {"a[*]c", {"a*c"}},
    {"a[\\]]c", {"a]c"}},
    {"a]c", {"a]c"}},
    {"a[]c", {}},
    {"a[^]c", {"a*c", "a-c", "a?c", "aXc", "a[c", "a\\c", "a]c", "abc"}},
    {"[", {}},
    {"[abc", {"a", "b"}},
    {"a[", {}},
    {"\\", {"\\"}},
    {"a\\", {}},
    {"a\\\\c", {"a\\c"}},
    {"*[", {}},
    {"[^a-z]", {"*", "-", "H", "[", "\\", "]", "^"}},
    {"[-]", {"-"}},
    {"a[x-]c", {"ab"}},
    {"a[-x]c", {"a-c"}},
    {"*a*a*a*b", {"aaaaaaaaab"}},
    {"a*a*a*a*a*a*c", {}},
    {"user:*", {"user:", "user:1", "user:22"}},
    {"user:?", {"user:1"}},
    {"user:??", {"user:22"}},
    {"[a-c]*",
     {"a", "a*c", "a-c", "a?c", "aXc", "a[c", "a\\c", "a]c", "aaaaaaaaab", "ab", "abc", "abd",
      "b"}},
    {"[]", {}},
    {"[^]", {"*", "-", "H", "[", "\\", "]", "^", "a", "b", "h", "z"}},
    {"[\\^]", {"^"}},
    {"?*?", {"ABC",   "AbC",        "a*c",   "a-c",   "a?c",    "aXc",     "a[c",      "a\\c",
             "a]c",   "aaaaaaaaab", "ab",    "abc",   "abd",    "hallo",   "heeeello", "hello",
             "hillo", "hllo",       "hxllo", "user:", "user:1", "user:22", "xuser:1"}},
    {"**",
     {"*",    "-",     "ABC",   "AbC",    "H",       "[",       "\\",       "]",     "^",
      "a",    "a*c",   "a-c",   "a?c",    "aXc",     "a[c",     "a\\c",     "a]c",   "aaaaaaaaab",
      "ab",   "abc",   "abd",   "b",      "h",       "hallo",   "heeeello", "hello", "hillo",
      "hllo", "hxllo", "user:", "user:1", "user:22", "xuser:1", "z"}},
    {"a**c", {"a*c", "a-c", "a?c", "aXc", "a[c", "a\\c", "a]c", "abc"}},
    {"a*?c", {"a*c", "a-c", "a?c", "aXc", "a[c", "a\\c", "a]c", "abc"}},
    {"A*", {"ABC", "AbC"}},
    {"[A-Z]*", {"ABC", "AbC", "H"}},
    {"h[!e]llo", {"hello"}},
    {"a[\\c", {}},
    {"ab\\", {}},
};

}  // namespace lmkv::commands::testing
