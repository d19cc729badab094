// The write buffer: point reads, clear markers and every iterator movement
// checked against a plain reference model under random operations; one
// writer against concurrent readers (no torn values, no half-visible
// group); and a printed micro-benchmark.
#include "store/memtable.h"

#include <algorithm>
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

using lmkv::store::MemTable;
using lmkv::store::Type;
using lmkv::store::ValueView;
using Kind = MemTable::Kind;
using namespace std::string_literals;

namespace {

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr int kSlowdown = 8;
#else
constexpr int kSlowdown = 1;
#endif

// A Found as text, so a mismatch prints both sides.
std::string describe(const MemTable::Found& f) {
  switch (f.kind) {
    case Kind::kAbsent:
      return "absent";
    case Kind::kCleared:
      return "cleared@" + std::to_string(f.seq);
    case Kind::kTombstone:
      return "tombstone@" + std::to_string(f.seq);
    case Kind::kValue:
      return "value@" + std::to_string(f.seq) + " t" +
             std::to_string(static_cast<int>(f.value.type)) + " d" +
             std::to_string(f.value.deadline_ms) + " '" + std::string(f.value.data) + "'";
  }
  return "?";
}

std::string printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Reference model: every operation kept, answers computed by brute force.
// ---------------------------------------------------------------------------

struct Model {
  struct Op {
    uint64_t seq;
    uint64_t ord;  // log order within equal seqs
    bool del;
    std::string data;
    int64_t deadline;
  };
  struct Clear {
    uint64_t seq;
    uint64_t ord;
  };
  std::map<std::pair<int, std::string>, std::vector<Op>> keys;
  std::map<int, std::vector<Clear>> clears;
  uint64_t ord = 0;

  void put(uint64_t seq, int db, const std::string& key, const std::string& data,
           int64_t deadline) {
    keys[{db, key}].push_back({seq, ++ord, false, data, deadline});
  }
  void del(uint64_t seq, int db, const std::string& key) {
    keys[{db, key}].push_back({seq, ++ord, true, "", 0});
  }
  void clear(uint64_t seq, int db) { clears[db].push_back({seq, ++ord}); }

  std::optional<Clear> clear_at(int db, uint64_t visible) const {
    std::optional<Clear> best;
    auto it = clears.find(db);
    if (it == clears.end()) return best;
    for (const Clear& c : it->second) {
      if (c.seq <= visible && (!best || std::pair(c.seq, c.ord) > std::pair(best->seq, best->ord)))
        best = c;
    }
    return best;
  }

  const Op* newest(int db, const std::string& key, uint64_t visible) const {
    auto it = keys.find({db, key});
    if (it == keys.end()) return nullptr;
    const Op* best = nullptr;
    for (const Op& op : it->second) {
      if (op.seq <= visible &&
          (!best || std::pair(op.seq, op.ord) > std::pair(best->seq, best->ord)))
        best = &op;
    }
    return best;
  }

  static bool hides(const std::optional<Clear>& c, const Op& op) {
    return c && std::pair(op.seq, op.ord) < std::pair(c->seq, c->ord);
  }

  static std::string describe_op(const Op& op) {
    if (op.del) return "tombstone@" + std::to_string(op.seq);
    return "value@" + std::to_string(op.seq) + " t0 d" + std::to_string(op.deadline) + " '" +
           op.data + "'";
  }

  std::string get(int db, const std::string& key, uint64_t visible) const {
    const auto c = clear_at(db, visible);
    const Op* op = newest(db, key, visible);
    if (op && !hides(c, *op)) return describe_op(*op);
    if (c) return "cleared@" + std::to_string(c->seq);
    return "absent";
  }

  // What the iterator of db at `visible` should yield, in key order.
  std::vector<std::pair<std::string, std::string>> listing(int db, uint64_t visible) const {
    std::vector<std::pair<std::string, std::string>> out;
    const auto c = clear_at(db, visible);
    for (const auto& [dk, ops] : keys) {
      if (dk.first != db) continue;
      const Op* op = newest(db, dk.second, visible);
      if (op && !hides(c, *op)) out.emplace_back(dk.second, describe_op(*op));
    }
    return out;
  }
};

// Applies the same operations to a memtable and the model. Every other put
// is borrowed, from bytes only the memtable then holds (as a crash replay's
// view the mapped log), so every check covers both kinds of entry.
struct Both {
  MemTable mt;
  Model model;
  bool borrow = false;

  void put(uint64_t seq, int db, const std::string& key, const std::string& data,
           int64_t deadline = 0) {
    if ((borrow = !borrow)) {
      auto bytes = std::make_shared<const std::string>(key + data);
      const std::string_view b = *bytes;
      mt.hold(std::move(bytes));
      mt.put_borrowed(seq, db, b.substr(0, key.size()),
                      ValueView{Type::kString, deadline, b.substr(key.size())});
    } else {
      mt.put(seq, db, key, ValueView{Type::kString, deadline, data});
    }
    model.put(seq, db, key, data, deadline);
  }
  void del(uint64_t seq, int db, const std::string& key) {
    mt.del(seq, db, key);
    model.del(seq, db, key);
  }
  void clear(uint64_t seq, int db) {
    mt.clear(seq, db);
    model.clear(seq, db);
  }
};

using Listing = std::vector<std::pair<std::string, std::string>>;

// Checks that `it` stands at listing[idx], or is invalid when idx is out of
// range. Returns false on mismatch (after reporting it).
bool at(const MemTable::Iterator& it, const Listing& l, long idx, const std::string& ctx) {
  if (idx < 0 || idx >= static_cast<long>(l.size())) {
    BOOST_TEST(!it.valid(),
               ctx << ": expected end, at '" << printable(it.valid() ? it.key() : "") << "'");
    return !it.valid();
  }
  if (!it.valid()) {
    BOOST_TEST(it.valid(), ctx << ": expected '" << printable(l[idx].first) << "', got end");
    return false;
  }
  const bool ok = it.key() == l[idx].first && describe(it.entry()) == l[idx].second;
  BOOST_TEST(ok, ctx << ": expected '" << printable(l[idx].first) << "' " << l[idx].second
                     << ", got '" << printable(it.key()) << "' " << describe(it.entry()));
  return ok;
}

// Every seek variant from `probe`, then a few random steps each way.
void check_seeks(const MemTable& mt, int db, uint64_t visible, const Listing& l,
                 const std::string& probe, std::mt19937_64& rng) {
  const auto lower =
      std::lower_bound(l.begin(), l.end(), probe,
                       [](const auto& e, const std::string& k) { return e.first < k; }) -
      l.begin();
  const auto upper =
      std::upper_bound(l.begin(), l.end(), probe,
                       [](const std::string& k, const auto& e) { return k < e.first; }) -
      l.begin();
  const std::string ctx = "db " + std::to_string(db) + " visible " + std::to_string(visible) +
                          " probe '" + printable(probe) + "'";
  for (int variant = 0; variant < 4; ++variant) {
    MemTable::Iterator it(mt, db, visible);
    long idx = 0;
    switch (variant) {
      case 0:
        it.seek(probe), idx = lower;
        break;
      case 1:
        it.seek_after(probe), idx = upper;
        break;
      case 2:
        it.seek_for_prev(probe), idx = upper - 1;
        break;
      case 3:
        it.seek_before(probe), idx = lower - 1;
        break;
    }
    const std::string vctx = ctx + " variant " + std::to_string(variant);
    if (!at(it, l, idx, vctx)) return;
    for (int step = 0; step < 4 && it.valid(); ++step) {
      if (rng() & 1) {
        it.next();
        ++idx;
      } else {
        it.prev();
        --idx;
      }
      if (!at(it, l, idx, vctx + " step " + std::to_string(step))) return;
    }
  }
}

void check_iteration(const Both& b, int db, uint64_t visible,
                     const std::vector<std::string>& probes, std::mt19937_64& rng) {
  const Listing l = b.model.listing(db, visible);
  const std::string ctx = "db " + std::to_string(db) + " visible " + std::to_string(visible);
  MemTable::Iterator it(b.mt, db, visible);
  it.seek_to_first();
  for (long i = 0; i <= static_cast<long>(l.size()); ++i, it.next()) {
    if (!at(it, l, i, ctx + " forward " + std::to_string(i)) || !it.valid()) break;
  }
  it.seek_to_last();
  for (long i = static_cast<long>(l.size()) - 1; i >= -1; --i, it.prev()) {
    if (!at(it, l, i, ctx + " backward " + std::to_string(i)) || !it.valid()) break;
  }
  for (const auto& p : probes) check_seeks(b.mt, db, visible, l, p, rng);
}

// Keys over a small alphabet with NUL and 0xff, so prefixes, embedded NULs
// and the empty key all occur.
std::vector<std::string> key_pool() {
  std::vector<std::string> keys = {""s,     "a"s, "a\0"s,  "ab"s,    "\0"s,
                                   "\0\0"s, "b"s, "\xff"s, "a\xff"s, "ba"s};
  const char alphabet[] = {'\0', 'a', 'b', '\xff'};
  std::vector<std::string> level = {""};
  for (int len = 1; len <= 3; ++len) {
    std::vector<std::string> longer;
    for (const auto& s : level) {
      for (char c : alphabet) longer.push_back(s + c);
    }
    keys.insert(keys.end(), longer.begin(), longer.end());
    level = std::move(longer);
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

std::string random_bytes(std::mt19937_64& rng) {
  std::string s(rng() % 24, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(memtable)

// ---------------------------------------------------------------------------
// Point reads and clear markers
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(memtable_empty) {
  MemTable mt;
  BOOST_TEST(describe(mt.get(0, "k", 100)) == "absent");
  BOOST_TEST(mt.cleared_at(0, 100) == 0u);
  BOOST_TEST(mt.entries() == 0u);
  BOOST_TEST(mt.max_seq() == 0u);
  BOOST_TEST(mt.bytes() == 0u);
  for (int db : {0, 255}) {
    MemTable::Iterator it(mt, db, 100);
    it.seek_to_first();
    BOOST_TEST(!it.valid());
    it.seek_to_last();
    BOOST_TEST(!it.valid());
    it.seek("");
    BOOST_TEST(!it.valid());
    it.seek_for_prev("\xff\xff");
    BOOST_TEST(!it.valid());
  }
}

BOOST_AUTO_TEST_CASE(memtable_versions_and_visibility) {
  MemTable mt;
  mt.put(1, 0, "k", ValueView{Type::kString, 0, "one"});
  mt.put(3, 0, "k", ValueView{Type::kString, 1234, "three"});
  mt.del(5, 0, "k");
  mt.put(7, 0, "k", ValueView{Type::kString, 0, ""});
  BOOST_TEST(describe(mt.get(0, "k", 0)) == "absent");
  BOOST_TEST(describe(mt.get(0, "k", 1)) == "value@1 t0 d0 'one'");
  BOOST_TEST(describe(mt.get(0, "k", 2)) == "value@1 t0 d0 'one'");
  BOOST_TEST(describe(mt.get(0, "k", 4)) == "value@3 t0 d1234 'three'");
  BOOST_TEST(describe(mt.get(0, "k", 6)) == "tombstone@5");
  BOOST_TEST(describe(mt.get(0, "k", UINT64_MAX)) == "value@7 t0 d0 ''");
  BOOST_TEST(describe(mt.get(1, "k", UINT64_MAX)) == "absent");
  BOOST_TEST(describe(mt.get(0, "k\0"s, UINT64_MAX)) == "absent");
  BOOST_TEST(describe(mt.get(0, "", UINT64_MAX)) == "absent");
  BOOST_TEST(mt.entries() == 4u);
  BOOST_TEST(mt.max_seq() == 7u);
  BOOST_TEST(mt.bytes() > 0u);

  // The same key twice in one group: the later write wins.
  mt.put(9, 0, "z", ValueView{Type::kString, 0, "first"});
  mt.put(9, 0, "z", ValueView{Type::kString, 0, "second"});
  BOOST_TEST(describe(mt.get(0, "z", 9)) == "value@9 t0 d0 'second'");
  mt.put(10, 0, "y", ValueView{Type::kString, 0, "v"});
  mt.del(10, 0, "y");
  BOOST_TEST(describe(mt.get(0, "y", 10)) == "tombstone@10");
}

// A borrowed entry views its bytes where they are, and its owner lives as
// long as the memtable: the bytes change under it, and outlive the caller's
// reference (AddressSanitizer would see a read of freed memory).
BOOST_AUTO_TEST_CASE(memtable_borrowed_entries_view_their_owners_bytes) {
  MemTable mt;
  auto owner = std::make_shared<std::string>("keyvalue");
  std::string* bytes = owner.get();
  mt.hold(owner);
  mt.hold(owner);  // once is enough
  owner.reset();
  const std::string_view b = *bytes;
  mt.put_borrowed(1, 0, b.substr(0, 3), ValueView{Type::kString, 7, b.substr(3)});
  mt.put(2, 0, "own", ValueView{Type::kString, 0, "copied"});
  BOOST_TEST(describe(mt.get(0, "key", 1)) == "value@1 t0 d7 'value'");
  (*bytes)[3] = 'V';
  BOOST_TEST(describe(mt.get(0, "key", 1)) == "value@1 t0 d7 'Value'");
  // A borrowed node is smaller than a copy of its bytes would make it.
  const size_t before = mt.bytes();
  const std::string big(1000, 'x');
  auto big_owner = std::make_shared<const std::string>(big);
  mt.hold(big_owner);
  mt.put_borrowed(3, 0, "b", ValueView{Type::kString, 0, *big_owner});
  BOOST_TEST(mt.bytes() - before < 200u);
  MemTable::Iterator it(mt, 0, 3);
  it.seek_to_first();
  BOOST_REQUIRE(it.valid());
  BOOST_TEST(it.key() == "b");
  BOOST_TEST(it.entry().value.data == big);
  it.next();
  BOOST_REQUIRE(it.valid());
  BOOST_TEST(it.key() == "key");
  BOOST_TEST(it.entry().value.data == "Value");
  it.next();
  BOOST_TEST(it.key() == "own");
}

// Seqs need not grow with insertion: a point read takes the highest visible
// seq (the newest insertion on a tie), and so does iteration, linked later.
BOOST_AUTO_TEST_CASE(memtable_versions_out_of_seq_order) {
  MemTable mt;
  mt.put(5, 0, "k", ValueView{Type::kString, 0, "five"});
  mt.put(3, 0, "k", ValueView{Type::kString, 0, "three"});
  mt.put(8, 0, "k", ValueView{Type::kString, 0, "eight"});
  mt.del(3, 0, "k");
  mt.put(1, 0, "j", ValueView{Type::kString, 0, "one"});
  BOOST_TEST(describe(mt.get(0, "k", 2)) == "absent");
  BOOST_TEST(describe(mt.get(0, "k", 3)) == "tombstone@3");
  BOOST_TEST(describe(mt.get(0, "k", 4)) == "tombstone@3");
  BOOST_TEST(describe(mt.get(0, "k", 5)) == "value@5 t0 d0 'five'");
  BOOST_TEST(describe(mt.get(0, "k", 7)) == "value@5 t0 d0 'five'");
  BOOST_TEST(describe(mt.get(0, "k", 9)) == "value@8 t0 d0 'eight'");
  for (uint64_t v : {3, 4, 5, 9}) {
    MemTable::Iterator it(mt, 0, v);
    it.seek_to_first();
    BOOST_TEST_REQUIRE(it.valid());
    BOOST_TEST(it.key() == "j");
    it.next();
    BOOST_TEST_REQUIRE(it.valid());
    BOOST_TEST(describe(it.entry()) == describe(mt.get(0, "k", v)), "visible " << v);
    it.next();
    BOOST_TEST(!it.valid());
  }
}

// The hash index starts small and doubles; every key stays found, and
// entries added after an iterator linked the list are linked by the next.
BOOST_AUTO_TEST_CASE(memtable_index_grows_and_links_late_entries) {
  MemTable mt(1 << 10);
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    const std::string k = "key" + std::to_string(i * 7919 % n);
    mt.put(i + 1, i % 3, k, ValueView{Type::kString, 0, k});
    if (i % 5000 == 4999) {
      MemTable::Iterator it(mt, 0, UINT64_MAX);
      int count = 0;
      for (it.seek_to_first(); it.valid(); it.next()) ++count;
      BOOST_TEST(count == (i + 1 + 2) / 3);
    }
  }
  for (int i = 0; i < n; ++i) {
    const std::string k = "key" + std::to_string(i * 7919 % n);
    BOOST_TEST_REQUIRE(describe(mt.get(i % 3, k, n)) ==
                       "value@" + std::to_string(i + 1) + " t0 d0 '" + k + "'");
    BOOST_TEST_REQUIRE(describe(mt.get((i + 1) % 3, k, n)) == "absent");
  }
  MemTable::Iterator it(mt, 1, UINT64_MAX);
  std::string last;
  int count = 0;
  for (it.seek_to_first(); it.valid(); it.next(), ++count) {
    const bool ascending = last < it.key();
    BOOST_TEST_REQUIRE(ascending, "'" << last << "' then '" << it.key() << "'");
    last = std::string(it.key());
  }
  BOOST_TEST(count == (n + 1) / 3);                            // i % 3 == 1
  BOOST_TEST(mt.memory_bytes() > 1024u * sizeof(void*) * 32);  // the doubled tables
}

// index_room() is how many puts surely fit before the index doubles: a new
// key takes one, a newer version of a key none, and the doubling gives more.
BOOST_AUTO_TEST_CASE(memtable_index_room_counts_new_keys_until_it_doubles) {
  MemTable mt(1 << 10);  // the smallest index: 1024 slots, 512 keys
  const size_t room = mt.index_room();
  BOOST_TEST(room == 512u);
  uint64_t seq = 0;
  for (size_t i = 0; i < room; ++i) {
    if (i > 0) mt.put(++seq, 0, "k" + std::to_string(i - 1), ValueView{Type::kString, 0, "newer"});
    mt.put(++seq, 0, "k" + std::to_string(i), ValueView{Type::kString, 0, "v"});
    BOOST_TEST_REQUIRE(mt.index_room() == room - i - 1);
  }
  const size_t memory = mt.memory_bytes();
  mt.put(++seq, 0, "one more", ValueView{Type::kString, 0, "v"});
  BOOST_TEST(mt.index_room() == 1024u - room - 1);
  BOOST_TEST(mt.memory_bytes() - memory >= 2048 * sizeof(void*));  // the doubled index
  BOOST_TEST(describe(mt.get(0, "k0", seq)) == "value@2 t0 d0 'newer'");
}

// weight() counts each entry at least kMinEntryWeight bytes, so a buffer of
// small entries is bounded by their count; large ones weigh their bytes.
BOOST_AUTO_TEST_CASE(memtable_weight_counts_small_entries_at_the_minimum) {
  MemTable small;
  BOOST_TEST(small.weight() == small.bytes());
  uint64_t seq = 0;
  for (int i = 0; i < 1000; ++i)
    small.put(++seq, 0, "k" + std::to_string(i), ValueView{Type::kString, 0, "1"});
  small.del(++seq, 0, "k0");
  BOOST_TEST(small.bytes() < 1001 * MemTable::kMinEntryWeight);
  BOOST_TEST(small.weight() == 1001 * MemTable::kMinEntryWeight);

  MemTable large;
  const std::string value(MemTable::kMinEntryWeight, 'v');
  for (int i = 0; i < 1000; ++i)
    large.put(++seq, 0, "k" + std::to_string(i), ValueView{Type::kString, 0, value});
  BOOST_TEST(large.bytes() > 1000 * MemTable::kMinEntryWeight);
  BOOST_TEST(large.weight() == large.bytes());
}

BOOST_AUTO_TEST_CASE(memtable_clear_markers) {
  MemTable mt;
  mt.put(1, 0, "k", ValueView{Type::kString, 0, "v1"});
  mt.put(1, 1, "k", ValueView{Type::kString, 0, "other db"});
  mt.clear(2, 0);
  BOOST_TEST(describe(mt.get(0, "k", 1)) == "value@1 t0 d0 'v1'");
  BOOST_TEST(describe(mt.get(0, "k", 2)) == "cleared@2");
  BOOST_TEST(describe(mt.get(0, "never", 2)) == "cleared@2");
  BOOST_TEST(describe(mt.get(0, "never", 1)) == "absent");
  BOOST_TEST(describe(mt.get(1, "k", 2)) == "value@1 t0 d0 'other db'");
  BOOST_TEST(mt.cleared_at(0, 1) == 0u);
  BOOST_TEST(mt.cleared_at(0, 2) == 2u);
  BOOST_TEST(mt.cleared_at(1, 2) == 0u);
  mt.put(3, 0, "k", ValueView{Type::kString, 0, "v3"});
  BOOST_TEST(describe(mt.get(0, "k", 3)) == "value@3 t0 d0 'v3'");
  BOOST_TEST(describe(mt.get(0, "k", 2)) == "cleared@2");

  // One group: SET x; FLUSHDB; SET y. Same seq, log order decides.
  mt.put(5, 0, "x", ValueView{Type::kString, 0, "x"});
  mt.clear(5, 0);
  mt.put(5, 0, "y", ValueView{Type::kString, 0, "y"});
  BOOST_TEST(describe(mt.get(0, "x", 5)) == "cleared@5");
  BOOST_TEST(describe(mt.get(0, "y", 5)) == "value@5 t0 d0 'y'");
  BOOST_TEST(describe(mt.get(0, "k", 5)) == "cleared@5");
  BOOST_TEST(describe(mt.get(0, "k", 4)) == "value@3 t0 d0 'v3'");
  MemTable::Iterator it(mt, 0, 5);
  it.seek_to_first();
  BOOST_TEST_REQUIRE(it.valid());
  BOOST_TEST(it.key() == "y");
  it.next();
  BOOST_TEST(!it.valid());
  it.seek_to_last();
  BOOST_TEST_REQUIRE(it.valid());
  BOOST_TEST(it.key() == "y");
  it.prev();
  BOOST_TEST(!it.valid());

  // Markers inserted out of seq order still answer by seq.
  mt.clear(20, 7);
  mt.clear(12, 7);
  BOOST_TEST(mt.cleared_at(7, 11) == 0u);
  BOOST_TEST(mt.cleared_at(7, 15) == 12u);
  BOOST_TEST(mt.cleared_at(7, 25) == 20u);

  mt.clear_all(30);
  for (int db : {0, 1, 7, 255}) BOOST_TEST(mt.cleared_at(db, 30) == 30u);
  BOOST_TEST(describe(mt.get(1, "k", 30)) == "cleared@30");
  BOOST_TEST(describe(mt.get(1, "k", 29)) == "value@1 t0 d0 'other db'");
  BOOST_TEST(mt.max_seq() == 30u);
}

BOOST_AUTO_TEST_CASE(memtable_large_values) {
  MemTable mt;
  std::string big(3 << 20, 'x');
  for (size_t i = 0; i < big.size(); i += 4099) big[i] = static_cast<char>(i);
  mt.put(1, 0, "small", ValueView{Type::kString, 0, "s"});
  mt.put(2, 0, "big", ValueView{Type::kString, 0, big});
  mt.put(3, 0, "small2", ValueView{Type::kString, 0, "s2"});
  BOOST_TEST(mt.get(0, "big", 3).value.data == big);
  BOOST_TEST(mt.get(0, "small", 3).value.data == "s");
  BOOST_TEST(mt.get(0, "small2", 3).value.data == "s2");
  BOOST_TEST(mt.bytes() >= big.size());
  BOOST_TEST(mt.memory_bytes() >= mt.bytes());
}

// Keys that share long prefixes (the sort compares 23 bytes without reading
// the nodes), keys that differ only past them, zero bytes that padding
// would tie, and rewrites of one key: iteration gives every key's newest
// entry in byte order, whether the buffer is linked in one pass (a frozen
// buffer's first walk) or in several (an active one iterated as it grows).
BOOST_AUTO_TEST_CASE(memtable_order_past_long_shared_prefixes) {
  std::mt19937 rng(23);
  std::vector<std::string> keys;
  for (const std::string prefix : {"", "key:0000000", "a-prefix-of-exactly-23-",
                                   "a-prefix-of-exactly-23-bytes and more"}) {
    for (int i = 0; i < 40; ++i) keys.push_back(prefix + std::to_string(rng() % 1000));
    keys.push_back(prefix);
    keys.push_back(prefix + std::string(1, '\0'));
    keys.push_back(prefix + std::string(2, '\0'));
    keys.push_back(prefix + "x");  // written twice: the newer value wins
    keys.push_back(prefix + "x");
  }
  for (bool in_steps : {false, true}) {
    MemTable mt;
    std::map<std::string, std::string> model;
    std::vector<std::string> order = keys;
    std::shuffle(order.begin(), order.end(), rng);
    uint64_t seq = 0;
    for (size_t i = 0; i < order.size(); ++i) {
      const std::string value = "v" + std::to_string(++seq);
      mt.put(seq, 0, order[i], ValueView{Type::kString, 0, value});
      model[order[i]] = value;
      if (in_steps && i % 17 == 0) {  // links what is there so far
        MemTable::Iterator it(mt, 0, seq);
        it.seek_to_first();
      }
    }
    MemTable::Iterator it(mt, 0, seq);
    it.seek_to_first();
    for (const auto& [key, value] : model) {
      BOOST_REQUIRE_MESSAGE(it.valid(), "missing " << printable(key));
      BOOST_TEST(printable(it.key()) == printable(key));
      BOOST_TEST(it.entry().value.data == value);
      it.next();
    }
    BOOST_TEST(!it.valid());
  }
}

// ---------------------------------------------------------------------------
// Random operations against the model
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(memtable_random_against_model) {
  std::mt19937_64 rng(20240611);
  const std::vector<std::string> pool = key_pool();
  for (int round = 0; round < 3; ++round) {
    Both b;
    uint64_t seq = 0;
    const int ops = 4000;
    int done = 0;
    while (done < ops) {
      seq += 1 + rng() % 3;
      const int group = 1 + static_cast<int>(rng() % 4);
      for (int g = 0; g < group; ++g, ++done) {
        const int db = (rng() % 16 == 0) ? 255 : static_cast<int>(rng() % 3);
        // Few distinct keys in round 0 (many versions per key), all in 1..2.
        const std::string& key = pool[rng() % (round == 0 ? 12 : pool.size())];
        const unsigned r = rng() % 100;
        if (r < 65) {
          b.put(seq, db, key, random_bytes(rng),
                (rng() & 1) ? static_cast<int64_t>(rng() % 1000) : 0);
        } else if (r < 97) {
          b.del(seq, db, key);
        } else {
          b.clear(seq, db);
        }
      }
      if (done % 500 < 4 || done >= ops) {
        // Point reads of every key at several visibility levels.
        std::vector<uint64_t> levels = {0, seq, seq + 10, rng() % (seq + 1), rng() % (seq + 1)};
        for (uint64_t v : levels) {
          for (int db : {0, 1, 2, 255}) {
            for (const auto& k : pool) {
              const std::string want = b.model.get(db, k, v);
              const std::string got = describe(b.mt.get(db, k, v));
              BOOST_TEST(got == want, "db " << db << " key '" << printable(k) << "' visible " << v);
              if (got != want) return;
            }
            const auto c = b.model.clear_at(db, v);
            BOOST_TEST(b.mt.cleared_at(db, v) == (c ? c->seq : 0));
          }
        }
        std::vector<std::string> probes;
        for (int i = 0; i < 12; ++i) probes.push_back(pool[rng() % pool.size()]);
        probes.push_back("");
        probes.push_back("\xff\xff\xff\xff");
        for (uint64_t v : {seq, rng() % (seq + 1)}) {
          for (int db : {0, 1, 255, 3}) check_iteration(b, db, v, probes, rng);
        }
      }
    }
    BOOST_TEST(b.mt.max_seq() == seq);
  }
}

// ---------------------------------------------------------------------------
// One writer, concurrent readers
// ---------------------------------------------------------------------------

namespace {

// A value names its key and seq and carries a filler derived from the seq,
// so a reader can tell a torn or misattributed value.
std::string stress_value(std::string_view key, uint64_t seq) {
  std::string v = std::to_string(seq) + ":" + std::string(key) + ":";
  v.append(seq % 61, static_cast<char>('a' + seq % 26));
  return v;
}

struct Failures {
  std::atomic<int> count{0};
  std::mutex mu;
  std::string first;
  void add(const std::string& what) {
    if (count.fetch_add(1) == 0) {
      std::lock_guard lock(mu);
      first = what;
    }
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(memtable_concurrent_readers) {
  // Sized small so the hash index doubles four times under the readers.
  MemTable mt(64 << 10);
  std::atomic<uint64_t> published{0};
  std::atomic<bool> done{false};
  Failures fail;
  const int target_entries = 200000 / kSlowdown;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  const char* group_keys[] = {"g0", "g1", "g2", "g3", "g4", "g5", "g6", "g7", "g8", "g9"};
  const char* clear_keys[] = {"c0", "c1", "c2", "c3", "c4"};

  // Db 1: single SETs/DELs of k<n>, and MSETs of g0..g9 under one seq. Db 2:
  // each round is FLUSHDB then c0..c4 under one seq, so exactly five keys of
  // one round are ever visible.
  std::thread writer([&] {
    std::mt19937_64 rng(7);
    uint64_t seq = 0;
    while (mt.entries() < static_cast<size_t>(target_entries) &&
           std::chrono::steady_clock::now() < deadline) {
      for (int i = 0; i < 64; ++i) {
        ++seq;
        const unsigned r = rng() % 10;
        if (r < 7) {
          const std::string key = "k" + std::to_string(rng() % 5000);
          if (rng() % 10 == 0) {
            mt.del(seq, 1, key);
          } else {
            const std::string v = stress_value(key, seq);
            mt.put(seq, 1, key, ValueView{Type::kString, static_cast<int64_t>(seq), v});
          }
        } else if (r < 9) {
          for (const char* k : group_keys) {
            const std::string v = stress_value(k, seq);
            mt.put(seq, 1, k, ValueView{Type::kString, static_cast<int64_t>(seq), v});
          }
        } else {
          mt.clear(seq, 2);
          for (const char* k : clear_keys) {
            const std::string v = stress_value(k, seq);
            mt.put(seq, 2, k, ValueView{Type::kString, static_cast<int64_t>(seq), v});
          }
        }
        published.store(seq, std::memory_order_release);
      }
    }
    done.store(true);
  });

  auto check_value = [&](std::string_view key, const MemTable::Found& f, uint64_t visible) {
    if (f.seq > visible) {
      fail.add("entry newer than visible for " + std::string(key));
    } else if (f.kind == Kind::kValue) {
      if (f.value.data != stress_value(key, f.seq) ||
          f.value.deadline_ms != static_cast<int64_t>(f.seq)) {
        fail.add("torn value for " + std::string(key) + ": " + std::string(f.value.data));
      }
    } else if (f.kind != Kind::kTombstone) {
      fail.add("bad kind for " + std::string(key) + ": " + describe(f));
    }
  };

  std::atomic<long> reads{0};
  auto reader = [&](int id) {
    std::mt19937_64 rng(100 + id);
    long n = 0;
    while (!done.load() || n < 100) {
      ++n;
      const uint64_t visible = published.load(std::memory_order_acquire);
      if (mt.max_seq() < visible) fail.add("max_seq behind published seq");
      // MSET atomicity by point reads.
      {
        uint64_t group_seq = 0;
        bool any = false, absent = false;
        for (const char* k : group_keys) {
          const auto f = mt.get(1, k, visible);
          if (f.kind == Kind::kAbsent) {
            absent = true;
            continue;
          }
          check_value(k, f, visible);
          if (any && f.seq != group_seq) fail.add("group split across seqs (get)");
          any = true;
          group_seq = f.seq;
        }
        if (any && absent) fail.add("group partly visible (get)");
      }
      // Clear then refill in one group.
      {
        const uint64_t cleared = mt.cleared_at(2, visible);
        for (const char* k : clear_keys) {
          const auto f = mt.get(2, k, visible);
          if (cleared == 0 ? f.kind != Kind::kAbsent : f.kind != Kind::kValue || f.seq != cleared) {
            fail.add("db 2 round not atomic: " + describe(f) + " cleared_at " +
                     std::to_string(cleared) + " visible " + std::to_string(visible));
          } else if (f.kind == Kind::kValue) {
            check_value(k, f, visible);
          }
        }
      }
      for (int i = 0; i < 8; ++i) {
        const std::string key = "k" + std::to_string(rng() % 5000);
        const auto f = mt.get(1, key, visible);
        if (f.kind != Kind::kAbsent) check_value(key, f, visible);
      }
      if (n % 8 == 0) {
        // A forward walk from a random key: strictly increasing, intact,
        // and any group met whole.
        MemTable::Iterator it(mt, 1, visible);
        it.seek("k" + std::to_string(rng() % 5000));
        std::string last;
        bool first = true;
        for (int steps = 0; it.valid() && steps < 100; ++steps, it.next()) {
          if (!first && !(last < it.key())) fail.add("iteration out of order");
          first = false;
          last = std::string(it.key());
          check_value(it.key(), it.entry(), visible);
        }
        // Backward from the end.
        it.seek_to_last();
        first = true;
        for (int steps = 0; it.valid() && steps < 50; ++steps, it.prev()) {
          if (!first && !(it.key() < last)) fail.add("backward iteration out of order");
          first = false;
          last = std::string(it.key());
          check_value(it.key(), it.entry(), visible);
        }
        // The MSET keys by iteration.
        it.seek("g");
        int groups = 0;
        uint64_t group_seq = 0;
        for (; it.valid() && it.key().substr(0, 1) == "g"; it.next(), ++groups) {
          if (groups > 0 && it.entry().seq != group_seq) fail.add("group split (iteration)");
          group_seq = it.entry().seq;
        }
        if (groups != 0 && groups != 10) fail.add("group partly visible (iteration)");
        // Db 2 holds exactly one round.
        MemTable::Iterator it2(mt, 2, visible);
        int count = 0;
        for (it2.seek_to_first(); it2.valid(); it2.next()) ++count;
        if (count != (mt.cleared_at(2, visible) == 0 ? 0 : 5)) {
          fail.add("db 2 iteration saw " + std::to_string(count) + " keys");
        }
      }
    }
    reads += n;
  };

  std::vector<std::thread> readers;
  for (int i = 0; i < 3; ++i) readers.emplace_back(reader, i);
  writer.join();
  for (auto& t : readers) t.join();
  BOOST_TEST(fail.count.load() == 0, fail.first);
  BOOST_TEST(mt.entries() >= static_cast<size_t>(target_entries) / 2);
  BOOST_TEST_MESSAGE("memtable stress: " << mt.entries() << " entries, " << reads.load()
                                         << " reader rounds");
}

// ---------------------------------------------------------------------------
// The insertion log (DBSIZE's incremental count)
// ---------------------------------------------------------------------------

// Every put/del in insertion order, across several log segments, each with
// the state its key had just before it in the layer; markers are not
// entries. A reader thread checks the same while the writer appends.
BOOST_AUTO_TEST_CASE(memtable_insertion_log) {
  MemTable mt;
  BOOST_TEST(mt.log_size() == 0u);
  struct Expect {
    uint64_t seq;
    int db;
    std::string key;
    bool value;
    bool deadline;
    int before;
    bool before_deadline;
  };
  std::vector<Expect> expect;
  // The layer's state per key: (a value, with a deadline).
  std::map<std::pair<int, std::string>, std::pair<bool, bool>> last;
  std::mt19937 rng(7);
  const int n = 5000;  // log segments of 256, 512, ..., 4096 entries
  std::atomic<bool> done{false};
  std::atomic<int> reader_checks{0};
  std::string reader_error;
  std::atomic<bool> started{false};
  std::thread reader([&] {
    // Seqs equal positions + 1 here, and a key's `before` can only be what
    // some earlier entry left: checked without the writer's model.
    started.store(true);
    do {
      const size_t size = mt.log_size();
      for (size_t i = 0; i < size && reader_error.empty(); ++i) {
        const auto e = mt.log_entry(i);
        if (e.seq != i + 1 || e.key.size() != 3 || e.before < -1 || e.before > 1)
          reader_error = "bad entry " + std::to_string(i);
      }
      reader_checks.fetch_add(1);
    } while (!done.load());
  });
  while (!started.load()) std::this_thread::yield();
  for (int i = 0; i < n; ++i) {
    const uint64_t seq = static_cast<uint64_t>(i) + 1;
    const int db = static_cast<int>(rng() % 3);
    std::string key = "k" + std::to_string(10 + rng() % 50);
    const bool value = rng() % 3 != 0;
    const bool deadline = value && rng() % 2 == 0;
    auto it = last.find({db, key});
    const int before = it == last.end() ? -1 : static_cast<int>(it->second.first);
    const bool before_deadline = it != last.end() && it->second.second;
    if (value) {
      mt.put(seq, db, key, ValueView{Type::kString, deadline ? int64_t{1} << 40 : 0, "v"});
    } else {
      mt.del(seq, db, key);
    }
    if (i % 1000 == 0) mt.clear(seq, 2);  // markers take no log slot
    if (i % 1500 == 0) mt.swap(seq, 0, 1);
    last[{db, key}] = {value, deadline};
    expect.push_back({seq, db, std::move(key), value, deadline, before, before_deadline});
  }
  done.store(true);
  reader.join();
  BOOST_TEST(reader_error == "");
  BOOST_TEST(reader_checks.load() > 0);
  BOOST_REQUIRE(mt.log_size() == expect.size());
  BOOST_TEST(mt.seqs_in_order());
  for (size_t i = 0; i < expect.size(); ++i) {
    const auto e = mt.log_entry(i);
    BOOST_TEST_CONTEXT("entry " << i) {
      BOOST_TEST(e.seq == expect[i].seq);
      BOOST_TEST(e.db == expect[i].db);
      BOOST_TEST(e.key == expect[i].key);
      BOOST_TEST(e.value == expect[i].value);
      BOOST_TEST(e.deadline == expect[i].deadline);
      BOOST_TEST(e.before == expect[i].before);
      BOOST_TEST(e.before_deadline == expect[i].before_deadline);
    }
  }
  // Equal seqs (one group writing a key twice) keep insertion order.
  mt.put(n + 1, 0, "zz", ValueView{Type::kString, 0, "a"});
  mt.del(n + 1, 0, "zz");
  BOOST_TEST(mt.log_entry(n).before == -1);
  BOOST_TEST(mt.log_entry(n + 1).before == 1);
  BOOST_TEST(mt.seqs_in_order());
  // A seq below an earlier one is flagged: `before` no longer holds.
  mt.put(3, 0, "zz", ValueView{Type::kString, 0, "old"});
  BOOST_TEST(!mt.seqs_in_order());
  BOOST_TEST(mt.log_size() == expect.size() + 3);
}

// A buffer of a pool's size starts its log with a whole pool block, not a
// 2 KiB segment the writer would fault in; past that block the log doubles
// as before, and every entry keeps its place across the boundary.
BOOST_AUTO_TEST_CASE(memtable_log_starts_with_a_pool_block) {
  constexpr size_t kBlock = lmkv::PagePool::kBlock;
  constexpr size_t kFirst = kBlock / sizeof(void*);  // the first segment's entries
  auto pool = std::make_shared<lmkv::PagePool>(64 * kBlock);
  MemTable small(1u << 20, pool);  // 1 MiB buffer: a log of ~64 KiB, 2 KiB first
  MemTable big(16u << 20, pool);
  const size_t small_before = small.memory_bytes(), big_before = big.memory_bytes();
  const ValueView v{Type::kString, 0, "v"};
  small.put(1, 0, "k", v);
  big.put(1, 0, "k", v);
  // Each put took one arena block; the big buffer's log took a block too.
  BOOST_TEST(small.memory_bytes() - small_before == kBlock + 4096);  // 2 KiB: a page
  BOOST_TEST(big.memory_bytes() - big_before == 2 * kBlock);
  const size_t n = kFirst + 1000;  // into the second segment
  for (size_t i = 1; i < n; ++i) big.put(i + 1, 0, "k" + std::to_string(i % 70000), v);
  BOOST_REQUIRE(big.log_size() == n);
  bool all = true;
  for (size_t i = 0; i < n && all; ++i) {
    const auto e = big.log_entry(i);
    all = e.seq == i + 1 && e.key == (i == 0 ? "k"s : "k" + std::to_string(i % 70000));
    if (!all) BOOST_TEST_MESSAGE("entry " << i);
  }
  BOOST_TEST(all);
}

// Progress only moves forward, per db, and by at least kCountStep entries.
BOOST_AUTO_TEST_CASE(memtable_count_progress) {
  constexpr size_t kStep = MemTable::kCountStep;
  MemTable mt;
  BOOST_TEST(mt.count_progress(0).scanned == 0u);
  mt.advance_count(0, {kStep + 5, {-2, 1}});
  mt.advance_count(0, {kStep + 3, {7, 0}});  // a slower reader's: ignored
  mt.advance_count(4, {kStep, {1, 1}});
  mt.advance_count(5, {kStep - 1, {1, 1}});  // too short a step: summed again next time
  BOOST_TEST(mt.count_progress(0).scanned == kStep + 5);
  BOOST_TEST(mt.count_progress(0).delta.keys == -2);
  BOOST_TEST(mt.count_progress(0).delta.expires == 1);
  BOOST_TEST(mt.count_progress(4).delta.keys == 1);
  BOOST_TEST(mt.count_progress(5).scanned == 0u);
  BOOST_TEST(mt.count_progress(1).scanned == 0u);
  mt.advance_count(0, {2 * kStep + 4, {3, 3}});  // one short of a step further
  BOOST_TEST(mt.count_progress(0).scanned == kStep + 5);
  mt.advance_count(0, {2 * kStep + 5, {3, 3}});
  BOOST_TEST(mt.count_progress(0).delta.keys == 3);
}

// Readers on several threads advance the same db's progress at once (the
// loops' DBSIZE and the background counter): it ends at the furthest, and
// each value read is one that some thread stored whole.
BOOST_AUTO_TEST_CASE(memtable_count_progress_from_threads) {
  MemTable mt;
  constexpr size_t kPerThread = 2000;
  std::vector<std::thread> threads;
  std::atomic<int> torn{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = 1; i <= kPerThread; ++i) {
        const size_t scanned = (i * 4 + static_cast<size_t>(t)) * MemTable::kCountStep;
        const auto k = static_cast<int64_t>(scanned);
        mt.advance_count(3, {scanned, {k, -k}});
        const auto seen = mt.count_progress(3);
        if (seen.delta.keys != static_cast<int64_t>(seen.scanned) ||
            seen.delta.expires != -seen.delta.keys)
          ++torn;
      }
    });
  }
  for (auto& t : threads) t.join();
  BOOST_TEST(torn.load() == 0);
  BOOST_TEST(mt.count_progress(3).scanned == (kPerThread * 4 + 3) * MemTable::kCountStep);
}

// ---------------------------------------------------------------------------
// Micro-benchmark (printed, not asserted)
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(memtable_benchmark) {
  const int n = 250000 / kSlowdown;
  std::mt19937_64 rng(1);
  std::vector<std::string> keys;
  keys.reserve(n);
  for (int i = 0; i < n; ++i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "key:%016llx", static_cast<unsigned long long>(rng()));
    keys.emplace_back(buf);
  }
  const std::string value(32, 'v');
  MemTable mt;
  using Clock = std::chrono::steady_clock;
  auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) mt.put(i + 1, 0, keys[i], ValueView{Type::kString, 0, value});
  auto t1 = Clock::now();
  size_t found = 0;
  for (int i = 0; i < n; ++i) {
    found += mt.get(0, keys[i], n).kind == Kind::kValue;
  }
  auto t2 = Clock::now();
  // The first iterator links the skiplist (ensure_indexed); the second walks it.
  size_t walked = 0;
  MemTable::Iterator it(mt, 0, n);
  auto t3 = Clock::now();
  for (it.seek_to_first(); it.valid(); it.next()) ++walked;
  auto t4 = Clock::now();
  BOOST_TEST(found == static_cast<size_t>(n));
  BOOST_TEST(walked == static_cast<size_t>(n));
  const auto secs = [](auto d) { return std::chrono::duration<double>(d).count(); };
  std::printf(
      "memtable benchmark (%d keys of 20 B, 32 B values): %.2fM inserts/s, %.2fM gets/s, "
      "%.1fM keys/s linked in order, %.1fM iterated keys/s, %.1f MiB used\n",
      n, n / secs(t1 - t0) / 1e6, n / secs(t2 - t1) / 1e6, n / secs(t3 - t2) / 1e6,
      n / secs(t4 - t3) / 1e6, mt.bytes() / 1048576.0);
}

BOOST_AUTO_TEST_SUITE_END()
