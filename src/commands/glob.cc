// commands/glob.cc: glob matching with Redis's stringmatchlen semantics.
//
// Every pattern element other than '*' consumes exactly one byte of the
// text, so matching needs only one backtrack point: the most recent '*'.
// When an element fails, that star swallows one more byte and matching
// resumes after it. This is linear in practice and, unlike a recursive
// matcher, cannot blow the stack on patterns like "*a*a*a*...".
#include "commands/glob.h"

#include <cstddef>
#include <utility>

namespace lmkv::commands {
namespace {

unsigned char fold(unsigned char c, bool nocase) {
  return (nocase && c >= 'A' && c <= 'Z') ? static_cast<unsigned char>(c + ('a' - 'A')) : c;
}

// Matches the bracket set starting just after '[' at pattern[p] against
// byte `c`. Sets *next to the index after the closing ']' (or the pattern's
// end when the set is unterminated, as Redis treats it). Within a set, '\'
// escapes the next byte and "x-y" is a range (either order).
bool match_set(std::string_view pattern, size_t p, unsigned char c, bool nocase, size_t* next) {
  bool negate = p < pattern.size() && pattern[p] == '^';
  if (negate) ++p;
  bool matched = false;
  const unsigned char fc = fold(c, nocase);
  while (p < pattern.size()) {
    const auto pc = static_cast<unsigned char>(pattern[p]);
    if (pc == '\\' && p + 1 < pattern.size()) {
      // An escaped byte is compared exactly, as Redis does.
      if (static_cast<unsigned char>(pattern[p + 1]) == c) matched = true;
      p += 2;
    } else if (pc == ']') {
      ++p;
      *next = p;
      return matched != negate;
    } else if (p + 2 < pattern.size() && pattern[p + 1] == '-') {
      unsigned char lo = fold(pc, nocase);
      unsigned char hi = fold(static_cast<unsigned char>(pattern[p + 2]), nocase);
      if (lo > hi) std::swap(lo, hi);
      if (fc >= lo && fc <= hi) matched = true;
      p += 3;
    } else {
      if (fold(pc, nocase) == fc) matched = true;
      ++p;
    }
  }
  *next = p;  // unterminated: the set runs to the end of the pattern
  return matched != negate;
}

// Matches the single-byte element at pattern[p] ('?', a set, an escape or a
// literal) against `c`; sets *next past the element.
bool match_one(std::string_view pattern, size_t p, unsigned char c, bool nocase, size_t* next) {
  const char pc = pattern[p];
  if (pc == '?') {
    *next = p + 1;
    return true;
  }
  if (pc == '[') return match_set(pattern, p + 1, c, nocase, next);
  if (pc == '\\' && p + 1 < pattern.size()) {
    *next = p + 2;
    return fold(static_cast<unsigned char>(pattern[p + 1]), nocase) == fold(c, nocase);
  }
  // A literal, including a trailing lone '\'.
  *next = p + 1;
  return fold(static_cast<unsigned char>(pc), nocase) == fold(c, nocase);
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view text, bool nocase) {
  size_t p = 0, t = 0;
  size_t star_p = std::string_view::npos;  // pattern index just after the last '*'
  size_t star_t = 0;                       // text index that star resumes from
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      while (p < pattern.size() && pattern[p] == '*') ++p;
      if (p == pattern.size()) return true;  // a trailing star matches the rest
      star_p = p;
      star_t = t;
      continue;
    }
    size_t next = 0;
    if (p < pattern.size() &&
        match_one(pattern, p, static_cast<unsigned char>(text[t]), nocase, &next)) {
      p = next;
      ++t;
      continue;
    }
    if (star_p == std::string_view::npos) return false;
    p = star_p;  // let the last star swallow one more byte
    t = ++star_t;
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::string glob_literal_prefix(std::string_view pattern) {
  std::string prefix;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '*' || c == '?' || c == '[') break;
    if (c == '\\' && i + 1 < pattern.size()) {
      prefix.push_back(pattern[++i]);
      continue;
    }
    prefix.push_back(c);  // a literal, or a trailing '\' matching itself
  }
  return prefix;
}

}  // namespace lmkv::commands
