// server/config.h: the directives, from a Redis-style config file
// ("directive value" lines, '#' comments, quoted values) and from the
// command line ("--directive value", "--config FILE", or the file as the
// first argument, as redis-server takes it).
//
// One table (config.cc) names every directive with its default, whether
// CONFIG SET may change it at run time, and how it is read and shown; the
// file parser, the command line, CONFIG GET and CONFIG SET all use it, and
// man/lmkv-server.1 documents the same list. Startup only, on the main
// thread; at run time Server guards it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/log.h"
#include "store/env.h"

namespace lmkv::server {

struct Config {
  int port = 6379;
  std::string bind = "127.0.0.1";
  std::string dir = "./data";
  int threads = 0;  // 0: uv_available_parallelism()
  store::Fsync fsync = store::Fsync::kAlways;
  int64_t maxclients = 10000;
  int databases = 16;
  std::string logfile;  // empty: standard error
  log::Level loglevel = log::Level::kNotice;
  std::string pidfile;
  bool daemonize = false;
  int64_t range_default_limit = 1000;
  int64_t range_max_limit = 100000;
  int64_t proto_max_bulk_len = 512LL * 1024 * 1024;
  // Freeze the write buffer for a bulk apply past this many bytes.
  int64_t write_buffer_size = 8LL << 20;
  // Slow writers down while more than this is logged but not yet in LMDB;
  // it bounds the log replayed at restart.
  int64_t max_unapplied_bytes = 32LL << 20;
  std::string config_file;  // absolute path, for CONFIG REWRITE later
};

// What the command line asked for besides directives.
struct CommandLine {
  Config config;
  bool help = false;
  bool version = false;
};

// Parses argv (config file first, then --directive overrides in order).
Result<CommandLine> parse_command_line(int argc, char** argv);

// Applies "directive value..." from a file's text; errors name the line.
Status apply_config_text(Config& config, std::string_view text, std::string_view origin);

// One directive by name (case-insensitive), as CONFIG SET or a config line.
// `at_runtime` refuses the directives that cannot change while running.
Status set_directive(Config& config, std::string_view name, std::string_view value,
                     bool at_runtime);

// name/value pairs whose name matches the glob `pattern` (CONFIG GET).
std::vector<std::pair<std::string, std::string>> get_directives(const Config& config,
                                                                std::string_view pattern);

std::string_view fsync_name(store::Fsync f);

// The --help text.
std::string usage();

}  // namespace lmkv::server
