// tests/unit/store/engine_test.cc: the log-structured engine as a whole:
// the merged view of MemTable layers over LMDB against a std::map model,
// visibility at durable_seq, recovery from the log (with a torn tail),
// FLUSHDB markers, and writers, the applier and readers running at once.
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "fixture.h"

using namespace lmkv;
using namespace lmkv::store;
using namespace lmkv::store::testing;
using namespace std::string_literals;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> log_files(const std::string& data_dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(data_dir + "/log"))
    if (e.path().extension() == ".log") out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

// Waits (bounded) until the applier has caught up with the log.
bool wait_applied(Engine& e, int max_ms = 5000) {
  for (int i = 0; i < max_ms; ++i) {
    if (e.applied_offset() == e.log_end_offset() && e.version()->layers.size() == 1) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

// Several databases modelled at once; db 3 is a neighbour nothing touches
// but one key, to see that nothing leaks across databases.
struct MultiModel {
  std::map<int, Model> dbs;

  // Checks every key of every model by get, dbsize, then random scans.
  void check(EngineFixture& f, std::mt19937& rng, bool all_in_lmdb, const std::string& what) {
    ReadView view(*f.engine);
    for (auto& [db, model] : dbs) {
      auto n = view.dbsize(db);
      BOOST_REQUIRE(n.ok());
      BOOST_TEST(*n == model.size(), what << " db " << db);
      for (const auto& [k, e] : model) {
        auto got = view.get(db, k, kNow);
        BOOST_REQUIRE(got.ok());
        if (e.expired()) {
          BOOST_TEST(!got->has_value(),
                     what << " db " << db << " expired key of size " << k.size());
        } else {
          BOOST_TEST((got->has_value() && (*got)->data == e.data),
                     what << " db " << db << " key of size " << k.size());
          if (got->has_value()) BOOST_TEST((*got)->deadline_ms == e.deadline);
        }
      }
      for (int q = 0; q < 6; ++q) {
        const std::string k = random_key(rng, 6);
        auto got = view.get(db, k, kNow);
        BOOST_REQUIRE(got.ok());
        auto it = model.find(k);
        BOOST_TEST(got->has_value() == (it != model.end() && !it->second.expired()), what);
      }
      for (int q = 0; q < 6; ++q) {
        const OwnedBound lo = random_bound(rng), hi = random_bound(rng);
        const bool reverse = rng() % 2;
        const size_t limit = rng() % 3 == 0 ? std::uniform_int_distribution<size_t>(1, 5)(rng) : 0;
        const ScanResult got = run_scan(view, db, lo, hi, reverse, limit);
        const ScanResult want = expect_scan(model, lo, hi, reverse, limit);
        BOOST_TEST(got.items == want.items, what << " db " << db << " lo " << lo.show() << " hi "
                                                 << hi.show() << " reverse " << reverse << " limit "
                                                 << limit << " got " << got << " want " << want);
        if (all_in_lmdb) {
          BOOST_TEST(got.stepped == want.stepped, what);
        } else {
          BOOST_TEST(got.stepped >= want.stepped, what);
        }
      }
    }
  }
};

}  // namespace

// ---------------------------------------------------------------------------
// The merged view against a model
// ---------------------------------------------------------------------------

// Thousands of random SET/DEL/FLUSHDB effects in groups on a few databases,
// with flushes (and so LMDB applies), reopens (replays) and small write
// buffers (so some freezes happen on their own) in between; after every
// batch of groups every read path is compared with the model.
BOOST_FIXTURE_TEST_CASE(merged_reads_match_a_model, EngineFixture) {
  EngineOptions o = options();
  o.write_buffer_size = 16 * 1024;
  o.segment_bytes = 64 * 1024;
  reopen(o);
  std::mt19937 rng(7331);
  MultiModel m;
  const std::vector<int> dbs = {0, 1, 15};
  for (int db : dbs) m.dbs[db];
  put(3, "a", "neighbour");
  m.dbs[3]["a"] = {"neighbour", 0};
  bool all_in_lmdb = false;
  int ops_done = 0, flushes = 0, reopens = 0, clears = 0;
  for (int batch = 0; batch < 150; ++batch) {
    const int groups = std::uniform_int_distribution<int>(1, 8)(rng);
    for (int g = 0; g < groups; ++g) {
      WriteTxn txn(*engine);
      const int ops = std::uniform_int_distribution<int>(1, 5)(rng);
      for (int i = 0; i < ops; ++i, ++ops_done) {
        const int db = dbs[rng() % dbs.size()];
        Model& model = m.dbs[db];
        const std::string key = random_key(rng, 6);
        const int pick = std::uniform_int_distribution<int>(0, 199)(rng);
        if (pick < 2) {
          BOOST_REQUIRE(txn.clear(db).ok());
          model.clear();
          ++clears;
        } else if (pick < 60) {
          auto deleted = txn.del(db, key, kNow);
          BOOST_REQUIRE(deleted.ok());
          auto it = model.find(key);
          const bool live = it != model.end() && !it->second.expired();
          BOOST_TEST(*deleted == live);
          if (it != model.end()) model.erase(it);  // expired ones too, uncounted
        } else {
          static const int64_t kDeadlines[] = {0, 0, 0, kNow - 1, kNow, kNow + 1, 1};
          Entry e{std::to_string(ops_done) + std::string(rng() % 40, 'v'),
                  kDeadlines[rng() % std::size(kDeadlines)]};
          BOOST_REQUIRE(txn.put(db, key, {Type::kString, e.deadline, e.data}).ok());
          model[key] = e;
        }
        // The group sees its own writes.
        auto own = txn.get(db, key, kNow);
        BOOST_REQUIRE(own.ok());
        auto it = model.find(key);
        BOOST_TEST(own->has_value() == (it != model.end() && !it->second.expired()));
      }
      BOOST_REQUIRE(txn.commit().ok());
      all_in_lmdb = false;
    }
    const int event = std::uniform_int_distribution<int>(0, 19)(rng);
    if (event < 3) {
      flush();
      all_in_lmdb = true;
      ++flushes;
    } else if (event == 3) {
      reopen(o);  // the unapplied part is replayed from the log
      ++reopens;
    }
    m.check(*this, rng, all_in_lmdb, "batch " + std::to_string(batch));
  }
  flush();
  m.check(*this, rng, true, "final flush");
  reopen(o);
  m.check(*this, rng, false, "final reopen");
  BOOST_TEST_MESSAGE("model: " << ops_done << " ops, " << flushes << " flushes, " << reopens
                               << " reopens, " << clears << " clears, "
                               << engine->stats().applies.load() << " applies since last open");
  BOOST_TEST(ops_done > 1500);
  BOOST_TEST(flushes > 5);
  BOOST_TEST(reopens > 2);
  BOOST_TEST(clears > 5);
}

// ---------------------------------------------------------------------------
// Visibility at durable_seq
// ---------------------------------------------------------------------------

// Writers are slowed once one buffer is in its apply and the next is half
// full, within half and three quarters of max_unapplied (Engine::soft_bound).
BOOST_FIXTURE_TEST_CASE(the_throttle_starts_at_one_and_a_half_buffers_within_its_bounds,
                        EngineFixture) {
  struct Case {
    size_t buffer, bound, soft;
  };
  for (const Case c : {Case{16u << 20, 32u << 20, 24u << 20},  // the default: 3/4
                       Case{8u << 20, 32u << 20, 16u << 20},   // under a memory cap: 1/2
                       Case{64u << 10, 32u << 20, 16u << 20},  // tiny buffers: 1/2
                       Case{20u << 20, 64u << 20, 32u << 20},  // 1.5 buffers = 30: 1/2
                       Case{36u << 20, 64u << 20, 48u << 20}}) {
    EngineOptions o = options();
    o.write_buffer_size = c.buffer;
    o.max_unapplied = c.bound;
    reopen(o);
    BOOST_TEST(engine->soft_bound() == c.soft);
    BOOST_TEST(!engine->throttling());
  }
}

// The writer paces itself after a group's replies (server/writer.cc): commit()
// never waits for the applier, even past max_unapplied; throttle() does, until
// an apply ends.
BOOST_FIXTURE_TEST_CASE(commit_never_waits_for_the_applier_and_the_throttle_does, EngineFixture) {
  EngineOptions o = options();
  o.write_buffer_size = 64 << 10;
  o.max_unapplied = 256 << 10;
  reopen(o);
  std::mutex mu;
  std::condition_variable cv;
  bool released = false;
  // Holds the applier after its first apply, before it publishes: nothing
  // leaves the unapplied count until `released`.
  engine->set_applied_hook([&] {
    std::unique_lock lock(mu);
    cv.wait_for(lock, std::chrono::seconds(10), [&] { return released; });
  });
  const std::string value(4000, 'x');
  size_t added = 0;
  for (int i = 0; i < 1000 && engine->unapplied_bytes() <= o.max_unapplied; ++i) {
    WriteTxn txn(*engine);
    BOOST_REQUIRE(txn.put(0, "k" + std::to_string(i), {Type::kString, 0, value}).ok());
    added = txn.weight();
    BOOST_REQUIRE(txn.commit().ok());
  }
  BOOST_REQUIRE(engine->unapplied_bytes() > o.max_unapplied);
  BOOST_TEST(engine->stats().slowdowns.load() == 0u);
  BOOST_TEST(engine->stats().throttle_waits.load() == 0u);

  const auto started = std::chrono::steady_clock::now();
  std::thread releaser([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::lock_guard lock(mu);
    released = true;
    cv.notify_all();
  });
  engine->throttle(added);  // past the bound: waits for an apply to end
  const auto waited = std::chrono::steady_clock::now() - started;
  releaser.join();
  engine->set_applied_hook(nullptr);
  BOOST_TEST(engine->stats().throttle_waits.load() == 1u);
  BOOST_TEST(waited >= std::chrono::milliseconds(100));
  flush();
}

// Past the soft bound a group's pause makes the room left under the bound
// last until the apply in progress ends (it frees its weight only then):
// an apply slower than the last one stretches the pauses.
BOOST_FIXTURE_TEST_CASE(the_throttle_paces_to_the_end_of_the_apply_in_progress, EngineFixture) {
  EngineOptions o = options();
  o.write_buffer_size = 64 << 10;
  o.max_unapplied = 256 << 10;
  reopen(o);
  const std::string value(4000, 'x');
  size_t added = 0;
  auto write_until = [&](size_t unapplied, int from) {
    for (int i = from; i < from + 1000 && engine->unapplied_bytes() <= unapplied; ++i) {
      WriteTxn txn(*engine);
      BOOST_REQUIRE(txn.put(0, "k" + std::to_string(i), {Type::kString, 0, value}).ok());
      added = txn.weight();
      BOOST_REQUIRE(txn.commit().ok());
    }
  };
  auto pause = [&] {
    const auto started = std::chrono::steady_clock::now();
    engine->throttle(added);
    return std::chrono::steady_clock::now() - started;
  };
  write_until(70 << 10, 0);  // one buffer, applied at full speed: the last apply's pace
  flush();
  BOOST_REQUIRE(engine->stats().applies.load() >= 1u);
  std::mutex mu;
  std::condition_variable cv;
  bool released = false;
  engine->set_applied_hook([&] {  // the next apply stays in progress until released
    std::unique_lock lock(mu);
    cv.wait_for(lock, std::chrono::seconds(10), [&] { return released; });
  });
  write_until(220 << 10, 1000);  // past the soft bound (128 KiB), ~32 KiB under the bound
  BOOST_REQUIRE(engine->throttling());
  BOOST_REQUIRE(engine->unapplied_bytes() <= o.max_unapplied);
  const auto early = pause();  // at the last apply's pace (its sync's time dominates)
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  // Overdue after a second: given another 250 ms, over which ~32 KiB of
  // room makes ~30 ms per 4 KiB group.
  const auto late = pause();
  {
    std::lock_guard lock(mu);
    released = true;
  }
  cv.notify_all();
  engine->set_applied_hook(nullptr);
  BOOST_TEST_MESSAGE("pause at the start " << early.count() << " ns, a second in " << late.count()
                                           << " ns");
  BOOST_TEST(late >= std::chrono::milliseconds(20));
  BOOST_TEST(late <= std::chrono::milliseconds(200));  // 50 ms at most, plus scheduling
  BOOST_TEST(engine->stats().throttle_waits.load() == 0u);
  flush();
}

BOOST_FIXTURE_TEST_CASE(a_group_is_visible_only_once_committed, EngineFixture) {
  put(0, "old", "lmdb");
  put(0, "gone", "lmdb");
  flush();
  put(0, "layer", "l");
  const uint64_t before = engine->durable_seq();

  WriteTxn txn(*engine);
  BOOST_REQUIRE(txn.put(0, "k", {Type::kString, 0, "v"}).ok());
  BOOST_REQUIRE(txn.put(0, "old", {Type::kString, 0, "new"}).ok());
  BOOST_TEST(*txn.del(0, "gone", kNow));
  BOOST_TEST(*txn.del(0, "layer", kNow));
  BOOST_REQUIRE(txn.put(1, "x", {Type::kString, 0, "x"}).ok());
  BOOST_REQUIRE(txn.clear(2).ok());
  BOOST_TEST(engine->durable_seq() == before);
  BOOST_TEST(txn.last_seq() > before);

  auto check = [&](ReadView& v, bool sees) {
    auto get = [&](int db, std::string_view k) {
      auto r = v.get(db, k, kNow);
      BOOST_REQUIRE(r.ok());
      return *r ? std::string((*r)->data) : "<none>"s;
    };
    BOOST_TEST(get(0, "k") == (sees ? "v" : "<none>"));
    BOOST_TEST(get(0, "old") == (sees ? "new" : "lmdb"));
    BOOST_TEST(get(0, "gone") == (sees ? "<none>" : "lmdb"));
    BOOST_TEST(get(0, "layer") == (sees ? "<none>" : "l"));
    BOOST_TEST(get(1, "x") == (sees ? "x" : "<none>"));
    BOOST_TEST(*v.dbsize(0) == (sees ? 2u : 3u));
    BOOST_TEST(*v.dbsize(1) == (sees ? 1u : 0u));
    std::vector<std::string> keys;
    auto s = v.scan(0, Bound::unbounded(), Bound::unbounded(), false, kNow,
                    [&](std::string_view k, const ValueView&) {
                      keys.emplace_back(k);
                      return true;
                    });
    BOOST_REQUIRE(s.ok());
    BOOST_TEST(keys == (sees ? std::vector<std::string>{"k", "old"}
                             : std::vector<std::string>{"gone", "layer", "old"}));
    v.end();
  };
  {
    ReadView client(*engine);
    check(client, false);
    ReadView writer_side(*engine, true);
    check(writer_side, true);
  }
  BOOST_REQUIRE(txn.commit().ok());
  BOOST_TEST(engine->durable_seq() == txn.last_seq());
  ReadView client(*engine);
  check(client, true);
  flush();
  check(client, true);
}

// The applier commits a layer to LMDB, then publishes the Version without
// it. A reader renewing its snapshot in between pairs it with the Version to
// come: it must neither wait for the publish (a loop spinning there starved
// the applier on a shared core: GETs stalled ~100 ms after write bursts)
// nor count the applied layer twice, and a SWAPDB in that layer must
// already name the databases the snapshot holds.
BOOST_FIXTURE_TEST_CASE(a_reader_between_apply_commit_and_publish_does_not_wait, EngineFixture) {
  put(0, "a", "1");
  put(0, "b", "2");
  put(1, "x", "y");
  flush();
  put(0, "c", "3");
  BOOST_TEST(del(0, "a"));
  {
    WriteTxn txn(*engine);
    BOOST_REQUIRE(txn.swap(0, 1).ok());
    BOOST_REQUIRE(txn.commit().ok());
  }

  std::mutex mu;
  std::condition_variable cv;
  bool entered = false, released = false, done = false, timed_out = false;
  engine->set_applied_hook([&] {
    std::unique_lock lock(mu);
    entered = true;
    cv.notify_all();
    cv.wait(lock, [&] { return released; });
  });
  // Releases the applier if the reads below hang, so the case fails
  // instead of hanging.
  std::thread watchdog([&] {
    std::unique_lock lock(mu);
    if (!cv.wait_for(lock, std::chrono::seconds(10), [&] { return done; })) timed_out = true;
    released = true;
    cv.notify_all();
  });
  const uint64_t target = engine->freeze();
  {
    std::unique_lock lock(mu);
    cv.wait_for(lock, std::chrono::seconds(10), [&] { return entered; });
  }
  BOOST_TEST(entered);
  BOOST_TEST(engine->version()->applied_offset < target);  // committed, not published
  put(0, "late", "5");  // into the new active layer, logical 0 = physical 1

  auto check = [&] {
    BOOST_TEST(get(1, "a") == "<none>");
    BOOST_TEST(get(1, "b") == "2");
    BOOST_TEST(get(1, "c") == "3");
    BOOST_TEST(get(0, "x") == "y");
    BOOST_TEST(get(0, "late") == "5");
    BOOST_TEST(get(0, "b") == "<none>");
    BOOST_TEST(dbsize(0) == 2u);
    BOOST_TEST(dbsize(1) == 2u);
  };
  check();
  {
    std::lock_guard lock(mu);
    done = true;
    cv.notify_all();
  }
  watchdog.join();
  BOOST_TEST(!timed_out, "a read waited for the applier to publish");
  engine->set_applied_hook(nullptr);
  BOOST_REQUIRE(engine->wait_applied(target).ok());
  BOOST_TEST(engine->version()->applied_offset == target);
  check();
  flush();
  check();
}

// A group that changed nothing logs nothing and publishes no seq.
BOOST_FIXTURE_TEST_CASE(an_empty_or_no_op_group_changes_nothing, EngineFixture) {
  put(0, "k", "v");
  const uint64_t seq = engine->durable_seq();
  const uint64_t end = engine->log_end_offset();
  {
    WriteTxn txn(*engine);
    BOOST_TEST(!*txn.del(0, "missing", kNow));
    BOOST_TEST(txn.empty());
    BOOST_REQUIRE(txn.commit().ok());
  }
  BOOST_TEST(engine->durable_seq() == seq);
  BOOST_TEST(engine->log_end_offset() == end);
  BOOST_TEST(get(0, "k") == "v");
}

// ---------------------------------------------------------------------------
// Recovery
// ---------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(recovery_replays_the_log_and_releases_applied_segments, EngineFixture) {
  EngineOptions o = options();
  o.segment_bytes = 4096;
  reopen(o);
  const std::string dir = o.env.dir;
  auto write = [&](int from, int to) {
    for (int i = from; i < to; ++i) {
      WriteTxn txn(*engine);
      BOOST_REQUIRE(
          txn.put(i % 4, "k" + std::to_string(i), {Type::kString, 0, "v" + std::to_string(i)})
              .ok());
      BOOST_REQUIRE(txn.put(0, "last", {Type::kString, 0, std::to_string(i)}).ok());
      if (i % 7 == 0 && i >= 7)
        BOOST_REQUIRE(*txn.del((i - 7) % 4, "k" + std::to_string(i - 7), kNow));
      BOOST_REQUIRE(txn.commit().ok());
    }
  };
  auto check = [&](int upto) {
    for (int i = 0; i < upto; ++i) {
      const bool deleted = i % 7 == 0 && i + 7 < upto;
      BOOST_TEST(
          get(i % 4, "k" + std::to_string(i)) == (deleted ? "<none>" : "v" + std::to_string(i)),
          "k" << i);
    }
    BOOST_TEST(get(0, "last") == std::to_string(upto - 1));
  };
  // Written only to the log and the active MemTable.
  write(0, 500);
  BOOST_TEST(engine->applied_offset() == 0u);
  const uint64_t end = engine->log_end_offset();
  BOOST_TEST(end > 0u);
  BOOST_TEST(engine->stats().groups.load() == 500u);
  const size_t segments = log_files(dir).size();
  BOOST_TEST(segments > 5u);
  reopen(o);
  BOOST_TEST(engine->stats().replayed_frames.load() == 500u);
  BOOST_TEST(engine->log_end_offset() == end);
  check(500);
  // Recovery hands the replayed MemTable to the applier, not to the reader.
  BOOST_TEST(wait_applied(*engine));
  BOOST_TEST(engine->applied_offset() == end);
  check(500);
  // The applier deletes the segments an apply made unneeded (off the
  // writer's path) before it publishes the apply: once applied, they are gone.
  BOOST_TEST(log_files(dir).size() <= 2u);
  write(500, 600);
  BOOST_TEST(log_files(dir).size() > 2u);
  flush();
  BOOST_TEST(engine->applied_offset() == engine->log_end_offset());
  BOOST_TEST(log_files(dir).size() <= 2u);
  write(600, 620);
  BOOST_REQUIRE(engine->tick().ok());
  const uint64_t applied = engine->applied_offset();
  reopen(o);
  // Only the groups after the applied offset are replayed.
  BOOST_TEST(engine->stats().replayed_frames.load() == 20u);
  BOOST_TEST(engine->applied_offset() >= applied);
  check(620);
  flush();
  check(620);
  reopen(o);
  BOOST_TEST(engine->stats().replayed_frames.load() == 0u);
  check(620);
}

// Replaying groups LMDB already holds gives the same state (effects are
// blind and idempotent; DESIGN.md "Writes"): the applied offset is reset to
// 0 by hand after a flush, so the whole log is replayed over LMDB.
BOOST_FIXTURE_TEST_CASE(replaying_applied_groups_again_is_harmless, EngineFixture) {
  put(0, "a", "1");
  put(0, "b", "1");
  put(1, "x", "1");
  clear(0);
  put(0, "c", "1");
  put(0, "a", "2");
  BOOST_TEST(del(0, "c"));
  BOOST_TEST(del(1, "x"));
  put(0, "e", "expired", kNow - 1);
  flush();
  put(0, "d", "after");  // only in the log
  engine.reset();
  {
    auto env = Env::open(options().env);
    BOOST_REQUIRE(env.ok());
    MDB_txn* txn = nullptr;
    BOOST_REQUIRE(mdb_txn_begin((*env)->raw(), nullptr, 0, &txn) == 0);
    uint64_t zero = 0;
    WalPosition start;
    MDB_val k{Engine::kAppliedOffsetKey.size(),
              const_cast<char*>(Engine::kAppliedOffsetKey.data())};
    MDB_val v{8, &zero};
    BOOST_REQUIRE(mdb_put(txn, (*env)->meta_dbi(), &k, &v, 0) == 0);
    k = {Engine::kAppliedPositionKey.size(), const_cast<char*>(Engine::kAppliedPositionKey.data())};
    v = {sizeof start, &start};
    BOOST_REQUIRE(mdb_put(txn, (*env)->meta_dbi(), &k, &v, 0) == 0);
    BOOST_REQUIRE(mdb_txn_commit(txn) == 0);
  }
  auto check = [&](const std::string& what) {
    BOOST_TEST(get(0, "a") == "2", what);
    BOOST_TEST(get(0, "b") == "<none>", what);
    BOOST_TEST(get(0, "c") == "<none>", what);
    BOOST_TEST(get(0, "d") == "after", what);
    BOOST_TEST(get(0, "e") == "<none>", what);
    BOOST_TEST(get(0, "e", kNow - 2) == "expired", what);
    BOOST_TEST(get(1, "x") == "<none>", what);
    BOOST_TEST(dbsize(0) == 3u, what);
    BOOST_TEST(dbsize(1) == 0u, what);
  };
  reopen();
  BOOST_TEST(engine->stats().replayed_frames.load() == 10u);
  check("replayed");
  flush();
  check("flushed");
}

// Garbage after the last whole frame (a torn write) is cut off: every
// committed group is there, and the log continues cleanly after the cut.
BOOST_FIXTURE_TEST_CASE(a_torn_log_tail_is_ignored, EngineFixture) {
  const std::string dir = options().env.dir;
  for (int i = 0; i < 50; ++i) put(i % 2, "k" + std::to_string(i), "v" + std::to_string(i));
  flush();
  for (int i = 50; i < 100; ++i) put(i % 2, "k" + std::to_string(i), "v" + std::to_string(i));
  engine.reset();
  auto files = log_files(dir);
  BOOST_REQUIRE(!files.empty());
  {
    std::ofstream out(files.back(), std::ios::app | std::ios::binary);
    out << "LMKF\x10\0\0\0garbage that is no frame at all"s << std::string(100, '\0');
  }
  reopen();
  for (int i = 0; i < 100; ++i)
    BOOST_TEST(get(i % 2, "k" + std::to_string(i)) == "v" + std::to_string(i));
  // New groups follow the last whole frame and survive another reopen.
  put(0, "after", "a");
  reopen();
  BOOST_TEST(get(0, "after") == "a");
  BOOST_TEST(get(1, "k99") == "v99");
}

// A group whose frame is cut short is lost whole: an MSET is all or nothing.
BOOST_FIXTURE_TEST_CASE(a_torn_last_group_is_lost_whole, EngineFixture) {
  const std::string dir = options().env.dir;
  put(0, "before", "b");
  {
    WriteTxn txn(*engine);
    for (int i = 0; i < 10; ++i)
      BOOST_REQUIRE(txn.put(0, "m" + std::to_string(i), {Type::kString, 0, "x"}).ok());
    BOOST_REQUIRE(txn.commit().ok());
  }
  engine.reset();
  auto files = log_files(dir);
  BOOST_REQUIRE(!files.empty());
  fs::resize_file(files.back(), fs::file_size(files.back()) - 5);
  reopen();
  BOOST_TEST(get(0, "before") == "b");
  for (int i = 0; i < 10; ++i) BOOST_TEST(get(0, "m" + std::to_string(i)) == "<none>");
  BOOST_TEST(dbsize(0) == 1u);
}

// ---------------------------------------------------------------------------
// FLUSHDB markers
// ---------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(clear_markers_hide_older_data_in_layers_and_lmdb, EngineFixture) {
  for (int i = 0; i < 20; ++i) {
    put(2, "lmdb" + std::to_string(i), "x");
    put(4, "other" + std::to_string(i), "y");
  }
  flush();
  put(2, "layer", "x");
  put(2, "lmdb0", "overwritten");
  BOOST_TEST(dbsize(2) == 21u);
  clear(2);
  auto check_cleared = [&](const std::string& what, const std::vector<std::string>& live) {
    BOOST_TEST(dbsize(2) == live.size(), what);
    BOOST_TEST(get(2, "lmdb5") == "<none>", what);
    BOOST_TEST(get(2, "lmdb0") == "<none>", what);
    BOOST_TEST(get(2, "layer") == "<none>", what);
    ReadView view(*engine);
    for (bool reverse : {false, true}) {
      std::vector<std::string> keys;
      auto s = view.scan(2, Bound::unbounded(), Bound::unbounded(), reverse, kNow,
                         [&](std::string_view k, const ValueView&) {
                           keys.emplace_back(k);
                           return true;
                         });
      BOOST_REQUIRE(s.ok());
      if (reverse) std::reverse(keys.begin(), keys.end());
      BOOST_TEST(keys == live, what);
    }
    BOOST_TEST(dbsize(4) == 20u, what);  // other databases untouched
    BOOST_TEST(get(4, "other7") == "y", what);
  };
  check_cleared("cleared in a layer", {});
  put(2, "new", "n");
  put(2, "lmdb3", "again");
  check_cleared("writes after the clear", {"lmdb3", "new"});
  BOOST_TEST(get(2, "new") == "n");
  BOOST_TEST(get(2, "lmdb3") == "again");
  flush();
  check_cleared("after flush", {"lmdb3", "new"});
  BOOST_TEST(get(2, "lmdb3") == "again");
  // A second clear, with a write to clear in the same group before it and a
  // write after it.
  {
    WriteTxn txn(*engine);
    BOOST_REQUIRE(txn.put(2, "doomed", {Type::kString, 0, "d"}).ok());
    BOOST_REQUIRE(txn.clear(2).ok());
    BOOST_REQUIRE(txn.put(2, "survivor", {Type::kString, 0, "s"}).ok());
    BOOST_TEST(!txn.get(2, "doomed", kNow)->has_value());
    BOOST_REQUIRE(txn.commit().ok());
  }
  check_cleared("second clear", {"survivor"});
  reopen();
  check_cleared("replayed", {"survivor"});
  flush();
  check_cleared("replayed and flushed", {"survivor"});
  BOOST_TEST(get(2, "survivor") == "s");
}

// Clears spread over several frozen MemTables (a tiny write buffer freezes
// after every group), each applied in its own LMDB transaction.
BOOST_FIXTURE_TEST_CASE(clears_across_frozen_layers, EngineFixture) {
  EngineOptions o = options();
  o.write_buffer_size = 1;
  reopen(o);
  Model model;
  std::mt19937 rng(99);
  for (int round = 0; round < 60; ++round) {
    if (round % 10 == 9) {
      clear(6);
      model.clear();
    } else {
      const std::string k = random_key(rng, 2);
      put(6, k, std::to_string(round));
      model[k] = {std::to_string(round), 0};
    }
    ReadView view(*engine);
    const ScanResult got = run_scan(view, 6, OwnedBound{}, OwnedBound{}, false, 0);
    BOOST_TEST(got.items == expect_scan(model, OwnedBound{}, OwnedBound{}, false, 0).items,
               "round " << round);
    BOOST_TEST(*view.dbsize(6) == model.size(), "round " << round);
  }
  flush();
  ReadView view(*engine);
  BOOST_TEST(run_scan(view, 6, OwnedBound{}, OwnedBound{}, true, 0) ==
             expect_scan(model, OwnedBound{}, OwnedBound{}, true, 0));
  BOOST_TEST(engine->stats().applies.load() >= 50u);
}

// ---------------------------------------------------------------------------
// Freezing and the applier
// ---------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(tick_freezes_an_old_buffer_and_the_applier_catches_up, EngineFixture) {
  EngineOptions o = options();
  o.buffer_max_age_ms = 0;
  reopen(o);
  put(0, "k", "v");
  BOOST_TEST(engine->applied_offset() == 0u);
  BOOST_TEST(engine->unapplied_bytes() > 0u);
  BOOST_REQUIRE(engine->tick().ok());
  BOOST_TEST(wait_applied(*engine));
  BOOST_TEST(engine->applied_offset() == engine->log_end_offset());
  BOOST_TEST(engine->unapplied_bytes() == 0u);
  BOOST_TEST(engine->stats().applies.load() == 1u);
  BOOST_TEST(get(0, "k") == "v");
  // An empty buffer is never frozen.
  BOOST_REQUIRE(engine->tick().ok());
  BOOST_REQUIRE(engine->flush().ok());
  BOOST_TEST(engine->stats().applies.load() == 1u);
}

BOOST_FIXTURE_TEST_CASE(a_full_write_buffer_freezes_at_a_group_boundary, EngineFixture) {
  EngineOptions o = options();
  o.write_buffer_size = 4096;
  reopen(o);
  const std::string value(1000, 'v');
  for (int g = 0; g < 40; ++g) {
    WriteTxn txn(*engine);
    for (int i = 0; i < 3; ++i)
      BOOST_REQUIRE(
          txn.put(0, "g" + std::to_string(g) + "." + std::to_string(i), {Type::kString, 0, value})
              .ok());
    BOOST_REQUIRE(txn.commit().ok());
    // The active MemTable never holds more than one group past the limit.
    BOOST_TEST(engine->version()->layers[0]->bytes() < 4096u + 4 * 1100u);
  }
  BOOST_TEST(dbsize(0) == 120u);
  flush();
  // Frozen every two groups, each applied on its own.
  BOOST_TEST(engine->stats().applies.load() >= 10u);
  BOOST_TEST(dbsize(0) == 120u);
  BOOST_TEST(get(0, "g39.2") == value);
}

// Small entries fill a write buffer by their count (MemTable::weight): a
// replay's time is per entry as much as per byte.
BOOST_FIXTURE_TEST_CASE(small_entries_freeze_the_write_buffer_by_their_count, EngineFixture) {
  constexpr size_t kEntries = 100;
  EngineOptions o = options();
  o.write_buffer_size = kEntries * MemTable::kMinEntryWeight;
  reopen(o);
  for (int g = 0; g < 50; ++g) {
    WriteTxn txn(*engine);
    for (int i = 0; i < 10; ++i)
      BOOST_REQUIRE(
          txn.put(0, "k" + std::to_string(g) + "." + std::to_string(i), {Type::kString, 0, "1"})
              .ok());
    BOOST_REQUIRE(txn.commit().ok());
    const auto& active = *engine->version()->layers[0];
    // Frozen at the group that reaches the count, never a group later; in
    // bytes alone the buffer would hold several times as many.
    BOOST_TEST(active.entries() < kEntries);
    BOOST_TEST(active.bytes() < o.write_buffer_size / 2);
  }
  flush();
  BOOST_TEST(engine->stats().applies.load() == 5u);
  BOOST_TEST(dbsize(0) == 500u);
}

// ---------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------

// A writer thread commits MSET-like groups (ten keys, all set to i) with a
// small write buffer, so freezes and bulk applies run all the time, while
// readers take fresh views: every view must see the ten keys equal (no torn
// group) and never older than what was acknowledged before it began (no
// lost write), nor older than what the same reader saw before.
BOOST_FIXTURE_TEST_CASE(readers_never_see_torn_or_lost_groups, EngineFixture) {
  EngineOptions o = options();
  o.write_buffer_size = 64 * 1024;
  reopen(o);
  constexpr int kKeys = 10;
  const std::string pad(100, 'p');
  auto key = [](int j) { return "key" + std::to_string(j); };
  Stress stress;
  std::atomic<int64_t> acked{-1};
  std::atomic<uint64_t> rounds{0}, groups{0};

  std::thread writer([&] {
    for (int64_t i = 0; !stress.stopped(); ++i) {
      WriteTxn txn(*engine);
      const std::string v = std::to_string(i) + "/" + pad;
      for (int j = 0; j < kKeys; ++j) {
        if (!txn.put(0, key(j), {Type::kString, 0, v}).ok()) return stress.fail("put failed");
      }
      // Other keys, so MemTables fill up and differ in content.
      if (!txn.put(1, "filler" + std::to_string(i % 5000), {Type::kString, 0, pad}).ok())
        return stress.fail("put failed");
      const size_t added = txn.weight();
      if (!txn.commit().ok()) return stress.fail("commit failed");
      acked = i;
      ++groups;
      engine->throttle(added);  // as the server's writer does, after the reply
    }
  });
  auto reader = [&](int id) {
    ReadView view(*engine);
    int64_t last = -1;
    while (!stress.stopped()) {
      const int64_t floor = acked.load();
      // Scan the ten keys in one view, then get them in the same view.
      std::vector<int64_t> seen;
      auto s =
          view.scan(0, Bound::at("key", true), Bound::at("key9", true), id % 2 == 1, kNow,
                    [&](std::string_view, const ValueView& v) {
                      seen.push_back(std::stoll(std::string(v.data.substr(0, v.data.find('/')))));
                      return true;
                    });
      if (!s.ok()) return stress.fail("scan: " + s.error().message);
      for (int j = 0; j < kKeys; ++j) {
        auto g = view.get(0, key(j), kNow);
        if (!g.ok()) return stress.fail("get: " + g.error().message);
        if (!*g) {
          if (floor >= 0) return stress.fail("key missing after an acknowledged group");
          seen.push_back(-1);
          continue;
        }
        seen.push_back(std::stoll(std::string((*g)->data.substr(0, (*g)->data.find('/')))));
      }
      view.end();
      if (floor < 0 && seen.size() == kKeys) continue;  // nothing written yet
      if (seen.size() != 2 * kKeys)
        return stress.fail("scan saw " + std::to_string(seen.size() - kKeys) + " keys");
      for (int64_t x : seen)
        if (x != seen[0])
          return stress.fail("torn group: " + std::to_string(seen[0]) + " vs " + std::to_string(x));
      if (seen[0] < floor)
        return stress.fail("lost write: saw " + std::to_string(seen[0]) + " after ack of " +
                    std::to_string(floor));
      if (seen[0] < last)
        return stress.fail("went back: " + std::to_string(last) + " then " + std::to_string(seen[0]));
      last = seen[0];
      ++rounds;
    }
  };
  std::thread r1(reader, 0), r2(reader, 1);
  stress.run_for(std::chrono::seconds(3), {&writer, &r1, &r2});
  BOOST_TEST(stress.failure().empty(), stress.failure());
  BOOST_TEST_MESSAGE("stress: " << groups.load() << " groups, " << rounds.load()
                                << " reader rounds, " << engine->stats().applies.load()
                                << " applies, " << engine->stats().slowdowns.load()
                                << " slowdowns");
  BOOST_TEST(groups.load() > 100u);
  BOOST_TEST(rounds.load() > 100u);
  BOOST_TEST(engine->stats().applies.load() > 5u);
  // Everything acknowledged is there after a flush and after a reopen.
  flush();
  const std::string want = std::to_string(acked.load()) + "/" + pad;
  for (int j = 0; j < kKeys; ++j) BOOST_TEST(get(0, key(j)) == want);
  reopen(o);
  for (int j = 0; j < kKeys; ++j) BOOST_TEST(get(0, key(j)) == want);
}

// Under --fsync always the log is written directly (Wal::set_direct), and
// CONFIG SET fsync switches between direct and buffered writes mid-segment:
// every acknowledged group is replayed, and the applier deletes the applied
// segments.
BOOST_FIXTURE_TEST_CASE(direct_log_writes_survive_policy_switches_and_recovery, EngineFixture) {
  EngineOptions o = options();
  o.fsync = Fsync::kAlways;
  o.segment_bytes = 64 * 1024;
  o.log_headroom = 64 * 1024;
  reopen(o);
  const std::string dir = o.env.dir;
  const Fsync policies[] = {Fsync::kAlways, Fsync::kEverysec, Fsync::kAlways, Fsync::kNo,
                            Fsync::kAlways};
  int n = 0;
  for (Fsync p : policies) {
    BOOST_REQUIRE(engine->set_fsync(p).ok());
    for (int i = 0; i < 150; ++i, ++n) {
      // Values from a few bytes to past a 4 KiB block.
      const std::string v(static_cast<size_t>(1 + (n * 37) % 6000),
                          static_cast<char>('a' + n % 26));
      BOOST_REQUIRE(engine->admit(v.size() + 64).ok());
      put(n % 3, "k" + std::to_string(n), v);
    }
  }
  BOOST_TEST(log_files(dir).size() > 3u);
  const uint64_t end = engine->log_end_offset();
  reopen(o);  // kill-like: nothing flushed; the log replays every group
  BOOST_TEST(engine->log_end_offset() == end);
  for (int i = 0; i < n; ++i)
    BOOST_TEST(
        get(i % 3, "k" + std::to_string(i)) ==
            std::string(static_cast<size_t>(1 + (i * 37) % 6000), static_cast<char>('a' + i % 26)),
        "k" << i);
  flush();
  BOOST_TEST(log_files(dir).size() <= 2u);
}
