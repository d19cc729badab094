// commands/arguments.cc: shared argument parsing (see arguments.h).
#include "commands/arguments.h"

#include <algorithm>
#include <limits>
#include <string>

#include "base/numbers.h"
#include "resp/errors.h"
#include "store/value.h"

namespace lmkv::commands {

Error error_text(std::string_view text) { return err(std::string(text)); }

bool is_option(std::string_view arg, std::string_view name) { return iequals(arg, name); }

bool info_section_wanted(std::span<const std::string> sections, std::string_view name) {
  const bool in_default = name != "commandstats";
  if (sections.empty()) return in_default;
  return std::any_of(sections.begin(), sections.end(), [&](const std::string& s) {
    return s == name || (s == "default" && in_default) || s == "all" || s == "everything";
  });
}

Result<int64_t> parse_integer(std::string_view s) {
  auto v = parse_i64(s);
  if (!v) return error_text(resp::msg::kNotInteger);
  return *v;
}

Result<int64_t> parse_positive_count(std::string_view s) {
  auto v = parse_integer(s);
  if (!v) return v;
  if (*v < 1) return error_text(resp::msg::kSyntax);
  return v;
}

Result<int> parse_db_index(std::string_view s, int databases) {
  auto v = parse_i64(s);
  // Redis reads the index as a C int: anything outside that is "not an integer".
  if (!v || *v < std::numeric_limits<int>::min() || *v > std::numeric_limits<int>::max())
    return error_text(resp::msg::kNotInteger);
  if (*v < 0 || *v >= databases) return error_text(resp::msg::kDbIndexOutOfRange);
  return static_cast<int>(*v);
}

bool parse_expire_option(Args args, size_t* i, ExpireOption* opt, bool* syntax_error) {
  using Kind = ExpireOption::Kind;
  const std::string_view arg = args[*i];
  Kind kind;
  if (is_option(arg, "EX")) {
    kind = Kind::kEx;
  } else if (is_option(arg, "PX")) {
    kind = Kind::kPx;
  } else if (is_option(arg, "EXAT")) {
    kind = Kind::kExAt;
  } else if (is_option(arg, "PXAT")) {
    kind = Kind::kPxAt;
  } else if (is_option(arg, "KEEPTTL")) {
    kind = Kind::kKeepTtl;
  } else {
    return false;
  }
  // Repeating the same option is allowed (last value wins); mixing is not.
  if (opt->kind != Kind::kNone && opt->kind != kind) {
    *syntax_error = true;
    return true;
  }
  opt->kind = kind;
  if (kind == Kind::kKeepTtl) {
    ++*i;
    return true;
  }
  if (*i + 1 >= args.size()) {
    *syntax_error = true;
    return true;
  }
  opt->value = args[*i + 1];
  *i += 2;
  return true;
}

namespace {

// Scales and anchors a parsed expire value, refusing what Redis refuses.
Result<int64_t> to_deadline(std::string_view value, bool seconds, bool absolute, int64_t now_ms,
                            std::string_view command) {
  auto v = parse_integer(value);
  if (!v) return v;
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  int64_t ms = *v;
  if (ms <= 0 || (seconds && ms > kMax / 1000)) return resp::invalid_expire(command);
  if (seconds) ms *= 1000;
  if (!absolute) {
    if (ms > kMax - now_ms) return resp::invalid_expire(command);
    ms += now_ms;
  }
  return ms;
}

}  // namespace

Result<int64_t> expire_deadline(const ExpireOption& opt, int64_t now_ms, std::string_view command) {
  using Kind = ExpireOption::Kind;
  const bool seconds = opt.kind == Kind::kEx || opt.kind == Kind::kExAt;
  const bool absolute = opt.kind == Kind::kExAt || opt.kind == Kind::kPxAt;
  return to_deadline(opt.value, seconds, absolute, now_ms, command);
}

Result<int64_t> relative_deadline(std::string_view value, bool seconds, int64_t now_ms,
                                  std::string_view command) {
  return to_deadline(value, seconds, false, now_ms, command);
}

Status check_key_fits(std::string_view key) {
  if (!store::key_fits(key)) return error_text(resp::msg::kKeyTooLong);
  return {};
}

Status check_keys_fit(Args args, size_t first, size_t step) {
  for (size_t i = first; i < args.size(); i += step) {
    if (auto fits = check_key_fits(args[i]); !fits) return fits;
  }
  return {};
}

std::string prefix_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty() && static_cast<unsigned char>(end.back()) == 0xff) end.pop_back();
  if (!end.empty()) end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
  return end;
}

}  // namespace lmkv::commands
