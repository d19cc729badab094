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
#include <utility>
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
  // Freeze the write buffer for a bulk apply past this many bytes; 0:
  // sized at start by the memory the process may use (see below).
  int64_t write_buffer_size = 0;
  // Slow writers down while more than this is logged but not yet in LMDB;
  // it bounds the log replayed at restart.
  int64_t max_unapplied_bytes = 32LL << 20;
  // Frozen write buffers staged as runs before one transaction merges them
  // into the tree (store/runs.h); 1: each applied into the tree at once;
  // 0: sized at start by the memory the process may use (see below).
  int64_t staged_runs = 0;
  // Threads faulting in the next bulk apply's LMDB leaves ahead of the
  // applier (store/prefetch.h); 0: none. Each takes an LMDB reader slot.
  int64_t prefetch_threads = 32;
  // A Bloom filter over the keys in LMDB (store/key_filter.h), so reads of
  // absent keys skip the B+tree.
  bool key_filter = true;
  std::string config_file;  // absolute path, for CONFIG REWRITE later
  // SLOWLOG (issue 5): commands that ran for at least this many
  // microseconds are logged (-1: none, 0: all); the log keeps the newest
  // slowlog-max-len of them.
  int64_t slowlog_log_slower_than = 10000;
  int64_t slowlog_max_len = 128;
  // Authentication (issue 2). requirepass is the default user's password
  // (empty: nopass); `users` are the config file's "user name rule..."
  // lines, applied at start; `renames` are rename-command pairs (an empty
  // new name removes the command).
  std::string requirepass;
  bool protected_mode = true;
  std::vector<std::vector<std::string>> users;
  std::vector<std::pair<std::string, std::string>> renames;
  uint32_t notify_keyspace_events = 0;  // commands::NotifyClass bits
  // Client limits (issue 2), Redis's names and defaults.
  int64_t client_query_buffer_limit = 1LL << 30;
  // client-output-buffer-limit per class, indexed by OutputClass.
  struct OutputLimit {
    int64_t hard = 0, soft = 0, soft_seconds = 0;
  };
  OutputLimit client_output_buffer_limit[3] = {
      {0, 0, 0}, {256LL << 20, 64LL << 20, 60}, {32LL << 20, 8LL << 20, 60}};
  int64_t timeout = 0;  // seconds a client may stay idle; 0: forever
};

// The client classes of client-output-buffer-limit, in Redis's order.
enum OutputClass { kNormalClass = 0, kReplicaClass = 1, kPubsubClass = 2 };

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

// write-buffer-size when not set: 16 MiB if the process may use 2 GiB or
// more (an apply dirties a leaf per key or so, whatever the buffer's size,
// so a larger one writes fewer pages per key), 8 MiB under a tighter cap
// (past RAM an apply holds ~7x the buffer in dirty leaves until its
// commit); at most half of max-unapplied-bytes, so an apply and a filling
// buffer both fit under it.
int64_t default_write_buffer_size(uint64_t memory_limit, int64_t max_unapplied_bytes);
// Staged runs by default: each holds a write buffer in memory until merged,
// and a merge of 4 over a large tree dirties up to LMDB's 512 MiB of pages
// before it spills them (a direct apply ~7x its buffer): so 4 where the
// process may use 4 GiB or more, else 1.
int64_t default_staged_runs(uint64_t memory_limit);

// CONFIG REWRITE: rewrites the config file at `path` in place with the
// values of `config`. Comments, blank lines and lines it does not own
// (user, rename-command, unknown text) are kept as they are; the first line
// of each directive gets the current value and its repeats are dropped;
// directives not in the file whose value differs from the default are
// appended after a "# Generated by CONFIG REWRITE" line, as Redis does.
Status rewrite_config_file(const Config& config, const std::string& path);

// The --help text.
std::string usage();

}  // namespace lmkv::server
