// tests/unit/commands/admin_test.cc: the introspection and admin pieces of
// issue 5 in-process: SHA-1 and DEBUG DIGEST, SlowLog, CommandStats and the
// dispatcher's after-run hook, ClientRegistry's CLIENT KILL filters and
// pause state, and SLOWLOG / CLIENT / CONFIG / COMMAND / LASTSAVE replies
// through the harness.
#include <boost/test/unit_test.hpp>

#include "commands/digest.h"
#include "harness.h"

namespace lmkv::commands::testing {
namespace {

std::string sha1_of(std::string_view s) {
  Sha1 h;
  h.update(s);
  return sha1_hex(h.finish());
}

std::vector<std::string_view> views(const std::vector<std::string>& v) {
  return {v.begin(), v.end()};
}

}  // namespace

// FIPS 180 test vectors, including one spanning two blocks and one fed in
// pieces across a block boundary.
BOOST_AUTO_TEST_CASE(sha1_known_vectors) {
  BOOST_TEST(sha1_of("") == "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  BOOST_TEST(sha1_of("abc") == "a9993e364706816aba3e25717850c26c9cd0d89d");
  BOOST_TEST(sha1_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
             "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  Sha1 h;
  const std::string a(1000, 'a');
  for (int i = 0; i < 1000; ++i) h.update(a);
  BOOST_TEST(sha1_hex(h.finish()) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

BOOST_AUTO_TEST_CASE(slowlog_truncates_and_bounds) {
  SlowLog log;
  log.configure(100, 2);
  BOOST_TEST(!log.wants(99));
  BOOST_TEST(log.wants(100));
  std::vector<std::string> args;
  for (int i = 0; i < 40; ++i) args.push_back("a" + std::to_string(i));
  args[1] = std::string(130, 'x');
  log.add(150, 1000, views(args), "1.2.3.4:5", "nm");
  auto e = log.newest(-1);
  BOOST_REQUIRE(e.size() == 1u);
  BOOST_TEST(e[0].id == 0);
  BOOST_TEST(e[0].usec == 150);
  BOOST_TEST(e[0].unix_s == 1000);
  BOOST_TEST(e[0].args.size() == 32u);
  BOOST_TEST(e[0].args[1] == std::string(128, 'x') + "... (2 more bytes)");
  BOOST_TEST(e[0].args[30] == "a30");
  BOOST_TEST(e[0].args[31] == "... (9 more arguments)");
  BOOST_TEST(e[0].addr == "1.2.3.4:5");
  BOOST_TEST(e[0].name == "nm");
  const std::vector<std::string> one = {"PING"};
  log.add(200, 1001, views(one), "", "");
  log.add(300, 1002, views(one), "", "");
  BOOST_TEST(log.size() == 2u);  // max-len 2: the oldest went
  e = log.newest(10);
  BOOST_TEST(e[0].id == 2);
  BOOST_TEST(e[1].id == 1);
  BOOST_TEST(log.newest(1).size() == 1u);
  log.configure(100, 1);
  BOOST_TEST(log.size() == 1u);
  log.reset();
  BOOST_TEST(log.size() == 0u);
  log.add(300, 1003, views(one), "", "");
  BOOST_TEST(log.newest(-1)[0].id == 3);  // ids keep counting after a reset
  log.configure(-1, 10);
  BOOST_TEST(!log.wants(1000000));
}

BOOST_AUTO_TEST_CASE(client_registry_kill_filters_and_pause) {
  ClientRegistry reg;
  Session a, b;
  a.id = reg.next_id();
  b.id = reg.next_id();
  a.addr = "127.0.0.1:1000";
  b.addr = "127.0.0.1:2000";
  a.laddr = b.laddr = "127.0.0.1:6379";
  b.user = "bob";
  int closed_a = 0, closed_b = 0;
  BOOST_TEST(reg.add(&a, 1, [&] { ++closed_a; }));
  BOOST_TEST(!reg.add(&b, 1, [&] { ++closed_b; }));  // maxclients 1: full
  BOOST_TEST(reg.size() == 1u);
  BOOST_TEST(reg.add(&b, 2, [&] { ++closed_b; }));
  bool self = false;
  KillFilter f;
  f.addr = "127.0.0.1:2000";
  BOOST_TEST(reg.kill(f, &a, &self) == 1);
  BOOST_TEST(closed_b == 1);
  BOOST_TEST(!self);
  // A killed client leaves the registry at once, before its loop closes it.
  BOOST_TEST(reg.size() == 1u);
  BOOST_TEST(reg.kill(f, &a, &self) == 0);
  BOOST_TEST(closed_b == 1);
  BOOST_TEST(reg.add(&b, 2, [&] { ++closed_b; }));
  KillFilter by_user;
  by_user.user = "default";
  BOOST_TEST(reg.kill(by_user, &a, &self) == 0);  // skipme: only a is "default"
  by_user.skipme = false;
  BOOST_TEST(reg.kill(by_user, &a, &self) == 1);
  BOOST_TEST(self);
  BOOST_TEST(closed_a == 0);  // the caller closes itself after its reply
  KillFilter typed;
  typed.type = ClientType::kPubSub;
  BOOST_TEST(reg.kill(typed, nullptr, &self) == 0);
  b.subscriptions = 1;
  BOOST_TEST(reg.list_type(ClientType::kPubSub, mono_ms()).find("id=2 ") == 0u);
  BOOST_TEST(reg.kill(typed, nullptr, &self) == 1);
  BOOST_TEST(reg.list_type(ClientType::kPubSub, mono_ms()).empty());
  BOOST_TEST(reg.list_type(ClientType::kMaster, mono_ms()).empty());
  reg.remove(&a);
  reg.remove(&b);

  int notified = 0;
  reg.set_pause_listener([&] { ++notified; });
  const int64_t now = mono_ms();
  BOOST_TEST(reg.pause_left(true, now) == 0);
  reg.pause(now + 1000, /*all=*/false);
  BOOST_TEST(notified == 1);
  BOOST_TEST(reg.pause_left(false, now) == 0);  // WRITE: reads go on
  BOOST_TEST(reg.pause_left(true, now) == 1000);
  reg.pause(now + 500, /*all=*/true);  // keeps the later end, takes the stricter mode
  BOOST_TEST(reg.pause_left(false, now) == 1000);
  BOOST_TEST(reg.pause_left(true, now + 1000) == 0);
  reg.unpause();
  BOOST_TEST(notified == 3);
  BOOST_TEST(reg.pause_left(true, now) == 0);
  // A pause that has ended leaves no mode behind: a new WRITE pause spares reads.
  reg.pause(now + 1000, /*all=*/true);
  reg.pause(now + 1, false);
  BOOST_TEST(reg.pause_left(false, now) == 1000);
}

BOOST_AUTO_TEST_CASE(parse_client_types) {
  BOOST_TEST((parse_client_type("NORMAL") == ClientType::kNormal));
  BOOST_TEST((parse_client_type("slave") == ClientType::kReplica));
  BOOST_TEST((parse_client_type("replica") == ClientType::kReplica));
  BOOST_TEST((parse_client_type("pubsub") == ClientType::kPubSub));
  BOOST_TEST((parse_client_type("master") == ClientType::kMaster));
  BOOST_TEST(!parse_client_type("foo").has_value());
}

BOOST_FIXTURE_TEST_SUITE(admin_commands, CommandFixture)

// The dispatcher's after-run hook: calls, rejections (arity, subcommand
// arity), failures, and error prefixes, for loop-run and write commands.
BOOST_AUTO_TEST_CASE(commandstats_and_errorstats) {
  run({"SET", "k", "v"});
  run({"GET", "k"});
  run({"GET"});
  run({"NOSUCH"});
  run({"CONFIG", "GET"});
  run({"CONFIG", "NOSUCH"});
  const std::string cs = server.stats.commandstats();
  BOOST_TEST(cs.find("cmdstat_get:calls=1,") != std::string::npos);
  BOOST_TEST(cs.find("rejected_calls=1,failed_calls=0\r\n") != std::string::npos);
  BOOST_TEST(cs.find("cmdstat_config|get:calls=0,usec=0,usec_per_call=0.00,rejected_calls=1,"
                     "failed_calls=0\r\n") != std::string::npos);
  BOOST_TEST(cs.find("cmdstat_config:") == std::string::npos);  // counted per subcommand
  BOOST_TEST(server.stats.errorstats() == "errorstat_ERR:count=4\r\n");
  BOOST_TEST(server.stats.total_error_replies() == 4u);
  run({"CONFIG", "RESETSTAT"});
  BOOST_TEST(server.stats_reset);
  BOOST_TEST(server.stats.errorstats().empty());
  BOOST_TEST(server.stats.commandstats().find("cmdstat_get") == std::string::npos);
  // CONFIG RESETSTAT itself is counted after the reset.
  BOOST_TEST(server.stats.commandstats().find("cmdstat_config|resetstat:calls=1,") == 0u);
}

BOOST_AUTO_TEST_CASE(failed_calls_and_prefixes) {
  CommandStats& st = server.stats;
  const CommandSpec* get = registry.find("GET");
  st.record(*get, 10, true);
  st.record(*get, 20, false);
  st.error_reply("-WRONGTYPE Operation against a key\r\n");
  st.error_reply("-ERR x\r\n");
  st.error_reply("-ERR y\r\n");
  BOOST_TEST(st.commandstats() ==
             "cmdstat_get:calls=2,usec=30,usec_per_call=15.00,rejected_calls=0,failed_calls=1\r\n");
  BOOST_TEST(st.errorstats() == "errorstat_ERR:count=2\r\nerrorstat_WRONGTYPE:count=1\r\n");
}

BOOST_AUTO_TEST_CASE(slowlog_commands) {
  run({"CONFIG", "RESETSTAT"});
  server.slow_log.configure(0, 128);
  session->name = "me";
  run({"ECHO", "hello"});
  const std::string got = run({"SLOWLOG", "GET", "1"});
  const auto flat = flatten(got);
  BOOST_REQUIRE(flat.size() == 7u);  // id, time, usec, ECHO, hello, addr, name
  BOOST_TEST(flat[0] == "0");
  BOOST_TEST(flat[3] == "ECHO");
  BOOST_TEST(flat[4] == "hello");
  BOOST_TEST(flat[5] == session->addr);
  BOOST_TEST(flat[6] == "me");
  BOOST_TEST(got.starts_with("*1\r\n*6\r\n:0\r\n:"));
  BOOST_TEST(run({"SLOWLOG", "LEN"}) == integer(2));  // ECHO, SLOWLOG GET
  BOOST_TEST(run({"SLOWLOG", "RESET"}) == kOk);
  BOOST_TEST(run({"SLOWLOG", "GET", "-2"}) == error("count should be greater than or equal to -1"));
  BOOST_TEST(run({"SLOWLOG", "GET", "1", "2"}) ==
             error("unknown subcommand or wrong number of arguments for 'GET'. Try SLOWLOG HELP."));
  BOOST_TEST(run({"SLOWLOG", "FOO"}) == error("unknown subcommand 'FOO'. Try SLOWLOG HELP."));
  server.slow_log.configure(-1, 128);
  run({"SLOWLOG", "RESET"});
  run({"PING"});
  BOOST_TEST(server.slow_log.size() == 0u);
  // AUTH's password never reaches the log.
  server.slow_log.configure(0, 128);
  run({"AUTH", "secret"});
  for (const auto& e : server.slow_log.newest(-1))
    for (const auto& a : e.args) BOOST_TEST(a != "secret");
}

BOOST_AUTO_TEST_CASE(client_admin_subcommands) {
  BOOST_TEST(run({"CLIENT", "REPLY", "OFF"}) == kOk);  // dropped by the loop, not here
  BOOST_TEST((session->reply_mode == Session::ReplyMode::kOff));
  BOOST_TEST(run({"CLIENT", "REPLY", "SKIP"}) == kOk);
  BOOST_TEST((session->reply_mode == Session::ReplyMode::kSkip));
  BOOST_TEST(run({"CLIENT", "REPLY", "ON"}) == kOk);
  BOOST_TEST((session->reply_mode == Session::ReplyMode::kOn));
  BOOST_TEST(run({"CLIENT", "REPLY", "MAYBE"}) == error("syntax error"));
  BOOST_TEST(run({"CLIENT", "NO-EVICT", "on"}) == kOk);
  BOOST_TEST(run({"CLIENT", "NO-EVICT", "x"}) == error("syntax error"));
  BOOST_TEST(run({"CLIENT", "PAUSE", "x"}) == error("timeout is not an integer or out of range"));
  BOOST_TEST(run({"CLIENT", "PAUSE", "-1"}) == error("timeout is negative"));
  BOOST_TEST(run({"CLIENT", "PAUSE", "10", "x"}) == error("CLIENT PAUSE mode must be WRITE or ALL"));
  BOOST_TEST(run({"CLIENT", "PAUSE", "100000", "WRITE"}) == kOk);
  BOOST_TEST(server.client_registry.pause_left(true, mono_ms()) > 90000);
  BOOST_TEST(server.client_registry.pause_left(false, mono_ms()) == 0);
  BOOST_TEST(run({"CLIENT", "UNPAUSE"}) == kOk);
  BOOST_TEST(server.client_registry.pause_left(true, mono_ms()) == 0);

  Session& other = new_session();
  const std::string oid = std::to_string(other.id);
  BOOST_TEST(run({"CLIENT", "KILL", "ID", "0"}) == error("client-id should be greater than 0"));
  BOOST_TEST(run({"CLIENT", "KILL", "ID", oid, "SKIPME"}) == error("syntax error"));
  BOOST_TEST(run({"CLIENT", "KILL", "TYPE", "x"}) == error("Unknown client type 'x'"));
  BOOST_TEST(run({"CLIENT", "KILL", "USER", "nobody"}) == error("No such user 'nobody'"));
  BOOST_TEST(run({"CLIENT", "KILL", "9.9.9.9:1"}) == error("No such client"));
  BOOST_TEST(run({"CLIENT", "KILL", "ID", oid}) == integer(1));
  BOOST_TEST(run({"CLIENT", "KILL", other.addr}) == kOk);
  BOOST_TEST(run({"CLIENT", "LIST", "TYPE", "pubsub"}) == bulk(""));
  const std::string me = std::to_string(session->id);
  BOOST_TEST(run({"CLIENT", "KILL", "ID", me}) == integer(0));
  BOOST_TEST(!session->close_after_reply);
  BOOST_TEST(run({"CLIENT", "KILL", "ID", me, "SKIPME", "no"}) == integer(1));
  BOOST_TEST(session->close_after_reply);
}

BOOST_AUTO_TEST_CASE(config_set_many_and_rewrite_default) {
  BOOST_TEST(run({"CONFIG", "SET", "databases", "8", "range-max-limit", "5"}) == kOk);
  BOOST_TEST(server.config["databases"] == "8");
  BOOST_TEST(run({"CONFIG", "SET", "databases", "8", "databases", "9"}) ==
             error("CONFIG SET failed (possibly related to argument 'databases') - duplicate "
                   "parameter"));
  BOOST_TEST(run({"CONFIG", "SET", "databases"}) ==
             error("wrong number of arguments for 'config|set' command"));
  BOOST_TEST(run({"CONFIG", "REWRITE"}) == error("The server is running without a config file"));
  BOOST_TEST(run({"LASTSAVE"}) == integer(0));
}

BOOST_AUTO_TEST_CASE(command_getkeysandflags) {
  BOOST_TEST(run({"COMMAND", "GETKEYSANDFLAGS", "MSET", "a", "1", "b", "2"}) ==
             "*2\r\n*2\r\n$1\r\na\r\n*2\r\n+RW\r\n+update\r\n*2\r\n$1\r\nb\r\n*2\r\n+RW\r\n"
             "+update\r\n");
  BOOST_TEST(run3({"COMMAND", "GETKEYSANDFLAGS", "GET", "k"}) ==
             "*1\r\n*2\r\n$1\r\nk\r\n~2\r\n+RO\r\n+access\r\n");
  BOOST_TEST(run({"COMMAND", "GETKEYSANDFLAGS", "PING", "x"}) ==
             error("The command has no key arguments"));
  BOOST_TEST(run({"COMMAND", "GETKEYSANDFLAGS", "GET", "a", "b"}) ==
             error("Invalid number of arguments specified for command"));
}

// DEBUG DIGEST is order-independent, all zeros when empty, and changes with
// a value, a deadline or the database a key lives in.
BOOST_AUTO_TEST_CASE(debug_digest) {
  const std::string zeros = "+" + std::string(40, '0') + "\r\n";
  BOOST_TEST(run({"DEBUG", "DIGEST"}) == zeros);
  run({"SET", "a", "1"});
  run({"SET", "b", "2"});
  const std::string ab = run({"DEBUG", "DIGEST"});
  BOOST_TEST(ab != zeros);
  BOOST_TEST(ab.size() == 43u);
  run({"DEL", "a", "b"});
  run({"SET", "b", "2"});
  run({"SET", "a", "1"});
  BOOST_TEST(run({"DEBUG", "DIGEST"}) == ab);
  run({"SET", "a", "x"});
  BOOST_TEST(run({"DEBUG", "DIGEST"}) != ab);
  run({"SET", "a", "1"});
  BOOST_TEST(run({"DEBUG", "DIGEST"}) == ab);
  run({"PEXPIRE", "a", "1000000"});
  BOOST_TEST(run({"DEBUG", "DIGEST"}) != ab);
  run({"PERSIST", "a"});
  BOOST_TEST(run({"DEBUG", "DIGEST"}) == ab);
  run({"SELECT", "1"});
  run({"SET", "a", "1"});
  const std::string two_dbs = run({"DEBUG", "DIGEST"});
  BOOST_TEST(two_dbs != ab);
  run({"DEL", "a"});
  BOOST_TEST(run({"DEBUG", "DIGEST"}) == ab);
  run({"SELECT", "0"});
  const std::string values = run({"DEBUG", "DIGEST-VALUE", "a", "nokey"});
  const auto flat = flatten(values);
  BOOST_REQUIRE(flat.size() == 2u);
  BOOST_TEST(flat[1] == std::string(40, '0'));
  BOOST_TEST(flat[0].size() == 40u);
  BOOST_TEST(run({"DEBUG", "DIGEST-VALUE"}) == "*0\r\n");
  BOOST_TEST(run({"DEBUG", "SLEEP", "0"}) == kOk);
  BOOST_TEST(run({"DEBUG", "SLEEP", "abc"}) == kOk);
  BOOST_TEST(run({"DEBUG", "DIGEST", "x"}) ==
             error("unknown subcommand or wrong number of arguments for 'DIGEST'. Try DEBUG HELP."));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace lmkv::commands::testing
