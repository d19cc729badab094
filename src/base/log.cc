#include "base/log.h"

#include <sys/time.h>
#include <unistd.h>

#include <ctime>

namespace lmkv::log {
namespace {
Level g_level = Level::kNotice;
std::FILE* g_out = nullptr;
}  // namespace

void configure(Level level, std::FILE* out) {
  g_level = level;
  g_out = out;
}

bool parse_level(std::string_view name, Level* level) {
  if (name == "debug") *level = Level::kDebug;
  else if (name == "verbose") *level = Level::kVerbose;
  else if (name == "notice") *level = Level::kNotice;
  else if (name == "warning") *level = Level::kWarning;
  else return false;
  return true;
}

bool enabled(Level level) { return level >= g_level; }

void write(Level level, std::string_view message) {
  static constexpr char kMarks[] = {'.', '-', '*', '#'};
  timeval tv;
  gettimeofday(&tv, nullptr);
  tm t;
  localtime_r(&tv.tv_sec, &t);
  char when[64];
  size_t n = strftime(when, sizeof when, "%d %b %Y %H:%M:%S", &t);
  std::FILE* out = g_out ? g_out : stderr;
  fmt::print(out, "{}:M {}.{:03d} {} {}\n", getpid(), std::string_view(when, n),
             static_cast<int>(tv.tv_usec / 1000), kMarks[static_cast<int>(level)], message);
  std::fflush(out);
}

}  // namespace lmkv::log
