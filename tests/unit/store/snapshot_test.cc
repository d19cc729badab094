// tests/unit/store/snapshot_test.cc: SAVE/BGSAVE's snapshot (store/snapshot.h)
// and lmkv-check's verifier (store/verify.h, Wal::scan): a snapshot holds
// everything committed before freeze(), is a consistent prefix under
// concurrent writes, opens as a store of its own, and replaces the previous
// one; the verifier passes healthy environments and names each kind of
// damage.
#include "store/snapshot.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "fixture.h"
#include "store/expiry.h"
#include "store/value.h"
#include "store/verify.h"

using namespace lmkv;
using namespace lmkv::store;
using namespace lmkv::store::testing;
namespace fs = std::filesystem;

namespace {

std::string key_of(int i) { return "seq:" + std::to_string(i); }

// Opens a copy of `dir` as an engine of its own (the snapshot stays as made).
std::unique_ptr<Engine> open_copy(const std::string& dir, const std::string& to) {
  fs::copy(dir, to, fs::copy_options::recursive);
  EngineOptions o;
  o.env.dir = to;
  o.fsync = Fsync::kNo;
  auto e = Engine::open(o);
  BOOST_REQUIRE_MESSAGE(e.ok(), message_of(e));
  return std::move(*e);
}

std::string get_in(Engine& e, int db, std::string_view key) {
  ReadView view(e);
  auto v = view.get(db, key, kNow);
  BOOST_REQUIRE(v.ok());
  return *v ? std::string((*v)->data) : std::string("<none>");
}

VerifyReport verify(const std::string& dir) {
  auto r = verify_environment({.dir = dir, .now_ms = kNow});
  BOOST_REQUIRE_MESSAGE(r.ok(), message_of(r));
  return *r;
}

std::string problems_of(const VerifyReport& r) {
  std::string out;
  for (const auto& p : r.problems) out += p + "; ";
  return out;
}

// Takes a snapshot as the server does: freeze on the writer (this thread),
// then wait for the applier and copy.
SnapshotInfo take_snapshot(EngineFixture& f, const std::string& into) {
  const uint64_t x = f.engine->freeze();
  BOOST_REQUIRE(f.engine->wait_applied(x).ok());
  auto made = write_snapshot(f.env(), into);
  BOOST_REQUIRE_MESSAGE(made.ok(), message_of(made));
  BOOST_TEST(made->offset >= x);
  return *made;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(snapshots)

BOOST_FIXTURE_TEST_CASE(holds_everything_committed_and_opens_as_a_store, EngineFixture) {
  for (int i = 0; i < 500; ++i) put(0, key_of(i), "v" + std::to_string(i));
  put(2, "with-ttl", "t", kNow + 60'000);
  put(0, "gone", "x");
  BOOST_TEST(del(0, "gone"));
  // Nothing is applied yet: the snapshot must wait for it.
  const auto made = take_snapshot(*this, tmp.path);
  BOOST_TEST(made.path == tmp.path + "/snapshot");
  BOOST_TEST(made.offset == engine->log_end_offset());
  BOOST_TEST(fs::exists(made.path + "/data.mdb"));
  BOOST_TEST(!fs::exists(made.path + "/log"));  // a snapshot has no log
  BOOST_TEST(!fs::exists(tmp.path + "/snapshot.tmp"));
  BOOST_TEST(made.bytes == fs::file_size(made.path + "/data.mdb"));

  auto r = verify(made.path);
  BOOST_TEST(r.healthy(), problems_of(r));
  BOOST_TEST(r.applied_offset == made.offset);
  BOOST_TEST(!r.log.present);
  BOOST_TEST(r.dbs.at(0).keys == 500u);
  BOOST_TEST(r.dbs.at(2).with_deadline == 1u);
  BOOST_TEST(r.index_entries == 1u);

  auto copy = open_copy(made.path, tmp.path + "/started");
  BOOST_TEST(copy->applied_offset() == made.offset);
  BOOST_TEST(copy->log_end_offset() == made.offset);  // the log restarts at the snapshot
  BOOST_TEST(get_in(*copy, 0, key_of(499)) == "v499");
  BOOST_TEST(get_in(*copy, 2, "with-ttl") == "t");
  BOOST_TEST(get_in(*copy, 0, "gone") == "<none>");
  // It takes writes and keeps them across a restart.
  {
    WriteTxn txn(*copy);
    BOOST_REQUIRE(txn.put(0, "after", ValueView{Type::kString, 0, "a"}).ok());
    BOOST_REQUIRE(txn.commit().ok());
  }
  copy.reset();
  EngineOptions o;
  o.env.dir = tmp.path + "/started";
  auto again = Engine::open(o);
  BOOST_REQUIRE(again.ok());
  BOOST_TEST(get_in(**again, 0, "after") == "a");
  BOOST_TEST(get_in(**again, 0, key_of(0)) == "v0");
}

BOOST_FIXTURE_TEST_CASE(a_new_snapshot_replaces_the_old_one, EngineFixture) {
  put(0, "a", "1");
  take_snapshot(*this, tmp.path);
  put(0, "a", "2");
  put(0, "b", "3");
  // A partial copy left by a crash is ignored and replaced.
  fs::create_directories(tmp.path + "/snapshot.tmp");
  std::ofstream(tmp.path + "/snapshot.tmp/data.mdb") << "garbage";
  const auto second = take_snapshot(*this, tmp.path);
  BOOST_TEST(!fs::exists(tmp.path + "/snapshot.tmp"));
  BOOST_TEST(!fs::exists(tmp.path + "/snapshot.old"));
  auto copy = open_copy(second.path, tmp.path + "/started");
  BOOST_TEST(get_in(*copy, 0, "a") == "2");
  BOOST_TEST(get_in(*copy, 0, "b") == "3");
}

// The copy runs on another thread while this one (the writer) keeps
// committing groups that the applier keeps applying: the snapshot holds
// every key committed before freeze() and is a prefix of the write order.
BOOST_AUTO_TEST_CASE(is_a_consistent_prefix_under_concurrent_writes) {
  EngineFixture f;
  auto o = f.options();
  o.write_buffer_size = 64 << 10;  // many applies while the copy runs
  f.reopen(o);
  int next = 0;
  for (; next < 3000; ++next) f.put(0, key_of(next), std::string(100, 'x'));
  const int before = next;
  const uint64_t x = f.engine->freeze();
  Result<SnapshotInfo> made = err("not run");
  std::atomic<bool> done{false};
  std::thread saver([&] {
    if (Status s = f.engine->wait_applied(x); !s)
      made = s.error();
    else
      made = write_snapshot(f.env(), f.tmp.path);
    done = true;
  });
  while (!done && next < 200000) f.put(0, key_of(next++), std::string(100, 'y'));
  saver.join();
  BOOST_REQUIRE_MESSAGE(made.ok(), message_of(made));
  BOOST_TEST(made->offset >= x);

  auto copy = open_copy(made->path, f.tmp.path + "/started");
  int present = 0;
  while (present < next && get_in(*copy, 0, key_of(present)) != "<none>") ++present;
  BOOST_TEST(present >= before);
  ReadView view(*copy);
  auto n = view.dbsize(0);
  BOOST_REQUIRE(n.ok());
  BOOST_TEST(*n == static_cast<uint64_t>(present));  // nothing after a gap: a prefix
  BOOST_TEST(verify(made->path).healthy());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(verify_env)

BOOST_FIXTURE_TEST_CASE(counts_and_stale_index_entries, EngineFixture) {
  put(0, "a", "1", kNow + 1000);
  put(0, "b", "2", kNow - 1);  // expired, not yet reclaimed
  flush();
  put(0, "a", "3");  // no deadline now: its index entry is a stale hint
  put(1, "c", "4");
  flush();
  auto r = verify(env().dir());
  BOOST_TEST(r.healthy(), problems_of(r));
  BOOST_TEST(r.dbs.at(0).keys == 2u);
  BOOST_TEST(r.dbs.at(0).with_deadline == 1u);
  BOOST_TEST(r.dbs.at(0).expired == 1u);
  BOOST_TEST(r.dbs.at(1).keys == 1u);
  BOOST_TEST(r.index_entries == 2u);
  BOOST_TEST(r.index_stale == 1u);
  BOOST_TEST(r.log.present);
  BOOST_TEST(r.log.tail.empty());
  BOOST_TEST(r.applied_offset == engine->applied_offset());
}

BOOST_FIXTURE_TEST_CASE(finds_bad_records, EngineFixture) {
  put(0, "fine", "ok");
  flush();
  std::string k, v;
  encode_key("bad-header", &k);
  put_raw(0, k, "\x7fpayload");
  encode_key("no-index", &k);
  encode_value(ValueView{Type::kString, kNow + 5000, "x"}, &v);
  put_raw(0, k, v);
  put_raw(0, std::string("\x01not-user", 9), std::string("\x00ok", 3));
  auto r = verify(env().dir());
  BOOST_TEST(!r.healthy());
  BOOST_TEST(r.problem_count == 4u, problems_of(r));
  const std::string all = problems_of(r);
  BOOST_TEST(all.find("'bad-header': value does not decode") != std::string::npos, all);
  BOOST_TEST(all.find("'no-index' expires at") != std::string::npos, all);
  BOOST_TEST(all.find("not in the user namespace") != std::string::npos, all);
  // Written behind the bulk apply's back: its count of keys with a deadline is short.
  BOOST_TEST(all.find("db 0: 1 keys have a deadline but meta counts 0") != std::string::npos, all);
}

BOOST_FIXTURE_TEST_CASE(finds_a_bad_db_map, EngineFixture) {
  put(0, "a", "1");
  flush();
  MDB_txn* txn = nullptr;
  BOOST_REQUIRE_EQUAL(mdb_txn_begin(env().raw(), nullptr, 0, &txn), 0);
  const std::string name(Engine::kDbMapKey), map("\x01\x01", 2);
  MDB_val k{name.size(), const_cast<char*>(name.data())},
      v{map.size(), const_cast<char*>(map.data())};
  BOOST_REQUIRE_EQUAL(mdb_put(txn, env().meta_dbi(), &k, &v, 0), 0);
  BOOST_REQUIRE_EQUAL(mdb_txn_commit(txn), 0);
  auto r = verify(env().dir());
  BOOST_TEST(r.problem_count == 1u, problems_of(r));
  BOOST_TEST(problems_of(r).find("db_map") != std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(finds_a_truncated_file, EngineFixture) {
  for (int i = 0; i < 2000; ++i) put(0, key_of(i), std::string(200, 'z'));
  const auto made = take_snapshot(*this, tmp.path);
  const std::string data = made.path + "/data.mdb";
  BOOST_REQUIRE_EQUAL(::truncate(data.c_str(), static_cast<off_t>(made.bytes / 2)), 0);
  auto r = verify(made.path);
  BOOST_TEST(!r.healthy());
  BOOST_TEST(problems_of(r).find("truncated") != std::string::npos, problems_of(r));
  // Not an LMDB file at all: an error, not a report.
  std::ofstream(data, std::ios::trunc) << "not lmdb";
  VerifyOptions options;
  options.dir = made.path;
  BOOST_TEST(!verify_environment(options).ok());
  options.dir = tmp.path + "/nowhere";
  BOOST_TEST(!verify_environment(options).ok());
}

BOOST_FIXTURE_TEST_CASE(scans_the_log_without_changing_it, EngineFixture) {
  auto o = options();
  o.segment_bytes = 4096;
  reopen(o);
  for (int i = 0; i < 200; ++i) put(0, key_of(i), std::string(50, 'l'));
  const uint64_t applied = engine->applied_offset();
  const uint64_t end = engine->log_end_offset();
  const std::string dir = env().dir() + "/log";
  auto clean = Wal::scan(dir, applied);
  BOOST_REQUIRE(clean.ok());
  BOOST_TEST(clean->segments > 2u);
  BOOST_TEST(clean->end_offset == end);
  BOOST_TEST(clean->frames == 200u);
  BOOST_TEST(clean->tail.empty());

  engine.reset();  // the log stays unapplied
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir)) files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  auto sizes = [&] {
    std::vector<uintmax_t> out;
    for (const auto& f : files) out.push_back(fs::file_size(f));
    return out;
  };
  // A torn tail: what a crash leaves and recovery cuts; a note, not a problem.
  {
    std::ofstream last(files.back(), std::ios::app | std::ios::binary);
    last << "LMKF";
  }
  auto before = sizes();
  auto torn = verify(o.env.dir);
  BOOST_TEST(torn.healthy(), problems_of(torn));
  BOOST_TEST(torn.log.frames == 200u);
  BOOST_TEST(torn.log.tail_bytes == 4u);
  BOOST_TEST(torn.log.tail.find("torn frame header") != std::string::npos, torn.log.tail);
  BOOST_TEST(!torn.notes.empty());
  // A flipped payload byte in the first segment: the later segments are lost.
  {
    std::fstream first(files.front(), std::ios::in | std::ios::out | std::ios::binary);
    first.seekp(Wal::kHeaderSize + 3);
    first.put('#');
  }
  auto bad = verify(o.env.dir);
  BOOST_TEST(!bad.healthy());
  BOOST_TEST(bad.log.lost_segments);
  BOOST_TEST(bad.log.tail.find("CRC mismatch") != std::string::npos, bad.log.tail);
  BOOST_TEST(sizes() == before);  // the check changed no file
}

BOOST_AUTO_TEST_SUITE_END()
