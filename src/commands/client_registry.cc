// commands/client_registry.cc: the process-wide table of connected clients.
// Sessions belong to their loops; the registry only holds pointers to them
// between add() and remove(), and formats CLIENT LIST lines.

#include "commands/client_registry.h"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

namespace lmkv::commands {

void ClientRegistry::add(Session* s) {
  std::lock_guard l(mu_);
  sessions_[s->id] = s;
}

void ClientRegistry::remove(Session* s) {
  std::lock_guard l(mu_);
  auto it = sessions_.find(s->id);
  if (it != sessions_.end() && it->second == s) sessions_.erase(it);
}

size_t ClientRegistry::size() const {
  std::lock_guard l(mu_);
  return sessions_.size();
}

void ClientRegistry::set_name(Session& s, std::string name) {
  std::lock_guard l(mu_);
  s.name = std::move(name);
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
  std::lock_guard l(mu_);
  std::vector<const Session*> ordered;
  ordered.reserve(sessions_.size());
  for (const auto& [id, s] : sessions_) ordered.push_back(s);
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
      "tot-mem=0 events=r cmd={} user=default redir=-1 resp={}",
      s.id, s.addr, s.laddr, s.fd, s.name, age, idle, s.db.load(std::memory_order_relaxed),
      s.last_command.load(std::memory_order_relaxed), s.protocol.load(std::memory_order_relaxed));
}

}  // namespace lmkv::commands
