// tests/unit/store/fixture.h: a fresh LMDB environment per test case, in its
// own mkdtemp directory that is removed afterwards (STYLE.md §5).
#pragma once

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "store/env.h"
#include "store/read_view.h"
#include "store/write_txn.h"

namespace lmkv::store::testing {

struct TempDir {
  std::string path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "lmkv-store-XXXXXX").string();
    BOOST_REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

inline constexpr int64_t kNow = 1'000'000;  // the "current time" of every case

struct EnvFixture {
  TempDir tmp;
  std::unique_ptr<Env> env;

  EnvFixture() { reopen(); }

  EnvOptions options() const {
    EnvOptions o;
    o.dir = tmp.path + "/data";
    return o;
  }

  void reopen(EnvOptions o) {
    env.reset();
    auto opened = Env::open(o);
    BOOST_REQUIRE_MESSAGE(opened.ok(), (opened.ok() ? "" : opened.error().message));
    env = std::move(*opened);
  }
  void reopen() { reopen(options()); }

  // One committed write transaction storing key -> data.
  void put(int db, std::string_view key, std::string_view data, int64_t deadline = 0) {
    auto txn = WriteTxn::begin(*env);
    BOOST_REQUIRE(txn.ok());
    BOOST_REQUIRE(txn->put(db, key, ValueView{Type::kString, deadline, data}).ok());
    BOOST_REQUIRE(txn->commit().ok());
  }

  bool del(int db, std::string_view key) {
    auto txn = WriteTxn::begin(*env);
    BOOST_REQUIRE(txn.ok());
    auto deleted = txn->del(db, key, kNow);
    BOOST_REQUIRE(deleted.ok());
    BOOST_REQUIRE(txn->commit().ok());
    return *deleted;
  }

  // The value as a fresh view sees it; "<none>" when absent.
  std::string get(int db, std::string_view key) {
    ReadView view(*env);
    auto v = view.get(db, key, kNow);
    BOOST_REQUIRE_MESSAGE(v.ok(), (v.ok() ? "" : v.error().message));
    return *v ? std::string((*v)->data) : std::string("<none>");
  }

  uint64_t dbsize(int db) {
    ReadView view(*env);
    auto n = view.dbsize(db);
    BOOST_REQUIRE(n.ok());
    return *n;
  }

  // Writes a raw LMDB key/value, bypassing the encoding (corruption tests).
  void put_raw(int db, std::string_view key, std::string_view value) {
    MDB_txn* txn = nullptr;
    BOOST_REQUIRE_EQUAL(mdb_txn_begin(env->raw(), nullptr, 0, &txn), 0);
    MDB_val k{key.size(), const_cast<char*>(key.data())};
    MDB_val v{value.size(), const_cast<char*>(value.data())};
    BOOST_REQUIRE_EQUAL(mdb_put(txn, env->dbi(db), &k, &v, 0), 0);
    BOOST_REQUIRE_EQUAL(mdb_txn_commit(txn), 0);
  }
};

}  // namespace lmkv::store::testing
