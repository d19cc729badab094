// tests/unit/store/runs_test.cc: staged applies (store/runs.h). Random
// SETs (some with deadlines, some already expired), DELs, FLUSHDBs and
// SWAPDBs over three databases go through small write buffers that are
// staged as runs and merged K at a time; restarts land while runs are live
// (a crash between a stage and its merge). Every read -- point reads
// through the runs while the restarted applier is held, then scans and
// counts -- must match a model of what was written.
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "fixture.h"

using namespace lmkv;
using namespace lmkv::store;
using namespace lmkv::store::testing;

namespace {

constexpr int kDbs = 3;

struct RunsFixture : EngineFixture {
  std::vector<Model> model = std::vector<Model>(kDbs);
  std::mt19937 rng{7};
  bool clears = true;  // random_op's mix includes FLUSHDB

  EngineOptions staged(int k) const {
    EngineOptions o = options();
    o.write_buffer_size = 16 << 10;
    o.max_unapplied = 1 << 20;
    o.staged_runs = k;
    o.idle_merge_ms = 60'000;  // runs stay live until K are staged, unless a case says
    o.prefetch_threads = 0;
    return o;
  }

  void random_op() {
    const int db = static_cast<int>(rng() % kDbs);
    const int what = static_cast<int>(rng() % 1000);
    if (what < 2 && clears) {
      clear(db);
      model[static_cast<size_t>(db)].clear();
    } else if (what < 2) {
      return;
    } else if (what < 4) {
      const int other = static_cast<int>(rng() % kDbs);
      WriteTxn txn(*engine);
      BOOST_REQUIRE(txn.swap(db, other).ok());
      BOOST_REQUIRE(txn.commit().ok());
      std::swap(model[static_cast<size_t>(db)], model[static_cast<size_t>(other)]);
    } else if (what < 250) {
      const std::string key = random_key(rng, 6);
      {  // what DEL decides by: the writer's view must find the key if it exists
        WriteTxn probe(*engine);
        auto cur = probe.get(db, key, std::numeric_limits<int64_t>::min());
        BOOST_REQUIRE(cur.ok());
        BOOST_REQUIRE_MESSAGE(cur->has_value() == (model[static_cast<size_t>(db)].count(key) > 0),
                              "the writer's view disagrees on db "
                                  << db << " (" << engine->staged_runs() << " runs live)");
      }
      del(db, key);
      model[static_cast<size_t>(db)].erase(key);
    } else {
      const std::string key = random_key(rng, 6);
      const std::string data = std::to_string(rng()) + std::string(rng() % 200, 'v');
      const int64_t deadline = rng() % 5 == 0   ? kNow + 1 + rng() % 1000
                               : rng() % 9 == 0 ? kNow - 1 - rng() % 1000
                                                : 0;
      put(db, key, data, deadline);
      model[static_cast<size_t>(db)][key] = Entry{data, deadline};
    }
  }

  // Point reads of every key the model holds and of as many absent ones.
  void check_gets(const char* when) {
    ReadView view(*engine);
    for (int db = 0; db < kDbs; ++db) {
      const Model& m = model[static_cast<size_t>(db)];
      for (const auto& [key, e] : m) {
        auto v = view.get(db, key, kNow);
        BOOST_REQUIRE_MESSAGE(v.ok(), message_of(v));
        const std::string got = *v ? std::string((*v)->data) : "<none>";
        BOOST_REQUIRE_MESSAGE(got == (e.expired() ? "<none>" : e.data),
                              when << ": db " << db << " key of " << key.size() << " bytes");
      }
      for (int i = 0; i < 50; ++i) {
        const std::string key = random_key(rng, 6);
        if (m.count(key)) continue;
        auto v = view.get(db, key, kNow);
        BOOST_REQUIRE_MESSAGE(v.ok(), message_of(v));
        BOOST_REQUIRE_MESSAGE(!*v, when << ": an absent key was found in db " << db);
      }
    }
  }

  void check_all(const char* when) {
    check_gets(when);
    for (int db = 0; db < kDbs; ++db) {
      const Model& m = model[static_cast<size_t>(db)];
      ReadView view(*engine);
      const ScanResult got = run_scan(view, db, OwnedBound{}, OwnedBound{}, false, 0);
      const ScanResult want = expect_scan(m, OwnedBound{}, OwnedBound{}, false, 0);
      BOOST_REQUIRE_MESSAGE(got.items == want.items, when << ": scan of db " << db);
      BOOST_REQUIRE_MESSAGE(dbsize(db) == m.size(), when << ": DBSIZE of db " << db << ": "
                                                         << dbsize(db) << " != " << m.size());
    }
  }

  // Flushes: every buffer staged and merged, no run left; then reads.
  void flush_and_check() {
    flush();
    BOOST_TEST(engine->staged_runs() == 0u);
    check_all("flushed");
  }

  // Waits until nothing waits to be staged (the applier may still hold
  // runs), at most 10 s.
  void wait_staged() {
    for (int i = 0; i < 1000 && engine->unapplied_bytes() > engine->version()->layers[0]->weight();
         ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(staged_runs_match_a_model_across_merges_and_restarts, RunsFixture) {
  constexpr int kK = 3;
  reopen(staged(kK));
  int restarts_with_runs = 0;
  uint64_t merges = 0;
  for (int round = 0; round < 12; ++round) {
    for (int i = 0; i < 1500; ++i) random_op();
    check_all("before the restart");
    wait_staged();
    // Two rounds in three restart with runs live: write until some are, and
    // fewer than K (K live ones are being merged, a merge the close waits for).
    auto want_more = [&] {
      const size_t live = engine->staged_runs();
      return round % 3 != 0 && (live == 0 || live == static_cast<size_t>(kK));
    };
    for (int more = 0; more < 50 && want_more(); ++more) {
      for (int i = 0; i < 200; ++i) random_op();
      wait_staged();
    }
    const size_t live = engine->staged_runs();
    // A crash between a stage and its merge: the runs stay in LMDB, and the
    // restarted server reads through them before its applier merges them.
    EngineOptions o = staged(kK);
    o.applier_paused = true;
    merges += engine->stats().merges.load();
    reopen(o);
    const auto v = engine->version();
    BOOST_TEST_MESSAGE("round " << round << ": " << live << " runs live, " << v->runs.size()
                                << " after the restart");
    // (K live runs were being merged, and the merge ends before the close.)
    BOOST_REQUIRE(v->runs.size() == live || (live == static_cast<size_t>(kK) && v->runs.empty()));
    if (!v->runs.empty()) ++restarts_with_runs;
    check_gets("restarted, runs not merged");
    engine->set_applier_paused(false);
    check_all("restarted, runs merged");
    // (A scan may find the merge committed before the engine publishes it.)
    BOOST_REQUIRE(engine->wait_runs_merged().ok());
    BOOST_TEST(engine->version()->runs.empty());
  }
  BOOST_TEST(merges + engine->stats().merges.load() >= 4u);
  BOOST_TEST(restarts_with_runs >= 7);  // of 8
  flush_and_check();
}

// A merge committed in parts of a few entries: between two parts the tree
// holds the newest state of some of the runs' keys and the older state of
// the rest, while the Version still has every run's MemTable as a layer.
// Point reads, scans and counts must match the model between parts, with
// writes going on. Counts are summed before the merge starts, so each
// layer's delta is kept against the tree as it was then: read against the
// tree as the parts left it (not the merge's base), DBSIZE counts the merged
// keys twice. A crash between parts (the engine closed mid-merge) leaves
// every run live for the restart to merge again.
BOOST_FIXTURE_TEST_CASE(a_merge_in_parts_reads_right_between_parts_and_across_a_crash,
                        RunsFixture) {
  EngineOptions o = staged(3);
  o.merge_chunk_entries = 24;
  clears = false;  // a merge with a FLUSHDB is done at once
  reopen(o);
  int held_mid_merge = 0, restarted_mid_merge = 0;
  uint64_t merges = 0, parts = 0;
  for (int round = 0; round < 8; ++round) {
    engine->set_applier_paused(true);
    for (int i = 0; i < 800; ++i) random_op();
    check_all("before the merge");
    // The applier stops in its hook after the first part it commits. The
    // hold is shared with the hook and let go however this round ends.
    struct Hold {
      std::mutex mu;
      std::condition_variable cv;
      bool hold = true, held = false;
      void release() {
        {
          std::lock_guard lock(mu);
          hold = false;
        }
        cv.notify_all();
      }
    };
    auto h = std::make_shared<Hold>();
    const std::unique_ptr<Hold, std::function<void(Hold*)>> release(h.get(),
                                                                    [](Hold* x) { x->release(); });
    engine->set_applied_hook([h, this] {
      std::unique_lock lock(h->mu);
      if (!h->hold || !engine->version()->merge_base) return;
      h->held = true;
      h->cv.notify_all();
      h->cv.wait(lock, [&] { return !h->hold; });
    });
    engine->set_applier_paused(false);
    {
      std::unique_lock lock(h->mu);
      h->cv.wait_for(lock, std::chrono::seconds(20), [&] { return h->held; });
    }
    BOOST_REQUIRE_MESSAGE(h->held, "round " << round << ": no merge in parts began");
    check_all("in the applier's hook after a part");
    // Paused from here: the job under way (this part) ends first.
    std::thread pauser([&] { engine->set_applier_paused(true); });
    h->release();
    pauser.join();
    engine->set_applied_hook(nullptr);
    if (engine->version()->merge_base) ++held_mid_merge;
    check_all("between two parts");
    for (int i = 0; i < 300; ++i) random_op();
    check_all("between two parts, after more writes");
    if (round % 2 == 0) {
      const bool mid = engine->version()->merge_base != nullptr;
      EngineOptions held_options = o;
      held_options.applier_paused = true;
      merges += engine->stats().merges.load();
      parts += engine->stats().merge_parts.load();
      reopen(held_options);
      if (mid) {
        ++restarted_mid_merge;
        BOOST_TEST(!engine->version()->runs.empty());
      }
      check_gets("restarted mid-merge, runs not merged");
      {
        // DBSIZE's background sums read through the restart's runs: the
        // crash's `merging` mark must not send them round again (they spun
        // there, starving the merge that would remove it).
        auto summed = std::async(std::launch::async, [this] {
          ReadView view(*engine);
          return view.count_ahead(100'000).ok();
        });
        BOOST_REQUIRE_MESSAGE(summed.wait_for(std::chrono::seconds(10)) ==
                                  std::future_status::ready,
                              "count_ahead is stuck after a restart mid-merge");
        BOOST_TEST(summed.get());
      }
      engine->set_applier_paused(false);
      check_all("restarted mid-merge, runs merged");
      BOOST_REQUIRE(engine->wait_runs_merged().ok());
    } else {
      engine->set_applier_paused(false);
    }
  }
  merges += engine->stats().merges.load();
  parts += engine->stats().merge_parts.load();
  BOOST_TEST_MESSAGE(merges << " merges in " << parts << " parts; " << held_mid_merge
                            << " held between parts, " << restarted_mid_merge
                            << " restarted between parts");
  BOOST_TEST(held_mid_merge >= 6);       // of 8
  BOOST_TEST(restarted_mid_merge >= 3);  // of 4
  BOOST_TEST(parts > merges);
  flush_and_check();
}

BOOST_FIXTURE_TEST_CASE(runs_merge_once_k_are_staged_or_the_applier_is_idle, RunsFixture) {
  EngineOptions o = staged(4);
  o.idle_merge_ms = 100;
  reopen(o);
  // Writes filling ~2 buffers: staged, then merged when idle.
  while (engine->stats().applies.load() < 2) {
    for (int i = 0; i < 100; ++i) random_op();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  for (int i = 0; i < 500 && (engine->staged_runs() > 0 || engine->stats().merges.load() == 0); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  BOOST_TEST(engine->stats().merges.load() >= 1u);
  BOOST_TEST(engine->staged_runs() == 0u);
  check_all("merged when idle");
  // A flush stages and merges what is frozen without waiting.
  for (int i = 0; i < 300; ++i) random_op();
  flush_and_check();
}

BOOST_FIXTURE_TEST_CASE(runs_left_by_a_larger_k_are_merged_after_a_restart_with_k_1, RunsFixture) {
  reopen(staged(8));
  for (int i = 0; i < 3000; ++i) random_op();
  wait_staged();
  BOOST_REQUIRE(engine->staged_runs() > 0u);
  reopen(staged(1));
  check_all("direct applies again");
  flush_and_check();
}

BOOST_FIXTURE_TEST_CASE(a_backup_waits_for_the_merge, RunsFixture) {
  reopen(staged(8));
  for (int i = 0; i < 3000; ++i) random_op();
  const uint64_t x = engine->freeze();
  BOOST_REQUIRE(engine->wait_applied(x).ok());
  // wait_applied(x) means the main tree holds x: no run may be left.
  BOOST_TEST(engine->staged_runs() == 0u);
  check_all("after wait_applied");
}
