// store/value.h: the on-disk encoding of keys and values.
//
// Key: one namespace byte (0x00 = user key) then the user key. LMDB keys
// must be 1..511 bytes, so user keys may be 0..510 bytes; longer keys are
// refused on write and never found on read.
//
// Value: one header byte = type (low 4 bits) | kHasDeadline (0x10); then,
// if the flag is set, the absolute deadline in Unix milliseconds as 8 bytes
// little-endian; then the payload. Room is left for more types and flags.
// Pure functions, any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lmkv::store {

inline constexpr size_t kMaxKeySize = 510;

enum class Type : uint8_t { kString = 0 };

// A decoded value; `data` views into the buffer it was decoded from (an LMDB
// page, valid until its transaction ends: copy what you keep).
struct ValueView {
  Type type = Type::kString;
  int64_t deadline_ms = 0;  // 0: no expiry
  std::string_view data;

  bool expired(int64_t now_ms) const { return deadline_ms != 0 && deadline_ms <= now_ms; }
};

bool key_fits(std::string_view key);
// Appends the LMDB key for `key` to *out (clears it first).
void encode_key(std::string_view key, std::string* out);
// The user key inside an LMDB key, or nullopt if not a user key.
std::optional<std::string_view> decode_key(std::string_view raw);

void encode_value(const ValueView& v, std::string* out);
// The same bytes written to `out`, which has room for exactly
// encoded_value_size(v) of them: for encoding straight into space reserved
// in an LMDB page (MDB_RESERVE, store/apply.cc).
size_t encoded_value_size(const ValueView& v);
void encode_value(const ValueView& v, char* out);
std::optional<ValueView> decode_value(std::string_view raw);

// "string" for TYPE.
std::string_view type_name(Type t);

}  // namespace lmkv::store
