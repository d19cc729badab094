// commands/registry.h: the command table. Each family file registers its
// commands with one line per command; server/ calls every register_*_family
// by name (no static initialisers). Lookup is case-insensitive and
// allocation-free. Built once at start, then read-only: any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "commands/context.h"

namespace lmkv::commands {

// Command flags (Redis's names; see COMMAND INFO).
enum Flag : uint32_t {
  kRead = 1 << 0,        // reads the keyspace; runs on the loop with a ReadView
  kWrite = 1 << 1,       // mutates the keyspace; runs on the writer
  kFast = 1 << 2,
  kAdmin = 1 << 3,
  kDenyOom = 1 << 4,
  kLoading = 1 << 5,     // allowed while loading
  kStale = 1 << 6,       // allowed on a stale replica
  kNoAuth = 1 << 7,      // allowed before AUTH (HELLO, AUTH, QUIT)
  kPubSub = 1 << 8,
  kNoScript = 1 << 9,
  kNoMulti = 1 << 10,
  kTransaction = 1 << 11,  // MULTI EXEC DISCARD WATCH UNWATCH: the dispatcher's [multi] slot
};

using Handler = void (*)(Context& ctx, Args args);

// First key index, last key index (-1: the last argument), step; 0s = no keys.
struct KeySpec {
  int first = 0, last = 0, step = 0;
};

struct CommandSpec {
  std::string_view name;  // upper case, as registered
  int arity = 0;          // Redis arity: N exact, -N at least N (name included)
  uint32_t flags = 0;
  KeySpec keys = {};
  Handler run = nullptr;
  std::string_view group = "generic";  // COMMAND DOCS group
  std::string_view summary;            // COMMAND DOCS summary
  std::string_view since = "1.0.0";
  // Subcommands with their own arity, flags and docs, for COMMAND INFO/DOCS/
  // LIST (CLIENT SETNAME...): `name` is the subcommand ("SETNAME"), and
  // `lower_name` its full "client|setname" (filled by the family). The parent's
  // handler dispatches to them and checks their arity.
  std::vector<CommandSpec> subcommand_specs = {};
  std::string lower_name = {};                // filled by add()
  // Filled by add(), subcommands included: a dense index for per-command
  // tables (CommandStats), so a command's counters cost no lookup.
  uint32_t slot = kNoSlot;
  static constexpr uint32_t kNoSlot = UINT32_MAX;
};

class Registry {
 public:
  void add(CommandSpec spec);
  // The command named `name` (any case), or nullptr.
  const CommandSpec* find(std::string_view name) const;
  const std::vector<const CommandSpec*>& all() const { return ordered_; }
  // The slots add() has handed out: every registered slot is below this.
  uint32_t slots() const { return next_slot_; }
  // rename-command: `from` is known as `to` from now on, or removed when
  // `to` is empty. Start-up only, before the registry is shared.
  Status rename(std::string_view from, std::string_view to);

 private:
  // Looked up with a string_view (no std::string per command) and a hash
  // cheaper than std::hash's for names of a few bytes.
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept {
      uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a
      for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
      return static_cast<size_t>(h);
    }
  };
  std::unordered_map<std::string, CommandSpec, NameHash, std::equal_to<>> by_name_;  // lower-case
  std::vector<const CommandSpec*> ordered_;
  uint32_t next_slot_ = 0;
  std::deque<std::string> renamed_;  // storage for renamed specs' `name`
};

// The family registrations, one per <group>_family.cc.
void register_string_family(Registry& r);      // GET SET MSET MGET ...
void register_bitmap_family(Registry& r);      // SETBIT GETBIT BITCOUNT BITPOS BITOP
void register_keys_family(Registry& r);        // DEL EXISTS TYPE KEYS SCAN DBSIZE FLUSHDB ...
void register_expire_family(Registry& r);      // EXPIRE PEXPIRE ... TTL PTTL PERSIST ...
void register_range_family(Registry& r);       // RANGE
void register_connection_family(Registry& r);  // PING ECHO SELECT HELLO CLIENT QUIT ...
void register_server_family(Registry& r);      // INFO TIME CONFIG COMMAND SHUTDOWN ...
void register_pubsub_family(Registry& r);      // SUBSCRIBE PUBLISH PUBSUB MONITOR ...
void register_acl_family(Registry& r);         // ACL (commands/acl.cc)
void register_transaction_family(Registry& r); // MULTI EXEC DISCARD WATCH UNWATCH

// True when `arity` admits `argc` arguments (name included).
inline bool arity_ok(int arity, size_t argc) {
  return arity >= 0 ? argc == static_cast<size_t>(arity) : argc >= static_cast<size_t>(-arity);
}

}  // namespace lmkv::commands
