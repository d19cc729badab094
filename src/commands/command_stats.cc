// commands/command_stats.cc: per-command counters, error prefixes, and the
// after-run hook that feeds them and the SLOWLOG (see command_stats.h).

#include "commands/command_stats.h"

#include <fmt/format.h>

#include "base/clock.h"
#include "base/numbers.h"
#include "commands/acl.h"
#include "commands/client_registry.h"
#include "commands/slowlog.h"

namespace lmkv::commands {

void CommandStats::attach(const Registry& registry) {
  registry_ = &registry;
  slots_ = registry.slots();
  counters_ = std::make_unique<Counters[]>(slots_);
}

CommandStats::Counters* CommandStats::find(const CommandSpec& spec) {
  return spec.slot < slots_ ? &counters_[spec.slot] : nullptr;
}

const CommandStats::Counters* CommandStats::find(const CommandSpec& spec) const {
  return spec.slot < slots_ ? &counters_[spec.slot] : nullptr;
}

void CommandStats::record(const CommandSpec& spec, int64_t usec, bool failed) {
  Counters* c = find(spec);
  if (!c) return;
  c->calls.fetch_add(1, std::memory_order_relaxed);
  c->usec.fetch_add(static_cast<uint64_t>(usec), std::memory_order_relaxed);
  if (failed) c->failed.fetch_add(1, std::memory_order_relaxed);
}

void CommandStats::reject(const CommandSpec& spec) {
  if (Counters* c = find(spec)) c->rejected.fetch_add(1, std::memory_order_relaxed);
}

// Redis counts an error by the word after '-' ("-WRONGTYPE Operation...").
// It stops tracking new prefixes past 128 of them, so a client cannot grow
// the table without bound; so does this.
void CommandStats::error_reply(std::string_view reply) {
  total_errors_.fetch_add(1, std::memory_order_relaxed);
  std::string_view line = reply.substr(1);
  line = line.substr(0, std::min(line.find(' '), line.find('\r')));
  std::lock_guard l(errors_mu_);
  auto it = errors_.find(std::string(line));
  if (it != errors_.end()) {
    ++it->second;
  } else if (errors_.size() < 128) {
    errors_.emplace(std::string(line), 1);
  }
}

void CommandStats::reset() {
  for (uint32_t i = 0; i < slots_; ++i) {
    Counters& c = counters_[i];
    c.calls = 0;
    c.usec = 0;
    c.rejected = 0;
    c.failed = 0;
  }
  total_errors_ = 0;
  std::lock_guard l(errors_mu_);
  errors_.clear();
}

// One line per command that was called or refused, in the registry's
// order, with Redis's field names and two-decimal usec_per_call.
std::string CommandStats::commandstats() const {
  std::string out;
  if (!registry_) return out;
  auto line = [&](const CommandSpec& spec) {
    const Counters* found = find(spec);
    if (!found) return;
    const Counters& c = *found;
    const uint64_t calls = c.calls.load(std::memory_order_relaxed);
    const uint64_t rejected = c.rejected.load(std::memory_order_relaxed);
    const uint64_t failed = c.failed.load(std::memory_order_relaxed);
    if (calls == 0 && rejected == 0 && failed == 0) return;
    const uint64_t usec = c.usec.load(std::memory_order_relaxed);
    out += fmt::format(
        "cmdstat_{}:calls={},usec={},usec_per_call={:.2f},rejected_calls={},failed_calls={}\r\n",
        spec.lower_name, calls, usec, calls ? static_cast<double>(usec) / calls : 0.0, rejected,
        failed);
  };
  for (const CommandSpec* c : registry_->all()) {
    line(*c);
    for (const CommandSpec& s : c->subcommand_specs) line(s);
  }
  return out;
}

std::string CommandStats::errorstats() const {
  std::lock_guard l(errors_mu_);
  std::string out;
  for (const auto& [prefix, count] : errors_)
    out += fmt::format("errorstat_{}:count={}\r\n", prefix, count);
  return out;
}

const CommandSpec* resolve_subcommand(const CommandSpec& spec, Args args) {
  if (spec.subcommand_specs.empty()) return &spec;
  if (args.size() < 2) return &spec;
  for (const CommandSpec& s : spec.subcommand_specs)
    if (iequals(s.name, args[1])) return &s;
  return nullptr;
}

void record_command(ServerApi& server, const Session* session, const CommandSpec& spec, Args args,
                    bool ran, int64_t usec, std::string_view reply) {
  const bool failed = !reply.empty() && reply[0] == '-';
  CommandStats* stats = server.command_stats();
  if (stats && failed) stats->error_reply(reply);
  const CommandSpec* target = resolve_subcommand(spec, args);
  if (!target) return;
  // A subcommand's own arity is checked when it runs, but Redis refuses it
  // before running, as for any command.
  if (ran && target != &spec && !arity_ok(target->arity, args.size())) ran = false;
  if (stats) {
    if (ran)
      stats->record(*target, usec, failed);
    else if (failed)
      stats->reject(*target);
  }
  SlowLog* slowlog = server.slowlog();
  // A command carrying a secret (AUTH, HELLO AUTH, ACL SETUSER, CONFIG SET
  // requirepass) stays out of the log.
  if (!ran || !slowlog || !slowlog->wants(usec) || redact_args(spec, args)) return;
  std::string addr, name;
  if (session) {
    addr = session->addr;
    name = server.clients().name(*session);
  }
  slowlog->add(usec, unix_ms() / 1000, args, std::move(addr), std::move(name));
}

}  // namespace lmkv::commands
