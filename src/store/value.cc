// store/value.cc: key and value encoding (see value.h for the layout).
#include "store/value.h"

namespace lmkv::store {
namespace {

constexpr char kUserNamespace = '\0';
constexpr uint8_t kTypeMask = 0x0f;
constexpr uint8_t kHasDeadline = 0x10;
constexpr size_t kDeadlineSize = 8;

// The only types this build knows; anything else on disk is refused so a
// newer file is not misread.
bool known_type(uint8_t t) { return t == static_cast<uint8_t>(Type::kString); }

}  // namespace

bool key_fits(std::string_view key) { return key.size() <= kMaxKeySize; }

void encode_key(std::string_view key, std::string* out) {
  out->clear();
  out->reserve(key.size() + 1);
  out->push_back(kUserNamespace);
  out->append(key);
}

std::optional<std::string_view> decode_key(std::string_view raw) {
  if (raw.empty() || raw[0] != kUserNamespace) return std::nullopt;
  return raw.substr(1);
}

// The deadline is stored little-endian byte by byte, so the file is the same
// on every host.
void encode_value(const ValueView& v, std::string* out) {
  out->clear();
  const bool has_deadline = v.deadline_ms != 0;
  out->reserve(1 + (has_deadline ? kDeadlineSize : 0) + v.data.size());
  uint8_t header = static_cast<uint8_t>(v.type) & kTypeMask;
  if (has_deadline) header |= kHasDeadline;
  out->push_back(static_cast<char>(header));
  if (has_deadline) {
    const auto d = static_cast<uint64_t>(v.deadline_ms);
    for (size_t i = 0; i < kDeadlineSize; ++i) out->push_back(static_cast<char>(d >> (8 * i)));
  }
  out->append(v.data);
}

// Refuses, rather than guesses at, anything it does not fully understand:
// an empty buffer, unknown type or flag bits, a truncated deadline, or a
// deadline of 0 (which would read back as "no expiry").
std::optional<ValueView> decode_value(std::string_view raw) {
  if (raw.empty()) return std::nullopt;
  const auto header = static_cast<uint8_t>(raw[0]);
  if (header & ~(kTypeMask | kHasDeadline)) return std::nullopt;
  const uint8_t type = header & kTypeMask;
  if (!known_type(type)) return std::nullopt;
  ValueView v;
  v.type = static_cast<Type>(type);
  size_t pos = 1;
  if (header & kHasDeadline) {
    if (raw.size() < 1 + kDeadlineSize) return std::nullopt;
    uint64_t d = 0;
    for (size_t i = 0; i < kDeadlineSize; ++i)
      d |= static_cast<uint64_t>(static_cast<uint8_t>(raw[1 + i])) << (8 * i);
    if (d == 0) return std::nullopt;
    v.deadline_ms = static_cast<int64_t>(d);
    pos += kDeadlineSize;
  }
  v.data = raw.substr(pos);
  return v;
}

std::string_view type_name(Type t) {
  switch (t) {
    case Type::kString:
      return "string";
  }
  return "none";
}

}  // namespace lmkv::store
