// commands/glob.h: Redis's glob matching (stringmatchlen) for KEYS, SCAN
// MATCH and CONFIG GET: '*', '?', '[abc]', '[^a]', '[a-z]', '\' escapes.
// Pure functions, any thread.
#pragma once

#include <string>
#include <string_view>

namespace lmkv::commands {

bool glob_match(std::string_view pattern, std::string_view text, bool nocase = false);

// The literal prefix every match of `pattern` starts with ("user:*" ->
// "user:"), so scans can seek straight to it.
std::string glob_literal_prefix(std::string_view pattern);

}  // namespace lmkv::commands
