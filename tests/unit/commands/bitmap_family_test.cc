// tests/unit/commands/bitmap_family_test.cc: SETBIT, GETBIT, BITCOUNT,
// BITPOS, BITOP, BITFIELD, BITFIELD_RO. Expected bytes and error texts are redis-server 7.0.15's.
#include <boost/test/unit_test.hpp>

#include "harness.h"

namespace lmkv::commands::testing {
namespace {

struct BitmapFixture : CommandFixture {
  std::string set_bytes(std::string_view key, std::string value) {
    return run(std::vector<std::string>{"SET", std::string(key), std::move(value)});
  }
};

int64_t deadline_of(CommandFixture& f, std::string_view key) {
  store::ReadView view(f.engine());
  auto v = view.get(0, key, unix_ms());
  BOOST_TEST_REQUIRE(v.ok());
  return *v ? (*v)->deadline_ms : -1;
}

const std::string kBitOffset = error("bit offset is not an integer or out of range");
const std::string kSyntax = error("syntax error");
const std::string kNotInt = error("value is not an integer or out of range");

}  // namespace

BOOST_FIXTURE_TEST_SUITE(bitmap_family, BitmapFixture)

BOOST_AUTO_TEST_CASE(setbit_getbit) {
  BOOST_TEST(run({"SETBIT", "b", "7", "1"}) == integer(0));
  BOOST_TEST(run({"GET", "b"}) == bulk("\x01"));
  BOOST_TEST(run({"SETBIT", "b", "7", "1"}) == integer(1));
  BOOST_TEST(run({"SETBIT", "b", "7", "0"}) == integer(1));
  BOOST_TEST(run({"SETBIT", "b", "100", "1"}) == integer(0));
  BOOST_TEST(run({"STRLEN", "b"}) == integer(13));
  BOOST_TEST(run({"GETBIT", "b", "100"}) == integer(1));
  BOOST_TEST(run({"GETBIT", "b", "99"}) == integer(0));
  BOOST_TEST(run({"GETBIT", "b", "1000"}) == integer(0));
  BOOST_TEST(run({"GETBIT", "nokey", "0"}) == integer(0));
  BOOST_TEST(run({"GETBIT", "b", "4294967295"}) == integer(0));
  // Clearing a bit of a new key still creates it, one zero byte long.
  BOOST_TEST(run({"SETBIT", "nb", "0", "0"}) == integer(0));
  BOOST_TEST(run({"GET", "nb"}) == bulk(std::string(1, '\0')));
  // The Redis docs example.
  BOOST_TEST(run({"SETBIT", "mykey", "7", "1"}) == integer(0));
  BOOST_TEST(run({"SETBIT", "mykey", "7", "0"}) == integer(1));
  BOOST_TEST(run({"GET", "mykey"}) == bulk(std::string(1, '\0')));

  BOOST_TEST(run({"SETBIT", "b", "-1", "1"}) == kBitOffset);
  BOOST_TEST(run({"SETBIT", "b", "4294967296", "1"}) == kBitOffset);
  BOOST_TEST(run({"SETBIT", "b", "a", "1"}) == kBitOffset);
  BOOST_TEST(run({"SETBIT", "b", "a", "2"}) == kBitOffset);  // offset first
  const std::string bad_bit = error("bit is not an integer or out of range");
  BOOST_TEST(run({"SETBIT", "b", "1", "2"}) == bad_bit);
  BOOST_TEST(run({"SETBIT", "b", "1", "-1"}) == bad_bit);
  BOOST_TEST(run({"SETBIT", "b", "1", "a"}) == bad_bit);
  BOOST_TEST(run({"GETBIT", "b", "-1"}) == kBitOffset);
  BOOST_TEST(run({"GETBIT", "b", "4294967296"}) == kBitOffset);
  BOOST_TEST(run({"SETBIT", "b", "1"}) == error("wrong number of arguments for 'setbit' command"));
  BOOST_TEST(run({"GETBIT", "b"}) == error("wrong number of arguments for 'getbit' command"));

  // SETBIT keeps the TTL.
  BOOST_TEST(run({"SET", "t", "ab", "PXAT", "4102444800000"}) == kOk);
  BOOST_TEST(run({"SETBIT", "t", "0", "1"}) == integer(0));
  BOOST_TEST(run({"SETBIT", "t", "100", "1"}) == integer(0));
  BOOST_TEST(deadline_of(*this, "t") == 4102444800000);
}

BOOST_AUTO_TEST_CASE(bitcount) {
  BOOST_TEST(run({"SET", "mykey", "foobar"}) == kOk);
  BOOST_TEST(run({"BITCOUNT", "mykey"}) == integer(26));
  BOOST_TEST(run({"BITCOUNT", "mykey", "0", "0"}) == integer(4));
  BOOST_TEST(run({"BITCOUNT", "mykey", "1", "1"}) == integer(6));
  BOOST_TEST(run({"BITCOUNT", "mykey", "1", "1", "BYTE"}) == integer(6));
  BOOST_TEST(run({"BITCOUNT", "mykey", "5", "30", "BIT"}) == integer(17));
  BOOST_TEST(run({"BITCOUNT", "mykey", "0", "-1", "bit"}) == integer(26));
  BOOST_TEST(run({"BITCOUNT", "mykey", "-1", "-5"}) == integer(0));
  BOOST_TEST(run({"BITCOUNT", "mykey", "-2", "-1"}) == integer(7));
  BOOST_TEST(run({"BITCOUNT", "mykey", "-100", "100"}) == integer(26));
  BOOST_TEST(run({"BITCOUNT", "mykey", "3", "1"}) == integer(0));
  BOOST_TEST(run({"BITCOUNT", "mykey", "9", "9", "BIT"}) == integer(1));
  BOOST_TEST(run({"BITCOUNT", "mykey", "8", "8", "BIT"}) == integer(0));
  BOOST_TEST(run({"BITCOUNT", "nokey"}) == integer(0));
  // Redis 7.0 answers 0 for an absent key before parsing the range.
  BOOST_TEST(run({"BITCOUNT", "nokey", "a", "b"}) == integer(0));
  BOOST_TEST(run({"BITCOUNT", "nokey", "1"}) == integer(0));
  BOOST_TEST(run({"BITCOUNT", "nokey", "0", "1", "bogus"}) == integer(0));
  BOOST_TEST(run({"BITCOUNT", "mykey", "1"}) == kSyntax);
  BOOST_TEST(run({"BITCOUNT", "mykey", "0", "1", "bogus"}) == kSyntax);
  BOOST_TEST(run({"BITCOUNT", "mykey", "0", "1", "2", "3"}) == kSyntax);
  BOOST_TEST(run({"BITCOUNT", "mykey", "a", "1"}) == kNotInt);
  BOOST_TEST(run({"BITCOUNT", "mykey", "0", "b"}) == kNotInt);
  BOOST_TEST(run({"SET", "e", ""}) == kOk);
  BOOST_TEST(run({"BITCOUNT", "e"}) == integer(0));
  BOOST_TEST(run({"BITCOUNT", "e", "0", "-1"}) == integer(0));
  BOOST_TEST(run({"BITCOUNT"}) == error("wrong number of arguments for 'bitcount' command"));
}

BOOST_AUTO_TEST_CASE(bitpos) {
  // The Redis docs examples.
  BOOST_TEST(set_bytes("mykey", "\xff\xf0\x00") == kOk);
  BOOST_TEST(run({"BITPOS", "mykey", "0"}) == integer(12));
  BOOST_TEST(set_bytes("mykey", std::string("\x00\xff\xf0", 3)) == kOk);
  BOOST_TEST(run({"BITPOS", "mykey", "1", "0"}) == integer(8));
  BOOST_TEST(run({"BITPOS", "mykey", "1", "2"}) == integer(16));
  BOOST_TEST(run({"BITPOS", "mykey", "1", "2", "-1", "BYTE"}) == integer(16));
  BOOST_TEST(run({"BITPOS", "mykey", "1", "7", "15", "BIT"}) == integer(8));
  BOOST_TEST(set_bytes("mykey", std::string(3, '\0')) == kOk);
  BOOST_TEST(run({"BITPOS", "mykey", "1"}) == integer(-1));
  BOOST_TEST(run({"BITPOS", "mykey", "0", "1", "1", "bit"}) == integer(1));
  BOOST_TEST(run({"BITPOS", "mykey", "0", "-3", "-1", "bit"}) == integer(21));

  // All ones: without an explicit end the string counts as zero-padded.
  BOOST_TEST(set_bytes("ones", "\xff\xff\xff") == kOk);
  BOOST_TEST(run({"BITPOS", "ones", "0"}) == integer(24));
  BOOST_TEST(run({"BITPOS", "ones", "0", "0"}) == integer(24));
  BOOST_TEST(run({"BITPOS", "ones", "0", "3"}) == integer(-1));  // empty range
  BOOST_TEST(run({"BITPOS", "ones", "0", "0", "-1"}) == integer(-1));
  BOOST_TEST(run({"BITPOS", "ones", "0", "0", "-1", "bit"}) == integer(-1));
  BOOST_TEST(run({"BITPOS", "ones", "1", "1"}) == integer(8));
  BOOST_TEST(set_bytes("m", "\xff\x7f") == kOk);
  BOOST_TEST(run({"BITPOS", "m", "0", "1"}) == integer(8));
  BOOST_TEST(run({"BITPOS", "m", "0", "0", "0"}) == integer(-1));
  BOOST_TEST(run({"BITPOS", "m", "0", "3", "8", "bit"}) == integer(8));
  BOOST_TEST(run({"BITPOS", "m", "0", "9", "-1", "bit"}) == integer(-1));
  BOOST_TEST(run({"BITPOS", "m", "1", "9", "-1", "bit"}) == integer(9));
  BOOST_TEST(run({"BITPOS", "m", "1", "5", "2"}) == integer(-1));

  BOOST_TEST(run({"BITPOS", "nokey", "1"}) == integer(-1));
  BOOST_TEST(run({"BITPOS", "nokey", "0"}) == integer(0));
  BOOST_TEST(run({"BITPOS", "nokey", "1", "a"}) == integer(-1));
  BOOST_TEST(run({"BITPOS", "nokey", "2"}) == error("The bit argument must be 1 or 0."));
  BOOST_TEST(run({"BITPOS", "m", "x"}) == kNotInt);
  BOOST_TEST(run({"BITPOS", "m", "1", "a"}) == kNotInt);
  BOOST_TEST(run({"BITPOS", "m", "1", "0", "a"}) == kNotInt);
  BOOST_TEST(run({"BITPOS", "m", "1", "0", "0", "bogus"}) == kSyntax);
  BOOST_TEST(run({"BITPOS", "m", "1", "0", "1", "2", "3"}) == kSyntax);
  BOOST_TEST(run({"SET", "e", ""}) == kOk);
  BOOST_TEST(run({"BITPOS", "e", "0"}) == integer(-1));
  BOOST_TEST(run({"BITPOS", "e", "1"}) == integer(-1));
  BOOST_TEST(run({"BITPOS", "m"}) == error("wrong number of arguments for 'bitpos' command"));
}

BOOST_AUTO_TEST_CASE(bitop) {
  BOOST_TEST(run({"MSET", "a", "foobar", "b", "abcdef"}) == kOk);
  BOOST_TEST(run({"BITOP", "AND", "dest", "a", "b"}) == integer(6));
  BOOST_TEST(run({"GET", "dest"}) == bulk("`bc`ab"));
  BOOST_TEST(run({"BITOP", "or", "dest", "a", "b"}) == integer(6));
  BOOST_TEST(run({"GET", "dest"}) == bulk("goofev"));
  BOOST_TEST(run({"BITOP", "XOR", "dest", "a", "b", "nokey"}) == integer(6));
  BOOST_TEST(run({"GET", "dest"}) == bulk("\x07\r\x0c\x06\x04\x14"));
  BOOST_TEST(run({"BITOP", "NOT", "dest", "a"}) == integer(6));
  BOOST_TEST(run({"GET", "dest"}) == bulk("\x99\x90\x90\x9d\x9e\x8d"));
  // Shorter sources are zero-padded.
  BOOST_TEST(set_bytes("s1", "\xff\xff") == kOk);
  BOOST_TEST(set_bytes("s2", "\x0f") == kOk);
  BOOST_TEST(run({"BITOP", "AND", "d", "s1", "s2"}) == integer(2));
  BOOST_TEST(run({"GET", "d"}) == bulk(std::string("\x0f\x00", 2)));
  BOOST_TEST(run({"BITOP", "OR", "d", "s2", "s1"}) == integer(2));
  BOOST_TEST(run({"GET", "d"}) == bulk("\xff\xff"));
  // The destination loses its TTL; an empty result deletes it.
  BOOST_TEST(run({"SET", "t", "x", "PXAT", "4102444800000"}) == kOk);
  BOOST_TEST(run({"BITOP", "NOT", "t", "a"}) == integer(6));
  BOOST_TEST(deadline_of(*this, "t") == 0);
  BOOST_TEST(run({"BITOP", "AND", "t", "nokey", "nokey2"}) == integer(0));
  BOOST_TEST(run({"EXISTS", "t"}) == integer(0));
  // In place: the destination may be a source.
  BOOST_TEST(run({"BITOP", "NOT", "a", "a"}) == integer(6));
  BOOST_TEST(run({"GET", "a"}) == bulk("\x99\x90\x90\x9d\x9e\x8d"));

  BOOST_TEST(run({"BITOP", "NOT", "dest", "a", "b"}) ==
             error("BITOP NOT must be called with a single source key."));
  BOOST_TEST(run({"BITOP", "bogus", "dest", "a"}) == kSyntax);
  BOOST_TEST(run({"BITOP", "AND", "dest"}) ==
             error("wrong number of arguments for 'bitop' command"));
}

BOOST_AUTO_TEST_CASE(bitfield) {
  BOOST_TEST(run({"BITFIELD", "bf", "INCRBY", "u2", "100", "1", "OVERFLOW", "SAT", "incrby", "u2",
                  "102", "1"}) == "*2\r\n:1\r\n:1\r\n");
  // #1 is the second i8 field; 200 wraps to -56, read back as u8 200.
  BOOST_TEST(run({"BITFIELD", "bf", "SET", "i8", "#1", "200", "GET", "u8", "8", "OVERFLOW", "FAIL",
                  "SET", "i8", "0", "200", "GET", "i8", "0"}) ==
             "*4\r\n:0\r\n:200\r\n$-1\r\n:0\r\n");
  BOOST_TEST(run3({"BITFIELD", "bf", "OVERFLOW", "FAIL", "SET", "i8", "0", "200"}) ==
             "*1\r\n_\r\n");
  BOOST_TEST(run({"BITFIELD_RO", "bf", "GET", "u8", "8"}) == "*1\r\n:200\r\n");
  BOOST_TEST(run({"BITFIELD", "bf", "GET", "u8", "4294967288"}) == "*1\r\n:0\r\n");
  BOOST_TEST(run({"BITFIELD", "bf"}) == "*0\r\n");
  BOOST_TEST(run({"BITFIELD_RO", "nokey", "GET", "i8", "0"}) == "*1\r\n:0\r\n");
  BOOST_TEST(run({"EXISTS", "nokey"}) == integer(0));

  // 64-bit signed edges, wrapping by default, then saturating.
  BOOST_TEST(run({"BITFIELD", "w", "SET", "i64", "0", "-1", "GET", "u63", "0", "GET", "i64", "0",
                  "INCRBY", "i64", "0", "-9223372036854775808"}) ==
             "*4\r\n:0\r\n:9223372036854775807\r\n:-1\r\n:9223372036854775807\r\n");
  BOOST_TEST(run({"BITFIELD", "w",    "OVERFLOW", "SAT",
                  "INCRBY",   "i64",  "0",        "-9223372036854775808",
                  "INCRBY",   "i8",   "100",      "-200",
                  "INCRBY",   "u8",   "100",      "-300",
                  "OVERFLOW", "WRAP", "INCRBY",   "u8",
                  "100",      "-300", "INCRBY",   "i5",
                  "200",      "100"}) == "*5\r\n:-1\r\n:-128\r\n:0\r\n:212\r\n:4\r\n");
  BOOST_TEST(
      run({"BITFIELD", "s",        "OVERFLOW", "SAT", "SET", "u8", "0",   "-1",  "GET", "u8",
           "0",        "OVERFLOW", "WRAP",     "SET", "u8",  "0",  "257", "GET", "u8",  "0"}) ==
      "*4\r\n:0\r\n:255\r\n:255\r\n:1\r\n");
  // FAIL still creates the key, grown to the field, as Redis does.
  BOOST_TEST(run({"BITFIELD", "nb", "OVERFLOW", "FAIL", "INCRBY", "u8", "0", "300"}) ==
             "*1\r\n$-1\r\n");
  BOOST_TEST(run({"GET", "nb"}) == bulk(std::string(1, '\0')));
  BOOST_TEST(run({"BITFIELD", "t", "SET", "u8", "0", "65"}) == "*1\r\n:0\r\n");
  BOOST_TEST(run({"GET", "t"}) == bulk("A"));

  const std::string bad_type = error(
      "Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 "
      "is.");
  for (const char* type : {"I8", "u64", "i65", "i0", "i08", "x8", ""})
    BOOST_TEST(run({"BITFIELD", "bf", "GET", type, "0"}) == bad_type);
  BOOST_TEST(run({"BITFIELD", "bf", "GET", "i8"}) == kSyntax);
  BOOST_TEST(run({"BITFIELD", "bf", "bogus"}) == kSyntax);
  BOOST_TEST(run({"BITFIELD", "bf", "OVERFLOW"}) == kSyntax);
  BOOST_TEST(run({"BITFIELD", "bf", "OVERFLOW", "bogus"}) ==
             error("Invalid OVERFLOW type specified"));
  BOOST_TEST(run({"BITFIELD", "bf", "GET", "i8", "-1"}) == kBitOffset);
  BOOST_TEST(run({"BITFIELD", "bf", "GET", "i8", "#-1"}) == kBitOffset);
  BOOST_TEST(run({"BITFIELD", "bf", "GET", "u8", "#x"}) == kBitOffset);
  BOOST_TEST(run({"BITFIELD", "bf", "GET", "u8", "4294967296"}) == kBitOffset);
  BOOST_TEST(run({"BITFIELD", "bf", "GET", "u8", "#9223372036854775807"}) == kBitOffset);
  BOOST_TEST(run({"BITFIELD", "bf", "SET", "i8", "0", "a"}) == kNotInt);
  BOOST_TEST(run({"BITFIELD_RO", "bf", "SET", "i8", "0", "1"}) ==
             error("BITFIELD_RO only supports the GET subcommand"));
  BOOST_TEST(run({"BITFIELD_RO", "bf", "GET", "i8", "0", "bogus"}) == kSyntax);
  BOOST_TEST(run({"BITFIELD"}) == error("wrong number of arguments for 'bitfield' command"));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace lmkv::commands::testing
