// tests/unit/store/store_test.cc: encoding, opening the environment and the
// engine, point reads and writes through Engine + WriteTxn + ReadView, with
// the data in the MemTable layers, in LMDB, or both. Range scans are in
// scan_test.cc; recovery, visibility and concurrency in engine_test.cc.
#define BOOST_TEST_MODULE store
#include <sys/stat.h>

#include <boost/test/unit_test.hpp>
#include <fstream>
#include <map>
#include <string>

#include <fmt/format.h>

#include "fixture.h"
#include "store/value.h"

using namespace lmkv;
using namespace lmkv::store;
using namespace lmkv::store::testing;
using namespace std::string_literals;

namespace {

// The data of a point read, "<none>" when absent, "<error>" on failure.
std::string data_of(const Result<std::optional<ValueView>>& got) {
  if (!got.ok()) return "<error>";
  return *got ? std::string((*got)->data) : "<none>";
}

}  // namespace

// ---------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(key_encoding_prefixes_the_user_namespace) {
  std::string out = "junk";
  encode_key("ab\0c"s, &out);
  BOOST_TEST(out == "\0ab\0c"s);
  BOOST_TEST(*decode_key(out) == "ab\0c"s);
  encode_key("", &out);
  BOOST_TEST(out == "\0"s);
  BOOST_TEST(decode_key(out)->empty());
  BOOST_TEST(!decode_key("").has_value());
  BOOST_TEST(!decode_key("\x01k").has_value());
  BOOST_TEST(key_fits(std::string(510, 'k')));
  BOOST_TEST(!key_fits(std::string(511, 'k')));
}

BOOST_AUTO_TEST_CASE(value_encoding_layout_and_round_trip) {
  std::string out;
  encode_value({Type::kString, 0, "hi"}, &out);
  BOOST_TEST(out == "\x00hi"s);
  encode_value({Type::kString, 0x0102030405060708, "x"}, &out);
  BOOST_TEST(out == "\x10\x08\x07\x06\x05\x04\x03\x02\x01x"s);
  auto v = decode_value(out);
  BOOST_REQUIRE(v.has_value());
  BOOST_TEST(v->deadline_ms == 0x0102030405060708);
  BOOST_TEST(v->data == "x");
  BOOST_TEST(v->expired(0x0102030405060708));
  BOOST_TEST(!v->expired(0x0102030405060707));

  for (int64_t deadline : {int64_t{0}, int64_t{1}, kNow, INT64_MAX, int64_t{-5}}) {
    for (std::string data : {""s, "v"s, "\0\xff\x10"s, std::string(1000, 'z')}) {
      encode_value({Type::kString, deadline, data}, &out);
      auto d = decode_value(out);
      BOOST_REQUIRE(d.has_value());
      BOOST_TEST(d->deadline_ms == deadline);
      BOOST_TEST(d->data == data);
      BOOST_TEST((d->type == Type::kString));
    }
  }
  BOOST_TEST(type_name(Type::kString) == "string");
}

BOOST_AUTO_TEST_CASE(decode_value_refuses_garbage) {
  BOOST_TEST(!decode_value("").has_value());
  BOOST_TEST(!decode_value("\x01payload").has_value());                       // unknown type
  BOOST_TEST(!decode_value("\x20payload").has_value());                       // unknown flag
  BOOST_TEST(!decode_value("\x80").has_value());                              // unknown flag
  BOOST_TEST(!decode_value("\x10").has_value());                              // deadline missing
  BOOST_TEST(!decode_value("\x10\x01\x02\x03\x04\x05\x06\x07").has_value());  // 7 bytes
  BOOST_TEST(!decode_value("\x10\0\0\0\0\0\0\0\0"s).has_value());             // deadline 0
  BOOST_TEST(decode_value("\x10\x01\0\0\0\0\0\0\0"s)->data.empty());
  // Every prefix and every one-byte header of a valid value: never a crash.
  std::string good;
  encode_value({Type::kString, 42, "data"}, &good);
  for (size_t n = 0; n <= good.size(); ++n) (void)decode_value(good.substr(0, n));
  for (int h = 0; h < 256; ++h) {
    std::string s = good;
    s[0] = static_cast<char>(h);
    auto d = decode_value(s);
    BOOST_TEST(d.has_value() == (h == 0x00 || h == 0x10), h);
  }
}

// ---------------------------------------------------------------------------
// Environment and engine open
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(open_creates_nested_dir_and_files) {
  TempDir tmp;
  EngineOptions o;
  o.env.dir = tmp.path + "/a/b/c";
  auto engine = Engine::open(o);
  BOOST_REQUIRE_MESSAGE(engine.ok(), message_of(engine));
  const std::string& dir = o.env.dir;
  BOOST_TEST(std::filesystem::exists(dir + "/data.mdb"));
  BOOST_TEST(std::filesystem::exists(dir + "/lock.mdb"));
  BOOST_TEST(std::filesystem::is_directory(dir + "/log"));
  Env& env = (*engine)->env();
  BOOST_TEST(env.databases() == 16);
  BOOST_TEST((*engine)->databases() == 16);
  BOOST_TEST(env.dir() == dir);
  BOOST_TEST(env.file_size() > 0u);
  struct stat st;
  BOOST_REQUIRE(::stat((dir + "/data.mdb").c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 0777 & ~0644) == 0u);
  // DESIGN.md "LMDB rules": every commit synced, no WRITEMAP.
  unsigned flags = 0;
  BOOST_REQUIRE(mdb_env_get_flags(env.raw(), &flags) == 0);
  BOOST_TEST((flags & MDB_NOSYNC) == 0u);
  BOOST_TEST((flags & MDB_NOMETASYNC) == 0u);
  BOOST_TEST((flags & MDB_NOTLS) != 0u);
  BOOST_TEST((flags & MDB_NORDAHEAD) != 0u);
  BOOST_TEST((flags & MDB_WRITEMAP) == 0u);
}

BOOST_AUTO_TEST_CASE(open_fails_cleanly_under_a_regular_file) {
  TempDir tmp;
  const std::string file = tmp.path + "/file";
  std::ofstream(file) << "x";
  EnvOptions o;
  o.dir = file + "/data";  // ENOTDIR even for root
  auto env = Env::open(o);
  BOOST_REQUIRE(!env.ok());
  BOOST_TEST((env.error().code == Code::kErr));
  BOOST_TEST(env.error().message.find(o.dir) != std::string::npos);
  o.dir = file;  // the dir itself is a file
  auto env2 = Env::open(o);
  BOOST_REQUIRE(!env2.ok());
  BOOST_TEST(env2.error().message.find(file) != std::string::npos);
  // The engine passes the environment's error on.
  EngineOptions eo;
  eo.env.dir = file + "/data";
  auto engine = Engine::open(eo);
  BOOST_REQUIRE(!engine.ok());
  BOOST_TEST(engine.error().message.find(eo.env.dir) != std::string::npos);
}

BOOST_AUTO_TEST_CASE(open_refuses_bad_options) {
  TempDir tmp;
  EnvOptions o;
  o.dir = tmp.path;
  o.databases = 0;
  BOOST_TEST(!Env::open(o).ok());
  o.databases = 16;
  o.readers = 0;
  BOOST_TEST(!Env::open(o).ok());
  EngineOptions eo;
  eo.env = o;
  BOOST_TEST(!Engine::open(eo).ok());
}

BOOST_AUTO_TEST_CASE(open_fails_cleanly_on_a_corrupt_data_file) {
  TempDir tmp;
  std::ofstream(tmp.path + "/data.mdb") << std::string(8192, 'g');
  EnvOptions o;
  o.dir = tmp.path;
  auto env = Env::open(o);
  BOOST_REQUIRE(!env.ok());
  BOOST_TEST(env.error().message.find("LMDB open") == 0u, env.error().message);
  EngineOptions eo;
  eo.env = o;
  auto engine = Engine::open(eo);
  BOOST_REQUIRE(!engine.ok());
  BOOST_TEST(engine.error().message.find("LMDB open") == 0u, engine.error().message);
}

// The log directory cannot be created: open fails instead of serving
// without a log.
BOOST_AUTO_TEST_CASE(open_fails_cleanly_when_the_log_dir_is_a_file) {
  TempDir tmp;
  EngineOptions o;
  o.env.dir = tmp.path;
  std::ofstream(tmp.path + "/log") << "x";
  auto engine = Engine::open(o);
  BOOST_REQUIRE(!engine.ok());
  BOOST_TEST(engine.error().message.find("log") != std::string::npos, engine.error().message);
}

BOOST_FIXTURE_TEST_CASE(reopen_keeps_data, EngineFixture) {
  // Only in the log, then in LMDB, then both.
  put(0, "k", "v");
  put(15, "k15", "v15", kNow + 1000);
  reopen();
  BOOST_TEST(get(0, "k") == "v");
  BOOST_TEST(get(15, "k15") == "v15");
  BOOST_TEST(dbsize(0) == 1u);
  flush();
  reopen();
  BOOST_TEST(get(0, "k") == "v");
  BOOST_TEST(get(15, "k15") == "v15");
  put(0, "k", "newer");
  BOOST_TEST(del(15, "k15"));
  reopen();
  BOOST_TEST(get(0, "k") == "newer");
  BOOST_TEST(get(15, "k15") == "<none>");
  BOOST_TEST(dbsize(0) == 1u);
  BOOST_TEST(dbsize(15) == 0u);
}

// A replay whose keys outgrow one write buffer's hash index goes on in a
// new buffer, frozen at a frame boundary (Engine::replay): each applies on
// its own, and what they applied is not replayed again.
BOOST_FIXTURE_TEST_CASE(a_replay_past_one_buffers_index_splits_at_a_frame, EngineFixture) {
  EngineOptions o = options();
  o.write_buffer_size = 4u << 20;  // an index of 64 Ki slots: 32 Ki keys
  EngineOptions large = o;         // written into one buffer: never frozen
  large.write_buffer_size = 64u << 20;
  reopen(large);
  constexpr int kGroups = 5'000, kPerGroup = 10;  // 50,000 keys
  auto key = [](int i) { return fmt::format("key:{:06}", i * 7 % (kGroups * kPerGroup)); };
  for (int g = 0; g < kGroups; ++g) {
    WriteTxn txn(*engine);
    for (int i = g * kPerGroup; i < (g + 1) * kPerGroup; ++i)
      BOOST_REQUIRE(txn.put(0, key(i), ValueView{Type::kString, 0, std::to_string(i)}).ok());
    BOOST_REQUIRE(txn.commit().ok());
  }
  BOOST_REQUIRE(engine->stats().applies.load() == 0u);
  reopen(o);
  BOOST_TEST(engine->stats().replayed_frames.load() == uint64_t{kGroups});
  for (int i = 0; i < kGroups * kPerGroup; i += 97) BOOST_TEST_REQUIRE(get(0, key(i)) == std::to_string(i));
  flush();
  BOOST_TEST(engine->stats().applies.load() == 2u);  // 32 Ki keys, then the rest
  reopen(o);
  BOOST_TEST(engine->stats().replayed_frames.load() == 0u);
  BOOST_TEST(dbsize(0) == uint64_t{kGroups * kPerGroup});
  for (int i = 0; i < kGroups * kPerGroup; ++i) BOOST_TEST_REQUIRE(get(0, key(i)) == std::to_string(i));
}

// A replay hints each key a few effects before its insert and keeps the
// hash for the insert. Groups that change database (SELECT) and swap
// databases every few SETs put such changes between hint and insert: every
// key must come back in its own database (debug builds also assert each
// kept hash).
BOOST_FIXTURE_TEST_CASE(a_replay_across_selects_and_swaps_in_one_group, EngineFixture) {
  std::map<std::pair<int, std::string>, std::string> model;  // logical db, key -> value
  for (int g = 0; g < 20; ++g) {
    WriteTxn txn(*engine);
    for (int i = 0; i < 30; ++i) {
      const int db = (i / (1 + g % 4)) % 3;  // a SELECT every 1 to 4 SETs
      const std::string key = fmt::format("k{}", (g * 30 + i) % 97), value = fmt::format("{}.{}", g, i);
      BOOST_REQUIRE(txn.put(db, key, ValueView{Type::kString, 0, value}).ok());
      model[{db, key}] = value;
      if (i % 11 == 10) {
        BOOST_REQUIRE(txn.swap(1, 2).ok());
        std::map<std::pair<int, std::string>, std::string> swapped;
        for (auto& [k, v] : model) swapped[{k.first == 0 ? 0 : 3 - k.first, k.second}] = v;
        model = std::move(swapped);
      }
    }
    BOOST_REQUIRE(txn.commit().ok());
  }
  BOOST_REQUIRE(engine->stats().applies.load() == 0u);
  reopen();
  BOOST_TEST(engine->stats().replayed_frames.load() == 20u);
  for (const auto& [k, v] : model) BOOST_TEST(get(k.first, k.second) == v, k.first << " " << k.second);
  for (int db = 0; db < 3; ++db) {
    size_t n = 0;
    for (const auto& [k, v] : model) n += k.first == db;
    BOOST_TEST(dbsize(db) == n);
  }
}

BOOST_FIXTURE_TEST_CASE(reopen_with_more_databases_creates_them, EngineFixture) {
  EngineOptions o = options();
  o.env.databases = 2;
  reopen(o);
  BOOST_TEST(env().databases() == 2);
  put(1, "k", "one");
  o.env.databases = 16;
  reopen(o);
  BOOST_TEST(env().databases() == 16);
  BOOST_TEST(get(1, "k") == "one");
  put(15, "k", "fifteen");
  flush();
  BOOST_TEST(get(15, "k") == "fifteen");
  BOOST_TEST(get(1, "k") == "one");
  BOOST_TEST(get(0, "k") == "<none>");
}

BOOST_FIXTURE_TEST_CASE(stale_lock_file_is_reinitialised, EngineFixture) {
  put(0, "k", "v");
  flush();
  put(0, "k1", "v1");
  engine.reset();
  std::ofstream(options().env.dir + "/lock.mdb", std::ios::trunc) << std::string(4096, '\xee');
  reopen();
  BOOST_TEST(get(0, "k") == "v");
  BOOST_TEST(get(0, "k1") == "v1");
  put(0, "k2", "v2");
  BOOST_TEST(get(0, "k2") == "v2");
  flush();
  BOOST_TEST(get(0, "k2") == "v2");
}

BOOST_FIXTURE_TEST_CASE(fsync_policies_commit_and_sync, EngineFixture) {
  EngineOptions o = options();
  o.fsync = Fsync::kAlways;
  reopen(o);
  BOOST_TEST((engine->fsync() == Fsync::kAlways));
  int n = 0;
  for (Fsync f : {Fsync::kEverysec, Fsync::kNo, Fsync::kAlways, Fsync::kNo, Fsync::kAlways}) {
    const uint64_t syncs = engine->stats().syncs.load();
    BOOST_REQUIRE(engine->set_fsync(f).ok());
    BOOST_TEST((engine->fsync() == f));
    put(0, "k" + std::to_string(n), std::to_string(n));
    // A group is durable (and counted as synced) at once only under always.
    BOOST_TEST((engine->stats().syncs.load() > syncs) == (f == Fsync::kAlways));
    if (f == Fsync::kAlways) BOOST_TEST(engine->durable_offset() == engine->log_end_offset());
    BOOST_TEST(engine->tick().ok());
    BOOST_TEST(get(0, "k" + std::to_string(n)) == std::to_string(n));
    ++n;
  }
  o.fsync = Fsync::kEverysec;
  reopen(o);  // the destructor syncs the log
  BOOST_TEST((engine->fsync() == Fsync::kEverysec));
  for (int i = 0; i < n; ++i) BOOST_TEST(get(0, "k" + std::to_string(i)) == std::to_string(i));
}

// The write path never touches LMDB, so a full map shows up where LMDB is
// written: the bulk apply. flush() reports it; the data stays readable from
// the layers and in the log, and nothing is lost on reopen.
BOOST_FIXTURE_TEST_CASE(map_full_is_a_clear_flush_error_and_nothing_is_lost, EngineFixture) {
  EngineOptions o = options();
  o.env.map_size = 256 * 1024;
  reopen(o);
  const std::string big(4000, 'x');
  for (int i = 0; i < 200; ++i) put(0, "k" + std::to_string(i), big);
  auto s = engine->flush();
  BOOST_REQUIRE(!s.ok());
  BOOST_TEST((s.error().code == Code::kOom));  // the applier counts it as the disk being full
  BOOST_TEST(s.error().message.find("disk or map full") == 0u, s.error().message);
  BOOST_TEST(engine->apply_failing());
  BOOST_TEST(engine->disk_full());
  // Reads and writes go on from the layers.
  BOOST_TEST(get(0, "k0") == big);
  BOOST_TEST(get(0, "k199") == big);
  BOOST_TEST(dbsize(0) == 200u);
  put(0, "small", "ok");
  BOOST_TEST(get(0, "small") == "ok");
  // With room again, everything reaches LMDB.
  o.env.map_size = size_t{1} << 30;
  reopen(o);
  BOOST_TEST(get(0, "k0") == big);
  flush();
  BOOST_TEST(get(0, "k199") == big);
  BOOST_TEST(get(0, "small") == "ok");
  BOOST_TEST(dbsize(0) == 201u);
}

BOOST_AUTO_TEST_CASE(lmdb_error_texts) {
  BOOST_TEST(lmdb_error(MDB_NOTFOUND, "get").message.find("LMDB get: ") == 0u);
  BOOST_TEST(lmdb_error(ENOSPC, "commit").message.find("disk or map full: LMDB commit: ") == 0u);
  BOOST_TEST(lmdb_error(MDB_MAP_FULL, "put").message.find("disk or map full") == 0u);
  BOOST_TEST((lmdb_error(MDB_MAP_FULL, "put").code == Code::kOom));
  BOOST_TEST((lmdb_error(MDB_NOTFOUND, "get").code == Code::kErr));
}

// ---------------------------------------------------------------------------
// Point reads and writes: each case checks the state while it is only in
// the MemTable layers, after flush() (only in LMDB), and with newer groups
// in the layers over older data in LMDB.
// ---------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(put_get_del_round_trip, EngineFixture) {
  const std::string keys[] = {"k", "", "\0"s, "a\0b"s, "\0\0\0"s, "\xff\xfe"s, "key with space"};
  auto check_all = [&](const std::string& prefix) {
    for (const auto& k : keys) BOOST_TEST(get(3, k) == prefix + k);
    BOOST_TEST(dbsize(3) == std::size(keys));
    BOOST_TEST(get(3, "missing") == "<none>");
  };
  for (const auto& k : keys) put(3, k, "value of " + k);
  check_all("value of ");  // layers only
  flush();
  check_all("value of ");  // LMDB only
  for (const auto& k : keys) put(3, k, "new " + k);
  check_all("new ");  // layers over LMDB
  flush();
  check_all("new ");
  put(3, "k", "");
  BOOST_TEST(get(3, "k") == "");
  flush();
  BOOST_TEST(get(3, "k") == "");
  for (size_t i = 0; i < std::size(keys); ++i) {
    const auto& k = keys[i];
    BOOST_TEST(del(3, k));
    BOOST_TEST(get(3, k) == "<none>");  // a tombstone over LMDB
    BOOST_TEST(!del(3, k));
    BOOST_TEST(dbsize(3) == std::size(keys) - i - 1);
    if (i % 2) flush();
  }
  BOOST_TEST(dbsize(3) == 0u);
  flush();
  BOOST_TEST(dbsize(3) == 0u);
  for (const auto& k : keys) BOOST_TEST(get(3, k) == "<none>");
  // Put then delete within the layers only: nothing reaches LMDB.
  put(3, "t", "1");
  BOOST_TEST(del(3, "t"));
  BOOST_TEST(dbsize(3) == 0u);
  flush();
  BOOST_TEST(dbsize(3) == 0u);
  BOOST_TEST(get(3, "t") == "<none>");
}

BOOST_FIXTURE_TEST_CASE(one_group_many_writes, EngineFixture) {
  put(0, "a", "lmdb");
  flush();
  {
    WriteTxn txn(*engine);
    BOOST_REQUIRE(txn.put(0, "a", {Type::kString, 0, "1"}).ok());
    BOOST_REQUIRE(txn.put(0, "a", {Type::kString, 0, "2"}).ok());
    BOOST_TEST(*txn.del(0, "a", kNow));
    BOOST_REQUIRE(txn.put(0, "a", {Type::kString, 0, "3"}).ok());
    BOOST_REQUIRE(txn.put(1, "b", {Type::kString, 0, "b"}).ok());
    BOOST_REQUIRE(txn.put(0, "c", {Type::kString, 0, "c"}).ok());
    BOOST_TEST(*txn.del(0, "c", kNow));
    BOOST_TEST(txn.get(0, "a", kNow)->value().data == "3");  // own writes
    BOOST_TEST(!txn.get(0, "c", kNow)->has_value());
    BOOST_REQUIRE(txn.commit().ok());
  }
  auto check = [&] {
    BOOST_TEST(get(0, "a") == "3");
    BOOST_TEST(get(1, "b") == "b");
    BOOST_TEST(get(0, "c") == "<none>");
    BOOST_TEST(dbsize(0) == 1u);
    BOOST_TEST(dbsize(1) == 1u);
  };
  check();
  reopen();  // replayed from the log, in order
  check();
  flush();
  check();
}

BOOST_FIXTURE_TEST_CASE(key_size_limit, EngineFixture) {
  const std::string k510(510, '\x7f'), k511(511, '\x7f');
  put(0, k510, "max");
  BOOST_TEST(get(0, k510) == "max");
  BOOST_TEST(!key_fits(k511));
  {
    WriteTxn txn(*engine);
    auto s = txn.put(0, k511, {Type::kString, 0, "x"});
    BOOST_REQUIRE(!s.ok());
    BOOST_TEST(s.error().message == "key too long");
    BOOST_TEST(txn.empty());  // nothing logged
    BOOST_TEST(!txn.get(0, k511, kNow)->has_value());
    BOOST_TEST(!*txn.del(0, k511, kNow));
    BOOST_TEST(txn.get(0, k510, kNow)->has_value());
    BOOST_REQUIRE(txn.commit().ok());
  }
  ReadView view(*engine);
  auto got = view.get(0, std::string(100000, '\x7f'), kNow);
  BOOST_REQUIRE(got.ok());
  BOOST_TEST(!got->has_value());
  view.end();
  flush();
  BOOST_TEST(get(0, k510) == "max");
  BOOST_TEST(!view.get(0, k511, kNow)->has_value());
  view.end();
  BOOST_TEST(del(0, k510));
  BOOST_TEST(get(0, k510) == "<none>");
}

BOOST_FIXTURE_TEST_CASE(expired_values_are_invisible, EngineFixture) {
  auto check = [&] {
    BOOST_TEST(get(0, "past") == "<none>");
    BOOST_TEST(get(0, "now") == "<none>");
    BOOST_TEST(get(0, "future") == "f");
    BOOST_TEST(get(0, "future", kNow + 1) == "<none>");
    BOOST_TEST(dbsize(0) == 3u);  // like Redis's DBSIZE, counts unreclaimed keys

    ReadView view(*engine);
    std::vector<std::string> seen;
    auto stepped = view.scan(0, Bound::unbounded(), Bound::unbounded(), false, kNow,
                             [&](std::string_view k, const ValueView& v) {
                               seen.emplace_back(k);
                               BOOST_TEST(v.deadline_ms == kNow + 1);
                               return true;
                             });
    BOOST_REQUIRE(stepped.ok());
    BOOST_TEST(*stepped == 3u);
    BOOST_TEST(seen == std::vector<std::string>{"future"});
  };
  put(0, "past", "p", kNow - 1);
  put(0, "now", "n", kNow);  // a deadline equal to now has passed
  put(0, "future", "f", kNow + 1);
  check();
  reopen();  // PXAT survives the log
  check();
  flush();  // and the value encoding
  check();
  {
    WriteTxn txn(*engine);
    BOOST_TEST(!txn.get(0, "past", kNow)->has_value());
    BOOST_TEST(data_of(txn.get(0, "future", kNow)) == "f");
    BOOST_TEST(!txn.get(0, "future", kNow + 1)->has_value());
    BOOST_REQUIRE(txn.commit().ok());
  }
  // DEL of an expired key answers 0 but removes it, as Redis's lazy expiry
  // does: DBSIZE drops (keys_family_test's expired_keys_are_invisible).
  BOOST_TEST(!del(0, "past"));
  BOOST_TEST(!del(0, "now"));
  BOOST_TEST(dbsize(0) == 1u);
  BOOST_TEST(del(0, "future"));
  BOOST_TEST(get(0, "future") == "<none>");
  BOOST_TEST(dbsize(0) == 0u);
  flush();
  BOOST_TEST(dbsize(0) == 0u);
  // An expired value in the layers hides a live one in LMDB.
  put(0, "x", "live");
  flush();
  put(0, "x", "dead", kNow - 5);
  BOOST_TEST(get(0, "x") == "<none>");
  BOOST_TEST(get(0, "x", kNow - 10) == "dead");
}

BOOST_FIXTURE_TEST_CASE(databases_are_isolated, EngineFixture) {
  auto check = [&](const std::string& deleted_from) {
    for (int db = 0; db < 16; ++db) {
      const bool gone = std::to_string(db) == deleted_from;
      BOOST_TEST(get(db, "k") == (gone ? "<none>" : std::to_string(db)));
      BOOST_TEST(dbsize(db) == (gone ? 1u : 2u));
      for (int other = 0; other < 16; ++other)
        if (other != db) BOOST_TEST(get(db, "only" + std::to_string(other)) == "<none>");
    }
  };
  for (int db = 0; db < 16; ++db) put(db, "k", std::to_string(db));
  flush();
  for (int db = 0; db < 16; ++db) put(db, "only" + std::to_string(db), "x");
  check("");  // mixed
  flush();
  check("");
  BOOST_TEST(del(7, "k"));
  check("7");
  flush();
  check("7");
}

BOOST_FIXTURE_TEST_CASE(clear_empties_one_database, EngineFixture) {
  for (int i = 0; i < 100; ++i) {
    put(2, "k" + std::to_string(i), "v");
    put(3, "k" + std::to_string(i), "v");
  }
  flush();
  put(2, "k100", "in a layer");
  {
    WriteTxn txn(*engine);
    BOOST_REQUIRE(txn.clear(2).ok());
    BOOST_TEST(!txn.get(2, "k5", kNow)->has_value());
    BOOST_TEST(!txn.get(2, "k100", kNow)->has_value());
    BOOST_REQUIRE(txn.put(2, "after", {Type::kString, 0, "a"}).ok());
    BOOST_REQUIRE(txn.commit().ok());
  }
  auto check = [&] {
    BOOST_TEST(dbsize(2) == 1u);
    BOOST_TEST(get(2, "after") == "a");
    BOOST_TEST(get(2, "k5") == "<none>");
    BOOST_TEST(get(2, "k100") == "<none>");
    BOOST_TEST(dbsize(3) == 100u);
    BOOST_TEST(get(3, "k99") == "v");
  };
  check();
  reopen();
  check();
  flush();
  check();
}

BOOST_FIXTURE_TEST_CASE(a_view_sees_commits_only_after_end, EngineFixture) {
  // db 0: the snapshot's data in a layer; db 1: in LMDB.
  for (int db : {0, 1}) {
    put(db, "k", "old");
    if (db == 1) flush();
    ReadView view(*engine);
    BOOST_TEST(data_of(view.get(db, "k", kNow)) == "old");
    put(db, "k", "new");
    put(db, "k2", "added");
    BOOST_TEST(data_of(view.get(db, "k", kNow)) == "old");  // same snapshot
    BOOST_TEST(!view.get(db, "k2", kNow)->has_value());
    BOOST_TEST(*view.dbsize(db) == 1u);
    flush();  // even once the newer groups reach LMDB
    BOOST_TEST(data_of(view.get(db, "k", kNow)) == "old");
    BOOST_TEST(!view.get(db, "k2", kNow)->has_value());
    BOOST_TEST(*view.dbsize(db) == 1u);
    view.end();
    view.end();  // idempotent
    BOOST_TEST(data_of(view.get(db, "k", kNow)) == "new");
    BOOST_TEST(data_of(view.get(db, "k2", kNow)) == "added");
    BOOST_TEST(*view.dbsize(db) == 2u);
    // Many batches on one view reuse its transaction handle.
    view.end();
    for (int i = 0; i < 50; ++i) {
      put(db, "n", std::to_string(i));
      if (i % 10 == 0) flush();
      BOOST_TEST(data_of(view.get(db, "n", kNow)) == std::to_string(i));
      view.end();
    }
  }
}

BOOST_FIXTURE_TEST_CASE(several_views_and_a_writer_in_one_thread, EngineFixture) {
  put(0, "k", "1");
  ReadView a(*engine), b(*engine);
  BOOST_TEST(data_of(a.get(0, "k", kNow)) == "1");
  put(0, "k", "2");
  BOOST_TEST(data_of(b.get(0, "k", kNow)) == "2");
  BOOST_TEST(data_of(a.get(0, "k", kNow)) == "1");
  WriteTxn txn(*engine);
  BOOST_REQUIRE(txn.put(0, "k", {Type::kString, 0, "3"}).ok());
  // The group is in the active MemTable, but not committed: client views
  // do not see it, the writer's view does.
  b.end();
  BOOST_TEST(data_of(b.get(0, "k", kNow)) == "2");
  ReadView writer_side(*engine, true);
  BOOST_TEST(data_of(writer_side.get(0, "k", kNow)) == "3");
  BOOST_TEST(data_of(txn.get(0, "k", kNow)) == "3");
  BOOST_REQUIRE(txn.commit().ok());
  BOOST_TEST(data_of(b.get(0, "k", kNow)) == "2");
  b.end();
  BOOST_TEST(data_of(b.get(0, "k", kNow)) == "3");
  BOOST_TEST(data_of(a.get(0, "k", kNow)) == "1");
}

BOOST_FIXTURE_TEST_CASE(corrupt_values_are_errors_not_crashes, EngineFixture) {
  put_raw(0, "\0bad"s, "\x07garbage");
  put_raw(0, "\0empty"s, "");
  put(0, "good", "g");
  flush();
  ReadView view(*engine);
  auto bad = view.get(0, "bad", kNow);
  BOOST_REQUIRE(!bad.ok());
  BOOST_TEST(bad.error().message.find("corrupt") != std::string::npos);
  BOOST_TEST(!view.get(0, "empty", kNow).ok());
  BOOST_TEST(data_of(view.get(0, "good", kNow)) == "g");
  auto scanned = view.scan(0, Bound::unbounded(), Bound::unbounded(), false, kNow,
                           [](std::string_view, const ValueView&) { return true; });
  BOOST_TEST(!scanned.ok());
  view.end();
  // A scan that stops before the bad value is fine.
  auto upto = view.scan(0, Bound::at("good", true), Bound::unbounded(), false, kNow,
                        [](std::string_view, const ValueView&) { return true; });
  BOOST_REQUIRE(upto.ok());
  BOOST_TEST(*upto == 1u);
  view.end();
  // A blind overwrite repairs it, first in a layer (hiding LMDB), then in LMDB.
  put(0, "bad", "fixed");
  BOOST_TEST(get(0, "bad") == "fixed");
  flush();
  BOOST_TEST(get(0, "bad") == "fixed");
  BOOST_TEST(get(0, "good") == "g");
}
