// commands/notify.h: keyspace events raised by write commands (Redis's
// notify-keyspace-events).
//
// A handler that changed a key calls notify(ctx, kNotifyString, "set", key)
// after the change. The writer collects a group's events in ctx.events and
// publishes them once the group is durable (pub/sub: __keyspace@<db>__:<key>
// and __keyevent@<db>__:<event>), so no subscriber hears of a write that
// could still be lost. ctx.events is null when notify-keyspace-events
// selects nothing: then notify costs one branch. Writer thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lmkv::commands {

// Event classes, as the letters of notify-keyspace-events.
enum NotifyClass : uint32_t {
  kNotifyKeyspace = 1 << 0,  // K
  kNotifyKeyevent = 1 << 1,  // E
  kNotifyGeneric = 1 << 2,   // g: DEL, EXPIRE, RENAME, ...
  kNotifyString = 1 << 3,    // $
  kNotifyExpired = 1 << 4,   // x
  kNotifyEvicted = 1 << 5,   // e (never raised: lmkv does not evict)
  kNotifyKeyMiss = 1 << 6,   // m (never raised: reads run on the loops)
  kNotifyNew = 1 << 7,       // n
  kNotifyList = 1 << 8,      // l
  kNotifySet = 1 << 9,       // s
  kNotifyHash = 1 << 10,     // h
  kNotifyZset = 1 << 11,     // z
  kNotifyStream = 1 << 12,   // t
  kNotifyModule = 1 << 13,   // d (never raised: no modules)
};

// notify-keyspace-events text <-> NotifyClass bits, with Redis's letters
// ("A" is every type class, not m or n). parse returns nullopt on an
// unknown letter; format gives Redis's canonical form (CONFIG GET).
std::optional<uint32_t> parse_notify_classes(std::string_view letters);
std::string format_notify_classes(uint32_t flags);

struct KeyspaceEvent {
  uint32_t cls = 0;
  int db = 0;
  std::string event;  // "set", "del", "expire", "expired", ...
  std::string key;
};

struct Context;

// Records an event for the group being executed (see above).
void notify(Context& ctx, uint32_t cls, std::string_view event, std::string_view key);
// Whether an event of `cls` would be recorded: lets a handler skip work
// that only an event needs (a blind SET reads the old value only for "new").
bool notifying(const Context& ctx, uint32_t cls);

}  // namespace lmkv::commands
