// commands/client_registry.cc: the process-wide table of connected clients.
// Sessions belong to their loops; the registry only holds pointers to them
// between add() and remove(), and formats CLIENT LIST lines.

#include "commands/client_registry.h"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "base/clock.h"
#include "base/numbers.h"

namespace lmkv::commands {

void ClientRegistry::add(Session* s) {
  std::lock_guard l(mu_);
  sessions_[s->id] = s;
}

bool ClientRegistry::add(Session* s, size_t limit, Closer close) {
  std::lock_guard l(mu_);
  if (sessions_.size() >= limit) return false;
  sessions_[s->id] = s;
  closers_[s->id] = std::move(close);
  return true;
}

void ClientRegistry::remove(Session* s) {
  std::lock_guard l(mu_);
  auto it = sessions_.find(s->id);
  if (it != sessions_.end() && it->second == s) {
    sessions_.erase(it);
    closers_.erase(s->id);
  }
}

std::optional<ClientType> parse_client_type(std::string_view name) {
  if (iequals(name, "normal")) return ClientType::kNormal;
  if (iequals(name, "pubsub")) return ClientType::kPubSub;
  if (iequals(name, "master")) return ClientType::kMaster;
  if (iequals(name, "replica") || iequals(name, "slave")) return ClientType::kReplica;
  return std::nullopt;
}

// `subscriptions` belongs to the session's loop; a stale count only makes
// a listing taken at that instant a little off, as in Redis across threads.
ClientType ClientRegistry::type_of(const Session& s) const {
  return s.subscriptions > 0 ? ClientType::kPubSub : ClientType::kNormal;
}

std::string ClientRegistry::list_type(ClientType type, int64_t now_ms) const {
  return list_if([&](const Session& s) { return type_of(s) == type; }, now_ms);
}

int ClientRegistry::kill(const KillFilter& f, const Session* self, bool* kill_self) {
  *kill_self = false;
  std::vector<Closer> close;
  std::vector<uint64_t> gone;
  int n = 0;
  {
    std::lock_guard l(mu_);
    for (const auto& [id, s] : sessions_) {
      if (f.id && *f.id != id) continue;
      if (f.type && *f.type != type_of(*s)) continue;
      if (f.addr && *f.addr != s->addr) continue;
      if (f.laddr && *f.laddr != s->laddr) continue;
      if (f.user && *f.user != s->user) continue;
      if (s == self) {
        if (f.skipme) continue;
        *kill_self = true;
      } else if (auto it = closers_.find(id); it != closers_.end() && it->second) {
        close.push_back(it->second);
        gone.push_back(id);
      }
      ++n;
    }
    // A killed client is gone for every later command, as in Redis, although
    // its loop closes the socket a moment later: CLIENT LIST and a second
    // KILL must not see it.
    for (uint64_t id : gone) {
      sessions_.erase(id);
      closers_.erase(id);
    }
  }
  // Outside the lock: a closer posts to a loop, which may be this one.
  for (auto& c : close) c();
  return n;
}

bool ClientRegistry::has_user(std::string_view user) const {
  std::lock_guard l(mu_);
  for (const auto& [id, s] : sessions_)
    if (s->user == user) return true;
  return false;
}

void ClientRegistry::pause(int64_t until_ms, bool all) {
  {
    std::lock_guard l(mu_);
    // A pause that has ended leaves no mode behind.
    if (pause_until_.load() <= mono_ms()) pause_all_ = all;
    else if (all) pause_all_ = true;
    pause_until_ = std::max(pause_until_.load(), until_ms);
  }
  if (pause_listener_) pause_listener_();
}

void ClientRegistry::unpause() {
  pause_until_ = 0;
  pause_all_ = false;
  if (pause_listener_) pause_listener_();
}

int64_t ClientRegistry::pause_left(bool is_write, int64_t now_ms) const {
  const int64_t until = pause_until_.load(std::memory_order_relaxed);
  if (until <= now_ms) return 0;
  if (!is_write && !pause_all_.load(std::memory_order_relaxed)) return 0;
  return until - now_ms;
}

size_t ClientRegistry::size() const {
  std::lock_guard l(mu_);
  return sessions_.size();
}

void ClientRegistry::set_name(Session& s, std::string name) {
  std::lock_guard l(mu_);
  s.name = std::move(name);
}

void ClientRegistry::set_user(Session& s, std::string user) {
  std::lock_guard l(mu_);
  s.user = std::move(user);
}

std::string ClientRegistry::name(const Session& s) const {
  std::lock_guard l(mu_);
  return s.name;
}

std::string ClientRegistry::describe(const Session& s, int64_t now_ms) const {
  std::lock_guard l(mu_);
  return describe_locked(s, now_ms);
}

std::string ClientRegistry::list(int64_t now_ms) const {
  return list_if([](const Session&) { return true; }, now_ms);
}

// The CLIENT LIST lines of the sessions `keep` selects, ordered by id.
std::string ClientRegistry::list_if(const std::function<bool(const Session&)>& keep,
                                    int64_t now_ms) const {
  std::lock_guard l(mu_);
  std::vector<const Session*> ordered;
  for (const auto& [id, s] : sessions_)
    if (keep(*s)) ordered.push_back(s);
  std::sort(ordered.begin(), ordered.end(),
            [](const Session* a, const Session* b) { return a->id < b->id; });
  std::string out;
  for (const Session* s : ordered) {
    out += describe_locked(*s, now_ms);
    out += '\n';
  }
  return out;
}

std::string ClientRegistry::list_ids(std::span<const uint64_t> ids, int64_t now_ms) const {
  std::lock_guard l(mu_);
  std::string out;
  for (uint64_t id : ids) {
    auto it = sessions_.find(id);
    if (it == sessions_.end()) continue;
    out += describe_locked(*it->second, now_ms);
    out += '\n';
  }
  return out;
}

// Redis 7.0's CLIENT LIST field set and order (clientInfoString). `now_ms`
// is a mono_ms() value, like the session's timestamps. Buffer and memory
// sizes that lmkv does not track report 0; the fields stay so that parsers
// splitting on them (redis-py's parse_client_list) see Redis's layout.
std::string ClientRegistry::describe_locked(const Session& s, int64_t now_ms) const {
  const int64_t age = std::max<int64_t>(0, (now_ms - s.created_ms) / 1000);
  const int64_t idle =
      std::max<int64_t>(0, (now_ms - s.last_interaction_ms.load(std::memory_order_relaxed)) / 1000);
  return fmt::format(
      "id={} addr={} laddr={} fd={} name={} age={} idle={} flags=N db={} sub=0 psub=0 ssub=0 "
      "multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 "
      "tot-mem=0 events=r cmd={} user={} redir=-1 resp={}",
      s.id, s.addr, s.laddr, s.fd, s.name, age, idle, s.db.load(std::memory_order_relaxed),
      s.last_command.load(std::memory_order_relaxed), s.user,
      s.protocol.load(std::memory_order_relaxed));
}

}  // namespace lmkv::commands
