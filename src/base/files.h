// base/files.h: how many descriptors this process may open (RLIMIT_NOFILE),
// raised where the system allows. Knows nothing of the server, which sizes
// maxclients by it as Redis does (server/server.cc). Any thread.
#pragma once

#include <cstdint>

namespace lmkv {

struct FilesLimit {
  uint64_t before = 0;  // the soft limit found
  uint64_t now = 0;     // the soft limit after the call: `want` if it could be had
  int error = 0;        // errno of the raise that failed (0: none failed)
};

// Raises the soft limit to `want`, and the hard one with it when the process
// may (root, CAP_SYS_RESOURCE); else as far as the hard limit goes. Never
// lowers either limit.
FilesLimit raise_files_limit(uint64_t want);

}  // namespace lmkv
