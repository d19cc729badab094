// tests/unit/store/expiry_test.cc: the expiry index kept by the applier,
// the active expiry cycle (verification, logged DELs, stale entries, bounds),
// SWAPDB (visibility with its group, apply, replay, a concurrent reader), and
// both across recovery.
#include "store/expiry.h"

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "fixture.h"

using namespace lmkv;
using namespace lmkv::store;
using namespace lmkv::store::testing;

namespace {

// Every index entry due at `now`, as "db:key@deadline", in index order.
std::vector<std::string> due(Engine& e, int64_t now = kNow) {
  std::vector<ExpiryCandidate> out;
  auto s = read_due_entries(e.env(), now, 1'000'000, "", &out);
  BOOST_REQUIRE_MESSAGE(s.ok(), message_of(s));
  std::vector<std::string> r;
  for (const auto& c : out)
    r.push_back(std::to_string(c.physical_db) + ":" + c.key + "@" + std::to_string(c.deadline_ms));
  return r;
}

std::vector<std::string> keys_of(const std::vector<ExpiredKey>& v) {
  std::vector<std::string> r;
  for (const auto& k : v) r.push_back(std::to_string(k.db) + ":" + k.key);
  return r;
}

size_t run_cycle(Engine& e, ExpiryCycle& cycle, std::vector<ExpiredKey>* expired,
                 int64_t now = kNow) {
  auto n = cycle.run(e, now, nullptr, expired);
  BOOST_REQUIRE_MESSAGE(n.ok(), message_of(n));
  return *n;
}

void swap(Engine& e, int a, int b) {
  WriteTxn txn(e);
  BOOST_REQUIRE(txn.swap(a, b).ok());
  BOOST_REQUIRE(txn.commit().ok());
}

}  // namespace

// ---------------------------------------------------------------------------
// The index
// ---------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(apply_indexes_values_with_a_deadline, EngineFixture) {
  put(0, "late", "v", kNow + 5);
  put(0, "early", "v", kNow - 5);
  put(2, "mid", "v", kNow);
  put(0, "forever", "v");
  put(0, "future", "v", kNow + 1000);
  BOOST_TEST(due(*engine, kNow + 10).empty());  // nothing applied yet
  flush();
  BOOST_TEST(due(*engine, kNow + 10) ==
             (std::vector<std::string>{"0:early@999995", "2:mid@1000000", "0:late@1000005"}));
  BOOST_TEST(due(*engine, kNow) == (std::vector<std::string>{"0:early@999995", "2:mid@1000000"}));
  // Overwrites do not read the old entry: it stays, stale, beside the new.
  put(0, "early", "v2", kNow - 1);
  put(2, "mid", "persisted");
  flush();
  BOOST_TEST(due(*engine, kNow) ==
             (std::vector<std::string>{"0:early@999995", "0:early@999999", "2:mid@1000000"}));
}

// Replay goes through the same MemTable and apply path.
BOOST_FIXTURE_TEST_CASE(the_index_is_rebuilt_from_the_log_after_a_crash, EngineFixture) {
  for (int i = 0; i < 100; ++i) put(i % 3, "k" + std::to_string(i), "v", kNow - 100 + i);
  reopen();  // nothing was applied: the log is replayed, then applied
  flush();
  BOOST_TEST(due(*engine).size() == 100u);
  BOOST_TEST(due(*engine).front() == "0:k0@999900");
}

// The applier counts the index's entries; the cycle reads LMDB only while
// there are some (beyond RAM that read could wait on the disk).
BOOST_FIXTURE_TEST_CASE(the_cycle_reads_the_index_only_when_it_holds_entries, EngineFixture) {
  auto reads = [&] { return engine->stats().expiry_index_reads.load(); };
  ExpiryCycle cycle;
  std::vector<ExpiredKey> expired;
  put(0, "plain", "v");
  flush();
  BOOST_TEST(engine->expiry_index_entries() == 0u);
  BOOST_TEST(run_cycle(*engine, cycle, &expired) == 0u);
  BOOST_TEST(reads() == 0u);
  put(0, "k1", "v", kNow - 5);
  put(0, "k2", "v", kNow - 5);
  BOOST_TEST(engine->expiry_index_entries() == 0u);  // not applied yet: young, not indexed
  flush();
  BOOST_TEST(engine->expiry_index_entries() == 2u);
  BOOST_TEST(run_cycle(*engine, cycle, &expired) == 2u);
  BOOST_TEST(reads() == 1u);
  flush();  // the consumed entries leave with the DELs
  BOOST_TEST(engine->expiry_index_entries() == 0u);
  BOOST_TEST(run_cycle(*engine, cycle, &expired) == 0u);
  BOOST_TEST(reads() == 1u);
  // A restart counts what LMDB holds.
  put(0, "k3", "v", kNow + 5);
  flush();
  reopen();
  BOOST_TEST(engine->expiry_index_entries() == 1u);
  ExpiryCycle after;
  expired.clear();
  BOOST_TEST(run_cycle(*engine, after, &expired, kNow + 10) == 1u);
  BOOST_TEST(keys_of(expired) == std::vector<std::string>{"0:k3"});
}

// ---------------------------------------------------------------------------
// The cycle
// ---------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(a_cycle_deletes_only_keys_whose_current_value_expired, EngineFixture) {
  put(0, "expired", "v", kNow - 10);
  put(0, "now", "v", kNow);
  put(0, "overwritten", "v", kNow - 10);
  put(0, "deleted", "v", kNow - 10);
  put(0, "extended", "v", kNow - 10);
  put(1, "other-db", "v", kNow - 3);
  put(0, "alive", "v", kNow + 10);
  put(0, "forever", "v");
  flush();
  put(0, "overwritten", "new");            // no deadline any more
  BOOST_TEST(del(0, "deleted") == false);  // expired: deleted, not counted live
  put(0, "extended", "v", kNow + 1000);    // a later deadline, unapplied
  put(0, "unapplied", "v", kNow - 1);      // not in the index yet
  const uint64_t groups = engine->stats().groups.load();

  ExpiryCycle cycle;
  std::vector<ExpiredKey> expired;
  BOOST_TEST(run_cycle(*engine, cycle, &expired) == 3u);
  std::set<std::string> got;
  for (auto& k : keys_of(expired)) got.insert(k);
  BOOST_TEST(got == (std::set<std::string>{"0:expired", "0:now", "1:other-db"}));
  BOOST_TEST(engine->stats().groups.load() == groups + 1);  // one logged group
  BOOST_TEST(engine->stats().expired_keys.load() == 3u);
  BOOST_TEST(get(0, "overwritten") == "new");
  BOOST_TEST(get(0, "extended") == "v");
  BOOST_TEST(get(0, "alive", kNow) == "v");
  BOOST_TEST(get(0, "forever") == "v");
  // The expired keys are gone even for a reader that ignores time.
  BOOST_TEST(get(0, "expired", 0) == "<none>");
  BOOST_TEST(get(1, "other-db", 0) == "<none>");
  // dbsize: forever, alive, overwritten, extended, unapplied (expired, not yet reclaimed).
  BOOST_TEST(dbsize(0) == 5u);
  BOOST_TEST(dbsize(1) == 0u);

  // Nothing more until an apply: the resume point skips consumed entries.
  expired.clear();
  BOOST_TEST(run_cycle(*engine, cycle, &expired) == 0u);
  flush();
  // The apply dropped every consumed entry and indexed "unapplied" and the
  // new deadline of "extended"; the next cycle reclaims "unapplied".
  BOOST_TEST(due(*engine) == (std::vector<std::string>{"0:unapplied@999999"}));
  BOOST_TEST(run_cycle(*engine, cycle, &expired) == 1u);
  BOOST_TEST(keys_of(expired) == (std::vector<std::string>{"0:unapplied"}));
  flush();
  BOOST_TEST(due(*engine).empty());
  BOOST_TEST(due(*engine, kNow + 1000) ==
             (std::vector<std::string>{"0:alive@1000010", "0:extended@1001000"}));
  BOOST_TEST(dbsize(0) == 4u);

  // The DELs were logged: a restart replays them.
  reopen();
  BOOST_TEST(get(0, "expired", 0) == "<none>");
  BOOST_TEST(get(0, "unapplied", 0) == "<none>");
  BOOST_TEST(get(0, "overwritten") == "new");
  BOOST_TEST(dbsize(0) == 4u);
}

// Sets through a txn the cycle hears, as the writer's groups are.
void put_heard(Engine& e, ExpiryCycle& cycle, int db, std::string_view key, int64_t deadline) {
  WriteTxn txn(e);
  txn.set_deadline_observer(&cycle);
  BOOST_REQUIRE(txn.put(db, key, ValueView{Type::kString, deadline, "v"}).ok());
  BOOST_REQUIRE(txn.commit().ok());
}

// A short TTL is reclaimed without waiting for its MemTable's apply.
BOOST_FIXTURE_TEST_CASE(young_deadlines_are_reclaimed_before_their_apply, EngineFixture) {
  ExpiryCycle cycle;
  const int64_t now = unix_ms();
  put_heard(*engine, cycle, 0, "soon", now - 1);
  put_heard(*engine, cycle, 2, "other-db", now);
  put_heard(*engine, cycle, 0, "overwritten", now - 1);
  put_heard(*engine, cycle, 0, "not-yet", now + 5'000);
  put_heard(*engine, cycle, 0, "far", now + 60'000);  // past the horizon: the index's
  put(0, "overwritten", "new");
  BOOST_TEST(cycle.young() == 4u);
  BOOST_TEST(due(*engine, now + 100'000).empty());  // nothing applied: no index entry

  std::vector<ExpiredKey> expired;
  BOOST_TEST(run_cycle(*engine, cycle, &expired, now) == 2u);
  std::set<std::string> got;
  for (auto& k : keys_of(expired)) got.insert(k);
  BOOST_TEST(got == (std::set<std::string>{"0:soon", "2:other-db"}));
  BOOST_TEST(engine->stats().expired_keys.load() == 2u);
  BOOST_TEST(get(0, "soon", 0) == "<none>");
  BOOST_TEST(get(0, "overwritten", 0) == "new");
  BOOST_TEST(cycle.young() == 1u);  // "not-yet" waits for its deadline
  expired.clear();
  BOOST_TEST(run_cycle(*engine, cycle, &expired, now + 5'000) == 1u);
  BOOST_TEST(keys_of(expired) == (std::vector<std::string>{"0:not-yet"}));
  BOOST_TEST(cycle.young() == 0u);
}

// The queue is bounded; what it cannot hold is reclaimed from the index.
BOOST_FIXTURE_TEST_CASE(the_young_queue_is_bounded, EngineFixture) {
  ExpiryCycle cycle(ExpiryCycle::Options{.max_young = 2});
  const int64_t now = unix_ms();
  for (const char* k : {"a", "b", "c"}) put_heard(*engine, cycle, 0, k, now - 1);
  BOOST_TEST(cycle.young() == 2u);
  std::vector<ExpiredKey> expired;
  BOOST_TEST(run_cycle(*engine, cycle, &expired, now) == 2u);
  BOOST_TEST(get(0, "c", 0) == "v");
  flush();
  BOOST_TEST(run_cycle(*engine, cycle, &expired, now) == 1u);
  BOOST_TEST(get(0, "c", 0) == "<none>");
  BOOST_TEST(dbsize(0) == 0u);
}

BOOST_FIXTURE_TEST_CASE(a_cycle_is_bounded_and_asks_to_run_again_when_full, EngineFixture) {
  {
    WriteTxn txn(*engine);
    for (int i = 0; i < 450; ++i)
      BOOST_REQUIRE(
          txn.put(0, "k" + std::to_string(i), {Type::kString, kNow - 1000 + i, "v"}).ok());
    BOOST_REQUIRE(txn.put(0, "keep", {Type::kString, 0, "v"}).ok());
    BOOST_REQUIRE(txn.commit().ok());
  }
  flush();
  ExpiryCycle cycle(ExpiryCycle::Options{.max_keys = 200, .max_us = 1'000'000, .interval_ms = 100});
  std::vector<ExpiredKey> expired;
  BOOST_TEST(cycle.due(0));
  BOOST_TEST(run_cycle(*engine, cycle, &expired) == 200u);
  // Deadline order: the earliest 200 went first.
  BOOST_TEST(expired.front().key == "k0");
  BOOST_TEST(expired.back().key == "k199");
  BOOST_TEST(cycle.wait_ms(lmkv::mono_ms()) <= 1);
  BOOST_TEST(run_cycle(*engine, cycle, &expired) == 200u);
  BOOST_TEST(run_cycle(*engine, cycle, &expired) == 50u);
  BOOST_TEST(cycle.wait_ms(lmkv::mono_ms()) > 50);  // not full: the normal interval
  BOOST_TEST(expired.size() == 450u);
  BOOST_TEST(engine->stats().expired_keys.load() == 450u);
  BOOST_TEST(dbsize(0) == 1u);
  flush();
  BOOST_TEST(due(*engine).empty());
  BOOST_TEST(dbsize(0) == 1u);
}

// A key set again after the cycle consumed its entry keeps its new entry:
// the apply deletes consumed entries before adding the MemTable's.
BOOST_FIXTURE_TEST_CASE(a_consumed_entry_set_again_survives_the_apply, EngineFixture) {
  put(0, "k", "v", kNow - 5);
  flush();
  ExpiryCycle cycle;
  std::vector<ExpiredKey> expired;
  BOOST_TEST(run_cycle(*engine, cycle, &expired) == 1u);
  put(0, "k", "again", kNow - 5);  // same deadline, same index entry
  flush();
  BOOST_TEST(due(*engine) == (std::vector<std::string>{"0:k@999995"}));
  BOOST_TEST(run_cycle(*engine, cycle, &expired) == 1u);
  BOOST_TEST(get(0, "k", 0) == "<none>");
}

// ---------------------------------------------------------------------------
// SWAPDB
// ---------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(swapdb_swaps_with_its_group_and_survives_restarts, EngineFixture) {
  put(0, "a", "in0");
  put(1, "b", "in1");
  put(1, "c", "in1");
  flush();
  put(0, "layer", "in0");  // unapplied, in physical 0
  {
    WriteTxn txn(*engine);
    BOOST_REQUIRE(txn.put(0, "before", {Type::kString, 0, "x"}).ok());
    BOOST_REQUIRE(txn.swap(0, 1).ok());
    BOOST_REQUIRE(txn.put(0, "after", {Type::kString, 0, "y"}).ok());
    // The group sees its own swap at once; clients do not yet.
    auto own = txn.get(1, "a", kNow);
    BOOST_REQUIRE(own.ok());
    BOOST_TEST(own->has_value());
    BOOST_TEST(get(0, "a") == "in0");
    BOOST_TEST(dbsize(0) == 2u);
    BOOST_REQUIRE(txn.commit().ok());
  }
  auto check = [&](const std::string& what) {
    BOOST_TEST(get(1, "a") == "in0", what);
    BOOST_TEST(get(1, "layer") == "in0", what);
    BOOST_TEST(get(1, "before") == "x", what);
    BOOST_TEST(get(0, "after") == "y", what);
    BOOST_TEST(get(0, "b") == "in1", what);
    BOOST_TEST(get(0, "a") == "<none>", what);
    BOOST_TEST(dbsize(0) == 3u, what);
    BOOST_TEST(dbsize(1) == 3u, what);
  };
  check("unapplied");
  reopen();
  check("replayed");
  flush();
  check("applied");
  reopen();
  check("reopened");
  // Swapping back, and a FLUSHDB after a swap, name the right databases.
  swap(*engine, 1, 0);
  clear(1);
  BOOST_TEST(get(0, "a") == "in0");
  BOOST_TEST(get(1, "b") == "<none>");
  reopen();
  BOOST_TEST(get(0, "a") == "in0");
  BOOST_TEST(dbsize(1) == 0u);
  flush();
  reopen();
  BOOST_TEST(get(0, "a") == "in0");
  BOOST_TEST(dbsize(0) == 3u);
  BOOST_TEST(dbsize(1) == 0u);
}

BOOST_FIXTURE_TEST_CASE(expiry_follows_a_swapped_database, EngineFixture) {
  put(0, "k", "v", kNow - 1);
  flush();
  swap(*engine, 0, 5);
  ExpiryCycle cycle;
  std::vector<ExpiredKey> expired;
  BOOST_TEST(run_cycle(*engine, cycle, &expired) == 1u);
  BOOST_TEST(keys_of(expired) == (std::vector<std::string>{"5:k"}));
  BOOST_TEST(get(5, "k", 0) == "<none>");
  BOOST_TEST(dbsize(5) == 0u);
}

// A reader never sees half a swap: db 0 and db 1 hold 10 and 20 keys, and
// every view sees them as {10, 20} or {20, 10}, while the writer swaps and
// the applier applies (small buffers, so MemTables freeze often).
BOOST_FIXTURE_TEST_CASE(readers_see_a_swap_atomically, EngineFixture) {
  EngineOptions o = options();
  o.write_buffer_size = 4096;
  reopen(o);
  for (int i = 0; i < 10; ++i) put(0, "a" + std::to_string(i), "v");
  for (int i = 0; i < 20; ++i) put(1, "b" + std::to_string(i), "v");
  std::atomic<bool> done{false};
  std::atomic<int> bad{0}, views{0};
  std::thread reader([&] {
    ReadView view(*engine);
    while (!done.load()) {
      auto n0 = view.dbsize(0);
      auto n1 = view.dbsize(1);
      auto g = view.get(0, "a0", kNow);
      if (!n0.ok() || !n1.ok() || !g.ok()) {
        ++bad;
      } else {
        const bool plain = *n0 == 10 && *n1 == 20 && g->has_value();
        const bool swapped = *n0 == 20 && *n1 == 10 && !g->has_value();
        if (!plain && !swapped) ++bad;
      }
      view.end();
      ++views;
    }
  });
  for (int i = 0; i < 300; ++i) {
    WriteTxn txn(*engine);
    BOOST_REQUIRE(txn.swap(0, 1).ok());
    // Padding so MemTables fill and freeze.
    BOOST_REQUIRE(
        txn.put(2, "pad" + std::to_string(i), {Type::kString, 0, std::string(1000, 'p')}).ok());
    BOOST_REQUIRE(txn.commit().ok());
    BOOST_REQUIRE(engine->tick().ok());
    if (i % 50 == 49) BOOST_REQUIRE(engine->flush().ok());
  }
  done = true;
  reader.join();
  BOOST_TEST(bad.load() == 0);
  BOOST_TEST(views.load() > 10);
  BOOST_TEST(engine->stats().applies.load() > 3u);
  // 300 swaps: back where it started, after an apply and a restart too.
  BOOST_TEST(dbsize(0) == 10u);
  flush();
  reopen(o);
  BOOST_TEST(dbsize(0) == 10u);
  BOOST_TEST(dbsize(1) == 20u);
  BOOST_TEST(get(0, "a3") == "v");
}

// Consumed entries leave LMDB in the transaction that applies the cycle's
// DELs, never before: after a crash that loses both, the entry is still
// there, the replayed DEL has removed the key, and the next cycle drops it.
BOOST_FIXTURE_TEST_CASE(consumed_entries_leave_the_index_with_their_dels, EngineFixture) {
  put(0, "k", "v", kNow - 5);
  put(0, "stale", "v", kNow - 5);
  flush();
  put(0, "stale", "v2");
  BOOST_REQUIRE(engine->flush().ok());  // "stale" now has no deadline in LMDB either
  ExpiryCycle cycle;
  std::vector<ExpiredKey> expired;
  BOOST_TEST(run_cycle(*engine, cycle, &expired) == 1u);
  // Not applied yet: both entries are still in LMDB.
  BOOST_TEST(due(*engine).size() == 2u);
  reopen();  // the DEL is replayed; the consumed entries were only in memory
  BOOST_TEST(get(0, "k", 0) == "<none>");
  flush();
  BOOST_TEST(due(*engine).size() == 2u);
  ExpiryCycle again;
  expired.clear();
  BOOST_TEST(run_cycle(*engine, again, &expired) == 0u);
  flush();
  BOOST_TEST(due(*engine).empty());
  BOOST_TEST(get(0, "stale") == "v2");
}
