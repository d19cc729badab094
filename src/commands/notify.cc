#include "commands/notify.h"

#include "commands/context.h"

namespace lmkv::commands {

void notify(Context& ctx, uint32_t cls, std::string_view event, std::string_view key) {
  if (!ctx.events) return;
  ctx.events->push_back({cls, ctx.db, std::string(event), std::string(key)});
}

}  // namespace lmkv::commands
