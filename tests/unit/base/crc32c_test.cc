#include <boost/test/unit_test.hpp>

#include <string>

#include "base/crc32c.h"

BOOST_AUTO_TEST_CASE(crc32c_known_vectors) {
  // RFC 3720 (iSCSI) check value and test patterns.
  BOOST_TEST(lmkv::crc32c("123456789") == 0xE3069283u);
  BOOST_TEST(lmkv::crc32c(std::string(32, '\0')) == 0x8A9136AAu);
  BOOST_TEST(lmkv::crc32c(std::string(32, '\xff')) == 0x62A8AB43u);
}

BOOST_AUTO_TEST_CASE(crc32c_extends_across_pieces) {
  std::string s = "the quick brown fox jumps over the lazy dog, twice over";
  for (size_t cut = 0; cut <= s.size(); ++cut) {
    uint32_t a = lmkv::crc32c(0, s.data(), cut);
    BOOST_TEST(lmkv::crc32c(a, s.data() + cut, s.size() - cut) == lmkv::crc32c(s));
  }
}
