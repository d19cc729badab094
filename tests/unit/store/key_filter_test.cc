// The key filter (store/key_filter.h) alone, and as the engine keeps it:
// built at open, fed by every apply, rebuilt when full, never missing a key
// LMDB holds.
#include "store/key_filter.h"

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <string>
#include <thread>
#include <vector>

#include "fixture.h"
#include "store/value.h"

using namespace lmkv::store;
using namespace lmkv::store::testing;

namespace {

std::string raw(std::string_view key) {
  std::string out;
  encode_key(key, &out);
  return out;
}

std::string key_of(int i) { return "key:" + std::to_string(i); }

// Options whose filter fills up after `keys` keys, so tests see rebuilds.
EngineOptions small_filter(EngineOptions o, uint64_t keys) {
  o.key_filter_min_keys = keys;
  return o;
}

}  // namespace

BOOST_AUTO_TEST_CASE(key_filter_has_no_false_negatives_and_few_false_positives) {
  constexpr int kKeys = 100000;
  KeyFilter f(kKeys);
  for (int i = 0; i < kKeys / 2; ++i) f.add(KeyFilter::hash(0, raw(key_of(i))));
  BOOST_TEST(!f.full());
  for (int i = kKeys / 2; i < kKeys; ++i) f.add(KeyFilter::hash(0, raw(key_of(i))));
  for (int i = 0; i < kKeys; ++i) BOOST_REQUIRE(f.may_contain(KeyFilter::hash(0, raw(key_of(i)))));
  int positives = 0;
  for (int i = kKeys; i < 2 * kKeys; ++i)
    positives += f.may_contain(KeyFilter::hash(0, raw(key_of(i))));
  BOOST_TEST_MESSAGE("false positives at capacity: " << positives << " of " << kKeys);
  BOOST_TEST(positives < kKeys * 3 / 100);
  // The same key in another database is another key.
  int other_db = 0;
  for (int i = 0; i < kKeys; ++i) other_db += f.may_contain(KeyFilter::hash(1, raw(key_of(i))));
  BOOST_TEST(other_db < kKeys * 3 / 100);
  // Past its capacity it says it is full (and a rebuild is due).
  for (int i = kKeys; i < 2 * kKeys; ++i) f.add(KeyFilter::hash(0, raw(key_of(i))));
  BOOST_TEST(f.full());
  BOOST_TEST(f.memory_bytes() <= kKeys * 10 / 8 + 64);
}

// The applier adds an apply's keys together (prefetched): the same bits and
// the same count of bits set as adding them one at a time, for batches
// shorter and longer than the prefetch distance, and an empty one.
BOOST_AUTO_TEST_CASE(key_filter_adds_a_batch_as_one_at_a_time) {
  constexpr int kKeys = 20000;
  KeyFilter one(kKeys), batch(kKeys);
  std::vector<uint64_t> hashes;
  for (int i = 0; i < kKeys; ++i) hashes.push_back(KeyFilter::hash(i % 2, raw(key_of(i))));
  for (uint64_t h : hashes) one.add(h);
  batch.add(std::span<const uint64_t>());
  batch.add(std::span(hashes).first(3));
  batch.add(std::span(hashes).subspan(3));
  BOOST_TEST(batch.fill_ratio() == one.fill_ratio());
  BOOST_TEST(batch.fill_ratio() > 0.3);
  for (int i = 0; i < 2 * kKeys; ++i) {
    const uint64_t h = KeyFilter::hash(0, raw(key_of(i)));
    BOOST_REQUIRE(batch.may_contain(h) == one.may_contain(h));
  }
  for (uint64_t h : hashes) BOOST_REQUIRE(batch.may_contain(h));
}

BOOST_FIXTURE_TEST_CASE(key_filter_fill_reads_every_key_of_every_database, EngineFixture) {
  // More keys than one of fill()'s read transactions takes (64 Ki).
  constexpr int kKeys = 150000;
  for (int start = 0; start < kKeys; start += 10000) {
    WriteTxn txn(*engine);
    for (int i = start; i < start + 10000; ++i)
      BOOST_REQUIRE(txn.put(i % 3 == 0 ? 5 : 0, key_of(i), {Type::kString, 0, "v"}).ok());
    BOOST_REQUIRE(txn.commit().ok());
  }
  flush();
  KeyFilter f(kKeys);
  std::atomic<bool> stop{false};
  auto filled = f.fill(env(), stop);
  BOOST_REQUIRE_MESSAGE(filled.ok(), message_of(filled));
  for (int i = 0; i < kKeys; ++i)
    BOOST_REQUIRE(f.may_contain(KeyFilter::hash(i % 3 == 0 ? 5 : 0, raw(key_of(i)))));
  stop = true;
  KeyFilter stopped(kKeys);
  BOOST_TEST(!stopped.fill(env(), stop).ok());
}

// A key put into LMDB behind the engine's back (never applied, so never
// added) is not found: reads trust the filter instead of LMDB. Without a
// filter the same read finds it.
BOOST_FIXTURE_TEST_CASE(reads_trust_the_key_filter, EngineFixture) {
  put(0, "applied", "1");
  flush();
  wait_for_filter(0);
  auto sneak = [&](std::string_view key) {
    MDB_txn* txn = nullptr;
    BOOST_REQUIRE_EQUAL(mdb_txn_begin(env().raw(), nullptr, 0, &txn), 0);
    const ValueView value{Type::kString, 0, "x"};
    std::string k = raw(key), v(encoded_value_size(value), '\0');
    encode_value(value, v.data());
    MDB_val mk{k.size(), k.data()}, mv{v.size(), v.data()};
    BOOST_REQUIRE_EQUAL(mdb_put(txn, env().dbi(0), &mk, &mv, 0), 0);
    BOOST_REQUIRE_EQUAL(mdb_txn_commit(txn), 0);
  };
  sneak("sneaked");
  BOOST_TEST(get(0, "applied") == "1");
  BOOST_TEST(get(0, "sneaked") == "<none>");
  auto o = options();
  o.key_filter = false;
  reopen(o);
  BOOST_TEST(!engine->key_filter());
  BOOST_TEST(get(0, "sneaked") == "x");
}

// Writes far past the first filter's size: it fills, a bigger one is built
// while applies go on, and no written key is ever reported absent.
BOOST_FIXTURE_TEST_CASE(key_filter_rebuilds_as_keys_grow_without_losing_one, EngineFixture) {
  reopen(small_filter(options(), 256));
  wait_for_filter(0);
  constexpr int kRounds = 60, kPerRound = 400;
  for (int r = 0; r < kRounds; ++r) {
    WriteTxn txn(*engine);
    for (int i = r * kPerRound; i < (r + 1) * kPerRound; ++i)
      BOOST_REQUIRE(txn.put(0, key_of(i), {Type::kString, 0, "v"}).ok());
    BOOST_REQUIRE(txn.commit().ok());
    flush();  // an apply, racing the build the last one may have started
    ReadView view(*engine);
    for (int i = 0; i < (r + 1) * kPerRound; i += 7) {
      auto v = view.get(0, key_of(i), kNow);
      BOOST_REQUIRE(v.ok());
      BOOST_REQUIRE_MESSAGE(v->has_value(), key_of(i) << " lost after round " << r);
    }
  }
  BOOST_TEST(engine->stats().filter_builds.load() > 3u);
  const uint64_t keys = kRounds * kPerRound;
  // Wait for the last rebuild, then everything is in one filter of the
  // right size, and absent keys are mostly ruled out.
  for (int i = 0; i < 500 && engine->key_filter()->full(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  auto filter = engine->key_filter();
  BOOST_REQUIRE(filter);
  BOOST_TEST(!filter->full());
  BOOST_TEST(filter->capacity() >= keys);
  ReadView view(*engine);
  for (int i = 0; i < static_cast<int>(keys); ++i) {
    auto v = view.get(0, key_of(i), kNow);
    BOOST_REQUIRE(v.ok() && v->has_value());
  }
  int maybe = 0;
  for (int i = 0; i < 10000; ++i)
    maybe += filter->may_contain(KeyFilter::hash(0, raw("absent:" + std::to_string(i))));
  BOOST_TEST(maybe < 300);
}

// Deleted keys stay in the filter; they read as absent all the same.
BOOST_FIXTURE_TEST_CASE(deleted_and_flushed_keys_read_absent, EngineFixture) {
  for (int i = 0; i < 100; ++i) put(i % 2, key_of(i), "v");
  flush();
  wait_for_filter(0);
  BOOST_TEST(del(0, key_of(0)));
  clear(1);
  flush();
  BOOST_TEST(get(0, key_of(0)) == "<none>");
  BOOST_TEST(get(1, key_of(1)) == "<none>");
  BOOST_TEST(get(0, key_of(2)) == "v");
}

BOOST_FIXTURE_TEST_CASE(no_filter_is_built_past_key_filter_max_data, EngineFixture) {
  auto o = options();
  o.key_filter_max_data = 0;
  reopen(o);
  put(0, "k", "v");
  flush();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  BOOST_TEST(!engine->key_filter());
  BOOST_TEST(engine->stats().filter_builds.load() == 0u);
  BOOST_TEST(get(0, "k") == "v");
}
