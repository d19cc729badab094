#include "store/effects.h"

#include <charconv>
#include <cstring>
#include <vector>

namespace lmkv::store {
namespace {

// Reads "<type><digits>\r\n" at *pos.
bool read_len(std::string_view p, size_t* pos, char type, size_t* n) {
  if (*pos >= p.size() || p[*pos] != type) return false;
  size_t eol = p.find("\r\n", *pos);
  if (eol == std::string_view::npos) return false;
  auto [end, ec] = std::from_chars(p.data() + *pos + 1, p.data() + eol, *n);
  if (ec != std::errc() || end != p.data() + eol) return false;
  *pos = eol + 2;
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
          payload.size() - pos - len < 2 || payload.substr(pos + len, 2) != "\r\n")
        return err("log payload: bad effect argument");
      args.push_back(payload.substr(pos, len));
      pos += len + 2;
    }
    if (auto s = fn(args); !s) return s;
  }
  return {};
}

}  // namespace lmkv::store
