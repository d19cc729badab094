// main.cc: parse the command line, build a Server, run it; nothing else.
#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>

#include <fmt/format.h>

#include "base/log.h"
#include "server/config.h"
#include "server/server.h"

namespace {

// Detaches from the terminal as redis-server's daemonize does.
bool daemonize() {
  pid_t pid = fork();
  if (pid < 0) return false;
  if (pid > 0) _exit(0);
  setsid();
  int fd = open("/dev/null", O_RDWR);
  if (fd >= 0) {
    dup2(fd, STDIN_FILENO);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    if (fd > STDERR_FILENO) close(fd);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace lmkv;
  auto cl = server::parse_command_line(argc, argv);
  if (!cl) {
    fmt::print(stderr, "lmkv-server: {}\n", cl.error().message);
    return 1;
  }
  if (cl->help) {
    fmt::print("{}", server::usage());
    return 0;
  }
  if (cl->version) {
    fmt::print("lmkv-server v={}\n", LMKV_VERSION);
    return 0;
  }
  // A client that vanishes mid-write must not kill the server.
  std::signal(SIGPIPE, SIG_IGN);

  server::Config config = std::move(cl->config);
  std::FILE* log_file = nullptr;
  if (!config.logfile.empty()) {
    log_file = std::fopen(config.logfile.c_str(), "a");
    if (!log_file) {
      fmt::print(stderr, "lmkv-server: cannot open logfile '{}'\n", config.logfile);
      return 1;
    }
  }
  log::configure(config.loglevel, log_file);
  if (config.daemonize && !daemonize()) {
    log::warning("daemonize failed");
    return 1;
  }

  server::Server server(std::move(config));
  server.set_log_file(log_file);
  if (auto started = server.start(); !started) {
    log::warning("cannot start: {}", started.error().message);
    return 1;
  }
  return server.run();
}
