#include "base/thread.h"

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

namespace lmkv {

void become_background_thread(const char* name) {
  // Per thread on Linux: PRIO_PROCESS with a thread id. A failure (not
  // expected when lowering) leaves the thread at its priority.
  (void)setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), kBackgroundNice);
  pthread_setname_np(pthread_self(), name);
}

}  // namespace lmkv
