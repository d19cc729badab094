#include "store/effects.h"

#include <charconv>
#include <vector>

namespace lmkv::store {
namespace {

void append_len(std::string* out, char type, size_t n) {
  char buf[24];
  buf[0] = type;
  auto [end, ec] = std::to_chars(buf + 1, buf + sizeof buf - 2, n);
  *end++ = '\r';
  *end++ = '\n';
  out->append(buf, static_cast<size_t>(end - buf));
}

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

void append_effect(std::string* out, std::initializer_list<std::string_view> args) {
  append_len(out, '*', args.size());
  for (auto a : args) {
    append_len(out, '$', a.size());
    out->append(a);
    out->append("\r\n", 2);
  }
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
