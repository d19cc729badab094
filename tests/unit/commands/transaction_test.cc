// tests/unit/commands/transaction_test.cc: MULTI, EXEC, DISCARD, WATCH and
// UNWATCH through the real Dispatcher, with a writer stand-in that runs
// submissions the way server::Writer does (one WriteTxn per group, the
// WatchTable as observer, kTransaction commands through execute_sequenced),
// so the queue, the WATCH table and the ordering of WATCH with writes are
// tested without sockets or threads.
#include "commands/transaction.h"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <thread>

#include "harness.h"

namespace lmkv::commands::testing {
namespace {

// Collects submissions; flush() executes them as one writer group, in
// submission order, and appends each reply to its client's output.
class GroupWriter : public WriteSink {
 public:
  GroupWriter(store::Engine& engine, ServerApi& server) : engine_(engine), server_(server) {}

  void submit(Session& session, const CommandSpec& spec, Args args) override {
    Req r{&session, &spec, {}, session.db.load(), session.protocol.load()};
    for (auto a : args) r.args.emplace_back(a);
    queue_.push_back(std::move(r));
  }
  void forget_watches(Session& session) override {
    session.watching = false;
    watches.unwatch(session.id);
  }

  // Runs what was submitted as one group; `out(session)` receives replies.
  template <class Out>
  void flush(Out out) {
    if (queue_.empty()) return;
    store::WriteTxn txn(engine_);
    const int64_t now = unix_ms();
    for (auto& r : queue_) {
      std::vector<std::string_view> args(r.args.begin(), r.args.end());
      resp::ReplyWriter reply(out(*r.session), r.protocol);
      txn.set_observer(watches.observer(txn));
      if (r.spec->flags & kTransaction) {
        execute_sequenced(*r.spec, args, *r.session, r.db, r.protocol, reply, server_, txn, watches,
                          now);
      } else {
        Dispatcher::execute_write(*r.spec, args, r.db, r.protocol, reply, server_, txn, now);
      }
      --r.session->pending_writes;
    }
    queue_.clear();
    if (auto c = txn.commit(); !c) throw std::runtime_error("commit: " + c.error().message);
  }

  WatchTable watches;

 private:
  struct Req {
    Session* session;
    const CommandSpec* spec;
    std::vector<std::string> args;
    int db, protocol;
  };
  store::Engine& engine_;
  ServerApi& server_;
  std::vector<Req> queue_;
};

class TxnFixture {
 public:
  TxnFixture() {
    view_ = std::make_unique<store::ReadView>(store_.engine());
    writer = std::make_unique<GroupWriter>(store_.engine(), server);
    register_string_family(registry);
    register_keys_family(registry);
    register_connection_family(registry);
    register_server_family(registry);
    register_transaction_family(registry);
    dispatcher_ = std::make_unique<Dispatcher>(registry);
    a = &new_session();
    b = &new_session();
  }

  Session& new_session() {
    sessions_.push_back(std::make_unique<Session>());
    sessions_.back()->id = sessions_.size();
    outputs_.emplace_back();
    return *sessions_.back();
  }

  // Dispatches one command for `s` without running the writer.
  Outcome send(Session& s, std::initializer_list<std::string_view> args) {
    resp::ReplyWriter reply(&output(s), s.protocol.load());
    auto o = dispatcher_->dispatch(s, std::span(args.begin(), args.size()), reply, server, *view_,
                                   *writer);
    view_->end();
    return o;
  }
  // Runs the writer's group; replies go to their sessions' outputs.
  void flush() {
    writer->flush([this](Session& s) { return &output(s); });
  }
  // Takes what `s` received so far.
  std::string take(Session& s) { return std::exchange(output(s), {}); }

  // One command, its writer group (if any), and everything it replied.
  std::string run(Session& s, std::initializer_list<std::string_view> args) {
    auto o = send(s, args);
    BOOST_TEST((o == Outcome::kDone || o == Outcome::kSubmitted));
    flush();
    return take(s);
  }
  std::string run(std::initializer_list<std::string_view> args) { return run(*a, args); }

  store::Engine& engine() { return store_.engine(); }

 private:
  TempStore store_;  // first: outlives the view and the writer

 public:
  FakeServer server;
  Registry registry;
  std::unique_ptr<GroupWriter> writer;
  Session* a = nullptr;  // the transaction's client
  Session* b = nullptr;  // another client

 private:
  std::string& output(Session& s) { return outputs_[s.id - 1]; }

  std::unique_ptr<store::ReadView> view_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::vector<std::unique_ptr<Session>> sessions_;
  std::vector<std::string> outputs_;
};

const std::string kQueued = "+QUEUED\r\n";
const std::string kExecAbort = "-EXECABORT Transaction discarded because of previous errors.\r\n";

}  // namespace

BOOST_FIXTURE_TEST_SUITE(transaction, TxnFixture)

BOOST_AUTO_TEST_CASE(multi_exec_runs_the_queue_in_order) {
  BOOST_TEST(run({"MULTI"}) == kOk);
  BOOST_TEST(run({"SET", "k", "1"}) == kQueued);
  BOOST_TEST(run({"INCR", "k"}) == kQueued);
  BOOST_TEST(run({"GET", "k"}) == kQueued);  // a read sees the EXEC's own writes
  BOOST_TEST(run({"PING"}) == kQueued);
  BOOST_TEST(run({"EXEC"}) == "*4\r\n+OK\r\n:2\r\n" + bulk("2") + "+PONG\r\n");
  BOOST_TEST(run({"GET", "k"}) == bulk("2"));
  BOOST_TEST(!a->multi);  // dropped by the first command after EXEC's reply
  BOOST_TEST(run({"MULTI"}) == kOk);
  BOOST_TEST(run({"EXEC"}) == "*0\r\n");
}

BOOST_AUTO_TEST_CASE(state_errors) {
  BOOST_TEST(run({"EXEC"}) == error("EXEC without MULTI"));
  BOOST_TEST(run({"DISCARD"}) == error("DISCARD without MULTI"));
  BOOST_TEST(run({"UNWATCH"}) == kOk);
  BOOST_TEST(run({"MULTI"}) == kOk);
  BOOST_TEST(run({"MULTI"}) == error("MULTI calls can not be nested"));
  BOOST_TEST(run({"WATCH", "x"}) == error("WATCH inside MULTI is not allowed"));
  BOOST_TEST(run({"SET", "a", "1"}) == kQueued);
  // Neither error above flags the transaction (as in Redis 7).
  BOOST_TEST(run({"EXEC"}) == "*1\r\n+OK\r\n");
}

BOOST_AUTO_TEST_CASE(queue_time_errors_abort_exec) {
  BOOST_TEST(run({"MULTI"}) == kOk);
  BOOST_TEST(run({"NOSUCH"}).starts_with("-ERR unknown command 'NOSUCH'"));
  BOOST_TEST(run({"SET", "a", "1"}) == kQueued);
  BOOST_TEST(run({"EXEC"}) == kExecAbort);
  BOOST_TEST(run({"GET", "a"}) == kNil);

  BOOST_TEST(run({"MULTI"}) == kOk);
  BOOST_TEST(run({"GET"}) == error("wrong number of arguments for 'get' command"));
  BOOST_TEST(run({"SET", "a", "1"}) == kQueued);
  BOOST_TEST(run({"SHUTDOWN"}) == error("Command not allowed inside a transaction"));
  BOOST_TEST(run({"EXEC"}) == kExecAbort);
  BOOST_TEST(run({"EXEC"}) == error("EXEC without MULTI"));
  BOOST_TEST(run({"GET", "a"}) == kNil);
}

BOOST_AUTO_TEST_CASE(run_time_errors_do_not_roll_back) {
  BOOST_TEST(run({"SET", "s", "text"}) == kOk);
  BOOST_TEST(run({"MULTI"}) == kOk);
  BOOST_TEST(run({"SET", "a", "1"}) == kQueued);
  BOOST_TEST(run({"INCR", "s"}) == kQueued);
  BOOST_TEST(run({"INCR", "a"}) == kQueued);
  BOOST_TEST(run({"EXEC"}) ==
             "*3\r\n+OK\r\n" + error("value is not an integer or out of range") + ":2\r\n");
  BOOST_TEST(run({"GET", "a"}) == bulk("2"));
}

BOOST_AUTO_TEST_CASE(discard_drops_the_queue) {
  BOOST_TEST(run({"MULTI"}) == kOk);
  BOOST_TEST(run({"SET", "a", "1"}) == kQueued);
  BOOST_TEST(run({"DISCARD"}) == kOk);
  BOOST_TEST(run({"GET", "a"}) == kNil);
  BOOST_TEST(run({"EXEC"}) == error("EXEC without MULTI"));
}

BOOST_AUTO_TEST_CASE(select_inside_multi_applies_to_later_commands_and_the_session) {
  BOOST_TEST(run({"MULTI"}) == kOk);
  BOOST_TEST(run({"SELECT", "1"}) == kQueued);
  BOOST_TEST(run({"SET", "sel", "1"}) == kQueued);
  BOOST_TEST(run({"SELECT", "99"}) == kQueued);
  BOOST_TEST(run({"EXEC"}) == "*3\r\n+OK\r\n+OK\r\n" + error("DB index is out of range"));
  BOOST_TEST(a->db.load() == 1);
  BOOST_TEST(run({"GET", "sel"}) == bulk("1"));
  BOOST_TEST(run({"SELECT", "0"}) == kOk);
  BOOST_TEST(run({"GET", "sel"}) == kNil);
}

BOOST_AUTO_TEST_CASE(commands_after_exec_wait_for_its_reply) {
  BOOST_TEST(run({"MULTI"}) == kOk);
  BOOST_TEST(run({"SELECT", "2"}) == kQueued);
  BOOST_TEST(send(*a, {"EXEC"}) == Outcome::kSubmitted);
  // A pipelined write must not be submitted with the old database.
  BOOST_TEST(send(*a, {"SET", "k", "v"}) == Outcome::kWait);
  BOOST_TEST(send(*a, {"PING"}) == Outcome::kWait);
  flush();
  BOOST_TEST(take(*a) == "*1\r\n+OK\r\n");
  BOOST_TEST(run({"SET", "k", "v"}) == kOk);
  BOOST_TEST(run({"SELECT", "2"}) == kOk);
  BOOST_TEST(run({"GET", "k"}) == bulk("v"));
}

BOOST_AUTO_TEST_CASE(watch_aborts_exec_when_another_client_writes) {
  BOOST_TEST(run({"SET", "k", "1"}) == kOk);
  BOOST_TEST(run({"WATCH", "k"}) == kOk);
  BOOST_TEST(run(*b, {"SET", "k", "2"}) == kOk);
  BOOST_TEST(run({"MULTI"}) == kOk);
  BOOST_TEST(run({"SET", "k", "3"}) == kQueued);
  BOOST_TEST(run({"EXEC"}) == "*-1\r\n");
  BOOST_TEST(run({"GET", "k"}) == bulk("2"));
  BOOST_TEST(writer->watches.empty());  // EXEC unwatched, aborted or not

  // RESP3: a null.
  a->protocol = 3;
  BOOST_TEST(run({"WATCH", "k"}) == kOk);
  BOOST_TEST(run(*b, {"DEL", "k"}) == ":1\r\n");
  BOOST_TEST(run({"MULTI"}) == kOk);
  BOOST_TEST(run({"EXEC"}) == "_\r\n");
}

BOOST_AUTO_TEST_CASE(watch_passes_when_untouched_and_unwatch_forgets) {
  BOOST_TEST(run({"WATCH", "k", "other"}) == kOk);
  BOOST_TEST(writer->watches.watched_keys() == 2);
  BOOST_TEST(run(*b, {"SET", "unrelated", "1"}) == kOk);
  BOOST_TEST(run(*b, {"DEL", "k"}) == ":0\r\n");  // deleting nothing changes nothing
  BOOST_TEST(run({"MULTI"}) == kOk);
  BOOST_TEST(run({"SET", "k", "mine"}) == kQueued);
  BOOST_TEST(run({"EXEC"}) == "*1\r\n+OK\r\n");
  BOOST_TEST(writer->watches.watched_keys() == 0);

  BOOST_TEST(run({"WATCH", "k"}) == kOk);
  BOOST_TEST(run({"UNWATCH"}) == kOk);
  BOOST_TEST(writer->watches.empty());
  BOOST_TEST(run(*b, {"SET", "k", "theirs"}) == kOk);
  BOOST_TEST(run({"MULTI"}) == kOk);
  BOOST_TEST(run({"EXEC"}) == "*0\r\n");

  // DISCARD unwatches too.
  BOOST_TEST(run({"WATCH", "k"}) == kOk);
  BOOST_TEST(run({"MULTI"}) == kOk);
  BOOST_TEST(run({"DISCARD"}) == kOk);
  BOOST_TEST(writer->watches.empty());
  BOOST_TEST(!a->watching);
}

BOOST_AUTO_TEST_CASE(watch_is_per_database) {
  BOOST_TEST(run({"WATCH", "k"}) == kOk);
  BOOST_TEST(run(*b, {"SELECT", "1"}) == kOk);
  BOOST_TEST(run(*b, {"SET", "k", "x"}) == kOk);
  BOOST_TEST(run({"MULTI"}) == kOk);
  BOOST_TEST(run({"EXEC"}) == "*0\r\n");
}

BOOST_AUTO_TEST_CASE(watch_is_ordered_with_writes_in_one_group) {
  BOOST_TEST(run({"SET", "k", "1"}) == kOk);
  // B's write before A's WATCH in the same group: no change for A.
  BOOST_TEST(send(*b, {"SET", "k", "2"}) == Outcome::kSubmitted);
  BOOST_TEST(send(*a, {"WATCH", "k"}) == Outcome::kSubmitted);
  flush();
  BOOST_TEST(take(*a) == kOk);
  BOOST_TEST(run({"MULTI"}) == kOk);
  BOOST_TEST(run({"EXEC"}) == "*0\r\n");
  // After it, even in the same group: a change.
  BOOST_TEST(send(*a, {"WATCH", "k"}) == Outcome::kSubmitted);
  BOOST_TEST(send(*b, {"SET", "k", "3"}) == Outcome::kSubmitted);
  flush();
  BOOST_TEST(take(*a) == kOk);
  BOOST_TEST(run({"MULTI"}) == kOk);
  BOOST_TEST(run({"EXEC"}) == "*-1\r\n");
  // And an EXEC ahead of the write in its group runs; the write follows.
  BOOST_TEST(run({"WATCH", "k"}) == kOk);
  BOOST_TEST(run({"MULTI"}) == kOk);
  BOOST_TEST(run({"SET", "k", "mine"}) == kQueued);
  BOOST_TEST(send(*a, {"EXEC"}) == Outcome::kSubmitted);
  BOOST_TEST(send(*b, {"SET", "k", "theirs"}) == Outcome::kSubmitted);
  flush();
  BOOST_TEST(take(*a) == "*1\r\n+OK\r\n");
  BOOST_TEST(run({"GET", "k"}) == bulk("theirs"));
}

BOOST_AUTO_TEST_CASE(watch_and_flush) {
  BOOST_TEST(run({"SET", "k", "1"}) == kOk);
  BOOST_TEST(run({"WATCH", "k", "absent"}) == kOk);
  BOOST_TEST(run(*b, {"FLUSHDB"}) == kOk);
  BOOST_TEST(run({"MULTI"}) == kOk);
  BOOST_TEST(run({"EXEC"}) == "*-1\r\n");
  // A flush of a database without the watched key changes nothing (Redis).
  BOOST_TEST(run({"WATCH", "absent"}) == kOk);
  BOOST_TEST(run(*b, {"FLUSHALL"}) == kOk);
  BOOST_TEST(run({"MULTI"}) == kOk);
  BOOST_TEST(run({"EXEC"}) == "*0\r\n");
}

BOOST_AUTO_TEST_CASE(watch_and_expiry) {
  // Live when watched: the WATCH answered within the deadline, which starts
  // no earlier than the SET was sent (unix_ms, the server's expiry clock). A
  // loaded machine may take longer than that; then again.
  bool live = false;
  int64_t watched_by = 0;
  for (int attempt = 0; attempt < 20 && !live; ++attempt) {
    const int64_t sent = unix_ms();
    BOOST_TEST(run({"SET", "k", "1", "PX", "100"}) == kOk);
    BOOST_TEST(run({"WATCH", "k"}) == kOk);
    watched_by = unix_ms();
    live = watched_by - sent < 100;
    if (!live) BOOST_TEST(run({"UNWATCH"}) == kOk);
  }
  BOOST_REQUIRE(live);
  std::this_thread::sleep_for(std::chrono::milliseconds(120));
  BOOST_TEST(run({"MULTI"}) == kOk);
  BOOST_TEST(run({"EXEC"}) == "*-1\r\n");  // expired since WATCH: a change (Redis 7)
  // Already expired when watched, untouched since: no change.
  BOOST_TEST(run({"WATCH", "k"}) == kOk);
  BOOST_TEST(run({"MULTI"}) == kOk);
  BOOST_TEST(run({"EXEC"}) == "*0\r\n");
  // Already expired when watched and then deleted: still no change.
  BOOST_TEST(run({"WATCH", "k"}) == kOk);
  BOOST_TEST(run(*b, {"DEL", "k"}) == ":0\r\n");
  BOOST_TEST(run({"MULTI"}) == kOk);
  BOOST_TEST(run({"EXEC"}) == "*0\r\n");
}

BOOST_AUTO_TEST_CASE(no_observer_without_watches_and_no_leaks) {
  auto observer = [this] {
    store::WriteTxn txn(engine());
    return writer->watches.observer(txn) != nullptr;
  };
  BOOST_TEST(!observer());
  BOOST_TEST(run({"WATCH", "a", "b", "a"}) == kOk);
  BOOST_TEST(run(*b, {"WATCH", "a"}) == kOk);
  BOOST_TEST(writer->watches.watched_keys() == 3);
  BOOST_TEST(observer());
  // What the writer does when a connection closes.
  writer->watches.unwatch(a->id);
  writer->watches.unwatch(b->id);
  BOOST_TEST(writer->watches.empty());
  BOOST_TEST(!observer());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace lmkv::commands::testing
