// store/effects.h: the log's payload format. What append_effect writes,
// parse_effects reads back exactly; anything else is an error, never a
// crash or a wrong effect; effect_op names the effects in any case.
#include "store/effects.h"

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

using namespace lmkv::store;

namespace {

// The effects of a payload as "A|B|C" lines, or "error: ..." when it fails.
std::vector<std::string> read_all(std::string_view payload) {
  std::vector<std::string_view> args;
  std::vector<EffectRef> effects;
  auto s = parse_effects(payload, &args, &effects);
  if (!s) return {"error: " + s.error().message};
  std::vector<std::string> out;
  size_t next = 0;  // the effects' arguments lie in order, back to back
  for (const EffectRef& e : effects) {
    BOOST_TEST(e.first == next);
    BOOST_TEST((e.op == effect_op(args[e.first])));
    std::string line;
    for (size_t i = e.first; i < e.first + e.count; ++i)
      line += (line.empty() ? "" : "|") + std::string(args[i]);
    out.push_back(line);
    next = e.first + e.count;
  }
  BOOST_TEST(next == args.size());
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(effects)

BOOST_AUTO_TEST_CASE(appended_effects_read_back_exactly) {
  std::string p;
  append_effect(&p, {"SELECT", "3"});
  append_effect(&p, {"SET", "k", std::string(1000, 'v'), "PXAT", "1700000000000"});
  append_effect(&p, {"SET", "", ""});                       // empty key and value
  append_effect(&p, {"DEL", std::string("a\r\nb\0c", 6)});  // CRLF and NUL inside
  const auto got = read_all(p);
  BOOST_REQUIRE_EQUAL(got.size(), 4u);
  BOOST_TEST(got[0] == "SELECT|3");
  BOOST_TEST(got[1] == "SET|k|" + std::string(1000, 'v') + "|PXAT|1700000000000");
  BOOST_TEST(got[2] == "SET||");
  BOOST_TEST(got[3] == "DEL|" + std::string("a\r\nb\0c", 6));
  BOOST_TEST(read_all("").empty());
}

BOOST_AUTO_TEST_CASE(malformed_payloads_are_errors) {
  const char* bad[] = {
      "x",                                     // not an array
      "*",                                     // no count
      "*\r\n",                                 // empty count
      "*1",                                    // no CRLF
      "*1\r",                                  // half a CRLF
      "*1\n$1\r\na\r\n",                       // LF alone
      "*0\r\n",                                // no arguments
      "*1025\r\n",                             // past the argument limit
      "*-1\r\n",                               // negative
      "*1\r\n$1\r\n",                          // argument missing
      "*1\r\n$2\r\na\r\n",                     // argument shorter than its length
      "*1\r\n$1\r\nab\r\n",                    // longer
      "*1\r\n$1\r\na\n\n",                     // bad terminator
      "*1\r\n$x\r\na\r\n",                     // not a number
      "*1\r\n$1x\r\na\r\n",                    // trailing junk
      "*1\r\n:1\r\n",                          // not a bulk string
      "*1\r\n$99999999999999999999\r\na\r\n",  // 20 digits: past any payload
      "*2\r\n$1\r\na\r\n",                     // second argument missing
  };
  for (const char* p : bad) {
    const auto got = read_all(p);
    BOOST_TEST_REQUIRE(got.size() == 1u, p);
    BOOST_TEST(got[0].starts_with("error: log payload: bad effect"), p << " -> " << got[0]);
  }
  // A good effect before a bad one still came first.
  std::string p;
  append_effect(&p, {"SET", "k", "v"});
  p += "*1\r\n";
  BOOST_TEST(read_all(p).front().starts_with("error:"));
  // Leading zeros are only digits.
  BOOST_TEST(read_all("*01\r\n$003\r\nDEL\r\n") == std::vector<std::string>{"DEL"});
}

BOOST_AUTO_TEST_CASE(effect_names_in_any_case) {
  BOOST_TEST((effect_op("SET") == EffectOp::kSet));
  BOOST_TEST((effect_op("set") == EffectOp::kSet));
  BOOST_TEST((effect_op("Del") == EffectOp::kDel));
  BOOST_TEST((effect_op("SELECT") == EffectOp::kSelect));
  BOOST_TEST((effect_op("flushdb") == EffectOp::kFlushDb));
  BOOST_TEST((effect_op("FLUSHALL") == EffectOp::kFlushAll));
  BOOST_TEST((effect_op("SWAPDB") == EffectOp::kSwapDb));
  BOOST_TEST((effect_op("PING") == EffectOp::kOther));
  BOOST_TEST((effect_op("SETX") == EffectOp::kOther));
  BOOST_TEST((effect_op("") == EffectOp::kOther));
}

BOOST_AUTO_TEST_SUITE_END()
