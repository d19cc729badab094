// tests/unit/store/scan_test.cc: ReadView::scan against a std::map model,
// with the data in the MemTable layers, in LMDB, or split between them.
#include <boost/test/unit_test.hpp>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "fixture.h"

using namespace lmkv;
using namespace lmkv::store;
using namespace lmkv::store::testing;
using namespace std::string_literals;

namespace {

// Compares a scan with the model. `exact_steps`: every entry is in LMDB (no
// tombstones left to step over), so the step count must match too.
void check_scan(ReadView& view, int db, const Model& model, const OwnedBound& lo,
                const OwnedBound& hi, bool reverse, size_t limit, bool exact_steps,
                const std::string& what) {
  const ScanResult got = run_scan(view, db, lo, hi, reverse, limit);
  const ScanResult want = expect_scan(model, lo, hi, reverse, limit);
  BOOST_TEST(got.items == want.items, what << " got " << got << " want " << want);
  if (exact_steps) {
    BOOST_TEST(got.stepped == want.stepped, what);
  } else {
    BOOST_TEST(got.stepped >= want.stepped, what);
  }
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(scan_matches_a_model_under_random_operations, EngineFixture) {
  std::mt19937 rng(20240601);
  Model model;
  ReadView view(*engine);
  const int db = 5;
  put(db - 1, "", "neighbour");  // other databases never leak in
  put(db + 1, "a", "neighbour");
  bool all_in_lmdb = true;
  int flushes = 0;
  for (int iter = 0; iter < 400; ++iter) {
    // One group of writes.
    WriteTxn txn(*engine);
    const int ops = std::uniform_int_distribution<int>(1, 6)(rng);
    for (int i = 0; i < ops; ++i) {
      const std::string key = random_key(rng);
      if (rng() % 3 == 0) {
        auto deleted = txn.del(db, key, kNow);
        BOOST_REQUIRE(deleted.ok());
        auto it = model.find(key);
        BOOST_TEST(*deleted == (it != model.end() && !it->second.expired()));
        // An expired key is deleted too, but not counted (Redis's lazy expiry).
        if (it != model.end()) model.erase(it);
      } else {
        static const int64_t kDeadlines[] = {0, 0, kNow - 10, kNow + 10};
        Entry e{std::to_string(iter) + "." + std::to_string(i), kDeadlines[rng() % 4]};
        BOOST_REQUIRE(txn.put(db, key, {Type::kString, e.deadline, e.data}).ok());
        model[key] = e;
      }
      all_in_lmdb = false;
    }
    BOOST_REQUIRE(txn.commit().ok());
    if (rng() % 8 == 0) {
      flush();
      all_in_lmdb = true;
      ++flushes;
    }

    view.end();
    BOOST_TEST(*view.dbsize(db) == model.size(), "iter " << iter);
    for (int q = 0; q < 8; ++q) {
      const OwnedBound lo = random_bound(rng), hi = random_bound(rng);
      const bool reverse = rng() % 2;
      const size_t limit = rng() % 3 == 0 ? std::uniform_int_distribution<size_t>(1, 4)(rng) : 0;
      check_scan(view, db, model, lo, hi, reverse, limit, all_in_lmdb,
                 "iter " + std::to_string(iter) + " lo " + lo.show() + " hi " + hi.show() +
                     " reverse " + std::to_string(reverse) + " limit " + std::to_string(limit));
    }
    for (int q = 0; q < 4; ++q) {
      const std::string key = random_key(rng);
      auto got = view.get(db, key, kNow);
      BOOST_REQUIRE(got.ok());
      auto it = model.find(key);
      const bool live = it != model.end() && !it->second.expired();
      BOOST_TEST(got->has_value() == live);
      if (live && got->has_value()) BOOST_TEST((*got)->data == it->second.data);
    }
  }
  BOOST_TEST(flushes > 20);
}

// Bounds longer than any key select the same keys as the unclamped bound
// would: checked for every pair of bounds, inclusivity and direction, with
// the keys in the layers, in LMDB, and half in each.
BOOST_FIXTURE_TEST_CASE(long_bounds_are_clamped_exactly, EngineFixture) {
  const std::string a509(509, 'a'), a510(510, 'a');
  Model model;
  int n = 0;
  for (const std::string& k :
       {a509, a510, a509 + "b", a509 + "\0"s, std::string(508, 'a') + "b",
        std::string(508, 'a') + "ba", std::string(508, 'a'), std::string(510, 'b'),
        std::string(510, '\xff'), "a"s, ""s, "b"s, std::string(510, '\0')}) {
    model[k] = {"v" + std::to_string(n++), 0};
  }
  // An expired key next to the clamped bound: skipped but stepped over.
  model[a509 + "c"] = {"gone", kNow - 1};

  std::vector<std::string> keys = {a510 + "\0"s,
                                   a510 + "a",
                                   a510 + "zzz",
                                   std::string(600, 'a'),
                                   a509 + "b\0"s,
                                   a509 + "bb",
                                   std::string(511, 'b'),
                                   std::string(511, '\0'),
                                   std::string(511, '\xff'),
                                   a510,
                                   a509,
                                   a509 + "b",
                                   "b"s,
                                   ""s};
  std::vector<OwnedBound> bounds = {OwnedBound{}};
  for (const auto& k : keys)
    for (bool inc : {true, false}) bounds.push_back(OwnedBound{k, inc, false});

  auto check_all = [&](const std::string& phase) {
    ReadView view(*engine);
    int checked = 0;
    for (const auto& lo : bounds)
      for (const auto& hi : bounds)
        for (bool reverse : {false, true}) {
          BOOST_TEST(
              run_scan(view, 0, lo, hi, reverse, 0) == expect_scan(model, lo, hi, reverse, 0),
              phase << " lo " << lo.show() << " hi " << hi.show() << " reverse " << reverse);
          ++checked;
        }
    BOOST_TEST(checked == 2 * 29 * 29);
    // Sanity: the clamp does not just return everything.
    OwnedBound lo{a510 + "x", true, false};
    // Above a510: a509+b, a509+c (expired), 508a+b, 508a+ba, b, 510b, 510xff.
    BOOST_TEST(run_scan(view, 0, lo, OwnedBound{}, false, 0).items.size() == 6u, phase);
  };

  // Half the keys go to LMDB with stale values, then every key is written
  // again into the layers.
  int i = 0;
  for (const auto& [k, e] : model)
    if (i++ % 2) put(0, k, "stale", 0);
  flush();
  for (const auto& [k, e] : model) put(0, k, e.data, e.deadline);
  check_all("mixed");
  flush();
  check_all("lmdb");
  // Delete every key, then write them again: tombstones and values in the
  // layers over LMDB.
  for (const auto& [k, e] : model) (void)del(0, k);
  BOOST_TEST(dbsize(0) == 0u);
  for (const auto& [k, e] : model) put(0, k, e.data, e.deadline);
  check_all("rewritten");
}

BOOST_FIXTURE_TEST_CASE(scan_stops_when_the_visitor_says_so, EngineFixture) {
  Model model;
  for (char c = 'a'; c <= 'j'; ++c)
    model[std::string(1, c)] = {std::string(1, c), c == 'c' ? kNow - 1 : 0};
  for (bool flushed : {false, true}) {
    if (!flushed) {
      for (const auto& [k, e] : model) put(0, k, e.data, e.deadline);
    } else {
      flush();
    }
    ReadView view(*engine);
    auto r = run_scan(view, 0, OwnedBound{}, OwnedBound{}, false, 3);
    BOOST_TEST(r == expect_scan(model, OwnedBound{}, OwnedBound{}, false, 3));
    BOOST_TEST(r.stepped == 4u);  // a, b, c (expired), d
    BOOST_TEST(r.items.back().first == "d");
    r = run_scan(view, 0, OwnedBound{}, OwnedBound{"d", true, false}, true, 2);
    BOOST_TEST(r.stepped == 3u);  // d, c (expired), b
    BOOST_TEST(r.items.back().first == "b");
    // Empty database, inverted range.
    BOOST_TEST(run_scan(view, 9, OwnedBound{}, OwnedBound{}, false, 0).stepped == 0u);
    BOOST_TEST(run_scan(view, 9, OwnedBound{}, OwnedBound{}, true, 0).stepped == 0u);
    const OwnedBound f{"f", true, false}, b{"b", true, false}, b_open{"b", false, false};
    BOOST_TEST(run_scan(view, 0, f, b, false, 0).stepped == 0u);
    BOOST_TEST(run_scan(view, 0, f, b, true, 0).stepped == 0u);
    BOOST_TEST(run_scan(view, 0, b_open, b, true, 0).stepped == 0u);
    BOOST_TEST(run_scan(view, 0, b, b, true, 0).stepped == 1u);
    BOOST_TEST(run_scan(view, 0, b, b, false, 0).stepped == 1u);
  }
}

// Tombstones still in the layers are stepped over (and counted), never
// returned; the LMDB value under a tombstone is stepped over once.
BOOST_FIXTURE_TEST_CASE(scan_skips_tombstones_in_layers, EngineFixture) {
  for (char c = 'a'; c <= 'e'; ++c) put(0, std::string(1, c), std::string(1, c));
  flush();
  BOOST_TEST(del(0, "b"));
  BOOST_TEST(del(0, "d"));
  put(0, "bb", "new");
  BOOST_TEST(del(0, "bb"));
  ReadView view(*engine);
  for (bool reverse : {false, true}) {
    auto r = run_scan(view, 0, OwnedBound{}, OwnedBound{}, reverse, 0);
    std::vector<std::pair<std::string, std::string>> want = {{"a", "a"}, {"c", "c"}, {"e", "e"}};
    if (reverse) std::reverse(want.begin(), want.end());
    BOOST_TEST(r.items == want);
    BOOST_TEST(r.stepped == 6u);  // a b bb c d e
  }
  view.end();
  flush();
  auto r = run_scan(view, 0, OwnedBound{}, OwnedBound{}, false, 0);
  BOOST_TEST(r.stepped == 3u);
}

// Keys outside the user namespace (first byte != 0, for later metadata)
// sort after every user key; scans in both directions ignore them.
BOOST_FIXTURE_TEST_CASE(scan_skips_non_user_keys, EngineFixture) {
  std::string v;
  encode_value({Type::kString, 0, "meta"}, &v);
  put_raw(0, "\x01meta", v);
  put_raw(0, "\xff", v);
  put(0, "", "e");
  put(0, "\xff\xff", "f");
  Model model{{"", {"e", 0}}, {"\xff\xff", {"f", 0}}};
  for (bool flushed : {false, true}) {
    if (flushed) flush();
    ReadView view(*engine);
    for (bool reverse : {false, true})
      for (const auto& hi : {OwnedBound{}, OwnedBound{"\xff\xff\xff", true, false},
                             OwnedBound{std::string(600, '\xff'), false, false}})
        BOOST_TEST(run_scan(view, 0, OwnedBound{}, hi, reverse, 0) ==
                   expect_scan(model, OwnedBound{}, hi, reverse, 0));
    BOOST_TEST(*view.dbsize(0) == 4u);  // raw entry count
    BOOST_TEST(!view.get(0, "meta", kNow)->has_value());
  }
}
