#include "store/effects.h"

#include <charconv>
#include <cstring>
#include <utility>
#include <vector>

#include "base/numbers.h"

namespace lmkv::store {
namespace {

// Reads "<type><digits>\r\n" at *pos. By hand, not find() and from_chars:
// a replay reads four of these per SET, and they were a fifth of its
// instructions (callgrind, BENCHMARKS.md's stop 21).
bool read_len(std::string_view p, size_t* pos, char type, size_t* n) {
  constexpr size_t kMaxDigits = 19;  // below 2^64 whatever they are
  size_t i = *pos;
  if (i >= p.size() || p[i] != type) return false;
  const size_t first = ++i;
  size_t v = 0;
  for (; i < p.size() && p[i] >= '0' && p[i] <= '9'; ++i) {
    if (i - first == kMaxDigits) return false;
    v = v * 10 + static_cast<size_t>(p[i] - '0');
  }
  if (i == first || p.size() - i < 2 || p[i] != '\r' || p[i + 1] != '\n') return false;
  *n = v;
  *pos = i + 2;
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

Status for_each_effect(std::string_view payload, const EffectFn& fn) {
  std::vector<std::string_view> args;
  size_t pos = 0;
  while (pos < payload.size()) {
    size_t argc = 0;
    if (!read_len(payload, &pos, '*', &argc) || argc == 0 || argc > 1024)
      return err("log payload: bad effect header");
    args.clear();
    for (size_t i = 0; i < argc; ++i) {
      size_t len = 0;
      if (!read_len(payload, &pos, '$', &len) || len > payload.size() - pos ||
          payload.size() - pos - len < 2 || payload[pos + len] != '\r' ||
          payload[pos + len + 1] != '\n')
        return err("log payload: bad effect argument");
      args.push_back(payload.substr(pos, len));
      pos += len + 2;
    }
    if (auto s = fn(args); !s) return s;
  }
  return {};
}

}  // namespace lmkv::store
