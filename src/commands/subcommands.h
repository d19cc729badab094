// commands/subcommands.h: container commands (CLIENT, CONFIG, COMMAND):
// running the subcommand args[1] names, declaring subcommand entries, and
// HELP replies. Shared by the families that have container commands.
// Any loop thread.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

#include "commands/registry.h"

namespace lmkv::commands {

// Runs the subcommand named by args[1] from the parent's registry entry:
// checks its arity (the error names "client|setname"), records it as the
// session's last command (CLIENT LIST shows cmd=client|list), or replies
// Redis's "unknown subcommand 'x'. Try CLIENT HELP.".
void run_subcommand(Context& ctx, Args args);

// A subcommand entry of `group`: `full` is the "parent|sub" name COMMAND
// reports.
CommandSpec subcommand(std::string_view group, std::string_view name, std::string full, int arity,
                       uint32_t flags, Handler run, std::string_view summary,
                       std::string_view since);

// Replies the lines of a HELP subcommand as status strings, as Redis's
// addReplyHelp does: a header naming the command, then the entries, then HELP.
void reply_help(Context& ctx, std::string_view command,
                std::initializer_list<std::string_view> lines);

}  // namespace lmkv::commands
