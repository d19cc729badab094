#include "commands/registry.h"

#include <algorithm>
#include <cassert>

#include "base/numbers.h"

namespace lmkv::commands {

void Registry::add(CommandSpec spec) {
  spec.lower_name = to_lower(spec.name);
  spec.slot = next_slot_++;
  for (CommandSpec& s : spec.subcommand_specs) s.slot = next_slot_++;
  auto [it, inserted] = by_name_.emplace(spec.lower_name, std::move(spec));
  assert(inserted && "command registered twice");
  ordered_.push_back(&it->second);
}

const CommandSpec* Registry::find(std::string_view name) const {
  // Lower-case into a stack buffer: no allocation per command. No command
  // name is longer than 32 bytes, so a longer one is simply unknown.
  char lower[32];
  if (name.size() > sizeof lower) return nullptr;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    lower[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c;
  }
  auto it = by_name_.find(std::string_view(lower, name.size()));
  return it == by_name_.end() ? nullptr : &it->second;
}

}  // namespace lmkv::commands

namespace lmkv::commands {

// The spec keeps its address (the map node moves, the element does not), so
// ordered_ stays valid; a removed command leaves ordered_ as well.
Status Registry::rename(std::string_view from, std::string_view to) {
  auto node = by_name_.extract(to_lower(from));
  if (node.empty()) return err("No such command in rename-command");
  if (to.empty()) {
    const CommandSpec* gone = &node.mapped();
    ordered_.erase(std::remove(ordered_.begin(), ordered_.end(), gone), ordered_.end());
    return {};
  }
  const std::string lower = to_lower(to);
  if (lower.size() > 32 || by_name_.count(lower)) {
    by_name_.insert(std::move(node));
    return err(lower.size() > 32 ? "Target command name is too long"
                                 : "Target command name already exists");
  }
  std::string upper(to);
  for (char& c : upper) c = (c >= 'a' && c <= 'z') ? static_cast<char>(c - ('a' - 'A')) : c;
  node.mapped().name = renamed_.emplace_back(std::move(upper));
  node.mapped().lower_name = lower;
  node.key() = lower;
  by_name_.insert(std::move(node));
  return {};
}

}  // namespace lmkv::commands
