// commands/bitmap_family.cc: bit operations on string values (SETBIT,
// GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD, BITFIELD_RO).
//
// A bitmap is an ordinary string: bit 0 is the most significant bit of byte
// 0. Reads run on the loop against ctx.view; writes run on the writer
// against ctx.txn and store the whole new value (the log records it as a
// SET, so replay is exact). Offsets are limited like Redis's: a bit offset
// must address a byte below proto-max-bulk-len (512 MB).

#include <algorithm>
#include <bit>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/numbers.h"
#include "commands/arguments.h"
#include "commands/registry.h"
#include "resp/errors.h"

namespace lmkv::commands {
namespace {

using store::ValueView;

constexpr int64_t kMaxStringSize = int64_t{512} * 1024 * 1024;

// Replies WRONGTYPE and returns true when `v` is not a string.
bool wrong_type(Context& ctx, const ValueView& v) {
  if (v.type == store::Type::kString) return false;
  ctx.reply.error(Code::kWrongType, resp::msg::kWrongType);
  return true;
}

// A bit offset: a non-negative integer whose byte is below 512 MB; "bit
// offset is not an integer or out of range" otherwise.
Result<int64_t> parse_bit_offset(std::string_view s) {
  auto v = parse_integer(s);
  if (!v || *v < 0 || (*v >> 3) >= kMaxStringSize) return error_text(resp::msg::kBitOffset);
  return *v;
}

// The bit at `offset` (0 past the end).
int bit_at(std::string_view data, int64_t offset) {
  const auto byte = static_cast<size_t>(offset >> 3);
  if (byte >= data.size()) return 0;
  return (static_cast<unsigned char>(data[byte]) >> (7 - (offset & 7))) & 1;
}

// ===========================================================================
// Ranges shared by BITCOUNT and BITPOS

// Parses the optional BYTE|BIT unit; true for BIT.
Result<bool> parse_unit(std::string_view s) {
  if (is_option(s, "BIT")) return true;
  if (is_option(s, "BYTE")) return false;
  return error_text(resp::msg::kSyntax);
}

// Clamps an inclusive [start, end] range over `total` units (bytes or bits)
// the way Redis does: negative indexes count from the end, then both are
// clamped to the string. The result may be empty (start > end).
void clamp_range(int64_t total, int64_t* start, int64_t* end) {
  if (*start < 0) *start += total;
  if (*end < 0) *end += total;
  if (*start < 0) *start = 0;
  if (*end < 0) *end = 0;
  if (*end >= total) *end = total - 1;
}

// Bits set in the inclusive bit range [first, last] of `data`.
int64_t count_bits(std::string_view data, int64_t first, int64_t last) {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  const int64_t first_byte = first >> 3, last_byte = last >> 3;
  int64_t count = 0;
  for (int64_t i = first_byte; i <= last_byte; ++i) count += std::popcount(p[i]);
  // Take off the bits of the edge bytes outside the range.
  const unsigned before = 0xFFu << (8 - (first & 7)) & 0xFFu;
  const unsigned after = (1u << (7 - (last & 7))) - 1;
  count -= std::popcount(p[first_byte] & before);
  count -= std::popcount(p[last_byte] & after);
  return count;
}

// The first bit equal to `bit` in the inclusive bit range [first, last], or
// nullopt.
std::optional<int64_t> find_bit(std::string_view data, int bit, int64_t first, int64_t last) {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  const unsigned char skip = bit ? 0x00 : 0xFF;  // a byte with no candidate
  int64_t pos = first;
  while (pos <= last) {
    // Whole bytes inside the range that cannot hold the bit are skipped.
    if ((pos & 7) == 0 && pos + 7 <= last && p[pos >> 3] == skip) {
      pos += 8;
      continue;
    }
    if (bit_at(data, pos) == bit) return pos;
    ++pos;
  }
  return std::nullopt;
}

// ===========================================================================
// Handlers

// GETBIT key offset: the bit, 0 past the end or when the key is absent.
void getbit(Context& ctx, Args args) {
  auto offset = parse_bit_offset(args[2]);
  if (!offset) return ctx.reply.error(offset.error());
  auto v = ctx.view->get(ctx.db, args[1], ctx.now_ms);
  if (!v) return ctx.fail(v.error());
  if (!*v) return ctx.reply.integer(0);
  if (wrong_type(ctx, **v)) return;
  ctx.reply.integer(bit_at((*v)->data, *offset));
}

// SETBIT key offset 0|1: sets or clears one bit, growing the string with
// zero bytes as needed, and replies with the bit's old value. The key keeps
// its TTL. Nothing is written (and no event raised) when neither the bit
// nor the length changes, as in Redis.
void setbit(Context& ctx, Args args) {
  auto offset = parse_bit_offset(args[2]);
  if (!offset) return ctx.reply.error(offset.error());
  auto on = parse_integer(args[3]);
  if (!on || (*on != 0 && *on != 1)) return ctx.reply.error(error_text(resp::msg::kBitValue));
  auto v = ctx.txn->get(ctx.db, args[1], ctx.now_ms);
  if (!v) return ctx.fail(v.error());
  if (*v && wrong_type(ctx, **v)) return;
  const auto byte = static_cast<size_t>(*offset >> 3);
  const int old = *v ? bit_at((*v)->data, *offset) : 0;
  const bool grows = !*v || (*v)->data.size() <= byte;
  if (!grows && old == *on) return ctx.reply.integer(old);
  if (!*v) {
    if (auto fits = check_key_fits(args[1]); !fits) return ctx.reply.error(fits.error());
  }
  std::string data;
  int64_t deadline = 0;
  if (*v) {
    data = (*v)->data;
    deadline = (*v)->deadline_ms;
  }
  if (data.size() <= byte) data.resize(byte + 1, '\0');
  const auto mask = static_cast<unsigned char>(1u << (7 - (*offset & 7)));
  auto& b = reinterpret_cast<unsigned char&>(data[byte]);
  b = *on ? (b | mask) : (b & ~mask);
  auto put = ctx.txn->put(ctx.db, args[1], ValueView{store::Type::kString, deadline, data});
  if (!put) return ctx.fail(put.error());
  notify(ctx, kNotifyString, "setbit", args[1]);
  ctx.reply.integer(old);
}

// BITCOUNT key [start end [BYTE|BIT]]: the number of set bits, in the whole
// string or in a range of bytes (default) or bits. As in Redis 7.0, an
// absent key counts 0 before the range is even parsed.
void bitcount(Context& ctx, Args args) {
  auto v = ctx.view->get(ctx.db, args[1], ctx.now_ms);
  if (!v) return ctx.fail(v.error());
  if (!*v) return ctx.reply.integer(0);
  if (wrong_type(ctx, **v)) return;
  const std::string_view data = (*v)->data;
  const auto len = static_cast<int64_t>(data.size());
  int64_t first = 0, last = len * 8 - 1;  // in bits
  if (args.size() == 4 || args.size() == 5) {
    auto start = parse_integer(args[2]);
    if (!start) return ctx.reply.error(start.error());
    auto end = parse_integer(args[3]);
    if (!end) return ctx.reply.error(end.error());
    bool bits = false;
    if (args.size() == 5) {
      auto unit = parse_unit(args[4]);
      if (!unit) return ctx.reply.error(unit.error());
      bits = *unit;
    }
    int64_t s = *start, e = *end;
    if (s < 0 && e < 0 && s > e) return ctx.reply.integer(0);
    clamp_range(bits ? len * 8 : len, &s, &e);
    if (s > e) return ctx.reply.integer(0);
    first = bits ? s : s * 8;
    last = bits ? e : e * 8 + 7;
  } else if (args.size() != 2) {
    return ctx.reply.error(error_text(resp::msg::kSyntax));
  }
  if (first > last) return ctx.reply.integer(0);
  ctx.reply.integer(count_bits(data, first, last));
}

// BITPOS key 0|1 [start [end [BYTE|BIT]]]: the position of the first bit
// with the given value, or -1. An absent key is all zeros (0 for a clear
// bit, -1 for a set one). Looking for a clear bit without an explicit end
// treats the string as zero-padded on the right, so an all-ones string
// answers its length in bits; with an explicit end it answers -1.
void bitpos(Context& ctx, Args args) {
  auto bit = parse_integer(args[2]);
  if (!bit) return ctx.reply.error(bit.error());
  if (*bit != 0 && *bit != 1) return ctx.reply.error(error_text(resp::msg::kBitArgument));
  auto v = ctx.view->get(ctx.db, args[1], ctx.now_ms);
  if (!v) return ctx.fail(v.error());
  if (!*v) return ctx.reply.integer(*bit ? -1 : 0);
  if (wrong_type(ctx, **v)) return;
  const std::string_view data = (*v)->data;
  const auto len = static_cast<int64_t>(data.size());
  int64_t first = 0, last = len * 8 - 1;  // in bits
  bool end_given = false;
  if (args.size() >= 4 && args.size() <= 6) {
    auto start = parse_integer(args[3]);
    if (!start) return ctx.reply.error(start.error());
    bool bits = false;
    if (args.size() == 6) {
      auto unit = parse_unit(args[5]);
      if (!unit) return ctx.reply.error(unit.error());
      bits = *unit;
    }
    const int64_t total = bits ? len * 8 : len;
    int64_t s = *start, e = total - 1;
    if (args.size() >= 5) {
      auto end = parse_integer(args[4]);
      if (!end) return ctx.reply.error(end.error());
      e = *end;
      end_given = true;
    }
    clamp_range(total, &s, &e);
    if (s > e) return ctx.reply.integer(-1);
    first = bits ? s : s * 8;
    last = bits ? e : e * 8 + 7;
  } else if (args.size() != 3) {
    return ctx.reply.error(error_text(resp::msg::kSyntax));
  }
  if (first > last) return ctx.reply.integer(-1);  // an empty string
  if (auto pos = find_bit(data, static_cast<int>(*bit), first, last))
    return ctx.reply.integer(*pos);
  ctx.reply.integer(*bit == 0 && !end_given ? last + 1 : -1);
}

// BITOP AND|OR|XOR|NOT destkey srckey [srckey ...]: combines the sources
// byte by byte (shorter ones are zero-padded) into destkey, without a TTL,
// and replies with its length. An empty result deletes destkey.
void bitop(Context& ctx, Args args) {
  enum class Op { kAnd, kOr, kXor, kNot };
  Op op;
  if (is_option(args[1], "AND")) {
    op = Op::kAnd;
  } else if (is_option(args[1], "OR")) {
    op = Op::kOr;
  } else if (is_option(args[1], "XOR")) {
    op = Op::kXor;
  } else if (is_option(args[1], "NOT")) {
    op = Op::kNot;
  } else {
    return ctx.reply.error(error_text(resp::msg::kSyntax));
  }
  if (op == Op::kNot && args.size() != 4) return ctx.reply.error(error_text(resp::msg::kBitopNot));

  // Copy each source out: the txn's views die with the first mutation.
  std::vector<std::string> sources;
  sources.reserve(args.size() - 3);
  size_t max_len = 0;
  for (size_t i = 3; i < args.size(); ++i) {
    auto v = ctx.txn->get(ctx.db, args[i], ctx.now_ms);
    if (!v) return ctx.fail(v.error());
    if (*v && wrong_type(ctx, **v)) return;
    sources.emplace_back(*v ? std::string((*v)->data) : std::string());
    max_len = std::max(max_len, sources.back().size());
  }
  std::string out(max_len, '\0');
  for (size_t i = 0; i < max_len; ++i) {
    auto byte = [&](size_t k) -> unsigned {
      return i < sources[k].size() ? static_cast<unsigned char>(sources[k][i]) : 0u;
    };
    unsigned r = byte(0);
    for (size_t k = 1; k < sources.size(); ++k) {
      if (op == Op::kAnd) r &= byte(k);
      if (op == Op::kOr) r |= byte(k);
      if (op == Op::kXor) r ^= byte(k);
    }
    if (op == Op::kNot) r = ~r;
    out[i] = static_cast<char>(r & 0xFF);
  }

  const std::string_view dest = args[2];
  if (max_len == 0) {
    auto deleted = ctx.txn->del(ctx.db, dest, ctx.now_ms);
    if (!deleted) return ctx.fail(deleted.error());
    // Redis 7.0 raises "del" even when destkey did not exist.
    notify(ctx, kNotifyGeneric, "del", dest);
    return ctx.reply.integer(0);
  }
  if (auto fits = check_key_fits(dest); !fits) return ctx.reply.error(fits.error());
  auto put = ctx.txn->put(ctx.db, dest, ValueView{store::Type::kString, 0, out});
  if (!put) return ctx.fail(put.error());
  notify(ctx, kNotifyString, "set", dest);
  ctx.reply.integer(static_cast<int64_t>(max_len));
}

// ===========================================================================
// BITFIELD

// One BITFIELD operation, parsed. `overflow` is the OVERFLOW mode in force
// when it was read.
struct BitfieldOp {
  enum class Kind { kGet, kSet, kIncrBy } kind;
  enum class Overflow { kWrap, kSat, kFail } overflow;
  bool is_signed;
  int bits;
  int64_t offset;  // in bits
  int64_t value;   // SET's value or INCRBY's increment
};

// "i1".."i64" or "u1".."u63" (lower case, as Redis).
Result<std::pair<bool, int>> parse_bitfield_type(std::string_view s) {
  auto bad = [] { return error_text(resp::msg::kBitfieldType); };
  if (s.empty() || (s[0] != 'i' && s[0] != 'u')) return bad();
  const bool is_signed = s[0] == 'i';
  auto n = parse_i64(s.substr(1));
  if (!n || *n < 1 || *n > (is_signed ? 64 : 63)) return bad();
  return std::pair{is_signed, static_cast<int>(*n)};
}

// A field offset: a bit offset, or "#n" for the n-th field of `bits` bits.
Result<int64_t> parse_field_offset(std::string_view s, int bits) {
  const bool by_field = !s.empty() && s[0] == '#';
  auto n = parse_i64(by_field ? s.substr(1) : s);
  if (!n) return error_text(resp::msg::kBitOffset);
  int64_t offset = *n;
  if (by_field && __builtin_mul_overflow(*n, int64_t{bits}, &offset))
    return error_text(resp::msg::kBitOffset);
  if (offset < 0 || (offset >> 3) >= kMaxStringSize) return error_text(resp::msg::kBitOffset);
  return offset;
}

// Parses the subcommands from args[2...]. Errors in Redis's order: the
// first bad token wins.
Result<std::vector<BitfieldOp>> parse_bitfield(Args args) {
  using Kind = BitfieldOp::Kind;
  using Overflow = BitfieldOp::Overflow;
  std::vector<BitfieldOp> ops;
  Overflow overflow = Overflow::kWrap;
  for (size_t j = 2; j < args.size();) {
    const size_t rest = args.size() - j - 1;
    Kind kind;
    if (is_option(args[j], "GET") && rest >= 2) {
      kind = Kind::kGet;
    } else if (is_option(args[j], "SET") && rest >= 3) {
      kind = Kind::kSet;
    } else if (is_option(args[j], "INCRBY") && rest >= 3) {
      kind = Kind::kIncrBy;
    } else if (is_option(args[j], "OVERFLOW") && rest >= 1) {
      if (is_option(args[j + 1], "WRAP")) {
        overflow = Overflow::kWrap;
      } else if (is_option(args[j + 1], "SAT")) {
        overflow = Overflow::kSat;
      } else if (is_option(args[j + 1], "FAIL")) {
        overflow = Overflow::kFail;
      } else {
        return error_text(resp::msg::kBitfieldOverflow);
      }
      j += 2;
      continue;
    } else {
      return error_text(resp::msg::kSyntax);
    }
    auto type = parse_bitfield_type(args[j + 1]);
    if (!type) return type.error();
    auto offset = parse_field_offset(args[j + 2], type->second);
    if (!offset) return offset.error();
    BitfieldOp op{kind, overflow, type->first, type->second, *offset, 0};
    if (kind != Kind::kGet) {
      auto v = parse_integer(args[j + 3]);
      if (!v) return v.error();
      op.value = *v;
    }
    ops.push_back(op);
    j += kind == Kind::kGet ? 3 : 4;
  }
  return ops;
}

// The `bits`-bit unsigned field at bit `offset` (bits past the end read 0).
uint64_t get_field(std::string_view data, int64_t offset, int bits) {
  uint64_t v = 0;
  for (int i = 0; i < bits; ++i) v = (v << 1) | static_cast<uint64_t>(bit_at(data, offset + i));
  return v;
}

// Writes the low `bits` bits of `v` at bit `offset`; `data` is long enough.
void set_field(std::string& data, int64_t offset, int bits, uint64_t v) {
  for (int i = 0; i < bits; ++i) {
    const int64_t pos = offset + i;
    auto& b = reinterpret_cast<unsigned char&>(data[static_cast<size_t>(pos >> 3)]);
    const auto mask = static_cast<unsigned char>(1u << (7 - (pos & 7)));
    const bool on = (v >> (bits - 1 - i)) & 1;
    b = on ? (b | mask) : (b & ~mask);
  }
}

int64_t sign_extend(uint64_t v, int bits) {
  if (bits < 64 && (v >> (bits - 1)) & 1) v |= ~uint64_t{0} << bits;
  return static_cast<int64_t>(v);
}

// value + incr in a field of `bits` bits under the op's overflow mode, as
// Redis's check*BitfieldOverflow: the new value, or nullopt when FAIL
// refuses it. SET is an increment of 0 from the value being set.
std::optional<uint64_t> add_field(const BitfieldOp& op, int64_t value, int64_t incr) {
  using Overflow = BitfieldOp::Overflow;
  const int bits = op.bits;
  int dir = 0;  // +1 overflow, -1 underflow
  uint64_t limit = 0;
  if (op.is_signed) {
    const int64_t max = bits == 64 ? INT64_MAX : (int64_t{1} << (bits - 1)) - 1;
    const int64_t min = -max - 1;
    const auto maxincr =
        static_cast<int64_t>(static_cast<uint64_t>(max) - static_cast<uint64_t>(value));
    const auto minincr =
        static_cast<int64_t>(static_cast<uint64_t>(min) - static_cast<uint64_t>(value));
    if (value > max || (bits != 64 && incr > maxincr) ||
        (value >= 0 && incr > 0 && incr > maxincr)) {
      dir = 1;
      limit = static_cast<uint64_t>(max);
    } else if (value < min || (bits != 64 && incr < minincr) ||
               (value < 0 && incr < 0 && incr < minincr)) {
      dir = -1;
      limit = static_cast<uint64_t>(min);
    }
  } else {
    const uint64_t max = (uint64_t{1} << bits) - 1;
    const auto u = static_cast<uint64_t>(value);
    const auto maxincr = static_cast<int64_t>(max - u);
    const auto minincr = static_cast<int64_t>(uint64_t{0} - u);
    if (u > max || (incr > 0 && incr > maxincr)) {
      dir = 1;
      limit = max;
    } else if (incr < 0 && incr < minincr) {
      dir = -1;
      limit = 0;
    }
  }
  const uint64_t sum = static_cast<uint64_t>(value) + static_cast<uint64_t>(incr);
  if (dir == 0 || op.overflow == Overflow::kWrap) return sum;  // set_field keeps the low bits
  if (op.overflow == Overflow::kSat) return limit;
  return std::nullopt;
}

// BITFIELD key [GET type offset] [SET type offset value] [INCRBY type
// offset increment] [OVERFLOW WRAP|SAT|FAIL] ...: one reply per GET, SET
// (the old value) and INCRBY (the new value; null when OVERFLOW FAIL
// refused it). `read_only` is BITFIELD_RO, which runs on the loop and
// accepts only GET. Any SET or INCRBY writes the whole string back, grown
// to the farthest field written, and raises "setbit".
void bitfield_generic(Context& ctx, Args args, bool read_only) {
  using Kind = BitfieldOp::Kind;
  auto ops = parse_bitfield(args);
  if (!ops) return ctx.reply.error(ops.error());
  int64_t highest = -1;  // the last bit any write touches
  for (const auto& op : *ops) {
    if (op.kind != Kind::kGet) highest = std::max(highest, op.offset + op.bits - 1);
  }
  if (read_only && highest >= 0) return ctx.reply.error(error_text(resp::msg::kBitfieldRoOnlyGet));

  auto v = read_only ? ctx.view->get(ctx.db, args[1], ctx.now_ms)
                     : ctx.txn->get(ctx.db, args[1], ctx.now_ms);
  if (!v) return ctx.fail(v.error());
  if (*v && wrong_type(ctx, **v)) return;
  std::string data;
  int64_t deadline = 0;
  if (*v) {
    data = (*v)->data;
    deadline = (*v)->deadline_ms;
  }
  if (highest >= 0) {
    if (!*v) {
      if (auto fits = check_key_fits(args[1]); !fits) return ctx.reply.error(fits.error());
    }
    const auto need = static_cast<size_t>(highest >> 3) + 1;
    if (data.size() < need) data.resize(need, '\0');
  }

  ctx.reply.array(ops->size());
  for (const auto& op : *ops) {
    const uint64_t raw = get_field(data, op.offset, op.bits);
    const int64_t old = op.is_signed ? sign_extend(raw, op.bits) : static_cast<int64_t>(raw);
    if (op.kind == Kind::kGet) {
      ctx.reply.integer(old);
      continue;
    }
    auto next = op.kind == Kind::kSet ? add_field(op, op.value, 0) : add_field(op, old, op.value);
    if (!next) {
      ctx.reply.null();
      continue;
    }
    set_field(data, op.offset, op.bits, *next);
    const uint64_t stored = get_field(data, op.offset, op.bits);
    const int64_t now = op.is_signed ? sign_extend(stored, op.bits) : static_cast<int64_t>(stored);
    ctx.reply.integer(op.kind == Kind::kSet ? old : now);
  }
  if (highest < 0) return;
  auto put = ctx.txn->put(ctx.db, args[1], ValueView{store::Type::kString, deadline, data});
  if (!put) return ctx.fail(put.error());
  notify(ctx, kNotifyString, "setbit", args[1]);
}

void bitfield(Context& ctx, Args args) { bitfield_generic(ctx, args, false); }
void bitfield_ro(Context& ctx, Args args) { bitfield_generic(ctx, args, true); }

}  // namespace

// clang-format off
void register_bitmap_family(Registry& r) {
  r.add({.name = "SETBIT",   .arity = 4,  .flags = kWrite | kDenyOom, .keys = {1, 1, 1},  .run = setbit,   .group = "bitmap", .summary = "Sets or clears the bit at offset in the string value stored at key", .since = "2.2.0"});
  r.add({.name = "GETBIT",   .arity = 3,  .flags = kRead | kFast,     .keys = {1, 1, 1},  .run = getbit,   .group = "bitmap", .summary = "Returns the bit value at offset in the string value stored at key", .since = "2.2.0"});
  r.add({.name = "BITCOUNT", .arity = -2, .flags = kRead,             .keys = {1, 1, 1},  .run = bitcount, .group = "bitmap", .summary = "Count set bits in a string", .since = "2.6.0"});
  r.add({.name = "BITPOS",   .arity = -3, .flags = kRead,             .keys = {1, 1, 1},  .run = bitpos,   .group = "bitmap", .summary = "Find first bit set or clear in a string", .since = "2.8.7"});
  r.add({.name = "BITFIELD",    .arity = -2, .flags = kWrite | kDenyOom, .keys = {1, 1, 1}, .run = bitfield,    .group = "bitmap", .summary = "Perform arbitrary bitfield integer operations on strings", .since = "3.2.0"});
  r.add({.name = "BITFIELD_RO", .arity = -2, .flags = kRead | kFast,     .keys = {1, 1, 1}, .run = bitfield_ro, .group = "bitmap", .summary = "Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD", .since = "6.0.0"});
  r.add({.name = "BITOP",    .arity = -4, .flags = kWrite | kDenyOom, .keys = {2, -1, 1}, .run = bitop,    .group = "bitmap", .summary = "Perform bitwise operations between strings", .since = "2.6.0"});
}
// clang-format on

}  // namespace lmkv::commands
