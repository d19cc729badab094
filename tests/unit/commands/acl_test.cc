// tests/unit/commands/acl_test.cc: SHA-256, the user table, the dispatcher's
// NOAUTH/NOPERM checks, AUTH/HELLO/ACL through the real dispatcher, protected
// mode, argument redaction and rename-command. Expected texts and digests
// are Redis 7.0.15's (ACL LIST of the same users on redis-server).
#include "commands/acl.h"

#include <boost/test/unit_test.hpp>

#include "harness.h"

namespace lmkv::commands::testing {
namespace {

// Redis 7.0.15's ACL LIST digests for these passwords.
constexpr std::string_view kSekretHex =
    "bb757689c39373a6cac9ef6ba55616c6249d7500ca4d443f1130c4766453a412";
constexpr std::string_view kPwHex =
    "30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4";

std::string err_with(std::string_view prefix, std::string_view message) {
  return "-" + std::string(prefix) + " " + std::string(message) + "\r\n";
}

const std::string kNoAuth = "-NOAUTH Authentication required.\r\n";
const std::string kWrongPass = "-WRONGPASS invalid username-password pair or user is disabled.\r\n";

// The harness's FakeServer with a real Acl.
class AclServer : public FakeServer {
 public:
  Acl acl_table;
  Acl* acl() override { return &acl_table; }
};

// Like CommandFixture, over an AclServer: the same families plus ACL.
class AclFixture {
 public:
  AclFixture() {
    view_ = std::make_unique<store::ReadView>(store_.engine());
    writer_ = std::make_unique<ImmediateWriter>(store_.engine(), server);
    register_string_family(registry);
    register_keys_family(registry);
    register_connection_family(registry);
    register_server_family(registry);
    register_acl_family(registry);
    server.acl_table.set_registry(&registry);
    dispatcher_ = std::make_unique<Dispatcher>(registry);
  }
  ~AclFixture() {
    for (auto& s : sessions_) server.client_registry.remove(s.get());
  }

  // A new connection, authenticated as the loop does at accept.
  Session& connect() {
    auto s = std::make_unique<Session>();
    s->id = server.client_registry.next_id();
    s->addr = "127.0.0.1:" + std::to_string(40000 + s->id);
    s->authenticated = !server.acl_table.auth_required();
    server.client_registry.add(s.get());
    sessions_.push_back(std::move(s));
    return *sessions_.back();
  }

  std::string run(Session& s, std::initializer_list<std::string_view> args) {
    std::string out;
    resp::ReplyWriter reply(&out, s.protocol.load());
    writer_->set_output(&out);
    last_outcome = dispatcher_->dispatch(s, std::span(args.begin(), args.size()), reply, server,
                                         *view_, *writer_);
    view_->end();
    return out;
  }

 private:
  TempStore store_;  // first: outlives the view and the writer

 public:
  AclServer server;
  Registry registry;
  Outcome last_outcome = Outcome::kDone;

 private:
  std::unique_ptr<store::ReadView> view_;
  std::unique_ptr<ImmediateWriter> writer_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::vector<std::unique_ptr<Session>> sessions_;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(acl)

BOOST_AUTO_TEST_CASE(sha256_known_vectors) {
  BOOST_TEST(to_hex(sha256("")) ==
             "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  BOOST_TEST(to_hex(sha256("abc")) ==
             "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // 56 bytes: the padding needs a second block.
  BOOST_TEST(to_hex(sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")) ==
             "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  BOOST_TEST(to_hex(sha256(std::string(1000, 'a'))) ==
             "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
  BOOST_TEST(to_hex(sha256("sekret")) == kSekretHex);
  BOOST_TEST(to_hex(sha256("pw")) == kPwHex);
  BOOST_TEST(digest_equal(sha256("x"), sha256("x")));
  BOOST_TEST(!digest_equal(sha256("x"), sha256("y")));
}

BOOST_AUTO_TEST_CASE(default_user_and_requirepass) {
  Acl acl;
  BOOST_TEST(acl.list() == std::vector<std::string>{"user default on nopass ~* &* +@all"});
  BOOST_TEST(!acl.auth_required());
  BOOST_TEST(acl.default_nopass());
  BOOST_TEST(acl.authenticate("default", "anything"));
  acl.set_requirepass("sekret");
  BOOST_TEST(acl.auth_required());
  BOOST_TEST(acl.list() == std::vector<std::string>{"user default on #" + std::string(kSekretHex) +
                                                    " ~* &* +@all"});
  BOOST_TEST(acl.authenticate("default", "sekret"));
  BOOST_TEST(!acl.authenticate("default", "sekreT"));
  BOOST_TEST(!acl.authenticate("nobody", "sekret"));
  acl.set_requirepass("");
  BOOST_TEST(!acl.auth_required());
  BOOST_TEST(acl.authenticate("default", "whatever"));
}

BOOST_AUTO_TEST_CASE(setuser_rules_and_descriptions) {
  AclFixture f;
  Acl& acl = f.server.acl_table;
  BOOST_TEST(acl.set_user("alice", {"on", ">pw", "+@read"}).ok());
  BOOST_TEST(acl.get("alice")->describe() ==
             "user alice on #" + std::string(kPwHex) + " resetchannels -@all +@read");
  BOOST_TEST(acl.set_user("bob", {"on", "nopass", "~*", "+@all", "-set"}).ok());
  BOOST_TEST(acl.get("bob")->describe() == "user bob on nopass ~* resetchannels +@all -set");
  BOOST_TEST(acl.set_user("z", {"on", "nopass", "allkeys", "allcommands", "allchannels"}).ok());
  BOOST_TEST(acl.get("z")->describe() == "user z on nopass ~* &* +@all");
  BOOST_TEST(acl.set_user("y", {}).ok());
  BOOST_TEST(acl.get("y")->describe() == "user y off resetchannels -@all");
  // nocommands forgets earlier rules; ">a >b <a" keeps b's digest only.
  BOOST_TEST(acl.set_user("w", {"on", "resetpass", ">a", ">b", "<a", "+@all", "-@dangerous",
                                "nocommands", "+@write", "-flushall"})
                 .ok());
  BOOST_TEST(acl.get("w")->describe() ==
             "user w on #" + to_hex(sha256("b")) + " resetchannels -@all +@write -flushall");
  BOOST_TEST(acl.names() == (std::vector<std::string>{"alice", "bob", "default", "w", "y", "z"}));

  auto error_of = [&](std::vector<std::string_view> rules) {
    Status s = acl.set_user("e", rules);
    return s ? std::string("ok") : s.error().message;
  };
  BOOST_TEST(error_of({"bogus"}) == "Error in ACL SETUSER modifier 'bogus': Syntax error");
  BOOST_TEST(error_of({"+nosuch"}) ==
             "Error in ACL SETUSER modifier '+nosuch': Unknown command or category name in ACL");
  BOOST_TEST(error_of({"+@nosuch"}) ==
             "Error in ACL SETUSER modifier '+@nosuch': Unknown command or category name in ACL");
  BOOST_TEST(error_of({"~foo*"}).find("only the ~* key pattern") != std::string::npos);
  BOOST_TEST(error_of({"(+get ~*)"}).find("selectors") != std::string::npos);
  BOOST_TEST(error_of({"<nopw"}) ==
             "Error in ACL SETUSER modifier '<nopw': The password you are trying to remove from "
             "the user does not exist");
  BOOST_TEST(error_of({"#abc"}) ==
             "Error in ACL SETUSER modifier '#abc': The password hash must be exactly 64 "
             "characters and contain only lowercase hexadecimal characters");
  // All or nothing: the failed calls created no user "e".
  BOOST_TEST(!acl.exists("e"));
  BOOST_TEST(acl.set_user("alice", {"off", "bogus"}).ok() == false);
  BOOST_TEST(acl.get("alice")->enabled);

  auto del = acl.delete_users({"default"});
  BOOST_TEST(!del.ok());
  BOOST_TEST(del.error().message == "The 'default' user cannot be removed");
  auto n = acl.delete_users({"y", "z", "nosuch"});
  BOOST_TEST(*n == 2);
}

BOOST_AUTO_TEST_CASE(categories_from_flags) {
  AclFixture f;
  const CommandSpec* get = f.registry.find("get");
  const CommandSpec* set = f.registry.find("set");
  const CommandSpec* flushall = f.registry.find("flushall");
  BOOST_TEST(in_category(*get, "read"));
  BOOST_TEST(in_category(*get, "fast"));
  BOOST_TEST(in_category(*get, "string"));
  BOOST_TEST(!in_category(*get, "write"));
  BOOST_TEST(!in_category(*get, "keyspace"));
  BOOST_TEST(in_category(*set, "write"));
  BOOST_TEST(in_category(*set, "slow"));
  BOOST_TEST(in_category(*flushall, "dangerous"));
  BOOST_TEST(in_category(*flushall, "keyspace"));
  BOOST_TEST(in_category(*f.registry.find("ping"), "connection"));
  BOOST_TEST(in_category(*f.registry.find("echo"), "connection"));
}

BOOST_AUTO_TEST_CASE(noauth_before_auth_then_auth_and_hello) {
  AclFixture f;
  f.server.acl_table.set_requirepass("sekret");
  Session& s = f.connect();
  BOOST_TEST(!s.authenticated);
  BOOST_TEST(f.run(s, {"GET", "k"}) == kNoAuth);
  BOOST_TEST(f.run(s, {"SET", "k", "v"}) == kNoAuth);
  BOOST_TEST(f.run(s, {"PING"}) == kNoAuth);
  BOOST_TEST(f.run(s, {"ACL", "WHOAMI"}) == kNoAuth);
  // Unknown commands and arity come first, as in Redis.
  BOOST_TEST(f.run(s, {"GET"}) == error("wrong number of arguments for 'get' command"));
  BOOST_TEST(f.run(s, {"HELLO", "3"}) ==
             err_with("NOAUTH",
                      "HELLO must be called with the client already authenticated, otherwise the "
                      "HELLO AUTH <user> <pass> option can be used to authenticate the client "
                      "and select the RESP protocol version at the same time"));
  BOOST_TEST(s.protocol.load() == 2);
  BOOST_TEST(f.run(s, {"AUTH", "wrong"}) == kWrongPass);
  BOOST_TEST(f.run(s, {"AUTH", "default", "wrong"}) == kWrongPass);
  BOOST_TEST(f.run(s, {"AUTH", "nouser", "sekret"}) == kWrongPass);
  BOOST_TEST(f.run(s, {"AUTH", "a", "b", "c"}) == error("syntax error"));
  BOOST_TEST(f.run(s, {"HELLO", "3", "AUTH", "default", "bad"}) == kWrongPass);
  BOOST_TEST(!s.authenticated);
  BOOST_TEST(f.run(s, {"AUTH", "sekret"}) == kOk);
  BOOST_TEST(s.authenticated);
  BOOST_TEST(f.run(s, {"GET", "k"}) == kNil);
  BOOST_TEST(f.run(s, {"ACL", "WHOAMI"}) == bulk("default"));

  Session& h = f.connect();
  std::string hello = f.run(h, {"HELLO", "3", "AUTH", "default", "sekret", "SETNAME", "me"});
  BOOST_TEST(hello.starts_with("%7\r\n"));
  BOOST_TEST(h.authenticated);
  BOOST_TEST(h.protocol.load() == 3);
  BOOST_TEST(f.server.client_registry.name(h) == "me");

  // Connections made while a password was set stay unauthenticated after
  // it is removed, but need no AUTH any more (Redis's authRequired).
  Session& late = f.connect();
  f.server.acl_table.set_requirepass("");
  BOOST_TEST(f.run(late, {"GET", "k"}) == kNil);
  BOOST_TEST(f.run(late, {"AUTH", "x"}) ==
             error("AUTH <password> called without any password configured for the default "
                   "user. Are you sure your configuration is correct?"));
  BOOST_TEST(f.run(late, {"AUTH", "default", "x"}) == kOk);
}

BOOST_AUTO_TEST_CASE(noperm_for_commands_keys_and_subcommands) {
  AclFixture f;
  Acl& acl = f.server.acl_table;
  BOOST_TEST(acl.set_user("alice", {"on", ">pw", "+@read"}).ok());
  BOOST_TEST(acl.set_user("carol", {"on", ">pw", "~*", "+@read"}).ok());
  BOOST_TEST(acl.set_user("bob", {"on", "nopass", "~*", "+@all", "-set", "-config|set"}).ok());
  Session& a = f.connect();
  BOOST_TEST(f.run(a, {"AUTH", "alice", "pw"}) == kOk);
  BOOST_TEST(f.run(a, {"SET", "k", "v"}) ==
             err_with("NOPERM", "this user has no permissions to run the 'set' command"));
  BOOST_TEST(f.run(a, {"GET", "k"}) ==
             err_with("NOPERM",
                      "this user has no permissions to access one of the keys used as arguments"));
  BOOST_TEST(f.run(a, {"ACL", "WHOAMI"}) ==
             err_with("NOPERM", "this user has no permissions to run the 'acl|whoami' command"));

  Session& c = f.connect();
  BOOST_TEST(f.run(c, {"AUTH", "carol", "pw"}) == kOk);
  BOOST_TEST(f.run(c, {"GET", "k"}) == kNil);
  BOOST_TEST(f.run(c, {"SET", "k", "v"}) ==
             err_with("NOPERM", "this user has no permissions to run the 'set' command"));
  BOOST_TEST(f.run(c, {"CONFIG", "GET", "maxclients"}) ==
             err_with("NOPERM", "this user has no permissions to run the 'config|get' command"));

  Session& b = f.connect();
  BOOST_TEST(f.run(b, {"AUTH", "bob", "anything"}) == kOk);
  BOOST_TEST(f.run(b, {"SET", "k", "v"}) ==
             err_with("NOPERM", "this user has no permissions to run the 'set' command"));
  BOOST_TEST(f.run(b, {"MSET", "k", "v"}) == kOk);
  BOOST_TEST(f.run(b, {"CONFIG", "SET", "maxclients", "5"}) ==
             err_with("NOPERM", "this user has no permissions to run the 'config|set' command"));
  BOOST_TEST(f.run(b, {"CONFIG", "GET", "nothing"}) == "*0\r\n");

  // A user that is switched off cannot log in; one deleted is disconnected.
  BOOST_TEST(acl.set_user("carol", {"off"}).ok());
  Session& c2 = f.connect();
  BOOST_TEST(f.run(c2, {"AUTH", "carol", "pw"}) == kWrongPass);
  BOOST_TEST(f.run(c, {"GET", "k"}) == bulk("v"));  // already logged in: still works
  BOOST_TEST(*acl.delete_users({"carol"}) == 1);
  BOOST_TEST(f.run(c, {"GET", "k"}) == "");
  BOOST_TEST(f.last_outcome == Outcome::kClose);
}

BOOST_AUTO_TEST_CASE(acl_command_family) {
  AclFixture f;
  Session& s = f.connect();
  BOOST_TEST(f.run(s, {"ACL", "WHOAMI"}) == bulk("default"));
  BOOST_TEST(f.run(s, {"ACL", "WHOAMI", "x"}) ==
             error("wrong number of arguments for 'acl|whoami' command"));
  BOOST_TEST(f.run(s, {"ACL"}) == error("wrong number of arguments for 'acl' command"));
  BOOST_TEST(f.run(s, {"ACL", "nosuch"}) == error("unknown subcommand 'nosuch'. Try ACL HELP."));
  BOOST_TEST(f.run(s, {"ACL", "SETUSER", "alice", "on", ">pw", "+@read"}) == kOk);
  BOOST_TEST(f.run(s, {"ACL", "SETUSER", "x", "bogus"}) ==
             error("Error in ACL SETUSER modifier 'bogus': Syntax error"));
  BOOST_TEST(f.run(s, {"ACL", "USERS"}) == bulks({"alice", "default"}));
  BOOST_TEST(f.run(s, {"ACL", "LIST"}) ==
             bulks({"user alice on #" + std::string(kPwHex) + " resetchannels -@all +@read",
                    "user default on nopass ~* &* +@all"}));
  BOOST_TEST(f.run(s, {"ACL", "DELUSER", "default"}) ==
             error("The 'default' user cannot be removed"));
  BOOST_TEST(f.run(s, {"ACL", "DELUSER", "alice", "nosuch"}) == integer(1));
  BOOST_TEST(f.run(s, {"ACL", "CAT", "nosuch"}) == error("Unknown category 'nosuch'"));
  std::string cats = f.run(s, {"ACL", "CAT"});
  BOOST_TEST(cats.starts_with("*21\r\n$8\r\nkeyspace\r\n$4\r\nread\r\n"));
  std::vector<std::string> read = flatten(f.run(s, {"ACL", "CAT", "read"}));
  BOOST_TEST((std::find(read.begin(), read.end(), "get") != read.end()));
  BOOST_TEST((std::find(read.begin(), read.end(), "set") == read.end()));
  BOOST_TEST(f.run(s, {"ACL", "GETUSER", "nosuch"}) == kNil);
}

BOOST_AUTO_TEST_CASE(protected_mode_decision) {
  // Off, or a default password: never.
  BOOST_TEST(!protected_mode_denies(false, true, "192.0.2.7:5000"));
  BOOST_TEST(!protected_mode_denies(true, false, "192.0.2.7:5000"));
  // On with a nopass default user: only loopback peers get in.
  BOOST_TEST(protected_mode_denies(true, true, "192.0.2.7:5000"));
  BOOST_TEST(protected_mode_denies(true, true, "10.0.0.1:1"));
  BOOST_TEST(protected_mode_denies(true, true, "fd00::2:1234"));
  BOOST_TEST(!protected_mode_denies(true, true, "127.0.0.1:5000"));
  BOOST_TEST(!protected_mode_denies(true, true, "127.0.0.2:5000"));
  BOOST_TEST(!protected_mode_denies(true, true, "::1:5000"));
  BOOST_TEST(kProtectedModeDenied.starts_with("Redis is running in protected mode"));
}

BOOST_AUTO_TEST_CASE(redaction_of_secret_arguments) {
  AclFixture f;
  auto redact = [&](std::initializer_list<std::string_view> args) {
    return redact_args(*f.registry.find(*args.begin()), std::span(args.begin(), args.size()));
  };
  BOOST_TEST(redact({"AUTH", "pw"}));
  BOOST_TEST(redact({"HELLO", "3", "AUTH", "u", "p"}));
  BOOST_TEST(!redact({"HELLO", "3"}));
  BOOST_TEST(redact({"ACL", "SETUSER", "u", ">pw"}));
  BOOST_TEST(!redact({"ACL", "LIST"}));
  BOOST_TEST(redact({"CONFIG", "SET", "requirepass", "pw"}));
  BOOST_TEST(!redact({"CONFIG", "SET", "maxclients", "5"}));
  BOOST_TEST(!redact({"SET", "k", "v"}));
}

BOOST_AUTO_TEST_CASE(rename_command) {
  AclFixture f;
  BOOST_TEST(apply_rename(f.registry, "flushall", "").ok());
  BOOST_TEST(f.registry.find("flushall") == nullptr);
  for (const CommandSpec* c : f.registry.all()) BOOST_TEST(c->lower_name != "flushall");
  BOOST_TEST(apply_rename(f.registry, "get", "fetch").ok());
  BOOST_TEST(f.registry.find("get") == nullptr);
  const CommandSpec* fetch = f.registry.find("FETCH");
  BOOST_TEST_REQUIRE(fetch != nullptr);
  BOOST_TEST(fetch->lower_name == "fetch");
  BOOST_TEST(fetch->name == "FETCH");
  BOOST_TEST(apply_rename(f.registry, "nosuch", "x").error().message ==
             "No such command in rename-command");
  BOOST_TEST(apply_rename(f.registry, "set", "fetch").error().message ==
             "Target command name already exists");
  BOOST_TEST(f.registry.find("set") != nullptr);
  Session& s = f.connect();
  BOOST_TEST(f.run(s, {"SET", "k", "v"}) == kOk);
  BOOST_TEST(f.run(s, {"FETCH", "k"}) == bulk("v"));
  BOOST_TEST(f.run(s, {"GET", "k"}).starts_with("-ERR unknown command 'GET'"));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace lmkv::commands::testing
