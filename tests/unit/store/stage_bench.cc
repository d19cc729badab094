// tests/unit/store/stage_bench.cc: what a staged apply would cost, measured
// on raw LMDB (a design experiment for issue 7; not the engine's code). Not
// a test: built on demand (`ninja stage_bench`), never run by `meson test`.
//
// Today one frozen write buffer is one transaction that writes its keys into
// the main tree. Over a tree of N random keys such a buffer rewrites nearly
// every leaf it touches for one or two keys, so the apply costs per leaf, not
// per key (BENCHMARKS.md "Stop 32": ~43k leaves per 16 MiB buffer over 1M
// keys). Only bigger applies cut that, and the apply's size is bounded by the
// log a restart replays.
//
// A staged apply would write each buffer instead as a sorted run of its own
// (a fresh database filled with MDB_APPEND: full pages, in order, no search)
// and store the log offset with it, so a restart replays only the log past
// the last run; every K runs one merge transaction writes their newest
// entries into the main tree and drops them. Each leaf is then rewritten
// once per K buffers.
//
// This program measures both on the same tree, same key stream:
//   --stages 0   direct: each batch of --batch random keys into main;
//   --stages K   staged: each batch appended as a run, every K runs merged.
// Both first preload --keys keys in order and age the tree with --warm
// direct batches (so free pages are scattered, as in a long-running
// server). Per batch it prints the wall time of each transaction part, and
// at the end the medians per key. The commit includes LMDB's fdatasync.
#include <lmdb.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace {

struct Options {
  size_t keys = 1'000'000;
  size_t batch = 86'000;  // ~one 16 MiB write buffer of 100-byte SETs
  int stages = 0;
  int rounds = 16;
  int warm = 8;
  std::string dir;
};

[[noreturn]] void die(const char* what, int rc) {
  std::fprintf(stderr, "stage_bench: %s: %s\n", what, mdb_strerror(rc));
  std::exit(1);
}

void check(int rc, const char* what) {
  if (rc != 0) die(what, rc);
}

double now_ms() {
  using namespace std::chrono;
  return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

std::string key_of(size_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "key:%012zu", i);
  return buf;
}

// A batch: distinct random keys in key order, with fresh 100-byte values.
struct Batch {
  std::vector<std::string> keys;
  std::string value;
};

Batch make_batch(std::mt19937_64& rng, const Options& o, uint64_t round) {
  std::vector<size_t> ids(o.batch);
  for (auto& id : ids) id = rng() % o.keys;
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  Batch b;
  b.keys.reserve(ids.size());
  for (size_t id : ids) b.keys.push_back(key_of(id));  // same width: id order is key order
  b.value.assign(100, static_cast<char>('a' + round % 26));
  return b;
}

// Writes `entries` (key order) into `dbi` of `parent` through child
// transactions of 2048 keys, as store/apply.cc does (LMDB's dirty page list
// goes quadratic in one big transaction).
template <class Entry>
void write_sorted(MDB_env* env, MDB_txn* parent, MDB_dbi dbi, const std::vector<Entry>& entries) {
  constexpr size_t kChild = 2048;
  for (size_t at = 0; at < entries.size(); at += kChild) {
    MDB_txn* child = nullptr;
    check(mdb_txn_begin(env, parent, 0, &child), "child begin");
    MDB_cursor* cur = nullptr;
    check(mdb_cursor_open(child, dbi, &cur), "cursor");
    for (size_t i = at; i < std::min(entries.size(), at + kChild); ++i) {
      MDB_val k = entries[i].key, v = entries[i].value;
      check(mdb_cursor_put(cur, &k, &v, 0), "put");
    }
    mdb_cursor_close(cur);
    check(mdb_txn_commit(child), "child commit");
  }
}

struct Entry {
  MDB_val key, value;
};

std::vector<Entry> entries_of(const Batch& b) {
  std::vector<Entry> out;
  out.reserve(b.keys.size());
  for (const auto& k : b.keys)
    out.push_back({{k.size(), const_cast<char*>(k.data())},
                   {b.value.size(), const_cast<char*>(b.value.data())}});
  return out;
}

// One batch straight into main: the apply as it is.
void direct(MDB_env* env, MDB_dbi main, const Batch& b, double* put_ms, double* commit_ms) {
  const double t0 = now_ms();
  MDB_txn* txn = nullptr;
  check(mdb_txn_begin(env, nullptr, 0, &txn), "begin");
  write_sorted(env, txn, main, entries_of(b));
  const double t1 = now_ms();
  check(mdb_txn_commit(txn), "commit");
  *put_ms = t1 - t0;
  *commit_ms = now_ms() - t1;
}

std::string stage_name(int i) { return "stage" + std::to_string(i); }

// One batch as a run of its own: a fresh database filled in order.
void stage(MDB_env* env, int run, const Batch& b, double* ms) {
  const double t0 = now_ms();
  MDB_txn* txn = nullptr;
  check(mdb_txn_begin(env, nullptr, 0, &txn), "begin");
  MDB_dbi dbi;
  check(mdb_dbi_open(txn, stage_name(run).c_str(), MDB_CREATE, &dbi), "open stage");
  MDB_cursor* cur = nullptr;
  check(mdb_cursor_open(txn, dbi, &cur), "cursor");
  for (const auto& k : b.keys) {
    MDB_val kv{k.size(), const_cast<char*>(k.data())};
    MDB_val vv{b.value.size(), const_cast<char*>(b.value.data())};
    check(mdb_cursor_put(cur, &kv, &vv, MDB_APPEND), "append");
  }
  mdb_cursor_close(cur);
  check(mdb_txn_commit(txn), "commit");
  *ms = now_ms() - t0;
}

// Runs 0..runs-1 into main, newest run winning, then drops them: one
// transaction. Times the read and merge, the writes, the drops, the commit.
void merge(MDB_env* env, MDB_dbi main, int runs, double* read_ms, double* put_ms, double* drop_ms,
           double* commit_ms, size_t* merged) {
  const double t0 = now_ms();
  MDB_txn* txn = nullptr;
  check(mdb_txn_begin(env, nullptr, 0, &txn), "begin");
  // Each run is in key order already: read them into one list each, then
  // merge the lists, the newest run winning a key they share. The values
  // view the runs' pages, which stay put until the drops below.
  std::vector<std::vector<Entry>> lists(static_cast<size_t>(runs));
  std::vector<MDB_dbi> dbis;
  for (int r = 0; r < runs; ++r) {
    MDB_dbi dbi;
    check(mdb_dbi_open(txn, stage_name(r).c_str(), 0, &dbi), "open stage");
    dbis.push_back(dbi);
    MDB_cursor* cur = nullptr;
    check(mdb_cursor_open(txn, dbi, &cur), "cursor");
    MDB_val k, v;
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
      lists[static_cast<size_t>(r)].push_back({k, v});
    mdb_cursor_close(cur);
  }
  auto view = [](const MDB_val& v) {
    return std::string_view(static_cast<const char*>(v.mv_data), v.mv_size);
  };
  std::vector<size_t> at(lists.size(), 0);
  std::vector<Entry> newest;
  for (;;) {
    int best = -1;  // the smallest key; of equal keys the newest run's
    for (int r = runs - 1; r >= 0; --r) {
      const auto& l = lists[static_cast<size_t>(r)];
      if (at[static_cast<size_t>(r)] == l.size()) continue;
      if (best < 0 || view(l[at[static_cast<size_t>(r)]].key) <
                          view(lists[static_cast<size_t>(best)][at[static_cast<size_t>(best)]].key))
        best = r;
    }
    if (best < 0) break;
    const Entry e = lists[static_cast<size_t>(best)][at[static_cast<size_t>(best)]];
    newest.push_back(e);
    for (int r = 0; r < runs; ++r) {
      const auto& l = lists[static_cast<size_t>(r)];
      size_t& i = at[static_cast<size_t>(r)];
      if (i < l.size() && view(l[i].key) == view(e.key)) ++i;
    }
  }
  const double t1 = now_ms();
  write_sorted(env, txn, main, newest);
  const double t2 = now_ms();
  for (MDB_dbi dbi : dbis) check(mdb_drop(txn, dbi, 1), "drop");
  const double t3 = now_ms();
  check(mdb_txn_commit(txn), "commit");
  *read_ms = t1 - t0;
  *put_ms = t2 - t1;
  *drop_ms = t3 - t2;
  *commit_ms = now_ms() - t3;
  *merged = newest.size();
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "stage_bench: %s needs a value\n", argv[i]);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--keys")
      o.keys = std::strtoull(next(), nullptr, 10);
    else if (a == "--batch")
      o.batch = std::strtoull(next(), nullptr, 10);
    else if (a == "--stages")
      o.stages = std::atoi(next());
    else if (a == "--rounds")
      o.rounds = std::atoi(next());
    else if (a == "--warm")
      o.warm = std::atoi(next());
    else if (a == "--dir")
      o.dir = next();
    else {
      std::fprintf(stderr,
                   "usage: stage_bench [--keys N] [--batch B] [--stages K] [--rounds R] "
                   "[--warm W] [--dir D]\n");
      std::exit(2);
    }
  }
  if (o.keys == 0 || o.batch == 0 || o.stages < 0 || o.stages > 64 || o.rounds < 1) {
    std::fprintf(stderr, "stage_bench: bad options\n");
    std::exit(2);
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  const bool own_dir = o.dir.empty();
  if (own_dir) {
    char tmpl[] = "/tmp/stage_bench.XXXXXX";
    if (!mkdtemp(tmpl)) {
      std::perror("mkdtemp");
      return 1;
    }
    o.dir = tmpl;
  }
  std::filesystem::create_directories(o.dir);
  MDB_env* env = nullptr;
  check(mdb_env_create(&env), "env");
  check(mdb_env_set_mapsize(env, size_t{16} << 30), "mapsize");
  check(mdb_env_set_maxdbs(env, 80), "maxdbs");
  check(mdb_env_open(env, o.dir.c_str(), MDB_NORDAHEAD | MDB_NOTLS, 0644), "open");

  MDB_txn* txn = nullptr;
  check(mdb_txn_begin(env, nullptr, 0, &txn), "begin");
  MDB_dbi main;
  check(mdb_dbi_open(txn, "main", MDB_CREATE, &main), "open main");
  MDB_stat st;
  check(mdb_stat(txn, main, &st), "stat");
  if (st.ms_entries == 0) {
    const std::string value(100, 'p');
    MDB_cursor* cur = nullptr;
    check(mdb_cursor_open(txn, main, &cur), "cursor");
    for (size_t i = 0; i < o.keys; ++i) {
      const std::string k = key_of(i);
      MDB_val kv{k.size(), const_cast<char*>(k.data())};
      MDB_val vv{value.size(), const_cast<char*>(value.data())};
      check(mdb_cursor_put(cur, &kv, &vv, MDB_APPEND), "preload");
    }
    mdb_cursor_close(cur);
  }
  check(mdb_txn_commit(txn), "commit");

  std::mt19937_64 rng(42);
  double put_ms, commit_ms;
  for (int w = 0; w < o.warm; ++w) direct(env, main, make_batch(rng, o, w), &put_ms, &commit_ms);

  std::vector<double> per_key_us;  // per batch: its own cost, merges spread over their runs
  double total_ms = 0;
  size_t total_keys = 0;
  int run = 0;
  double staged_ms = 0;  // the runs' costs since the last merge
  size_t staged_keys = 0;
  std::mt19937_64 last_rng;  // the generator as the last batch began
  for (int r = 0; r < o.rounds; ++r) {
    last_rng = rng;
    const Batch b = make_batch(rng, o, static_cast<uint64_t>(o.warm + r));
    if (o.stages == 0) {
      direct(env, main, b, &put_ms, &commit_ms);
      std::printf("batch %d: %zu keys, put %.1f ms, commit %.1f ms\n", r, b.keys.size(), put_ms,
                  commit_ms);
      per_key_us.push_back((put_ms + commit_ms) * 1000 / static_cast<double>(b.keys.size()));
      total_ms += put_ms + commit_ms;
      total_keys += b.keys.size();
      continue;
    }
    double ms;
    stage(env, run++, b, &ms);
    std::printf("batch %d: %zu keys, staged in %.1f ms\n", r, b.keys.size(), ms);
    staged_ms += ms;
    staged_keys += b.keys.size();
    if (run == o.stages) {
      double read_ms, drop_ms;
      size_t merged;
      merge(env, main, run, &read_ms, &put_ms, &drop_ms, &commit_ms, &merged);
      const double merge_ms = read_ms + put_ms + drop_ms + commit_ms;
      std::printf(
          "merge of %d runs: %zu keys, read %.1f ms, put %.1f ms, drop %.1f ms, "
          "commit %.1f ms\n",
          run, merged, read_ms, put_ms, drop_ms, commit_ms);
      per_key_us.push_back((staged_ms + merge_ms) * 1000 / static_cast<double>(staged_keys));
      total_ms += staged_ms + merge_ms;
      total_keys += staged_keys;
      run = 0;
      staged_ms = 0;
      staged_keys = 0;
    }
  }
  if (run > 0) {  // runs left over: merged, not counted
    double read_ms, drop_ms;
    size_t merged;
    merge(env, main, run, &read_ms, &put_ms, &drop_ms, &commit_ms, &merged);
  }
  // The check that both ways wrote the same: the tree holds every key once,
  // and the last batch's keys hold its value.
  check(mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn), "begin");
  check(mdb_stat(txn, main, &st), "stat");
  if (st.ms_entries != o.keys) {
    std::fprintf(stderr, "stage_bench: %zu keys in the tree, not %zu\n",
                 static_cast<size_t>(st.ms_entries), o.keys);
    return 1;
  }
  const Batch last = make_batch(last_rng, o, static_cast<uint64_t>(o.warm + o.rounds - 1));
  for (const auto& k : last.keys) {
    MDB_val kv{k.size(), const_cast<char*>(k.data())}, vv;
    if (mdb_get(txn, main, &kv, &vv) != 0 ||
        std::string_view(static_cast<const char*>(vv.mv_data), vv.mv_size) != last.value) {
      std::fprintf(stderr, "stage_bench: %s lost its last value\n", k.c_str());
      return 1;
    }
  }
  mdb_txn_abort(txn);
  std::printf(
      "stages %d: %zu keys written in %.0f ms: %.2f us per key (median of %zu cycles "
      "%.2f)\n",
      o.stages, total_keys, total_ms, total_ms * 1000 / static_cast<double>(total_keys),
      per_key_us.size(), median(per_key_us));
  MDB_envinfo info;
  mdb_env_info(env, &info);
  std::printf("data file: %.1f MiB used of the map\n",
              static_cast<double>(info.me_last_pgno + 1) * 4096 / (1 << 20));
  mdb_env_close(env);
  if (own_dir) std::filesystem::remove_all(o.dir);
  return 0;
}
