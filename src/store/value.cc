// store/value.cc: key and value encoding (see value.h for the layout).
#include "store/value.h"

#include <cstring>

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

size_t encoded_value_size(const ValueView& v) {
  return 1 + (v.deadline_ms != 0 ? kDeadlineSize : 0) + v.data.size();
}

// The deadline is stored little-endian byte by byte, so the file is the same
// on every host.
void encode_value(const ValueView& v, char* out) {
  const bool has_deadline = v.deadline_ms != 0;
  uint8_t header = static_cast<uint8_t>(v.type) & kTypeMask;
  if (has_deadline) header |= kHasDeadline;
  *out++ = static_cast<char>(header);
  if (has_deadline) {
    const auto d = static_cast<uint64_t>(v.deadline_ms);
    for (size_t i = 0; i < kDeadlineSize; ++i) *out++ = static_cast<char>(d >> (8 * i));
  }
  if (!v.data.empty()) std::memcpy(out, v.data.data(), v.data.size());
}

void encode_value(const ValueView& v, std::string* out) {
  out->resize(encoded_value_size(v));
  encode_value(v, out->data());
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
