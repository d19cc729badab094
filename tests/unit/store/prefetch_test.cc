// tests/unit/store/prefetch_test.cc: the prefetch pool (store/prefetch.h):
// it starts and stops cleanly with or without work, handles an empty
// MemTable, touches every key of a job once (and only reads: LMDB is
// byte-for-byte the same afterwards), stays within its distance of the
// applier, skips what the applier has passed, and stops on retire. The
// engine with the pool on is covered by every engine case (its default
// options enable it) and by the cases at the end.
#include "store/prefetch.h"

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "fixture.h"

using namespace lmkv;
using namespace lmkv::store;
using namespace lmkv::store::testing;

namespace {

// Waits (bounded) for pred; whether it became true.
template <class Pred>
bool eventually(Pred pred, int max_ms = 5000) {
  for (int i = 0; i < max_ms; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return pred();
}

std::string key_of(int i) { return "key:" + std::to_string(100000 + i); }

// An environment holding `n` keys in db 0 (and one in db 2), written
// directly, plus a frozen MemTable over the same keys (and some absent
// ones), as a bulk apply would receive it.
struct PoolFixture {
  TempDir tmp;
  std::unique_ptr<Env> env;

  explicit PoolFixture(int n = 0) {
    EnvOptions o;
    o.dir = tmp.path + "/data";
    o.readers = 16;
    auto opened = Env::open(o);
    BOOST_REQUIRE_MESSAGE(opened.ok(), message_of(opened));
    env = std::move(*opened);
    MDB_txn* txn = nullptr;
    BOOST_REQUIRE_EQUAL(mdb_txn_begin(env->raw(), nullptr, 0, &txn), 0);
    std::string k, v;
    for (int i = 0; i < n; ++i) {
      encode_key(key_of(i), &k);
      encode_value(ValueView{Type::kString, 0, "value-" + std::to_string(i)}, &v);
      MDB_val mk{k.size(), k.data()}, mv{v.size(), v.data()};
      BOOST_REQUIRE_EQUAL(mdb_put(txn, env->dbi(i % 7 == 0 ? 2 : 0), &mk, &mv, 0), 0);
    }
    BOOST_REQUIRE_EQUAL(mdb_txn_commit(txn), 0);
  }

  // Every (db, raw key) -> raw value in LMDB.
  std::map<std::pair<int, std::string>, std::string> dump() {
    std::map<std::pair<int, std::string>, std::string> out;
    MDB_txn* txn = nullptr;
    BOOST_REQUIRE_EQUAL(mdb_txn_begin(env->raw(), nullptr, MDB_RDONLY, &txn), 0);
    for (int db = 0; db < env->databases(); ++db) {
      MDB_cursor* c = nullptr;
      BOOST_REQUIRE_EQUAL(mdb_cursor_open(txn, env->dbi(db), &c), 0);
      MDB_val k, v;
      for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
           rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
        out[{db, std::string(static_cast<char*>(k.mv_data), k.mv_size)}] =
            std::string(static_cast<char*>(v.mv_data), v.mv_size);
      mdb_cursor_close(c);
    }
    mdb_txn_abort(txn);
    return out;
  }
};

std::shared_ptr<MemTable> table_over(int n, int extra_absent) {
  auto t = std::make_shared<MemTable>();
  uint64_t seq = 0;
  for (int i = 0; i < n; ++i)
    t->put(++seq, i % 7 == 0 ? 2 : 0, key_of(i), ValueView{Type::kString, 0, "new"});
  for (int i = 0; i < extra_absent; ++i) t->del(++seq, 0, "absent:" + std::to_string(i));
  return t;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(prefetch)

BOOST_AUTO_TEST_CASE(starts_and_stops_with_no_work) {
  PoolFixture f;
  for (int threads : {1, 8}) {
    Prefetcher pool(*f.env, f.env->databases(), threads);
    BOOST_TEST(pool.threads() == threads);
    BOOST_TEST(pool.pending() == 0u);
  }  // each destructor joins its idle workers
}

BOOST_AUTO_TEST_CASE(an_empty_memtable_is_a_job_with_nothing_to_read) {
  PoolFixture f(10);
  Prefetcher pool(*f.env, f.env->databases(), 4);
  auto empty = std::make_shared<MemTable>();
  pool.enqueue(empty);
  BOOST_TEST(pool.pending() == 1u);
  // A worker lists its (no) keys and goes back to sleep.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  BOOST_TEST(pool.stats().jobs.load() == 1u);
  BOOST_TEST(pool.stats().touched.load() == 0u);
  pool.retire(empty.get());
  BOOST_TEST(pool.pending() == 0u);
  pool.retire(empty.get());  // twice, or a table it never saw: harmless
  BOOST_TEST(pool.pending() == 0u);
}

BOOST_AUTO_TEST_CASE(touches_every_key_once_and_changes_nothing) {
  constexpr int kKeys = 3000, kAbsent = 200;
  PoolFixture f(kKeys);
  const auto before = f.dump();
  auto table = table_over(kKeys, kAbsent);
  {
    // No distance limit in effect: the whole job is read.
    Prefetcher pool(*f.env, f.env->databases(), 6, 2, 1u << 20);
    pool.enqueue(table);
    BOOST_REQUIRE(eventually([&] { return pool.stats().touched.load() >= kKeys + kAbsent; }));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    BOOST_TEST(pool.stats().touched.load() == uint64_t{kKeys + kAbsent});
    BOOST_TEST(pool.stats().errors.load() == 0u);
  }
  BOOST_TEST((f.dump() == before));
}

// A fake major fault count: while `faulting`, every reading is one more.
std::atomic<bool> faulting{false};
std::atomic<uint64_t> fake_faults{0};
uint64_t fake_fault_counter() { return faulting ? ++fake_faults : fake_faults.load(); }

BOOST_AUTO_TEST_CASE(in_memory_jobs_are_only_sampled_until_a_read_faults) {
  constexpr int kKeys = 3000, kAbsent = 200, kEntries = kKeys + kAbsent;
  constexpr uint64_t kSampled =
      (kEntries + Prefetcher::kSampleStride - 1) / Prefetcher::kSampleStride;
  PoolFixture f(kKeys);
  Prefetcher pool(*f.env, f.env->databases(), 4, 2, 1u << 20);
  pool.set_fault_counter(&fake_fault_counter);
  uint64_t touched = 0;
  auto run_job = [&](uint64_t expect) {
    auto table = table_over(kKeys, kAbsent);
    pool.enqueue(table);
    touched += expect;
    BOOST_REQUIRE(eventually([&] { return pool.stats().touched.load() >= touched; }));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    BOOST_TEST(pool.stats().touched.load() == touched);
    pool.retire(table.get());
  };
  run_job(kEntries);  // read whole, without a fault: the data is in memory
  run_job(kSampled);  // so the next ones are sampled
  BOOST_TEST(pool.stats().sampled_out.load() == kEntries - kSampled);
  faulting = true;
  run_job(kSampled);  // a sampled read faults...
  faulting = false;
  run_job(kEntries);  // ...and the next job is read whole again
  run_job(kSampled);  // without faults: sampled again
  BOOST_TEST(pool.stats().errors.load() == 0u);
}

BOOST_AUTO_TEST_CASE(stays_within_its_distance_and_skips_what_the_applier_passed) {
  constexpr int kKeys = 4000;
  constexpr size_t kAhead = 256;
  constexpr int kThreads = 4;
  PoolFixture f(kKeys);
  auto table = table_over(kKeys, 0);
  Prefetcher pool(*f.env, f.env->databases(), kThreads, 1, kAhead);
  pool.enqueue(table);
  // Claims are checked before they are made, so each thread may overshoot
  // by one block at most.
  const uint64_t limit = kAhead + kThreads * Prefetcher::kBlock;
  BOOST_REQUIRE(eventually([&] { return pool.stats().touched.load() >= kAhead; }));
  BOOST_REQUIRE(eventually([&] { return pool.stats().waits.load() > 0; }));
  BOOST_TEST(pool.stats().touched.load() <= limit);
  // The applier moves: the pool follows it, skipping the keys it passed.
  const uint64_t t0 = pool.stats().touched.load();
  pool.applier_at(table.get(), 1000);
  BOOST_REQUIRE(eventually([&] { return pool.stats().touched.load() >= t0 + kAhead / 2; }));
  BOOST_REQUIRE(eventually([&] { return pool.stats().skipped.load() > 0; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  BOOST_TEST(pool.stats().touched.load() <= t0 + limit);
  // The applier is past the end: nothing is left to read.
  pool.applier_at(table.get(), kKeys);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const uint64_t touched = pool.stats().touched.load();
  BOOST_TEST(touched < uint64_t{kKeys});
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  BOOST_TEST(pool.stats().touched.load() == touched);
}

BOOST_AUTO_TEST_CASE(retire_stops_a_job_and_the_next_one_runs) {
  constexpr int kKeys = 2000;
  PoolFixture f(kKeys);
  auto first = table_over(kKeys, 0);
  auto second = table_over(100, 0);
  // Lookahead 1: the second job waits until the first is retired.
  Prefetcher pool(*f.env, f.env->databases(), 3, 1, 128);
  pool.enqueue(first);
  pool.enqueue(second);
  BOOST_REQUIRE(eventually([&] { return pool.stats().waits.load() > 0; }));
  const uint64_t touched = pool.stats().touched.load();
  BOOST_TEST(touched < uint64_t{kKeys});
  pool.retire(first.get());
  BOOST_REQUIRE(eventually([&] { return pool.stats().touched.load() >= touched + 100; }));
  pool.retire(second.get());
  BOOST_TEST(pool.pending() == 0u);
}

BOOST_AUTO_TEST_CASE(stops_while_work_is_pending) {
  PoolFixture f(2000);
  auto table = table_over(2000, 0);
  auto started = std::chrono::steady_clock::now();
  {
    Prefetcher pool(*f.env, f.env->databases(), 8, 2, 64);
    pool.enqueue(table);
    pool.enqueue(table_over(50, 0));
    BOOST_REQUIRE(eventually([&] { return pool.stats().touched.load() > 0; }));
  }  // workers waiting on the applier, with jobs queued, must still join
  const bool quick = std::chrono::steady_clock::now() - started < std::chrono::seconds(5);
  BOOST_TEST(quick);
}

// The engine with and without the pool: the same data, and every job the
// engine hands over is retired once applied.
BOOST_AUTO_TEST_CASE(engine_results_do_not_depend_on_the_pool) {
  std::map<int, std::map<std::string, std::string>> seen;
  for (int threads : {0, 8}) {
    EngineFixture f;
    auto o = f.options();
    o.prefetch_threads = threads;
    o.write_buffer_size = 64 << 10;  // many small applies
    f.reopen(o);
    BOOST_TEST((f.engine->prefetcher() != nullptr) == (threads > 0));
    std::mt19937 rng(7);
    std::map<std::string, std::string> model;
    for (int i = 0; i < 4000; ++i) {
      const std::string k = "k" + std::to_string(rng() % 1500);
      if (rng() % 5 == 0) {
        f.del(0, k);
        model.erase(k);
      } else {
        const std::string v = std::to_string(i);
        f.put(0, k, v);
        model[k] = v;
      }
    }
    f.flush();
    for (int i = 0; i < 1500; ++i) {
      const std::string k = "k" + std::to_string(i);
      auto it = model.find(k);
      BOOST_TEST(f.get(0, k) == (it == model.end() ? std::string("<none>") : it->second));
      seen[threads][k] = f.get(0, k);
    }
    if (threads > 0) {
      const auto& st = f.engine->prefetcher()->stats();
      BOOST_TEST(st.jobs.load() > 1u);
      BOOST_TEST(st.errors.load() == 0u);
      BOOST_TEST(f.engine->prefetcher()->pending() == 0u);
    }
    f.reopen(o);  // restart with the pool running during recovery
    BOOST_TEST(f.get(0, "k1") == seen[threads]["k1"]);
  }
  BOOST_TEST((seen[0] == seen[8]));
}

BOOST_AUTO_TEST_SUITE_END()
