// commands/command_stats.h: INFO commandstats and errorstats, and the
// after-run bookkeeping every executed command goes through (stats, error
// prefixes, SLOWLOG).
//
// One CommandStats per process, attached once to the finished Registry
// (attach() before serving), then updated from every loop with relaxed
// atomics: a command costs two fetch_adds, no lock. Error prefixes are rare
// and kept under a mutex. It knows commands only by their CommandSpec and
// replies only by their bytes; it does not know loops or sockets.
// Any thread after attach().
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "commands/context.h"
#include "commands/registry.h"

namespace lmkv::commands {

class CommandStats {
 public:
  // Gives every command and subcommand of `registry` its counters. Call
  // once, before any record(); commands not attached are not counted.
  void attach(const Registry& registry);

  // A command that ran for `usec` microseconds; `failed` when its reply was
  // an error (Redis's failed_calls).
  void record(const CommandSpec& spec, int64_t usec, bool failed);
  // A command refused before running (arity, NOAUTH...: rejected_calls).
  void reject(const CommandSpec& spec);
  // An error reply sent to a client: counts its prefix ("ERR", "WRONGTYPE").
  // `reply` starts with the '-' of the error line.
  void error_reply(std::string_view reply);

  // CONFIG RESETSTAT.
  void reset();

  // The INFO sections' lines (CRLF-terminated, no header).
  std::string commandstats() const;
  std::string errorstats() const;
  uint64_t total_error_replies() const { return total_errors_.load(std::memory_order_relaxed); }

 private:
  struct Counters {
    std::atomic<uint64_t> calls{0}, usec{0}, rejected{0}, failed{0};
  };
  // By CommandSpec::slot; null for a spec registered after attach().
  Counters* find(const CommandSpec& spec);
  const Counters* find(const CommandSpec& spec) const;

  const Registry* registry_ = nullptr;
  uint32_t slots_ = 0;                    // the registry's, at attach()
  std::unique_ptr<Counters[]> counters_;  // one per slot
  std::atomic<uint64_t> total_errors_{0};
  mutable std::mutex errors_mu_;
  std::map<std::string, uint64_t> errors_;  // prefix -> count, sorted as Redis lists them
};

// The subcommand entry args[1] names when `spec` is a container command
// (CONFIG GET -> "config|get"), else `spec`; null for an unknown
// subcommand, which Redis does not count.
const CommandSpec* resolve_subcommand(const CommandSpec& spec, Args args);

// After a command ran (or was refused): updates the server's CommandStats
// and SLOWLOG. `reply` holds exactly the bytes the command replied; `ran`
// is false when a pre-check refused it; `session` may be null.
void record_command(ServerApi& server, const Session* session, const CommandSpec& spec, Args args,
                    bool ran, int64_t usec, std::string_view reply);

}  // namespace lmkv::commands
