// tests/unit/commands/server_family_test.cc: INFO TIME CONFIG COMMAND
// SHUTDOWN through the harness's FakeServer, byte for byte against Redis
// 7.0.15's replies where lmkv mirrors them.
#include <boost/test/unit_test.hpp>

#include "base/numbers.h"
#include "harness.h"

namespace lmkv::commands::testing {
namespace {

// Reads one "$n\r\n...\r\n" bulk at *pos and advances past it.
std::string take_bulk(const std::string& reply, size_t* pos) {
  const size_t crlf = reply.find("\r\n", *pos);
  BOOST_REQUIRE(reply[*pos] == '$' && crlf != std::string::npos);
  const auto n = parse_i64(std::string_view(reply).substr(*pos + 1, crlf - *pos - 1));
  BOOST_REQUIRE(n.has_value());
  std::string out = reply.substr(crlf + 2, static_cast<size_t>(*n));
  *pos = crlf + 2 + static_cast<size_t>(*n) + 2;
  return out;
}

// Redis 7.0.15's COMMAND INFO entries for commands lmkv declares alike.
const std::string kEchoInfo2 =
    "*10\r\n$4\r\necho\r\n:2\r\n*3\r\n+loading\r\n+stale\r\n+fast\r\n:0\r\n:0\r\n:0\r\n"
    "*2\r\n+@fast\r\n+@connection\r\n*0\r\n*0\r\n*0\r\n";
const std::string kEchoInfo3 =
    "*10\r\n$4\r\necho\r\n:2\r\n~3\r\n+loading\r\n+stale\r\n+fast\r\n:0\r\n:0\r\n:0\r\n"
    "~2\r\n+@fast\r\n+@connection\r\n~0\r\n~0\r\n~0\r\n";
const std::string kGetInfo2 =
    "*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n*3\r\n+@read\r\n"
    "+@string\r\n+@fast\r\n*0\r\n*1\r\n*6\r\n$5\r\nflags\r\n*2\r\n+RO\r\n+access\r\n"
    "$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\n"
    "index\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n"
    "$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n*0\r\n";
const std::string kGetInfo3 =
    "*10\r\n$3\r\nget\r\n:2\r\n~2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n~3\r\n+@read\r\n"
    "+@string\r\n+@fast\r\n~0\r\n~1\r\n%3\r\n$5\r\nflags\r\n~2\r\n+RO\r\n+access\r\n"
    "$12\r\nbegin_search\r\n%2\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n%1\r\n$5\r\n"
    "index\r\n:1\r\n$9\r\nfind_keys\r\n%2\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n%3\r\n"
    "$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n~0\r\n";
const std::string kSetnameInfo2 =
    "*10\r\n$14\r\nclient|setname\r\n:3\r\n*3\r\n+noscript\r\n+loading\r\n+stale\r\n:0\r\n:0\r\n"
    ":0\r\n*2\r\n+@slow\r\n+@connection\r\n*0\r\n*0\r\n*0\r\n";

}  // namespace

BOOST_FIXTURE_TEST_SUITE(server_family, CommandFixture)

BOOST_AUTO_TEST_CASE(info_relays_sections_lowercased) {
  BOOST_TEST(run({"INFO"}) == bulk(server.info_text));
  BOOST_TEST(server.info_sections.empty());
  BOOST_TEST(run({"INFO", "Server", "CLIENTS"}) == bulk(server.info_text));
  BOOST_TEST((server.info_sections == std::vector<std::string>{"server", "clients"}));
  // RESP3: verbatim text, as Redis 7 replies.
  BOOST_TEST(run3({"INFO"}) == "=" + std::to_string(server.info_text.size() + 4) +
                                   "\r\ntxt:" + server.info_text + "\r\n");
}

BOOST_AUTO_TEST_CASE(time_is_seconds_and_microseconds) {
  const int64_t before = unix_ms() / 1000;
  const std::string reply = run({"TIME"});
  const int64_t after = unix_ms() / 1000;
  BOOST_REQUIRE(reply.starts_with("*2\r\n"));
  size_t pos = 4;
  const auto secs = parse_i64(take_bulk(reply, &pos));
  const auto micros = parse_i64(take_bulk(reply, &pos));
  BOOST_TEST(pos == reply.size());
  BOOST_REQUIRE(secs.has_value());
  BOOST_REQUIRE(micros.has_value());
  BOOST_TEST(*secs >= before);
  BOOST_TEST(*secs <= after);
  BOOST_TEST(*micros >= 0);
  BOOST_TEST(*micros < 1000000);
  BOOST_TEST(run({"TIME", "x"}) == error("wrong number of arguments for 'time' command"));
}

BOOST_AUTO_TEST_CASE(config_get_is_a_map) {
  BOOST_TEST(run({"CONFIG", "GET", "databases"}) == "*2\r\n" + bulk("databases") + bulk("16"));
  BOOST_TEST(run3({"CONFIG", "GET", "databases"}) == "%1\r\n" + bulk("databases") + bulk("16"));
  BOOST_TEST(run({"config", "get", "RANGE-*"}) == "*4\r\n" + bulk("range-default-limit") +
                                                      bulk("1000") + bulk("range-max-limit") +
                                                      bulk("100000"));
  // Each directive once, even when several patterns match it.
  BOOST_TEST(run({"CONFIG", "GET", "databases", "data*", "range-max-limit"}) ==
             "*4\r\n" + bulk("databases") + bulk("16") + bulk("range-max-limit") + bulk("100000"));
  BOOST_TEST(run({"CONFIG", "GET", "nonexistent"}) == "*0\r\n");
  BOOST_TEST(run3({"CONFIG", "GET", "nonexistent"}) == "%0\r\n");
  BOOST_TEST(run({"CONFIG", "GET"}) == error("wrong number of arguments for 'config|get' command"));
}

BOOST_AUTO_TEST_CASE(config_set_relays_to_the_server) {
  BOOST_TEST(run({"CONFIG", "SET", "range-default-limit", "50"}) == kOk);
  BOOST_TEST(server.config["range-default-limit"] == "50");
  BOOST_TEST(run({"CONFIG", "SET", "range-default-limit", "60", "range-max-limit", "70"}) == kOk);
  BOOST_TEST(server.config["range-default-limit"] == "60");
  BOOST_TEST(server.config["range-max-limit"] == "70");
  BOOST_TEST(run({"CONFIG", "SET", "foo", "bar"}) ==
             error("Unknown option or number of arguments for CONFIG SET - 'foo'"));
  BOOST_TEST(run({"CONFIG", "SET", "range-max-limit", "1", "databases"}) == error("syntax error"));
  BOOST_TEST(run({"CONFIG", "SET", "range-max-limit", "1", "RANGE-MAX-LIMIT", "2"}) ==
             error("CONFIG SET failed (possibly related to argument 'RANGE-MAX-LIMIT') - "
                   "duplicate parameter"));
  BOOST_TEST(server.config["range-max-limit"] == "70");
  BOOST_TEST(run({"CONFIG", "SET", "databases"}) ==
             error("wrong number of arguments for 'config|set' command"));
}

BOOST_AUTO_TEST_CASE(config_other_subcommands) {
  BOOST_TEST(run({"CONFIG", "RESETSTAT"}) == kOk);
  BOOST_TEST(run({"CONFIG", "RESETSTAT", "x"}) ==
             error("wrong number of arguments for 'config|resetstat' command"));
  BOOST_TEST(run({"CONFIG", "REWRITE"}) == error("The server is running without a config file"));
  BOOST_TEST(run({"CONFIG", "FOO"}) == error("unknown subcommand 'FOO'. Try CONFIG HELP."));
  BOOST_TEST(run({"CONFIG"}) == error("wrong number of arguments for 'config' command"));
  // Redis 7.0.15's text, byte for byte.
  BOOST_TEST(run({"CONFIG", "HELP"}) ==
             "*11\r\n+CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n"
             "+GET <pattern>\r\n"
             "+    Return parameters matching the glob-like <pattern> and their values.\r\n"
             "+SET <directive> <value>\r\n+    Set the configuration <directive> to <value>.\r\n"
             "+RESETSTAT\r\n+    Reset statistics reported by the INFO command.\r\n"
             "+REWRITE\r\n+    Rewrite the configuration file.\r\n"
             "+HELP\r\n+    Prints this help.\r\n");
}

BOOST_AUTO_TEST_CASE(command_count_and_all) {
  BOOST_TEST(run({"COMMAND", "COUNT"}) == integer(static_cast<int64_t>(registry.all().size())));
  BOOST_TEST(registry.all().size() > 20u);
  BOOST_TEST(run({"COMMAND", "COUNT", "x"}) ==
             error("wrong number of arguments for 'command|count' command"));
  const std::string all = run({"COMMAND"});
  BOOST_TEST(all.starts_with("*" + std::to_string(registry.all().size()) + "\r\n*10\r\n"));
  BOOST_TEST(all.find(kGetInfo2) != std::string::npos);
  BOOST_TEST(all.find(kEchoInfo2) != std::string::npos);
  BOOST_TEST(run({"COMMAND", "INFO"}) == all);
}

BOOST_AUTO_TEST_CASE(command_info_matches_redis) {
  BOOST_TEST(run({"COMMAND", "INFO", "get"}) == "*1\r\n" + kGetInfo2);
  BOOST_TEST(run3({"COMMAND", "INFO", "get"}) == "*1\r\n" + kGetInfo3);
  BOOST_TEST(run({"COMMAND", "INFO", "ECHO", "nosuch", "get"}) ==
             "*3\r\n" + kEchoInfo2 + kNil + kGetInfo2);
  BOOST_TEST(run3({"COMMAND", "INFO", "echo", "nosuch"}) == "*2\r\n" + kEchoInfo3 + "_\r\n");
  BOOST_TEST(run({"COMMAND", "INFO", "client|setname"}) == "*1\r\n" + kSetnameInfo2);
  BOOST_TEST(run({"COMMAND", "INFO", "client|nope"}) == "*1\r\n" + kNil);

  // A container lists its subcommands' entries last.
  const std::string client = run({"COMMAND", "INFO", "client"});
  BOOST_TEST(
      client.starts_with("*1\r\n*10\r\n$6\r\nclient\r\n:-2\r\n*0\r\n:0\r\n:0\r\n:0\r\n"
                         "*2\r\n+@slow\r\n+@connection\r\n*0\r\n*0\r\n*12\r\n"));
  BOOST_TEST(client.find(kSetnameInfo2) != std::string::npos);

  // MSET's keys: every other argument from the first to the last.
  const std::string mset = run({"COMMAND", "INFO", "mset"});
  BOOST_TEST(mset.find(":1\r\n:-1\r\n:2\r\n") != std::string::npos);
  BOOST_TEST(mset.find("$7\r\nlastkey\r\n:-1\r\n$7\r\nkeystep\r\n:2\r\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(command_docs_shape) {
  const std::string echo_docs = bulk("summary") + bulk("Echo the given string") + bulk("since") +
                                bulk("1.0.0") + bulk("group") + bulk("connection");
  BOOST_TEST(run({"COMMAND", "DOCS", "echo"}) == "*2\r\n" + bulk("echo") + "*6\r\n" + echo_docs);
  BOOST_TEST(run3({"COMMAND", "DOCS", "echo", "nosuch"}) ==
             "%1\r\n" + bulk("echo") + "%3\r\n" + echo_docs);
  BOOST_TEST(run({"COMMAND", "DOCS", "nosuch"}) == "*0\r\n");
  BOOST_TEST(run3({"COMMAND", "DOCS", "client|nope"}) == "%0\r\n");
  BOOST_TEST(run({"COMMAND", "DOCS", "client|setname"}) ==
             "*2\r\n" + bulk("client|setname") + "*6\r\n" + bulk("summary") +
                 bulk("Set the current connection name") + bulk("since") + bulk("2.6.9") +
                 bulk("group") + bulk("connection"));
  // A container nests its subcommands' docs under "subcommands".
  const std::string config = run3({"COMMAND", "DOCS", "config"});
  BOOST_TEST(config.starts_with("%1\r\n" + bulk("config") + "%4\r\n"));
  BOOST_TEST(config.find(bulk("subcommands") + "%5\r\n" + bulk("config|get") + "%3\r\n") !=
             std::string::npos);
  // With no names: every command.
  BOOST_TEST(run({"COMMAND", "DOCS"})
                 .starts_with("*" + std::to_string(2 * registry.all().size()) + "\r\n"));
}

BOOST_AUTO_TEST_CASE(command_list_and_filters) {
  const std::string all = run({"COMMAND", "LIST"});
  BOOST_TEST(all.find(bulk("get")) != std::string::npos);
  BOOST_TEST(all.find(bulk("client|setname")) != std::string::npos);
  BOOST_TEST(run({"COMMAND", "LIST", "FILTERBY", "PATTERN", "config*"}) ==
             bulks({"config", "config|get", "config|set", "config|resetstat", "config|rewrite",
                    "config|help"}));
  BOOST_TEST(run({"COMMAND", "LIST", "FILTERBY", "pattern", "ECH?"}) == bulks({"echo"}));
  BOOST_TEST(run({"COMMAND", "LIST", "FILTERBY", "MODULE", "x"}) == "*0\r\n");
  BOOST_TEST(run({"COMMAND", "LIST", "FILTERBY", "aclcat", "nosuch"}) == "*0\r\n");
  const std::string conn = run({"COMMAND", "LIST", "FILTERBY", "ACLCAT", "connection"});
  BOOST_TEST(conn.find(bulk("ping")) != std::string::npos);
  BOOST_TEST(conn.find(bulk("client|id")) != std::string::npos);
  BOOST_TEST(conn.find(bulk("get")) == std::string::npos);
  BOOST_TEST(run({"COMMAND", "LIST", "FILTERBY", "pattern"}) == error("syntax error"));
  BOOST_TEST(run({"COMMAND", "LIST", "FILTERBY", "foo", "x"}) == error("syntax error"));
  BOOST_TEST(run({"COMMAND", "LIST", "x"}) == error("syntax error"));
}

BOOST_AUTO_TEST_CASE(command_getkeys) {
  BOOST_TEST(run({"COMMAND", "GETKEYS", "get", "a"}) == bulks({"a"}));
  BOOST_TEST(run({"COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"}) == bulks({"a", "b"}));
  BOOST_TEST(run({"COMMAND", "GETKEYS", "foo", "a"}) == error("Invalid command specified"));
  BOOST_TEST(run({"COMMAND", "GETKEYS", "ping", "a"}) == error("The command has no key arguments"));
  BOOST_TEST(run({"COMMAND", "GETKEYS", "set", "a"}) ==
             error("Invalid number of arguments specified for command"));
  BOOST_TEST(run({"COMMAND", "GETKEYS", "get"}) ==
             error("wrong number of arguments for 'command|getkeys' command"));
}

BOOST_AUTO_TEST_CASE(command_errors_and_help) {
  BOOST_TEST(run({"COMMAND", "FOO"}) == error("unknown subcommand 'FOO'. Try COMMAND HELP."));
  const std::string help = run({"COMMAND", "HELP"});
  BOOST_TEST(help.starts_with(
      "*21\r\n+COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n"
      "+(no subcommand)\r\n+    Return details about all Redis commands.\r\n"));
  BOOST_TEST(help.ends_with("+HELP\r\n+    Prints this help.\r\n"));
}

BOOST_AUTO_TEST_CASE(shutdown_closes_without_reply) {
  BOOST_TEST(run({"SHUTDOWN", "foo"}) == error("syntax error"));
  BOOST_TEST(run({"SHUTDOWN", "NOSAVE", "SAVE"}) == error("syntax error"));
  BOOST_TEST(run({"SHUTDOWN", "ABORT", "NOW"}) == error("syntax error"));
  BOOST_TEST(run({"SHUTDOWN", "ABORT"}) == error("No shutdown in progress."));
  BOOST_TEST(!server.shutdown_requested);
  BOOST_TEST(run({"SHUTDOWN", "NOW", "FORCE", "nosave"}) == "");
  BOOST_TEST(server.shutdown_requested);
  BOOST_TEST(last_outcome == Outcome::kClose);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace lmkv::commands::testing
