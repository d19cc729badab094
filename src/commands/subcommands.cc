#include "commands/subcommands.h"

#include "base/numbers.h"
#include "resp/errors.h"

namespace lmkv::commands {

void run_subcommand(Context& ctx, Args args) {
  const CommandSpec* parent = ctx.registry ? ctx.registry->find(args[0]) : nullptr;
  if (parent) {
    for (const CommandSpec& sub : parent->subcommand_specs) {
      if (!iequals(sub.name, args[1])) continue;
      if (!arity_ok(sub.arity, args.size()))
        return ctx.reply.error(resp::wrong_arity(sub.lower_name));
      if (ctx.session)
        ctx.session->last_command.store(sub.lower_name.c_str(), std::memory_order_relaxed);
      return sub.run(ctx, args);
    }
  }
  ctx.reply.error(resp::unknown_subcommand(args[0], args[1]));
}

CommandSpec subcommand(std::string_view group, std::string_view name, std::string full, int arity,
                       uint32_t flags, Handler run, std::string_view summary,
                       std::string_view since) {
  return CommandSpec{.name = name,
                     .arity = arity,
                     .flags = flags,
                     .run = run,
                     .group = group,
                     .summary = summary,
                     .since = since,
                     .lower_name = std::move(full)};
}

void reply_help(Context& ctx, std::string_view command,
                std::initializer_list<std::string_view> lines) {
  ctx.reply.array(lines.size() + 3);
  std::string header(command);
  header += " <subcommand> [<arg> [value] [opt] ...]. Subcommands are:";
  ctx.reply.simple(header);
  for (std::string_view line : lines) ctx.reply.simple(line);
  ctx.reply.simple("HELP");
  ctx.reply.simple("    Prints this help.");
}

}  // namespace lmkv::commands
