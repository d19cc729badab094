// tests/unit/store/store_test.cc: encoding, environment, point reads and
// writes. Range scans are in scan_test.cc.
#define BOOST_TEST_MODULE store
#include <sys/stat.h>

#include <boost/test/unit_test.hpp>
#include <fstream>
#include <string>

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
// Environment
// ---------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(open_creates_nested_dir_and_files, EnvFixture) {
  EnvOptions o = options();
  o.dir = tmp.path + "/a/b/c";
  reopen(o);
  BOOST_TEST(std::filesystem::exists(o.dir + "/data.mdb"));
  BOOST_TEST(std::filesystem::exists(o.dir + "/lock.mdb"));
  BOOST_TEST(env->databases() == 16);
  BOOST_TEST(env->dir() == o.dir);
  BOOST_TEST(env->file_size() > 0u);
  struct stat st;
  BOOST_REQUIRE(::stat((o.dir + "/data.mdb").c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 0777 & ~0644) == 0u);
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
}

BOOST_AUTO_TEST_CASE(open_fails_cleanly_on_a_corrupt_data_file) {
  TempDir tmp;
  std::ofstream(tmp.path + "/data.mdb") << std::string(8192, 'g');
  EnvOptions o;
  o.dir = tmp.path;
  auto env = Env::open(o);
  BOOST_REQUIRE(!env.ok());
  BOOST_TEST(env.error().message.find("LMDB open") == 0u, env.error().message);
}

BOOST_FIXTURE_TEST_CASE(reopen_keeps_data, EnvFixture) {
  put(0, "k", "v");
  put(15, "k15", "v15", kNow + 1000);
  reopen();
  BOOST_TEST(get(0, "k") == "v");
  BOOST_TEST(get(15, "k15") == "v15");
  BOOST_TEST(dbsize(0) == 1u);
}

BOOST_FIXTURE_TEST_CASE(reopen_with_more_databases_creates_them, EnvFixture) {
  EnvOptions o = options();
  o.databases = 2;
  reopen(o);
  BOOST_TEST(env->databases() == 2);
  put(1, "k", "one");
  o.databases = 16;
  reopen(o);
  BOOST_TEST(env->databases() == 16);
  BOOST_TEST(get(1, "k") == "one");
  put(15, "k", "fifteen");
  BOOST_TEST(get(15, "k") == "fifteen");
  BOOST_TEST(get(0, "k") == "<none>");
}

BOOST_FIXTURE_TEST_CASE(stale_lock_file_is_reinitialised, EnvFixture) {
  put(0, "k", "v");
  env.reset();
  std::ofstream(options().dir + "/lock.mdb", std::ios::trunc) << std::string(4096, '\xee');
  reopen();
  BOOST_TEST(get(0, "k") == "v");
  put(0, "k2", "v2");
  BOOST_TEST(get(0, "k2") == "v2");
}

BOOST_FIXTURE_TEST_CASE(fsync_policies_commit_and_sync, EnvFixture) {
  for (Fsync f : {Fsync::kEverysec, Fsync::kNo, Fsync::kAlways, Fsync::kNo}) {
    BOOST_REQUIRE(env->set_fsync(f).ok());
    BOOST_TEST((env->fsync() == f));
    unsigned flags = 0;
    BOOST_REQUIRE(mdb_env_get_flags(env->raw(), &flags) == 0);
    BOOST_TEST(((flags & MDB_NOSYNC) != 0) == (f != Fsync::kAlways));
    put(0, "k", "v");
    BOOST_TEST(env->sync().ok());
  }
  EnvOptions o = options();
  o.fsync = Fsync::kEverysec;
  reopen(o);  // the destructor syncs the unsynced commits
  unsigned flags = 0;
  BOOST_REQUIRE(mdb_env_get_flags(env->raw(), &flags) == 0);
  BOOST_TEST((flags & MDB_NOSYNC) != 0u);
  BOOST_TEST((flags & MDB_NOTLS) != 0u);
  BOOST_TEST((flags & MDB_NORDAHEAD) != 0u);
  BOOST_TEST((flags & MDB_WRITEMAP) == 0u);
  BOOST_TEST(get(0, "k") == "v");
}

BOOST_FIXTURE_TEST_CASE(map_full_is_a_clear_error_and_the_env_survives, EnvFixture) {
  EnvOptions o = options();
  o.map_size = 256 * 1024;
  reopen(o);
  auto txn = WriteTxn::begin(*env);
  BOOST_REQUIRE(txn.ok());
  const std::string big(4000, 'x');
  Status s;
  for (int i = 0; i < 1000 && s.ok(); ++i)
    s = txn->put(0, "k" + std::to_string(i), {Type::kString, 0, big});
  BOOST_REQUIRE(!s.ok());
  BOOST_TEST((s.error().code == Code::kErr));
  BOOST_TEST(s.error().message.find("disk or map full") == 0u, s.error().message);
  BOOST_TEST(s.error().message.find("LMDB put") != std::string::npos);
  txn->abort();
  put(0, "small", "ok");
  BOOST_TEST(get(0, "small") == "ok");
}

BOOST_AUTO_TEST_CASE(lmdb_error_texts) {
  BOOST_TEST(lmdb_error(MDB_NOTFOUND, "get").message.find("LMDB get: ") == 0u);
  BOOST_TEST(lmdb_error(ENOSPC, "commit").message.find("disk or map full: LMDB commit: ") == 0u);
  BOOST_TEST(lmdb_error(MDB_MAP_FULL, "put").message.find("disk or map full") == 0u);
}

// ---------------------------------------------------------------------------
// Point reads and writes
// ---------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(put_get_del_round_trip, EnvFixture) {
  const std::string keys[] = {"k", "", "\0"s, "a\0b"s, "\0\0\0"s, "\xff\xfe"s, "key with space"};
  for (const auto& k : keys) put(3, k, "value of " + k);
  for (const auto& k : keys) BOOST_TEST(get(3, k) == "value of " + k);
  BOOST_TEST(dbsize(3) == std::size(keys));
  put(3, "k", "");
  BOOST_TEST(get(3, "k") == "");
  BOOST_TEST(get(3, "missing") == "<none>");
  for (const auto& k : keys) {
    BOOST_TEST(del(3, k));
    BOOST_TEST(get(3, k) == "<none>");
    BOOST_TEST(!del(3, k));
  }
  BOOST_TEST(dbsize(3) == 0u);
}

BOOST_FIXTURE_TEST_CASE(key_size_limit, EnvFixture) {
  const std::string k510(510, '\x7f'), k511(511, '\x7f');
  put(0, k510, "max");
  BOOST_TEST(get(0, k510) == "max");
  BOOST_TEST(!key_fits(k511));
  auto txn = WriteTxn::begin(*env);
  BOOST_REQUIRE(txn.ok());
  auto s = txn->put(0, k511, {Type::kString, 0, "x"});
  BOOST_REQUIRE(!s.ok());
  BOOST_TEST(s.error().message == "key too long");
  BOOST_TEST(!txn->get(0, k511, kNow)->has_value());
  BOOST_TEST(!*txn->del(0, k511, kNow));
  BOOST_TEST(txn->get(0, k510, kNow)->has_value());
  BOOST_REQUIRE(txn->commit().ok());
  ReadView view(*env);
  auto got = view.get(0, std::string(100000, '\x7f'), kNow);
  BOOST_REQUIRE(got.ok());
  BOOST_TEST(!got->has_value());
  BOOST_TEST(del(0, k510));
}

BOOST_FIXTURE_TEST_CASE(expired_values_are_invisible, EnvFixture) {
  put(0, "past", "p", kNow - 1);
  put(0, "now", "n", kNow);  // a deadline equal to now has passed
  put(0, "future", "f", kNow + 1);
  BOOST_TEST(get(0, "past") == "<none>");
  BOOST_TEST(get(0, "now") == "<none>");
  BOOST_TEST(get(0, "future") == "f");
  BOOST_TEST(dbsize(0) == 3u);  // like Redis's DBSIZE, counts unreclaimed keys

  ReadView view(*env);
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
  view.end();

  {
    auto txn = WriteTxn::begin(*env);
    BOOST_REQUIRE(txn.ok());
    BOOST_TEST(!txn->get(0, "past", kNow)->has_value());
    BOOST_TEST(data_of(txn->get(0, "future", kNow)) == "f");
    BOOST_TEST(!txn->get(0, "future", kNow + 1)->has_value());
    BOOST_REQUIRE(txn->commit().ok());
  }
  BOOST_TEST(!del(0, "past"));
  BOOST_TEST(!del(0, "now"));
  BOOST_TEST(dbsize(0) == 1u);  // expired keys were deleted all the same
  BOOST_TEST(del(0, "future"));
  BOOST_TEST(dbsize(0) == 0u);
}

BOOST_FIXTURE_TEST_CASE(databases_are_isolated, EnvFixture) {
  for (int db = 0; db < 16; ++db) put(db, "k", std::to_string(db));
  for (int db = 0; db < 16; ++db) put(db, "only" + std::to_string(db), "x");
  for (int db = 0; db < 16; ++db) {
    BOOST_TEST(get(db, "k") == std::to_string(db));
    BOOST_TEST(dbsize(db) == 2u);
    for (int other = 0; other < 16; ++other)
      if (other != db) BOOST_TEST(get(db, "only" + std::to_string(other)) == "<none>");
  }
  BOOST_TEST(del(7, "k"));
  BOOST_TEST(get(7, "k") == "<none>");
  BOOST_TEST(get(6, "k") == "6");
  BOOST_TEST(get(8, "k") == "8");
}

BOOST_FIXTURE_TEST_CASE(clear_empties_one_database, EnvFixture) {
  for (int i = 0; i < 100; ++i) {
    put(2, "k" + std::to_string(i), "v");
    put(3, "k" + std::to_string(i), "v");
  }
  auto txn = WriteTxn::begin(*env);
  BOOST_REQUIRE(txn.ok());
  BOOST_REQUIRE(txn->clear(2).ok());
  BOOST_TEST(!txn->get(2, "k5", kNow)->has_value());
  BOOST_REQUIRE(txn->put(2, "after", {Type::kString, 0, "a"}).ok());
  BOOST_REQUIRE(txn->commit().ok());
  BOOST_TEST(dbsize(2) == 1u);
  BOOST_TEST(get(2, "after") == "a");
  BOOST_TEST(dbsize(3) == 100u);
  BOOST_TEST(get(3, "k99") == "v");
}

BOOST_FIXTURE_TEST_CASE(a_view_sees_commits_only_after_end, EnvFixture) {
  put(0, "k", "old");
  ReadView view(*env);
  BOOST_TEST(data_of(view.get(0, "k", kNow)) == "old");
  put(0, "k", "new");
  put(0, "k2", "added");
  BOOST_TEST(data_of(view.get(0, "k", kNow)) == "old");  // same snapshot
  BOOST_TEST(!view.get(0, "k2", kNow)->has_value());
  BOOST_TEST(*view.dbsize(0) == 1u);
  view.end();
  view.end();  // idempotent
  BOOST_TEST(data_of(view.get(0, "k", kNow)) == "new");
  BOOST_TEST(data_of(view.get(0, "k2", kNow)) == "added");
  BOOST_TEST(*view.dbsize(0) == 2u);
  // Many batches on one view reuse its transaction handle.
  view.end();
  for (int i = 0; i < 50; ++i) {
    put(0, "n", std::to_string(i));
    BOOST_TEST(data_of(view.get(0, "n", kNow)) == std::to_string(i));
    view.end();
  }
}

BOOST_FIXTURE_TEST_CASE(aborted_and_dropped_txns_change_nothing, EnvFixture) {
  put(0, "k", "v");
  {
    auto txn = WriteTxn::begin(*env);
    BOOST_REQUIRE(txn.ok());
    BOOST_REQUIRE(txn->put(0, "k", {Type::kString, 0, "changed"}).ok());
    BOOST_REQUIRE(txn->put(0, "new", {Type::kString, 0, "x"}).ok());
    BOOST_TEST(data_of(txn->get(0, "k", kNow)) == "changed");  // own writes
    txn->abort();
    txn->abort();  // idempotent
  }
  {
    auto txn = WriteTxn::begin(*env);
    BOOST_REQUIRE(txn.ok());
    BOOST_REQUIRE(*txn->del(0, "k", kNow));
    BOOST_REQUIRE(txn->clear(1).ok());
  }  // destructor aborts
  BOOST_TEST(get(0, "k") == "v");
  BOOST_TEST(get(0, "new") == "<none>");
}

BOOST_FIXTURE_TEST_CASE(write_txn_moves_ownership, EnvFixture) {
  auto begun = WriteTxn::begin(*env);
  BOOST_REQUIRE(begun.ok());
  WriteTxn a = std::move(*begun);
  BOOST_REQUIRE(a.put(0, "k", {Type::kString, 0, "v"}).ok());
  WriteTxn b(std::move(a));
  BOOST_REQUIRE(b.put(0, "k2", {Type::kString, 0, "v2"}).ok());
  BOOST_REQUIRE(b.commit().ok());
  // Both moved-from objects are destroyed here without a double abort; the
  // next transaction could not begin if the write lock were still held.
  BOOST_TEST(get(0, "k") == "v");
  put(0, "k3", "v3");
  BOOST_TEST(get(0, "k2") == "v2");
}

BOOST_FIXTURE_TEST_CASE(several_views_and_a_writer_in_one_thread, EnvFixture) {
  put(0, "k", "1");
  ReadView a(*env), b(*env);
  BOOST_TEST(data_of(a.get(0, "k", kNow)) == "1");
  put(0, "k", "2");
  BOOST_TEST(data_of(b.get(0, "k", kNow)) == "2");
  BOOST_TEST(data_of(a.get(0, "k", kNow)) == "1");
  auto txn = WriteTxn::begin(*env);
  BOOST_REQUIRE(txn.ok());
  BOOST_REQUIRE(txn->put(0, "k", {Type::kString, 0, "3"}).ok());
  BOOST_TEST(data_of(b.get(0, "k", kNow)) == "2");
  BOOST_REQUIRE(txn->commit().ok());
  b.end();
  BOOST_TEST(data_of(b.get(0, "k", kNow)) == "3");
}

BOOST_FIXTURE_TEST_CASE(corrupt_values_are_errors_not_crashes, EnvFixture) {
  put_raw(0, "\0bad"s, "\x07garbage");
  put_raw(0, "\0empty"s, "");
  put(0, "good", "g");
  ReadView view(*env);
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
  BOOST_TEST(del(0, "bad"));  // deleting repairs it
  BOOST_TEST(get(0, "good") == "g");
}
