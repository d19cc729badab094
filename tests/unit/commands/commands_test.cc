// tests/unit/commands/commands_test.cc: the test module, and the
// dispatcher's pre-checks as seen through the harness.
#define BOOST_TEST_MODULE commands
#include <boost/test/unit_test.hpp>

#include "harness.h"

namespace lmkv::commands::testing {

BOOST_FIXTURE_TEST_SUITE(dispatcher, CommandFixture)

BOOST_AUTO_TEST_CASE(unknown_command_and_arity) {
  BOOST_TEST(run({"NOSUCH", "a"}) ==
             "-ERR unknown command 'NOSUCH', with args beginning with: 'a' \r\n");
  BOOST_TEST(run({"GET"}) == error("wrong number of arguments for 'get' command"));
  BOOST_TEST(run({"get", "a", "b"}) == error("wrong number of arguments for 'get' command"));
  BOOST_TEST(run({"SET", "k"}) == error("wrong number of arguments for 'set' command"));
}

BOOST_AUTO_TEST_CASE(names_are_case_insensitive) {
  BOOST_TEST(run({"sEt", "k", "v"}) == kOk);
  BOOST_TEST(run({"get", "k"}) == bulk("v"));
}

BOOST_AUTO_TEST_CASE(writes_leave_no_pending_and_reads_see_them) {
  BOOST_TEST(run({"SET", "k", "v"}) == kOk);
  BOOST_TEST(last_outcome == Outcome::kSubmitted);
  BOOST_TEST(session->pending_writes == 0u);
  BOOST_TEST(run({"GET", "k"}) == bulk("v"));
  BOOST_TEST(last_outcome == Outcome::kDone);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace lmkv::commands::testing
