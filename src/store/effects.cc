#include "store/effects.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <utility>

#include "base/numbers.h"

namespace lmkv::store {
namespace {

// Reads "<type><digits>\r\n" at *p (before end), moving *p past it. By
// hand, not find() and from_chars: a replay reads four of these per SET,
// and they were a fifth of its instructions (callgrind, BENCHMARKS.md's
// stop 21).
bool read_len(const char** p, const char* end, char type, size_t* n) {
  constexpr size_t kMaxDigits = 19;  // below 2^64 whatever they are
  const char* s = *p;
  if (s == end || *s != type) return false;
  const char* const digits = ++s;
  const char* const last = digits + std::min(static_cast<size_t>(end - digits), kMaxDigits);
  size_t v = 0;
  for (; s < last; ++s) {
    const auto d = static_cast<unsigned>(static_cast<unsigned char>(*s)) - '0';
    if (d > 9) break;
    v = v * 10 + d;
  }
  // A 20th digit fails here, as not "\r".
  if (s == digits || end - s < 2 || s[0] != '\r' || s[1] != '\n') return false;
  *n = v;
  *p = s + 2;
  return true;
}

}  // namespace

// One growth of `out` per effect, then plain stores: this runs for every
// write on the writer thread, where seven appends (each with its capacity
// check) cost more than the bytes they copy.
void append_effect(std::string* out, std::initializer_list<std::string_view> args) {
  constexpr size_t kHeader = 24;  // "$" + 20 digits + CRLF, rounded up
  size_t bound = kHeader;
  for (auto a : args) bound += kHeader + a.size() + 2;
  const size_t start = out->size();
  out->resize(start + bound);
  char* p = out->data() + start;
  char* const end = out->data() + out->size();
  auto header = [&](char type, size_t n) {
    *p++ = type;
    p = std::to_chars(p, end, n).ptr;
    *p++ = '\r';
    *p++ = '\n';
  };
  header('*', args.size());
  for (auto a : args) {
    header('$', a.size());
    if (!a.empty()) std::memcpy(p, a.data(), a.size());
    p += a.size();
    *p++ = '\r';
    *p++ = '\n';
  }
  out->resize(static_cast<size_t>(p - out->data()));
}

EffectOp effect_op(std::string_view name) {
  static constexpr std::pair<std::string_view, EffectOp> kOps[] = {
      {"SET", EffectOp::kSet},           {"DEL", EffectOp::kDel},
      {"SELECT", EffectOp::kSelect},     {"FLUSHDB", EffectOp::kFlushDb},
      {"FLUSHALL", EffectOp::kFlushAll}, {"SWAPDB", EffectOp::kSwapDb}};
  for (const auto& [n, op] : kOps)
    if (name.size() == n.size() && (name == n || iequals(name, n))) return op;
  return EffectOp::kOther;
}

Status parse_effects(std::string_view payload, std::vector<std::string_view>* args,
                     std::vector<EffectRef>* effects) {
  constexpr size_t kMaxArgs = 1024;
  const char* p = payload.data();
  const char* const end = p + payload.size();
  while (p != end) {
    size_t argc = 0;
    if (!read_len(&p, end, '*', &argc) || argc == 0 || argc > kMaxArgs)
      return err("log payload: bad effect header");
    const size_t first = args->size();
    for (size_t i = 0; i < argc; ++i) {
      size_t len = 0;
      if (!read_len(&p, end, '$', &len) || len > static_cast<size_t>(end - p) ||
          static_cast<size_t>(end - p) - len < 2 || p[len] != '\r' || p[len + 1] != '\n')
        return err("log payload: bad effect argument");
      args->emplace_back(p, len);
      p += len + 2;
    }
    effects->push_back(
        {effect_op((*args)[first]), static_cast<uint32_t>(first), static_cast<uint32_t>(argc)});
  }
  return {};
}

}  // namespace lmkv::store
