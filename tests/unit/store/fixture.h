// tests/unit/store/fixture.h: a fresh store::Engine per test case (LMDB
// environment plus write-ahead log), in its own mkdtemp directory that is
// removed afterwards (STYLE.md §5). Each helper write is one writer group
// (WriteTxn ... commit()); each helper read takes a fresh client ReadView,
// which sees only committed groups. flush() moves everything into LMDB, so
// a case can check the same state in the MemTable layers and in the B+tree.
// Test-only; the test thread is the writer.
#pragma once

#include <algorithm>
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "store/engine.h"
#include "store/env.h"
#include "store/read_view.h"
#include "store/write_txn.h"

namespace lmkv::store::testing {

struct TempDir {
  std::string path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "lmkv-store-XXXXXX").string();
    BOOST_REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

inline constexpr int64_t kNow = 1'000'000;  // the "current time" of every case

inline std::string message_of(const Status& s) { return s.ok() ? "" : s.error().message; }
template <class T>
std::string message_of(const Result<T>& r) {
  return r.ok() ? "" : r.error().message;
}

struct EngineFixture {
  TempDir tmp;
  std::unique_ptr<Engine> engine;

  EngineFixture() { reopen(); }
  ~EngineFixture() { engine.reset(); }

  // The options every case starts from. The log is not synced per group
  // (fsync no) to keep thousands of groups fast; the policies' own tests set it.
  EngineOptions options() const {
    EngineOptions o;
    o.env.dir = tmp.path + "/data";
    o.fsync = Fsync::kNo;
    o.count_ahead_ms = 0;  // tests that want the background counter say so
    return o;
  }

  // Closes the engine (without flushing: unapplied groups stay in the log)
  // and opens it again, replaying the log.
  void reopen(const EngineOptions& o) {
    engine.reset();
    auto opened = Engine::open(o);
    BOOST_REQUIRE_MESSAGE(opened.ok(), message_of(opened));
    engine = std::move(*opened);
  }
  void reopen() { reopen(options()); }

  Env& env() { return engine->env(); }

  // Freezes the active MemTable and waits until every layer is in LMDB.
  void flush() {
    auto s = engine->flush();
    BOOST_REQUIRE_MESSAGE(s.ok(), message_of(s));
    auto v = engine->version();
    BOOST_REQUIRE(v->layers.size() == 1u);
    BOOST_REQUIRE(v->layers[0]->entries() == 0u);
  }

  // One committed group storing key -> data.
  void put(int db, std::string_view key, std::string_view data, int64_t deadline = 0) {
    WriteTxn txn(*engine);
    auto s = txn.put(db, key, ValueView{Type::kString, deadline, data});
    BOOST_REQUIRE_MESSAGE(s.ok(), message_of(s));
    BOOST_REQUIRE(txn.commit().ok());
  }

  // One committed group deleting key; whether a live key was deleted.
  bool del(int db, std::string_view key) {
    WriteTxn txn(*engine);
    auto deleted = txn.del(db, key, kNow);
    BOOST_REQUIRE_MESSAGE(deleted.ok(), message_of(deleted));
    BOOST_REQUIRE(txn.commit().ok());
    return *deleted;
  }

  // One committed group emptying db (FLUSHDB).
  void clear(int db) {
    WriteTxn txn(*engine);
    BOOST_REQUIRE(txn.clear(db).ok());
    BOOST_REQUIRE(txn.commit().ok());
  }

  // The value as a fresh client view sees it; "<none>" when absent.
  std::string get(int db, std::string_view key, int64_t now = kNow) {
    ReadView view(*engine);
    auto v = view.get(db, key, now);
    BOOST_REQUIRE_MESSAGE(v.ok(), message_of(v));
    return *v ? std::string((*v)->data) : std::string("<none>");
  }

  uint64_t dbsize(int db) {
    ReadView view(*engine);
    auto n = view.dbsize(db);
    BOOST_REQUIRE_MESSAGE(n.ok(), message_of(n));
    return *n;
  }

  // Waits (up to 10 s) until readers use a key filter built after now's
  // LMDB state, i.e. one whose build started after the last raw write.
  void wait_for_filter(uint64_t builds_before) {
    for (int i = 0; i < 1000; ++i) {
      if (engine->stats().filter_builds.load() > builds_before && engine->key_filter()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    BOOST_FAIL("no key filter was built");
  }

  // Writes a raw LMDB key/value, bypassing the log and the encoding
  // (corruption tests). It waits for the applier's write lock if need be.
  // Then reopens the engine (with the default options) and waits for its
  // key filter, which only the engine's own writes keep up to date: as if
  // the file had been written before this process started.
  void put_raw(int db, std::string_view key, std::string_view value) {
    MDB_txn* txn = nullptr;
    BOOST_REQUIRE_EQUAL(mdb_txn_begin(env().raw(), nullptr, 0, &txn), 0);
    MDB_val k{key.size(), const_cast<char*>(key.data())};
    MDB_val v{value.size(), const_cast<char*>(value.data())};
    BOOST_REQUIRE_EQUAL(mdb_put(txn, env().dbi(db), &k, &v, 0), 0);
    BOOST_REQUIRE_EQUAL(mdb_txn_commit(txn), 0);
    reopen();
    wait_for_filter(0);
  }
};

// ---------------------------------------------------------------------------
// A std::map model of one database, and scans checked against it.
// ---------------------------------------------------------------------------

struct Entry {
  std::string data;
  int64_t deadline = 0;
  bool expired(int64_t now = kNow) const { return deadline != 0 && deadline <= now; }
};
using Model = std::map<std::string, Entry>;

// A bound that owns its key (Bound only views one).
struct OwnedBound {
  std::string key;
  bool inclusive = true;
  bool infinite = true;
  Bound view() const { return infinite ? Bound::unbounded() : Bound::at(key, inclusive); }
  std::string show() const {
    if (infinite) return "inf";
    return (inclusive ? "[" : "(") + std::to_string(key.size()) + ":" + key.substr(0, 8);
  }
};

inline bool in_range(const std::string& k, const OwnedBound& lo, const OwnedBound& hi) {
  if (!lo.infinite && (lo.inclusive ? k < lo.key : k <= lo.key)) return false;
  if (!hi.infinite && (hi.inclusive ? k > hi.key : k >= hi.key)) return false;
  return true;
}

struct ScanResult {
  std::vector<std::pair<std::string, std::string>> items;
  uint64_t stepped = 0;
  bool operator==(const ScanResult&) const = default;
};

inline std::ostream& operator<<(std::ostream& os, const ScanResult& r) {
  os << "stepped=" << r.stepped << " items=" << r.items.size() << " [";
  for (const auto& [k, v] : r.items) os << k.size() << ":" << v << " ";
  return os << "]";
}

// What scan must return: live entries in range, in order, stopping after
// `limit` of them (0: no limit); `stepped` counts expired entries too, up to
// and including the one where the visitor stopped. Tombstones still in the
// MemTable layers are stepped over as well, so with unapplied deletes the
// real count may be higher; with everything in LMDB it is exact.
inline ScanResult expect_scan(const Model& m, const OwnedBound& lo, const OwnedBound& hi,
                              bool reverse, size_t limit, int64_t now = kNow) {
  std::vector<const Model::value_type*> order;
  for (const auto& e : m)
    if (in_range(e.first, lo, hi)) order.push_back(&e);
  if (reverse) std::reverse(order.begin(), order.end());
  ScanResult r;
  for (const auto* e : order) {
    ++r.stepped;
    if (e->second.expired(now)) continue;
    r.items.emplace_back(e->first, e->second.data);
    if (limit && r.items.size() == limit) break;
  }
  return r;
}

inline ScanResult run_scan(ReadView& view, int db, const OwnedBound& lo, const OwnedBound& hi,
                           bool reverse, size_t limit, int64_t now = kNow) {
  ScanResult r;
  auto stepped = view.scan(db, lo.view(), hi.view(), reverse, now,
                           [&](std::string_view k, const ValueView& v) {
                             BOOST_TEST(!v.expired(now));
                             r.items.emplace_back(std::string(k), std::string(v.data));
                             return !(limit && r.items.size() == limit);
                           });
  BOOST_REQUIRE_MESSAGE(stepped.ok(), message_of(stepped));
  r.stepped = *stepped;
  return r;
}

// Short keys over a tiny alphabet, so equal keys, prefixes, NUL and 0xff
// bytes and the empty key all come up often.
inline std::string random_key(std::mt19937& rng, int max_len = 4) {
  static const char kAlphabet[] = {'\0', '\x01', 'a', 'b', '\xff'};
  std::string k(std::uniform_int_distribution<int>(0, max_len)(rng), '\0');
  for (auto& c : k) c = kAlphabet[std::uniform_int_distribution<int>(0, 4)(rng)];
  return k;
}

inline OwnedBound random_bound(std::mt19937& rng) {
  OwnedBound b;
  b.infinite = std::uniform_int_distribution<int>(0, 5)(rng) == 0;
  b.inclusive = rng() % 2;
  if (!b.infinite) b.key = random_key(rng);
  return b;
}

// Stress cases: the stop flag their threads poll, and the first failure any
// of them reports, which stops them all.
class Stress {
 public:
  bool stopped() const { return stop_; }
  void fail(std::string what) {
    std::lock_guard lock(mu_);
    if (failure_.empty()) failure_ = std::move(what);
    stop_ = true;
  }
  std::string failure() {
    std::lock_guard lock(mu_);
    return failure_;
  }
  // Lets `threads` run until one fails or `limit` has passed, then stops
  // and joins them all.
  void run_for(std::chrono::milliseconds limit, std::initializer_list<std::thread*> threads) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!stop_ && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    stop_ = true;
    for (std::thread* t : threads) t->join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::string failure_;
};

}  // namespace lmkv::store::testing
