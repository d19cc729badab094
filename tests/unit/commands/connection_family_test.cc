// tests/unit/commands/connection_family_test.cc: PING ECHO SELECT QUIT AUTH
// HELLO RESET CLIENT, byte for byte against Redis 7.0.15's replies.
#include <boost/test/unit_test.hpp>

#include "harness.h"

namespace lmkv::commands::testing {
namespace {

// HELLO's reply for client `id` in protocol `proto` (Redis 7.0.15's bytes).
std::string hello_reply(int proto, uint64_t id) {
  std::string out = proto == 3 ? "%7\r\n" : "*14\r\n";
  out += bulk("server") + bulk("redis") + bulk("version") + bulk("7.0.15") + bulk("proto") +
         integer(proto) + bulk("id") + integer(static_cast<int64_t>(id)) + bulk("mode") +
         bulk("standalone") + bulk("role") + bulk("master") + bulk("modules") + "*0\r\n";
  return out;
}

// CLIENT LIST's line for a harness session that has just run `cmd`.
std::string client_line(const Session& s, std::string_view name, int db, std::string_view cmd,
                        int resp) {
  return "id=" + std::to_string(s.id) + " addr=" + s.addr + " laddr=" + s.laddr +
         " fd=-1 name=" + std::string(name) + " age=0 idle=0 flags=N db=" + std::to_string(db) +
         " sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0"
         " obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=" +
         std::string(cmd) + " user=default redir=-1 resp=" + std::to_string(resp);
}

std::string verbatim3(std::string_view s) {
  return "=" + std::to_string(s.size() + 4) + "\r\ntxt:" + std::string(s) + "\r\n";
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(connection_family, CommandFixture)

BOOST_AUTO_TEST_CASE(ping_and_echo) {
  BOOST_TEST(run({"PING"}) == "+PONG\r\n");
  BOOST_TEST(run3({"PING"}) == "+PONG\r\n");
  BOOST_TEST(run({"ping", "hello"}) == bulk("hello"));
  BOOST_TEST(run3({"PING", "hello"}) == bulk("hello"));
  BOOST_TEST(run({"PING", "a", "b"}) == error("wrong number of arguments for 'ping' command"));
  BOOST_TEST(run({"ECHO", "x y"}) == bulk("x y"));
  BOOST_TEST(run({"ECHO", ""}) == bulk(""));
  BOOST_TEST(run({"ECHO"}) == error("wrong number of arguments for 'echo' command"));
}

BOOST_AUTO_TEST_CASE(select_validates_and_switches_database) {
  BOOST_TEST(run({"SELECT", "x"}) == error("value is not an integer or out of range"));
  BOOST_TEST(run({"SELECT", "16"}) == error("DB index is out of range"));
  BOOST_TEST(run({"SELECT", "-1"}) == error("DB index is out of range"));
  BOOST_TEST(session->db.load() == 0);

  BOOST_TEST(run({"SELECT", "15"}) == kOk);
  BOOST_TEST(session->db.load() == 15);
  BOOST_TEST(run({"SET", "k", "in15"}) == kOk);
  BOOST_TEST(run({"SELECT", "0"}) == kOk);
  BOOST_TEST(run({"GET", "k"}) == kNil);
  BOOST_TEST(run({"SELECT", "15"}) == kOk);
  BOOST_TEST(run({"GET", "k"}) == bulk("in15"));

  // Another client still sees database 0.
  Session& other = new_session();
  std::vector<std::string_view> get = {"GET", "k"};
  BOOST_TEST(run_on(other, get) == kNil);
}

BOOST_AUTO_TEST_CASE(quit_replies_ok_then_closes) {
  BOOST_TEST(run({"QUIT"}) == kOk);
  BOOST_TEST(last_outcome == Outcome::kClose);
  BOOST_TEST(session->close_after_reply);
}

BOOST_AUTO_TEST_CASE(auth_without_a_configured_password) {
  BOOST_TEST(run({"AUTH", "secret"}) ==
             error("AUTH <password> called without any password configured for the default "
                   "user. Are you sure your configuration is correct?"));
  BOOST_TEST(run({"AUTH", "default", "anything"}) == kOk);
  BOOST_TEST(run({"AUTH", "nobody", "pw"}) ==
             "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
  BOOST_TEST(run({"AUTH", "a", "b", "c"}) == error("syntax error"));
  BOOST_TEST(run({"AUTH"}) == error("wrong number of arguments for 'auth' command"));
}

BOOST_AUTO_TEST_CASE(hello_switches_protocol) {
  const uint64_t id = session->id;
  BOOST_TEST(run({"HELLO"}) == hello_reply(2, id));
  BOOST_TEST(session->protocol.load() == 2);

  BOOST_TEST(run({"HELLO", "3"}) == hello_reply(3, id));
  BOOST_TEST(session->protocol.load() == 3);
  // Later replies use RESP3: a null is "_" and CONFIG GET a map.
  BOOST_TEST(run({"CLIENT", "GETNAME"}) == "_\r\n");
  BOOST_TEST(run({"CONFIG", "GET", "databases"}) == "%1\r\n" + bulk("databases") + bulk("16"));
  BOOST_TEST(run({"HELLO"}) == hello_reply(3, id));

  BOOST_TEST(run({"HELLO", "2"}) == hello_reply(2, id));
  BOOST_TEST(run({"CLIENT", "GETNAME"}) == kNil);
}

BOOST_AUTO_TEST_CASE(hello_options_and_errors) {
  const uint64_t id = session->id;
  BOOST_TEST(run({"HELLO", "4"}) == "-NOPROTO unsupported protocol version\r\n");
  BOOST_TEST(run({"HELLO", "1"}) == "-NOPROTO unsupported protocol version\r\n");
  BOOST_TEST(run({"HELLO", "x"}) == error("Protocol version is not an integer or out of range"));
  BOOST_TEST(run({"HELLO", "3", "FOO"}) == error("Syntax error in HELLO option 'FOO'"));
  BOOST_TEST(run({"HELLO", "3", "SETNAME"}) == error("Syntax error in HELLO option 'SETNAME'"));
  BOOST_TEST(run({"HELLO", "3", "AUTH", "default"}) ==
             error("Syntax error in HELLO option 'AUTH'"));
  BOOST_TEST(run({"HELLO", "3", "SETNAME", "a b"}) ==
             error("Client names cannot contain spaces, newlines or special characters."));
  BOOST_TEST(run({"HELLO", "3", "AUTH", "nobody", "pw"}) ==
             "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
  // None of the failures switched the protocol.
  BOOST_TEST(session->protocol.load() == 2);

  BOOST_TEST(run({"HELLO", "3", "AUTH", "default", "pw", "SETNAME", "app"}) == hello_reply(3, id));
  BOOST_TEST(run({"CLIENT", "GETNAME"}) == bulk("app"));
}

BOOST_AUTO_TEST_CASE(reset_restores_a_fresh_connection) {
  BOOST_TEST(run({"HELLO", "3", "SETNAME", "n"}) == hello_reply(3, session->id));
  BOOST_TEST(run({"SELECT", "3"}) == kOk);
  BOOST_TEST(run({"RESET"}) == "+RESET\r\n");
  BOOST_TEST(session->protocol.load() == 2);
  BOOST_TEST(session->db.load() == 0);
  BOOST_TEST(run({"CLIENT", "GETNAME"}) == kNil);
}

BOOST_AUTO_TEST_CASE(client_setname_getname_id) {
  BOOST_TEST(run({"CLIENT", "ID"}) == integer(static_cast<int64_t>(session->id)));
  BOOST_TEST(run({"CLIENT", "GETNAME"}) == kNil);
  BOOST_TEST(run({"client", "setname", "worker-1"}) == kOk);
  BOOST_TEST(run({"CLIENT", "GETNAME"}) == bulk("worker-1"));
  BOOST_TEST(run3({"CLIENT", "GETNAME"}) == bulk("worker-1"));
  for (std::string_view bad :
       std::initializer_list<std::string_view>{"a b", "a\nb", "a\rb", {"a\0b", 3}}) {
    std::vector<std::string_view> args = {"CLIENT", "SETNAME", bad};
    BOOST_TEST(run_on(*session, args) ==
               error("Client names cannot contain spaces, newlines or special characters."));
  }
  BOOST_TEST(run({"CLIENT", "GETNAME"}) == bulk("worker-1"));
  BOOST_TEST(run({"CLIENT", "SETNAME", ""}) == kOk);
  BOOST_TEST(run({"CLIENT", "GETNAME"}) == kNil);
  BOOST_TEST(run3({"CLIENT", "GETNAME"}) == "_\r\n");

  // A second client gets the next id.
  Session& other = new_session();
  std::vector<std::string_view> id = {"CLIENT", "ID"};
  BOOST_TEST(run_on(other, id) == integer(static_cast<int64_t>(session->id + 1)));
}

BOOST_AUTO_TEST_CASE(client_subcommand_errors) {
  BOOST_TEST(run({"CLIENT"}) == error("wrong number of arguments for 'client' command"));
  BOOST_TEST(run({"CLIENT", "FOO"}) == error("unknown subcommand 'FOO'. Try CLIENT HELP."));
  BOOST_TEST(run({"client", "foo", "x"}) == error("unknown subcommand 'foo'. Try CLIENT HELP."));
  BOOST_TEST(run({"CLIENT", "SETNAME"}) ==
             error("wrong number of arguments for 'client|setname' command"));
  BOOST_TEST(run({"CLIENT", "GETNAME", "x"}) ==
             error("wrong number of arguments for 'client|getname' command"));
  BOOST_TEST(run({"CLIENT", "ID", "x"}) ==
             error("wrong number of arguments for 'client|id' command"));
  BOOST_TEST(run({"CLIENT", "INFO", "x"}) ==
             error("wrong number of arguments for 'client|info' command"));
}

BOOST_AUTO_TEST_CASE(client_info_is_this_clients_list_line) {
  BOOST_TEST(run({"CLIENT", "SETNAME", "me"}) == kOk);
  BOOST_TEST(run({"SELECT", "2"}) == kOk);
  const std::string line = client_line(*session, "me", 2, "client|info", 2) + "\n";
  BOOST_TEST(run({"CLIENT", "INFO"}) == bulk(line));
  BOOST_TEST(run({"HELLO", "3"}) == hello_reply(3, session->id));
  BOOST_TEST(run({"CLIENT", "INFO"}) ==
             verbatim3(client_line(*session, "me", 2, "client|info", 3) + "\n"));
}

BOOST_AUTO_TEST_CASE(client_list_and_filters) {
  Session& second = new_session();
  BOOST_TEST(run({"CLIENT", "SETNAME", "first"}) == kOk);
  // The second client has run nothing yet: cmd=NULL, as in Redis.
  const std::string first_line = client_line(*session, "first", 0, "client|list", 2) + "\n";
  const std::string second_line = client_line(second, "", 0, "NULL", 2) + "\n";

  BOOST_TEST(run({"CLIENT", "LIST"}) == bulk(first_line + second_line));
  BOOST_TEST(run({"CLIENT", "LIST", "TYPE", "normal"}) == bulk(first_line + second_line));
  BOOST_TEST(run({"CLIENT", "LIST", "TYPE", "Master"}) == bulk(""));
  BOOST_TEST(run({"CLIENT", "LIST", "TYPE", "pubsub"}) == bulk(""));
  BOOST_TEST(run({"CLIENT", "LIST", "TYPE", "foo"}) == error("Unknown client type 'foo'"));
  const std::string second_id = std::to_string(second.id);
  BOOST_TEST(run({"CLIENT", "LIST", "ID", second_id}) == bulk(second_line));
  BOOST_TEST(run({"CLIENT", "LIST", "ID", second_id, "999", "0"}) == bulk(second_line));
  BOOST_TEST(run({"CLIENT", "LIST", "ID", "x"}) == error("Invalid client ID"));
  BOOST_TEST(run({"CLIENT", "LIST", "ID"}) == error("syntax error"));
  BOOST_TEST(run({"CLIENT", "LIST", "foo"}) == error("syntax error"));
  BOOST_TEST(run3({"CLIENT", "LIST", "ID", "999"}) == "=4\r\ntxt:\r\n");

  // A removed client no longer appears.
  server.client_registry.remove(&second);
  BOOST_TEST(run({"CLIENT", "LIST"}) == bulk(first_line));
  BOOST_TEST(server.client_registry.size() == 1u);
  server.client_registry.add(&second);  // the fixture removes it again
}

BOOST_AUTO_TEST_CASE(client_list_reports_age_and_idle) {
  session->created_ms -= 5000;
  const std::string listed = run({"CLIENT", "INFO"});
  BOOST_TEST(listed.find(" age=5 idle=0 ") != std::string::npos);
  session->last_interaction_ms.store(mono_ms() - 3000);
  const std::string line = server.client_registry.describe(*session, mono_ms());
  BOOST_TEST(line.find(" age=5 idle=3 ") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(client_setinfo_and_help) {
  BOOST_TEST(run({"CLIENT", "SETINFO", "LIB-NAME", "redis-py"}) == kOk);
  BOOST_TEST(run({"CLIENT", "SETINFO", "lib-ver", "5.0.1"}) == kOk);
  BOOST_TEST(run({"CLIENT", "SETINFO", "foo", "x"}) == error("Unrecognized option 'foo'"));
  BOOST_TEST(run({"CLIENT", "SETINFO", "lib-name", "a b"}) ==
             error("lib-name cannot contain spaces, newlines or special characters."));
  const std::string help = run({"CLIENT", "HELP"});
  BOOST_TEST(help.starts_with(
      "*41\r\n+CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n"));
  BOOST_TEST(help.ends_with("+HELP\r\n+    Prints this help.\r\n"));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace lmkv::commands::testing
