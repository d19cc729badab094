#include "base/files.h"

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>

namespace lmkv {

FilesLimit raise_files_limit(uint64_t want) {
  FilesLimit out;
  rlimit now{};
  if (getrlimit(RLIMIT_NOFILE, &now) != 0) {
    out.error = errno;
    return out;
  }
  out.before = out.now = now.rlim_cur;
  if (now.rlim_cur == RLIM_INFINITY || now.rlim_cur >= want) return out;
  rlimit raised{want, std::max<rlim_t>(now.rlim_max, want)};
  if (setrlimit(RLIMIT_NOFILE, &raised) == 0) {
    out.now = want;
    return out;
  }
  out.error = errno;  // EPERM past the hard limit without the privilege
  if (now.rlim_max != RLIM_INFINITY && now.rlim_max > now.rlim_cur) {
    raised = {now.rlim_max, now.rlim_max};
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) out.now = now.rlim_max;
  }
  return out;
}

}  // namespace lmkv
