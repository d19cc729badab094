// tests/unit/store/apply_test.cc: the bulk apply (store/apply.cc) on
// MemTables large enough to span several of its child transactions: what it
// leaves in LMDB, read back raw, must be exactly the model's keys with their
// encoded values, and the expiry index must hold every live deadline and
// none of the entries the expiry cycle consumed.
#include <boost/test/unit_test.hpp>
#include <map>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "fixture.h"
#include "store/expiry.h"
#include "store/value.h"

using namespace lmkv;
using namespace lmkv::store;
using namespace lmkv::store::testing;

namespace {

// Every raw key -> raw value of LMDB database `db`, read in one snapshot.
std::map<std::string, std::string> raw_contents(Env& env, int db) {
  MDB_txn* txn = nullptr;
  BOOST_REQUIRE_EQUAL(mdb_txn_begin(env.raw(), nullptr, MDB_RDONLY, &txn), 0);
  MDB_cursor* cur = nullptr;
  BOOST_REQUIRE_EQUAL(mdb_cursor_open(txn, env.dbi(db), &cur), 0);
  std::map<std::string, std::string> out;
  MDB_val k, v;
  for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    out.emplace(std::string(static_cast<const char*>(k.mv_data), k.mv_size),
                std::string(static_cast<const char*>(v.mv_data), v.mv_size));
  }
  mdb_cursor_close(cur);
  mdb_txn_abort(txn);
  return out;
}

// What raw_contents must return for a model of one database.
std::map<std::string, std::string> encoded(const Model& m) {
  std::map<std::string, std::string> out;
  std::string k, v;
  for (const auto& [key, e] : m) {
    encode_key(key, &k);
    encode_value(ValueView{Type::kString, e.deadline, e.data}, &v);
    out.emplace(k, v);
  }
  return out;
}

using IndexEntry = std::tuple<int64_t, int, std::string>;  // deadline, db, key

std::set<IndexEntry> index_entries(Engine& e) {
  std::vector<ExpiryCandidate> out;
  auto s = read_due_entries(e.env(), std::numeric_limits<int64_t>::max(), 10'000'000, "", &out);
  BOOST_REQUIRE_MESSAGE(s.ok(), message_of(s));
  std::set<IndexEntry> r;
  for (const auto& c : out) r.emplace(c.deadline_ms, c.physical_db, c.key);
  return r;
}

}  // namespace

// Random puts (some with deadlines, some values on overflow pages) and
// deletes on three databases, one of them cleared first, thousands of keys
// per database in one MemTable, after a preload and an expiry cycle whose
// consumed index entries leave in the same apply.
BOOST_FIXTURE_TEST_CASE(a_large_apply_stores_exactly_the_model, EngineFixture) {
  std::mt19937 rng(4242);
  const std::vector<int> dbs = {0, 3, 5};
  std::map<int, Model> model;
  std::set<IndexEntry> ever;  // every deadline ever stored: the index holds no other
  auto random_value = [&] {
    const int pick = std::uniform_int_distribution<int>(0, 99)(rng);
    const size_t size = pick < 2 ? 3000 + rng() % 3000 : rng() % 300;  // 2%: overflow pages
    return std::string(size, static_cast<char>('a' + rng() % 26));
  };
  auto key_of = [&](int space) { return "key:" + std::to_string(rng() % space); };

  // A put of a random value, in the model and (with a deadline) the index.
  auto put = [&](WriteTxn& txn, int db, const std::string& key, int64_t deadline) {
    Entry e{random_value(), deadline};
    BOOST_REQUIRE(txn.put(db, key, ValueView{Type::kString, deadline, e.data}).ok());
    if (deadline) ever.emplace(deadline, db, key);
    model[db][key] = e;
  };

  // Preload: keys in every database, some due before kNow (for the cycle).
  for (int db : dbs) {
    for (int g = 0; g < 40; ++g) {
      WriteTxn txn(*engine);
      for (int i = 0; i < 50; ++i) {
        const std::string key = key_of(6000);
        const int pick = std::uniform_int_distribution<int>(0, 99)(rng);
        put(txn, db, key, pick < 3 ? kNow - 1 - pick : pick < 20 ? kNow + 1 + pick : 0);
      }
      BOOST_REQUIRE(txn.commit().ok());
    }
  }
  flush();

  // The expiry cycle deletes the keys due by kNow (DELs into the active
  // MemTable; the consumed index entries leave with its apply).
  ExpiryCycle cycle;
  std::vector<ExpiredKey> expired;
  for (int i = 0; i < 1000; ++i) {
    auto n = cycle.run(*engine, kNow, nullptr, &expired);
    BOOST_REQUIRE_MESSAGE(n.ok(), message_of(n));
    if (*n == 0) break;
  }
  BOOST_REQUIRE(!expired.empty());
  for (const auto& k : expired) {
    BOOST_REQUIRE(model[k.db].count(k.key) == 1u);
    BOOST_REQUIRE(model[k.db][k.key].expired());
    model[k.db].erase(k.key);
  }
  for (const auto& [db, m] : model)
    for (const auto& [key, e] : m) BOOST_REQUIRE(!e.expired());

  // One MemTable: db 5 cleared, then thousands of changes per database.
  {
    WriteTxn txn(*engine);
    BOOST_REQUIRE(txn.clear(5).ok());
    BOOST_REQUIRE(txn.commit().ok());
    model[5].clear();
  }
  const uint64_t applies_before = engine->stats().applies.load();
  for (int g = 0; g < 300; ++g) {
    WriteTxn txn(*engine);
    for (int i = 0; i < 50; ++i) {
      const int db = dbs[rng() % dbs.size()];
      const std::string key = key_of(9000);
      const int pick = std::uniform_int_distribution<int>(0, 99)(rng);
      if (pick < 30) {
        auto deleted = txn.del(db, key, kNow);
        BOOST_REQUIRE(deleted.ok());
        BOOST_REQUIRE(*deleted == (model[db].count(key) == 1));
        model[db].erase(key);
      } else {
        put(txn, db, key, pick < 50 ? kNow + 1 + static_cast<int64_t>(rng() % 100000) : 0);
      }
    }
    BOOST_REQUIRE(txn.commit().ok());
  }
  flush();
  // One apply, with ~5000 changes per database: several child transactions each.
  BOOST_REQUIRE(engine->stats().applies.load() == applies_before + 1);

  for (int db : dbs) {
    BOOST_TEST_CONTEXT("db " << db) {
      BOOST_REQUIRE(model[db].size() > 2048u);
      const auto raw = raw_contents(env(), db);
      const auto want = encoded(model[db]);
      BOOST_TEST(raw.size() == want.size());
      BOOST_TEST((raw == want));
    }
  }
  // The index: every live deadline, nothing never set, nothing consumed
  // (all due entries were consumed: none is left at or before kNow).
  const auto index = index_entries(*engine);
  for (const auto& [db, m] : model)
    for (const auto& [key, e] : m)
      if (e.deadline) BOOST_TEST(index.count({e.deadline, db, key}) == 1u);
  for (const auto& entry : index) {
    BOOST_TEST(ever.count(entry) == 1u);
    BOOST_TEST(std::get<0>(entry) > kNow);
  }
}

// The apply encodes values straight into LMDB pages (MDB_RESERVE) with the
// buffer overload of encode_value: exactly encoded_value_size bytes, the
// layout value.h gives, and they decode back.
BOOST_AUTO_TEST_CASE(encoding_into_a_buffer_fills_exactly_its_size) {
  const std::string big(5000, 'b');
  for (int64_t deadline : {int64_t{0}, int64_t{1}, kNow, int64_t{0x0102030405060708}}) {
    for (std::string_view data :
         {std::string_view(), std::string_view("x"), std::string_view(big)}) {
      const ValueView v{Type::kString, deadline, data};
      const size_t size = encoded_value_size(v);
      BOOST_TEST(size == 1 + (deadline != 0 ? 8u : 0u) + data.size());
      std::string got(size + 1, '?');  // one guard byte past the end
      encode_value(v, got.data());
      BOOST_TEST(got.back() == '?');
      got.pop_back();
      if (deadline == 0x0102030405060708)
        BOOST_TEST(got.substr(1, 8) == "\x08\x07\x06\x05\x04\x03\x02\x01");
      auto back = decode_value(got);
      BOOST_REQUIRE(back.has_value());
      BOOST_TEST(back->deadline_ms == deadline);
      BOOST_TEST(back->data == data);
    }
  }
}
