#include "commands/notify.h"

#include <span>

#include "commands/context.h"
#include "commands/pubsub.h"

namespace lmkv::commands {
namespace {

struct Letter {
  char c;
  uint32_t bits;
};

// Type classes in the order Redis prints them, then K, E and m.
constexpr Letter kTypeLetters[] = {
    {'g', kNotifyGeneric}, {'$', kNotifyString}, {'l', kNotifyList},    {'s', kNotifySet},
    {'h', kNotifyHash},    {'z', kNotifyZset},   {'x', kNotifyExpired}, {'e', kNotifyEvicted},
    {'t', kNotifyStream},  {'d', kNotifyModule}, {'n', kNotifyNew}};
constexpr Letter kTailLetters[] = {
    {'K', kNotifyKeyspace}, {'E', kNotifyKeyevent}, {'m', kNotifyKeyMiss}};

// "A": every type class, but neither key misses nor new-key events.
constexpr uint32_t kNotifyAll = kNotifyGeneric | kNotifyString | kNotifyList | kNotifySet |
                                kNotifyHash | kNotifyZset | kNotifyExpired | kNotifyEvicted |
                                kNotifyStream | kNotifyModule;

}  // namespace

std::optional<uint32_t> parse_notify_classes(std::string_view letters) {
  uint32_t flags = 0;
  for (char c : letters) {
    if (c == 'A') {
      flags |= kNotifyAll;
      continue;
    }
    bool known = false;
    for (std::span<const Letter> table :
         {std::span<const Letter>(kTypeLetters), std::span<const Letter>(kTailLetters)}) {
      for (const Letter& l : table) {
        if (l.c == c) {
          flags |= l.bits;
          known = true;
        }
      }
    }
    if (!known) return std::nullopt;
  }
  return flags;
}

std::string format_notify_classes(uint32_t flags) {
  std::string out;
  if ((flags & kNotifyAll) == kNotifyAll) {
    out += 'A';
    // 'n' is not part of "A"; Redis then drops it from the text as well.
  } else {
    for (const Letter& l : kTypeLetters)
      if (flags & l.bits) out += l.c;
  }
  for (const Letter& l : kTailLetters)
    if (flags & l.bits) out += l.c;
  return out;
}

// Records the event when some subscriber could want its class: the writer
// sets ctx.events only while notify-keyspace-events selects something.
bool notifying(const Context& ctx, uint32_t cls) {
  if (!ctx.events) return false;
  const PubSub* ps = ctx.server.pubsub();
  return !ps || (ps->notify_flags() & cls);
}

void notify(Context& ctx, uint32_t cls, std::string_view event, std::string_view key) {
  if (!notifying(ctx, cls)) return;
  ctx.events->push_back({cls, ctx.db, std::string(event), std::string(key)});
}

}  // namespace lmkv::commands
