// raise_files_limit on RLIMIT_NOFILE: raised up to the hard limit, never
// lowered, and reporting what it could not have.
#include "base/files.h"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cerrno>

namespace lmkv {

namespace {

// Puts the process's limits back when a test ends.
struct KeepLimit {
  rlimit saved{};
  KeepLimit() { getrlimit(RLIMIT_NOFILE, &saved); }
  ~KeepLimit() { setrlimit(RLIMIT_NOFILE, &saved); }
};

rlimit current() {
  rlimit r{};
  getrlimit(RLIMIT_NOFILE, &r);
  return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(files)

BOOST_AUTO_TEST_CASE(the_soft_limit_is_raised_up_to_the_hard_one_and_never_lowered) {
  KeepLimit keep;
  const rlim_t hard = current().rlim_max;
  BOOST_REQUIRE(hard >= 200);
  rlimit low{100, hard};
  BOOST_REQUIRE(setrlimit(RLIMIT_NOFILE, &low) == 0);

  FilesLimit got = raise_files_limit(150);
  BOOST_TEST(got.before == 100u);
  BOOST_TEST(got.now == 150u);
  BOOST_TEST(got.error == 0);
  BOOST_TEST(current().rlim_cur == 150u);
  BOOST_TEST(current().rlim_max == hard);

  got = raise_files_limit(120);  // already enough: left as it is
  BOOST_TEST(got.now == 150u);
  BOOST_TEST(current().rlim_cur == 150u);
}

// In a child: a hard limit lowered without the privilege stays lowered.
BOOST_AUTO_TEST_CASE(past_the_hard_limit_it_goes_as_far_as_allowed) {
  struct Seen {
    FilesLimit got;
    rlimit after;
  } seen{};
  int fds[2];
  BOOST_REQUIRE(pipe(fds) == 0);
  const pid_t pid = fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    rlimit low{100, 200};
    if (setrlimit(RLIMIT_NOFILE, &low) != 0) _exit(2);
    Seen out{raise_files_limit(300), current()};
    _exit(write(fds[1], &out, sizeof out) == sizeof out ? 0 : 3);
  }
  close(fds[1]);
  BOOST_REQUIRE(read(fds[0], &seen, sizeof seen) == static_cast<ssize_t>(sizeof seen));
  close(fds[0]);
  int status = 0;
  BOOST_REQUIRE(waitpid(pid, &status, 0) == pid);
  BOOST_REQUIRE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

  BOOST_TEST(seen.got.before == 100u);
  if (seen.got.now == 300u) {  // root holding CAP_SYS_RESOURCE: the hard limit moves too
    BOOST_TEST(seen.got.error == 0);
    BOOST_TEST(seen.after.rlim_max == 300u);
  } else {  // up to the hard limit, and the error of the raise past it
    BOOST_TEST(seen.got.now == 200u);
    BOOST_TEST(seen.got.error == EPERM);
    BOOST_TEST(seen.after.rlim_cur == 200u);
    BOOST_TEST(seen.after.rlim_max == 200u);
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace lmkv
