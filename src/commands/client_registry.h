// commands/client_registry.h: every connected client's Session, for CLIENT
// LIST/INFO/KILL and INFO clients, across loops, and the CLIENT PAUSE state. Sessions are added and
// removed by their loop; mutable string fields (name) are written and read
// under the registry mutex. Any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "commands/context.h"

namespace lmkv::commands {

// CLIENT LIST TYPE and CLIENT KILL TYPE. lmkv has no replication links
// yet, so no session is a master or a replica.
enum class ClientType { kNormal, kPubSub, kMaster, kReplica };
// Parses "normal", "pubsub", "master", "replica" or "slave" (any case).
std::optional<ClientType> parse_client_type(std::string_view name);

// CLIENT KILL's filters; every one that is set must match.
struct KillFilter {
  std::optional<uint64_t> id;
  std::optional<ClientType> type;
  std::optional<std::string> addr, laddr, user;
  bool skipme = true;
};

class ClientRegistry {
 public:
  // Closes a session's connection on its own loop (posts to it). Any thread.
  using Closer = std::function<void()>;

  uint64_t next_id() { std::lock_guard l(mu_); return ++last_id_; }
  void add(Session* s);
  // The server's add: false, and `s` left out, when `limit` sessions are
  // registered already (maxclients). One lock for the check and the add, so
  // two loops accepting at once cannot both take the last slot.
  bool add(Session* s, size_t limit, Closer close);
  void remove(Session* s);
  size_t size() const;
  void set_name(Session& s, std::string name);
  // AUTH, RESET: the session's user (CLIENT LIST and KILL USER read it).
  void set_user(Session& s, std::string user);
  std::string name(const Session& s) const;
  // One CLIENT LIST line (without the trailing newline) for `s`.
  std::string describe(const Session& s, int64_t now_ms) const;
  // CLIENT LIST: one line per client, "\n"-terminated, ordered by id.
  std::string list(int64_t now_ms) const;
  // CLIENT LIST ID: the lines of the clients with these ids, in the order
  // given (unknown ids are skipped), each "\n"-terminated.
  std::string list_ids(std::span<const uint64_t> ids, int64_t now_ms) const;
  // CLIENT LIST TYPE: the lines of the clients of one type, ordered by id.
  std::string list_type(ClientType type, int64_t now_ms) const;

  // CLIENT KILL: closes every client matching `f` but `self`, each on its
  // own loop, and returns how many matched, `self` included; the others
  // leave the registry at once. `*kill_self` says whether `self` matched:
  // its caller closes it after the reply.
  int kill(const KillFilter& f, const Session* self, bool* kill_self);
  // True when a user of that name has a session (CLIENT KILL USER).
  bool has_user(std::string_view user) const;

  // CLIENT PAUSE / UNPAUSE. The pause is process-wide: until `until_ms`
  // (mono_ms()), every command (`all`) or only writes wait. A second pause
  // keeps the later end and the stricter mode, as Redis does.
  void pause(int64_t until_ms, bool all);
  void unpause();
  // How long a command must still wait (ms), or 0 when it may run now.
  int64_t pause_left(bool is_write, int64_t now_ms) const;
  // Whether a pause was ever set and not lifted: lets the per-command check
  // skip its clock read in the common case.
  bool maybe_paused() const { return pause_until_.load(std::memory_order_relaxed) != 0; }
  // Called after every pause change, so loops retry their waiting clients.
  void set_pause_listener(std::function<void()> fn) { pause_listener_ = std::move(fn); }

 private:
  std::string describe_locked(const Session& s, int64_t now_ms) const;
  std::string list_if(const std::function<bool(const Session&)>& keep, int64_t now_ms) const;
  ClientType type_of(const Session& s) const;
  mutable std::mutex mu_;
  uint64_t last_id_ = 0;
  std::unordered_map<uint64_t, Session*> sessions_;
  std::unordered_map<uint64_t, Closer> closers_;
  std::atomic<int64_t> pause_until_{0};
  std::atomic<bool> pause_all_{false};
  std::function<void()> pause_listener_;  // set once before serving
};

}  // namespace lmkv::commands
