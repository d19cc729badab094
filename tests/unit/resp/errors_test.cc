// Redis 7.0.15's exact error texts (checked against redis-server).
#include "resp/errors.h"

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

using namespace lmkv;
using namespace lmkv::resp;

namespace {

std::string unknown(std::vector<std::string_view> argv) {
  Error e = unknown_command(argv[0], argv);
  BOOST_TEST(static_cast<int>(e.code) == static_cast<int>(Code::kErr));
  return e.message;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(errors)

BOOST_AUTO_TEST_CASE(prefixes) {
  const std::vector<std::pair<Code, std::string_view>> expected = {
      {Code::kErr, "ERR"},
      {Code::kWrongType, "WRONGTYPE"},
      {Code::kNoAuth, "NOAUTH"},
      {Code::kWrongPass, "WRONGPASS"},
      {Code::kNoPerm, "NOPERM"},
      {Code::kReadOnly, "READONLY"},
      {Code::kLoading, "LOADING"},
      {Code::kMasterDown, "MASTERDOWN"},
      {Code::kExecAbort, "EXECABORT"},
      {Code::kOom, "OOM"},
      {Code::kNoReplicas, "NOREPLICAS"},
      {Code::kBusyKey, "BUSYKEY"},
  };
  for (const auto& [code, text] : expected) BOOST_TEST(prefix(code) == text);
}

BOOST_AUTO_TEST_CASE(sanitize_replaces_cr_and_lf) {
  BOOST_TEST(sanitize("a\r\nb\nc\rd") == "a  b c d");
  BOOST_TEST(sanitize("") == "");
  BOOST_TEST(sanitize(std::string_view("x\0y", 3)) == std::string("x\0y", 3));
}

BOOST_AUTO_TEST_CASE(unknown_command_lists_args) {
  BOOST_TEST(unknown({"foo", "a", "b"}) ==
             "unknown command 'foo', with args beginning with: 'a' 'b' ");
  BOOST_TEST(unknown({"foo"}) == "unknown command 'foo', with args beginning with: ");
  BOOST_TEST(unknown({"foo", "", ""}) == "unknown command 'foo', with args beginning with: '' '' ");
  BOOST_TEST(unknown({"foo", "a\nb"}) == "unknown command 'foo', with args beginning with: 'a b' ");
  BOOST_TEST(unknown({"fo\r\no"}) == "unknown command 'fo  o', with args beginning with: ");
}

BOOST_AUTO_TEST_CASE(unknown_command_truncates_at_128) {
  const std::string y200(200, 'y'), z126(126, 'z');
  const std::string y128(128, 'y'), y122(122, 'y');
  // One long argument is cut to 128 bytes and nothing follows it.
  BOOST_TEST(unknown({"foo", y200, "b"}) ==
             "unknown command 'foo', with args beginning with: '" + y128 + "' ");
  // The cut leaves the list at 128 bytes before the closing quote.
  BOOST_TEST(unknown({"foo", "abc", y200}) ==
             "unknown command 'foo', with args beginning with: 'abc' '" + y122 + "' ");
  // Once the list reaches 128 bytes no further argument is listed.
  BOOST_TEST(unknown({"foo", z126, y200}) ==
             "unknown command 'foo', with args beginning with: '" + z126 + "' ");
  // The command name is cut at 128 too.
  BOOST_TEST(unknown({y200, "a"}) ==
             "unknown command '" + y128 + "', with args beginning with: 'a' ");
  // Many short arguments: Redis 7 stops after '6' (checked against 7.0.15).
  std::vector<std::string> many;
  for (char c = 'a'; c <= 'z'; ++c) many.emplace_back(1, c);
  for (char c = '1'; c <= '9'; ++c) many.emplace_back(1, c);
  std::vector<std::string_view> argv = {"foo"};
  for (const auto& s : many) argv.push_back(s);
  BOOST_TEST(unknown(argv) ==
             "unknown command 'foo', with args beginning with: 'a' 'b' 'c' 'd' 'e' 'f' 'g' 'h' "
             "'i' 'j' 'k' 'l' 'm' 'n' 'o' 'p' 'q' 'r' 's' 't' 'u' 'v' 'w' 'x' 'y' 'z' '1' '2' "
             "'3' '4' '5' '6' ");
}

BOOST_AUTO_TEST_CASE(unknown_command_stops_at_nul_like_printf) {
  const std::string arg("ab\0cd", 5);
  BOOST_TEST(unknown({"foo", arg, "x"}) ==
             "unknown command 'foo', with args beginning with: 'ab' 'x' ");
}

BOOST_AUTO_TEST_CASE(unknown_subcommand_text) {
  Error e = unknown_subcommand("client", "xyz");
  BOOST_TEST(static_cast<int>(e.code) == static_cast<int>(Code::kErr));
  BOOST_TEST(e.message == "unknown subcommand 'xyz'. Try CLIENT HELP.");
  BOOST_TEST(unknown_subcommand("CONFIG", "blah").message ==
             "unknown subcommand 'blah'. Try CONFIG HELP.");
  BOOST_TEST(unknown_subcommand("client", "x\ny").message ==
             "unknown subcommand 'x y'. Try CLIENT HELP.");
  BOOST_TEST(unknown_subcommand("object", std::string(200, 'y')).message ==
             "unknown subcommand '" + std::string(128, 'y') + "'. Try OBJECT HELP.");
}

BOOST_AUTO_TEST_CASE(arity_and_expire_texts) {
  BOOST_TEST(wrong_arity("get").message == "wrong number of arguments for 'get' command");
  BOOST_TEST(wrong_arity("GET").message == "wrong number of arguments for 'get' command");
  BOOST_TEST(wrong_arity("client|setname").message ==
             "wrong number of arguments for 'client|setname' command");
  BOOST_TEST(static_cast<int>(wrong_arity("get").code) == static_cast<int>(Code::kErr));
  BOOST_TEST(invalid_expire("set").message == "invalid expire time in 'set' command");
  BOOST_TEST(invalid_expire("SETEX").message == "invalid expire time in 'setex' command");
  BOOST_TEST(static_cast<int>(invalid_expire("set").code) == static_cast<int>(Code::kErr));
}

BOOST_AUTO_TEST_SUITE_END()
