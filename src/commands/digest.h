// commands/digest.h: DEBUG DIGEST and DEBUG DIGEST-VALUE, a SHA-1 based
// fingerprint of the dataset and of single values, so two servers (or one
// server before and after a restart) can be compared by a test.
//
// The dataset digest is the XOR of one SHA-1 per live key over (database,
// key, type, deadline, value): independent of the order keys are visited
// in, all zeros for an empty dataset, as Redis's is. The numbers are lmkv's
// own, not Redis's (Redis hashes its internal encodings). Reads go through
// the caller's ReadView; loop threads only.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/error.h"
#include "store/read_view.h"

namespace lmkv::commands {

using Sha1Digest = std::array<uint8_t, 20>;

// Incremental SHA-1 (FIPS 180-4).
class Sha1 {
 public:
  Sha1();
  void update(std::string_view data);
  Sha1Digest finish();

 private:
  void block(const uint8_t* p);
  uint32_t h_[5];
  uint8_t buf_[64];
  size_t used_ = 0;
  uint64_t total_ = 0;
};

// 40 lower-case hex digits.
std::string sha1_hex(const Sha1Digest& d);

// The digest of one value (type and bytes; not its key or deadline).
Sha1Digest value_digest(const store::ValueView& v);

// The digest of every live key of databases [0, databases).
Result<Sha1Digest> dataset_digest(store::ReadView& view, int databases, int64_t now_ms);

}  // namespace lmkv::commands
