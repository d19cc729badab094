#include "base/memory.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>

namespace lmkv {

namespace {

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

std::optional<CgroupPath> memory_cgroup(std::string_view text) {
  std::optional<CgroupPath> v2;
  while (!text.empty()) {
    const size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    // hierarchy-id:controllers:path
    const size_t a = line.find(':');
    const size_t b = a == std::string_view::npos ? a : line.find(':', a + 1);
    if (b == std::string_view::npos) continue;
    const std::string_view id = line.substr(0, a), controllers = line.substr(a + 1, b - a - 1);
    const std::string path(line.substr(b + 1));
    if (id == "0" && controllers.empty()) {
      v2 = CgroupPath{path, true};
      continue;
    }
    for (size_t p = 0; p <= controllers.size();) {
      const size_t comma = std::min(controllers.find(',', p), controllers.size());
      if (controllers.substr(p, comma - p) == "memory") return CgroupPath{path, false};
      p = comma + 1;
    }
  }
  return v2;
}

std::optional<uint64_t> parse_memory_limit(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return v;
}

// The smallest limit on the way from the process's group up to the root:
// a parent's cap binds its children too.
uint64_t memory_limit() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  uint64_t limit = pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * page : UINT64_MAX;
  const auto self = read_file("/proc/self/cgroup");
  const auto group = self ? memory_cgroup(*self) : std::nullopt;
  if (!group) return limit;
  const std::string root = group->v2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/memory";
  const char* file = group->v2 ? "/memory.max" : "/memory.limit_in_bytes";
  std::string path = group->path;
  for (;;) {
    if (auto text = read_file(root + (path == "/" ? "" : path) + file)) {
      if (auto v = parse_memory_limit(*text)) limit = std::min(limit, *v);
    }
    if (path.empty() || path == "/") break;
    const size_t slash = path.rfind('/');
    path = slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
  }
  return limit;
}

}  // namespace lmkv
