// commands/digest.cc: SHA-1 and the dataset fingerprint (see digest.h).

#include "commands/digest.h"

#include <cstring>

namespace lmkv::commands {
namespace {

uint32_t rol(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

// Appends `v` as 8 little-endian bytes, so lengths and deadlines frame the
// hashed fields unambiguously.
void put64(Sha1& h, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(v >> (8 * i));
  h.update(std::string_view(b, 8));
}

}  // namespace

Sha1::Sha1() : h_{0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0} {}

void Sha1::block(const uint8_t* p) {
  uint32_t w[80];
  for (int i = 0; i < 16; ++i)
    w[i] = uint32_t{p[4 * i]} << 24 | uint32_t{p[4 * i + 1]} << 16 | uint32_t{p[4 * i + 2]} << 8 |
           uint32_t{p[4 * i + 3]};
  for (int i = 16; i < 80; ++i) w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
  uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3], e = h_[4];
  for (int i = 0; i < 80; ++i) {
    uint32_t f, k;
    if (i < 20) {
      f = (b & c) | (~b & d);
      k = 0x5A827999;
    } else if (i < 40) {
      f = b ^ c ^ d;
      k = 0x6ED9EBA1;
    } else if (i < 60) {
      f = (b & c) | (b & d) | (c & d);
      k = 0x8F1BBCDC;
    } else {
      f = b ^ c ^ d;
      k = 0xCA62C1D6;
    }
    const uint32_t t = rol(a, 5) + f + e + k + w[i];
    e = d;
    d = c;
    c = rol(b, 30);
    b = a;
    a = t;
  }
  h_[0] += a;
  h_[1] += b;
  h_[2] += c;
  h_[3] += d;
  h_[4] += e;
}

void Sha1::update(std::string_view data) {
  total_ += data.size();
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  size_t n = data.size();
  while (n > 0) {
    const size_t take = std::min(n, sizeof(buf_) - used_);
    std::memcpy(buf_ + used_, p, take);
    used_ += take;
    p += take;
    n -= take;
    if (used_ == sizeof(buf_)) {
      block(buf_);
      used_ = 0;
    }
  }
}

Sha1Digest Sha1::finish() {
  const uint64_t bits = total_ * 8;
  const uint8_t one = 0x80;
  update(std::string_view(reinterpret_cast<const char*>(&one), 1));
  const uint8_t zero = 0;
  while (used_ != 56) update(std::string_view(reinterpret_cast<const char*>(&zero), 1));
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(bits >> (56 - 8 * i));
  update(std::string_view(reinterpret_cast<const char*>(len), 8));
  Sha1Digest out;
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 4; ++j) out[4 * i + j] = static_cast<uint8_t>(h_[i] >> (24 - 8 * j));
  return out;
}

std::string sha1_hex(const Sha1Digest& d) {
  std::string out;
  out.reserve(40);
  for (uint8_t b : d) {
    out += "0123456789abcdef"[b >> 4];
    out += "0123456789abcdef"[b & 15];
  }
  return out;
}

Sha1Digest value_digest(const store::ValueView& v) {
  Sha1 h;
  put64(h, static_cast<uint64_t>(v.type));
  h.update(v.data);
  return h.finish();
}

Result<Sha1Digest> dataset_digest(store::ReadView& view, int databases, int64_t now_ms) {
  Sha1Digest total{};
  for (int db = 0; db < databases; ++db) {
    auto visited = view.scan(db, store::Bound::unbounded(), store::Bound::unbounded(), false,
                             now_ms, [&](std::string_view key, const store::ValueView& v) {
                               Sha1 h;
                               put64(h, static_cast<uint64_t>(db));
                               put64(h, key.size());
                               h.update(key);
                               put64(h, static_cast<uint64_t>(v.type));
                               put64(h, static_cast<uint64_t>(v.deadline_ms));
                               h.update(v.data);
                               const Sha1Digest d = h.finish();
                               for (size_t i = 0; i < d.size(); ++i) total[i] ^= d[i];
                               return true;
                             });
    if (!visited) return visited.error();
  }
  return total;
}

}  // namespace lmkv::commands
