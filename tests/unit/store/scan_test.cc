// tests/unit/store/scan_test.cc: ReadView::scan against a std::map model.
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

struct Entry {
  std::string data;
  int64_t deadline = 0;
  bool expired() const { return deadline != 0 && deadline <= kNow; }
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

bool in_range(const std::string& k, const OwnedBound& lo, const OwnedBound& hi) {
  if (!lo.infinite && (lo.inclusive ? k < lo.key : k <= lo.key)) return false;
  if (!hi.infinite && (hi.inclusive ? k > hi.key : k >= hi.key)) return false;
  return true;
}

struct ScanResult {
  std::vector<std::pair<std::string, std::string>> items;
  uint64_t stepped = 0;
  bool operator==(const ScanResult&) const = default;
};

std::ostream& operator<<(std::ostream& os, const ScanResult& r) {
  os << "stepped=" << r.stepped << " items=" << r.items.size() << " [";
  for (const auto& [k, v] : r.items) os << k.size() << ":" << v << " ";
  return os << "]";
}

// What scan must return: live entries in range, in order, stopping after
// `limit` of them (0: no limit); `stepped` counts expired entries too, up to
// and including the one where the visitor stopped.
ScanResult expect(const Model& m, const OwnedBound& lo, const OwnedBound& hi, bool reverse,
                  size_t limit) {
  std::vector<const Model::value_type*> order;
  for (const auto& e : m)
    if (in_range(e.first, lo, hi)) order.push_back(&e);
  if (reverse) std::reverse(order.begin(), order.end());
  ScanResult r;
  for (const auto* e : order) {
    ++r.stepped;
    if (e->second.expired()) continue;
    r.items.emplace_back(e->first, e->second.data);
    if (limit && r.items.size() == limit) break;
  }
  return r;
}

ScanResult run(ReadView& view, int db, const OwnedBound& lo, const OwnedBound& hi, bool reverse,
               size_t limit) {
  ScanResult r;
  auto stepped = view.scan(db, lo.view(), hi.view(), reverse, kNow,
                           [&](std::string_view k, const ValueView& v) {
                             BOOST_TEST(!v.expired(kNow));
                             r.items.emplace_back(std::string(k), std::string(v.data));
                             return !(limit && r.items.size() == limit);
                           });
  BOOST_REQUIRE_MESSAGE(stepped.ok(), (stepped.ok() ? "" : stepped.error().message));
  r.stepped = *stepped;
  return r;
}

// Short keys over a tiny alphabet, so equal keys, prefixes, NUL and 0xff
// bytes and the empty key all come up often.
std::string random_key(std::mt19937& rng) {
  static const char kAlphabet[] = {'\0', '\x01', 'a', 'b', '\xff'};
  std::string k(std::uniform_int_distribution<int>(0, 4)(rng), '\0');
  for (auto& c : k) c = kAlphabet[std::uniform_int_distribution<int>(0, 4)(rng)];
  return k;
}

OwnedBound random_bound(std::mt19937& rng) {
  OwnedBound b;
  b.infinite = std::uniform_int_distribution<int>(0, 5)(rng) == 0;
  b.inclusive = rng() % 2;
  if (!b.infinite) b.key = random_key(rng);
  return b;
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(scan_matches_a_model_under_random_operations, EnvFixture) {
  std::mt19937 rng(20240601);
  Model model;
  ReadView view(*env);
  const int db = 5;
  put(db - 1, "", "neighbour");  // other databases never leak in
  put(db + 1, "a", "neighbour");
  for (int iter = 0; iter < 400; ++iter) {
    // A batch of writes, committed (mostly) or aborted.
    Model next = model;
    auto txn = WriteTxn::begin(*env);
    BOOST_REQUIRE(txn.ok());
    const int ops = std::uniform_int_distribution<int>(1, 6)(rng);
    for (int i = 0; i < ops; ++i) {
      const std::string key = random_key(rng);
      if (rng() % 3 == 0) {
        auto deleted = txn->del(db, key, kNow);
        BOOST_REQUIRE(deleted.ok());
        auto it = next.find(key);
        BOOST_TEST(*deleted == (it != next.end() && !it->second.expired()));
        if (it != next.end()) next.erase(it);
      } else {
        static const int64_t kDeadlines[] = {0, 0, kNow - 10, kNow + 10};
        Entry e{std::to_string(iter) + "." + std::to_string(i), kDeadlines[rng() % 4]};
        BOOST_REQUIRE(txn->put(db, key, {Type::kString, e.deadline, e.data}).ok());
        next[key] = e;
      }
    }
    if (rng() % 10 == 0) {
      txn->abort();
    } else {
      BOOST_REQUIRE(txn->commit().ok());
      model = std::move(next);
    }

    view.end();
    BOOST_TEST(*view.dbsize(db) == model.size());
    for (int q = 0; q < 8; ++q) {
      const OwnedBound lo = random_bound(rng), hi = random_bound(rng);
      const bool reverse = rng() % 2;
      const size_t limit = rng() % 3 == 0 ? std::uniform_int_distribution<size_t>(1, 4)(rng) : 0;
      BOOST_TEST(run(view, db, lo, hi, reverse, limit) == expect(model, lo, hi, reverse, limit),
                 "iter " << iter << " lo " << lo.show() << " hi " << hi.show() << " reverse "
                         << reverse << " limit " << limit);
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
}

// Bounds longer than any key select the same keys as the unclamped bound
// would: checked for every pair of bounds, inclusivity and direction.
BOOST_FIXTURE_TEST_CASE(long_bounds_are_clamped_exactly, EnvFixture) {
  const std::string a509(509, 'a'), a510(510, 'a');
  Model model;
  for (const std::string& k :
       {a509, a510, a509 + "b", a509 + "\0"s, std::string(508, 'a') + "b",
        std::string(508, 'a') + "ba", std::string(508, 'a'), std::string(510, 'b'),
        std::string(510, '\xff'), "a"s, ""s, "b"s, std::string(510, '\0')}) {
    model[k] = {"v" + std::to_string(model.size()), 0};
    put(0, k, model[k].data);
  }
  // An expired key next to the clamped bound: skipped but stepped over.
  model[a509 + "c"] = {"gone", kNow - 1};
  put(0, a509 + "c", "gone", kNow - 1);

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

  ReadView view(*env);
  int checked = 0;
  for (const auto& lo : bounds)
    for (const auto& hi : bounds)
      for (bool reverse : {false, true}) {
        BOOST_TEST(run(view, 0, lo, hi, reverse, 0) == expect(model, lo, hi, reverse, 0),
                   "lo " << lo.show() << " hi " << hi.show() << " reverse " << reverse);
        ++checked;
      }
  BOOST_TEST(checked == 2 * 29 * 29);
  // Sanity: the clamp does not just return everything.
  OwnedBound lo{a510 + "x", true, false};
  // Above a510: a509+b, a509+c (expired), 508a+b, 508a+ba, b, 510b, 510xff.
  BOOST_TEST(run(view, 0, lo, OwnedBound{}, false, 0).items.size() == 6u);
}

BOOST_FIXTURE_TEST_CASE(scan_stops_when_the_visitor_says_so, EnvFixture) {
  for (char c = 'a'; c <= 'j'; ++c)
    put(0, std::string(1, c), std::string(1, c), c == 'c' ? kNow - 1 : 0);
  ReadView view(*env);
  Model model;
  for (char c = 'a'; c <= 'j'; ++c)
    model[std::string(1, c)] = {std::string(1, c), c == 'c' ? kNow - 1 : 0};
  auto r = run(view, 0, OwnedBound{}, OwnedBound{}, false, 3);
  BOOST_TEST(r == expect(model, OwnedBound{}, OwnedBound{}, false, 3));
  BOOST_TEST(r.stepped == 4u);  // a, b, c (expired), d
  BOOST_TEST(r.items.back().first == "d");
  r = run(view, 0, OwnedBound{}, OwnedBound{"d", true, false}, true, 2);
  BOOST_TEST(r.stepped == 3u);  // d, c (expired), b
  BOOST_TEST(r.items.back().first == "b");
  // Empty database, inverted range.
  BOOST_TEST(run(view, 9, OwnedBound{}, OwnedBound{}, false, 0).stepped == 0u);
  BOOST_TEST(run(view, 9, OwnedBound{}, OwnedBound{}, true, 0).stepped == 0u);
  BOOST_TEST(
      run(view, 0, OwnedBound{"f", true, false}, OwnedBound{"b", true, false}, false, 0).stepped ==
      0u);
  BOOST_TEST(
      run(view, 0, OwnedBound{"f", true, false}, OwnedBound{"b", true, false}, true, 0).stepped ==
      0u);
  BOOST_TEST(
      run(view, 0, OwnedBound{"b", false, false}, OwnedBound{"b", true, false}, true, 0).stepped ==
      0u);
  BOOST_TEST(
      run(view, 0, OwnedBound{"b", true, false}, OwnedBound{"b", true, false}, true, 0).stepped ==
      1u);
}

// Keys outside the user namespace (first byte != 0, for later metadata)
// sort after every user key; scans in both directions ignore them.
BOOST_FIXTURE_TEST_CASE(scan_skips_non_user_keys, EnvFixture) {
  std::string v;
  encode_value({Type::kString, 0, "meta"}, &v);
  put_raw(0, "\x01meta", v);
  put_raw(0, "\xff", v);
  put(0, "", "e");
  put(0, "\xff\xff", "f");
  ReadView view(*env);
  Model model{{"", {"e", 0}}, {"\xff\xff", {"f", 0}}};
  for (bool reverse : {false, true})
    for (const auto& hi : {OwnedBound{}, OwnedBound{"\xff\xff\xff", true, false},
                           OwnedBound{std::string(600, '\xff'), false, false}})
      BOOST_TEST(run(view, 0, OwnedBound{}, hi, reverse, 0) ==
                 expect(model, OwnedBound{}, hi, reverse, 0));
  BOOST_TEST(*view.dbsize(0) == 4u);  // raw entry count
  BOOST_TEST(!view.get(0, "meta", kNow)->has_value());
}
