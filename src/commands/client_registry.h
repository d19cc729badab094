// commands/client_registry.h: every connected client's Session, for CLIENT
// LIST/INFO/KILL and INFO clients, across loops. Sessions are added and
// removed by their loop; mutable string fields (name) are written and read
// under the registry mutex. Any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>

#include "commands/context.h"

namespace lmkv::commands {

class ClientRegistry {
 public:
  uint64_t next_id() { std::lock_guard l(mu_); return ++last_id_; }
  void add(Session* s);
  void remove(Session* s);
  size_t size() const;
  void set_name(Session& s, std::string name);
  std::string name(const Session& s) const;
  // One CLIENT LIST line (without the trailing newline) for `s`.
  std::string describe(const Session& s, int64_t now_ms) const;
  // CLIENT LIST: one line per client, "\n"-terminated, ordered by id.
  std::string list(int64_t now_ms) const;
  // CLIENT LIST ID: the lines of the clients with these ids, in the order
  // given (unknown ids are skipped), each "\n"-terminated.
  std::string list_ids(std::span<const uint64_t> ids, int64_t now_ms) const;

 private:
  std::string describe_locked(const Session& s, int64_t now_ms) const;
  mutable std::mutex mu_;
  uint64_t last_id_ = 0;
  std::unordered_map<uint64_t, Session*> sessions_;
};

}  // namespace lmkv::commands
