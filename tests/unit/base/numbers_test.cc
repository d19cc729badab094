#define BOOST_TEST_MODULE base
#include <boost/test/unit_test.hpp>

#include "base/numbers.h"

using namespace lmkv;

BOOST_AUTO_TEST_CASE(parse_i64_accepts_what_redis_accepts) {
  BOOST_TEST(*parse_i64("0") == 0);
  BOOST_TEST(*parse_i64("-1") == -1);
  BOOST_TEST(*parse_i64("9223372036854775807") == INT64_MAX);
  BOOST_TEST(*parse_i64("-9223372036854775808") == INT64_MIN);
}

BOOST_AUTO_TEST_CASE(parse_i64_refuses_what_redis_refuses) {
  for (const char* s : {"", "-", "+1", " 1", "1 ", "01", "-0", "1.0", "9223372036854775808",
                        "abc", "1a", "-01"})
    BOOST_TEST(!parse_i64(s).has_value(), s);
}

BOOST_AUTO_TEST_CASE(parse_u64_and_double) {
  BOOST_TEST(*parse_u64("18446744073709551615") == UINT64_MAX);
  BOOST_TEST(!parse_u64("-1").has_value());
  BOOST_TEST(*parse_double("1.5") == 1.5);
  BOOST_TEST(!parse_double("nan").has_value());
  BOOST_TEST(!parse_double(" 1").has_value());
  BOOST_TEST(format_double(1.5) == "1.5");
  BOOST_TEST(iequals("GeT", "get"));
  BOOST_TEST(to_lower("SeT") == "set");
}
