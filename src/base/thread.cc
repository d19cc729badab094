#include "base/thread.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <string>

namespace lmkv {

void become_background_thread(const char* name) {
  // Per thread on Linux: PRIO_PROCESS with a thread id. A failure (not
  // expected when lowering) leaves the thread at its priority.
  (void)setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), kBackgroundNice);
  pthread_setname_np(pthread_self(), name);
}

int current_thread_id() { return static_cast<int>(gettid()); }

int64_t thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

SchedStat::SchedStat(int tid) {
  const std::string path = "/proc/self/task/" + std::to_string(tid) + "/schedstat";
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
}

SchedStat::~SchedStat() {
  if (fd_ >= 0) ::close(fd_);
}

// The file is "<cpu ns> <run_delay ns> <timeslices>\n", generated anew at
// each read from offset 0.
std::optional<SchedStat::Sample> SchedStat::read() const {
  if (fd_ < 0) return std::nullopt;
  char buf[96];
  const ssize_t n = ::pread(fd_, buf, sizeof buf - 1, 0);
  if (n <= 0) return std::nullopt;
  buf[n] = '\0';
  char* end = nullptr;
  const long long cpu = std::strtoll(buf, &end, 10);
  if (end == buf || *end != ' ') return std::nullopt;
  const char* wait = end + 1;
  const long long delay = std::strtoll(wait, &end, 10);
  if (end == wait) return std::nullopt;
  return Sample{cpu, delay};
}

}  // namespace lmkv
