// base/log.h: leveled logging with fmt, in redis-server's line format
// ("pid:role dd Mon yyyy hh:mm:ss.mmm * message").
// The sink is process-wide by nature (one log file per process); main sets
// it once before any thread starts, after which it is only read.
#pragma once

#include <cstdio>
#include <string_view>

#include <fmt/format.h>

namespace lmkv::log {

enum class Level { kDebug, kVerbose, kNotice, kWarning };

// Sets the minimum level and the output (nullptr = stderr). Call before
// starting threads.
void configure(Level level, std::FILE* out);
// Parses Redis's loglevel names (debug, verbose, notice, warning).
bool parse_level(std::string_view name, Level* level);

void write(Level level, std::string_view message);
bool enabled(Level level);

template <class... A>
void notice(fmt::format_string<A...> f, A&&... a) {
  if (enabled(Level::kNotice)) write(Level::kNotice, fmt::format(f, std::forward<A>(a)...));
}
template <class... A>
void warning(fmt::format_string<A...> f, A&&... a) {
  if (enabled(Level::kWarning)) write(Level::kWarning, fmt::format(f, std::forward<A>(a)...));
}
template <class... A>
void verbose(fmt::format_string<A...> f, A&&... a) {
  if (enabled(Level::kVerbose)) write(Level::kVerbose, fmt::format(f, std::forward<A>(a)...));
}

}  // namespace lmkv::log
