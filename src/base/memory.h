// base/memory.h: how much memory this process may use, for defaults sized
// by it (write-buffer-size): the machine's RAM, or less if the process's
// memory cgroup (v1 memory.limit_in_bytes or v2 memory.max, this group's
// or an ancestor's) caps it. Knows nothing of the server. Any thread; it
// reads /proc and /sys each call.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lmkv {

uint64_t memory_limit();

// The pieces, for tests. The path of this process's memory cgroup from
// /proc/self/cgroup's text: v1's "memory" hierarchy, else v2's "0::" line.
struct CgroupPath {
  std::string path;  // "/a/b"
  bool v2 = false;
};
std::optional<CgroupPath> memory_cgroup(std::string_view proc_self_cgroup);
// A limit file's value; nullopt for "max" or garbage.
std::optional<uint64_t> parse_memory_limit(std::string_view text);

}  // namespace lmkv
