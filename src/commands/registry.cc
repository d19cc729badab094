#include "commands/registry.h"

#include <cassert>

#include "base/numbers.h"

namespace lmkv::commands {

void Registry::add(CommandSpec spec) {
  spec.lower_name = to_lower(spec.name);
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
  // C++20 has no heterogeneous unordered_map lookup without a custom hash;
  // the table is small, and this string fits in the SSO buffer.
  auto it = by_name_.find(std::string(lower, name.size()));
  return it == by_name_.end() ? nullptr : &it->second;
}

}  // namespace lmkv::commands
