// tests/unit/commands/harness.h: runs commands in-process through the real
// Registry and Dispatcher, with no sockets (Dragonfly's BaseFamilyTest).
//
// Each fixture owns a fresh store::Engine (LMDB environment plus log) in its
// own mkdtemp directory, a Registry with every family registered, a fake
// ServerApi (config map, 16 databases, RANGE limits 1000/100000, a real
// ScanCursors and ClientRegistry), a loop-side ReadView and a WriteSink
// that executes each write at once as its own writer group (WriteTxn) and
// commits it, so the next command's view sees it. run() returns the raw
// reply bytes, so tests compare them exactly:
//
//   BOOST_TEST(run({"SET", "k", "v"}) == "+OK\r\n");
//
// Test-only; single-threaded.
#pragma once

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <memory>
#include <ostream>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "commands/client_registry.h"
#include "commands/command_stats.h"
#include "commands/context.h"
#include "commands/dispatcher.h"
#include "commands/glob.h"
#include "commands/registry.h"
#include "commands/scan_cursors.h"
#include "commands/slowlog.h"
#include "resp/reply_writer.h"
#include "store/engine.h"
#include "store/env.h"
#include "store/read_view.h"
#include "store/write_txn.h"

namespace lmkv::commands {

// Lets Boost.Test print an Outcome in a failed check.
inline std::ostream& operator<<(std::ostream& os, Outcome o) { return os << static_cast<int>(o); }

}  // namespace lmkv::commands

namespace lmkv::commands::testing {

// The ServerApi the command families see. Fields are public so tests can
// set them up and inspect what commands did.
class FakeServer : public ServerApi {
 public:
  std::string info_text = "# Server\r\nlmkv_version:test\r\n";
  std::vector<std::string> info_sections;  // the last INFO's sections
  std::map<std::string, std::string> config = {
      {"databases", "16"}, {"range-default-limit", "1000"}, {"range-max-limit", "100000"}};
  bool shutdown_requested = false;
  int databases_n = 16;
  int64_t default_limit = 1000;
  int64_t max_limit = 100000;
  ClientRegistry client_registry;
  ScanCursors cursors;
  CommandStats stats;  // attached to the fixture's registry
  SlowLog slow_log;
  bool stats_reset = false;

  std::string info(std::span<const std::string> sections) override {
    info_sections.assign(sections.begin(), sections.end());
    return info_text;
  }
  std::vector<std::pair<std::string, std::string>> config_get(std::string_view pattern) override {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& [k, v] : config) {
      if (glob_match(pattern, k, true)) out.emplace_back(k, v);
    }
    return out;
  }
  Status config_set(std::string_view name, std::string_view value) override {
    auto it = config.find(std::string(name));
    if (it == config.end()) {
      return err("Unknown option or number of arguments for CONFIG SET - '" + std::string(name) +
                 "'");
    }
    it->second = std::string(value);
    return {};
  }
  Status shutdown() override {
    shutdown_requested = true;
    return {};
  }
  ClientRegistry& clients() override { return client_registry; }
  CommandStats* command_stats() override { return &stats; }
  SlowLog* slowlog() override { return &slow_log; }
  void reset_stats() override {
    stats_reset = true;
    stats.reset();
  }
  ScanCursors& scan_cursors() override { return cursors; }
  int databases() const override { return databases_n; }
  int64_t range_default_limit() const override { return default_limit; }
  int64_t range_max_limit() const override { return max_limit; }
};

// Executes each submitted write immediately as its own writer group and
// appends its reply to the output of the command being run.
class ImmediateWriter : public WriteSink {
 public:
  ImmediateWriter(store::Engine& engine, ServerApi& server) : engine_(engine), server_(server) {}
  void set_output(std::string* out) { out_ = out; }

  void submit(Session& session, const CommandSpec& spec, Args args) override {
    store::WriteTxn txn(engine_);
    resp::ReplyWriter reply(out_, session.protocol.load());
    Dispatcher::execute_write(spec, args, session.db.load(), session.protocol.load(), reply,
                              server_, txn, unix_ms());
    if (auto c = txn.commit(); !c) throw std::runtime_error("commit: " + c.error().message);
    --session.pending_writes;
  }
  // No WATCH table here: transaction_test has its own writer.
  void forget_watches(Session& session) override { session.watching = false; }

 private:
  store::Engine& engine_;
  ServerApi& server_;
  std::string* out_ = nullptr;
};

// A fresh store (16 databases, log not synced per group) in a temporary
// directory, removed with it. TMPDIR: the fuzzer points it at /dev/shm,
// where a fresh environment per input costs no disk syncs. Declare it
// before anything that uses the engine, so it is destroyed last.
class TempStore {
 public:
  TempStore() {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/lmkv-commands-XXXXXX";
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    store::EngineOptions options;
    options.env.dir = dir_;
    options.env.databases = 16;
    options.env.map_size = size_t{1} << 30;
    options.fsync = store::Fsync::kNo;
    auto engine = store::Engine::open(options);
    if (!engine) throw std::runtime_error("Engine::open: " + engine.error().message);
    engine_ = std::move(*engine);
  }
  ~TempStore() {
    engine_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  TempStore(const TempStore&) = delete;
  TempStore& operator=(const TempStore&) = delete;

  store::Engine& engine() { return *engine_; }

 private:
  std::string dir_;
  std::unique_ptr<store::Engine> engine_;
};

class CommandFixture {
 public:
  CommandFixture() {
    view_ = std::make_unique<store::ReadView>(store_.engine());
    writer_ = std::make_unique<ImmediateWriter>(store_.engine(), server);

    register_string_family(registry);
    register_keys_family(registry);
    register_expire_family(registry);
    register_bitmap_family(registry);
    register_range_family(registry);
    register_connection_family(registry);
    register_server_family(registry);
    dispatcher_ = std::make_unique<Dispatcher>(registry);
    server.stats.attach(registry);

    session = &new_session();
  }

  ~CommandFixture() {
    for (auto& s : sessions_) server.client_registry.remove(s.get());
  }

  // A new client session, registered with the ClientRegistry.
  Session& new_session() {
    auto s = std::make_unique<Session>();
    s->id = server.client_registry.next_id();
    s->addr = "127.0.0.1:" + std::to_string(40000 + s->id);
    s->laddr = "127.0.0.1:6379";
    s->created_ms = mono_ms();
    s->last_interaction_ms = s->created_ms;  // as the loop does on accept
    server.client_registry.add(s.get());
    sessions_.push_back(std::move(s));
    return *sessions_.back();
  }

  // Runs one command for `s` and returns the reply bytes; the ReadView is
  // ended afterwards, as the loop does after each batch.
  std::string run_on(Session& s, std::span<const std::string_view> args) {
    std::string out;
    resp::ReplyWriter reply(&out, s.protocol.load());
    writer_->set_output(&out);
    last_outcome = dispatcher_->dispatch(s, args, reply, server, *view_, *writer_);
    view_->end();
    return out;
  }

  std::string run(std::initializer_list<std::string_view> args) {
    return run_on(*session, std::span<const std::string_view>(args.begin(), args.size()));
  }
  std::string run(const std::vector<std::string>& args) {
    std::vector<std::string_view> views(args.begin(), args.end());
    return run_on(*session, views);
  }
  // The same in RESP3, restoring the session's protocol afterwards.
  std::string run3(std::initializer_list<std::string_view> args) {
    const int saved = session->protocol.exchange(3);
    std::string out = run(args);
    session->protocol.store(saved);
    return out;
  }

  store::Engine& engine() { return store_.engine(); }
  store::Env& env() { return store_.engine().env(); }

 private:
  TempStore store_;  // first: outlives the view and the writer

 public:
  FakeServer server;
  Registry registry;
  Session* session = nullptr;
  Outcome last_outcome = Outcome::kDone;

 private:
  std::unique_ptr<store::ReadView> view_;
  std::unique_ptr<ImmediateWriter> writer_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::vector<std::unique_ptr<Session>> sessions_;
};

// Reply builders for expected values.
inline std::string bulk(std::string_view s) {
  return "$" + std::to_string(s.size()) + "\r\n" + std::string(s) + "\r\n";
}
inline std::string integer(int64_t v) { return ":" + std::to_string(v) + "\r\n"; }
inline std::string error(std::string_view message) {
  return "-ERR " + std::string(message) + "\r\n";
}
inline std::string bulks(const std::vector<std::string>& items) {
  std::string out = "*" + std::to_string(items.size()) + "\r\n";
  for (const auto& i : items) out += bulk(i);
  return out;
}
// Parses a reply made of arrays, bulks, nulls, integers and simple strings
// into a flat list of their string forms (arrays contribute their elements;
// a null bulk becomes "(nil)"). Enough to pick SCAN and RANGE replies apart.
inline std::vector<std::string> flatten(std::string_view reply) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < reply.size()) {
    const char type = reply[pos];
    const size_t eol = reply.find("\r\n", pos);
    if (eol == std::string_view::npos) throw std::runtime_error("truncated reply");
    const std::string line(reply.substr(pos + 1, eol - pos - 1));
    pos = eol + 2;
    if (type == '*') continue;
    if (type == '$') {
      const long n = std::stol(line);
      if (n < 0) {
        out.push_back("(nil)");
        continue;
      }
      out.emplace_back(reply.substr(pos, static_cast<size_t>(n)));
      pos += static_cast<size_t>(n) + 2;
    } else {
      out.push_back(line);
    }
  }
  return out;
}

inline const std::string kOk = "+OK\r\n";
inline const std::string kNil = "$-1\r\n";

}  // namespace lmkv::commands::testing
