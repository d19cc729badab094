// tests/unit/store/apply_bench.cc: micro benchmark of the bulk apply
// (Engine::apply, store/apply.cc). Not a test: built on demand
// (`ninja -C build apply_bench`), never run by `meson test`.
//
// It preloads a fresh engine with --keys keys ("key:NNNNNNNNNNNN", 100-byte
// values, in random order, applied in ~8 MiB MemTables like the server's),
// then runs --rounds measured rounds: random SETs over the same key space
// (optionally --dels percent DELs and --ttl percent of SETs with a deadline)
// until the active MemTable holds --buffer bytes, then one flush, which
// freezes it and waits for the applier. Per round it prints the apply's wall
// time without the commit (the per-key loop, the expiry index, the meta
// keys) and the commit's (page writes and the sync), per applied key.
//
// Under callgrind, count only the apply (the applier thread's loop):
//   valgrind --tool=callgrind --collect-atstart=no
//     --toggle-collect='lmkv::store::Engine::apply*' build/.../apply_bench --keys 250000
//     --buffer 2097152 --rounds 3
// (a quarter of the keys and of the buffer: the same keys per leaf per apply).
// The counters are zeroed after the preload and dumped after each round, so
// each file's "totals:" line is one round's apply: divide by the distinct
// keys that round printed.
// The log is not synced (fsync no); LMDB syncs every commit as always. The
// prefetch pool is off unless --prefetch N: the tree is in the page cache,
// so it would only take CPU from the applier on a small machine.
// To count a full-size tree without preloading it under valgrind, preload
// once natively (--dir D --rounds 0), copy D for each run and pass
// --dir COPY --preload 0 (same --keys).
// Single-threaded driver (the writer); the engine runs its own applier.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <numeric>
#include <random>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "base/clock.h"
#include "store/engine.h"
#include "store/write_txn.h"

// Under callgrind, the preload's applies are not counted: the counters are
// zeroed before the measured rounds, and dumped after each round (one file
// per round, suffixed .1, .2, ...). No-ops outside valgrind.
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define LMKV_ZERO_COUNTERS() CALLGRIND_ZERO_STATS
#define LMKV_DUMP_COUNTERS() CALLGRIND_DUMP_STATS
#else
#define LMKV_ZERO_COUNTERS() \
  do {                       \
  } while (0)
#define LMKV_DUMP_COUNTERS() LMKV_ZERO_COUNTERS()
#endif

namespace lmkv::store {
namespace {

struct Options {
  size_t keys = 1'000'000;
  int rounds = 5;
  int dels = 0;  // percent of operations that are DELs
  int ttl = 0;   // percent of SETs with a deadline
  int prefetch = 0;
  size_t buffer = 8u << 20;
  std::string dir;      // default: a fresh directory under the temp dir
  bool preload = true;  // false: --dir already holds the --keys keys
};

[[noreturn]] void die(std::string_view what, const std::string& message) {
  std::fprintf(stderr, "apply_bench: %.*s: %s\n", static_cast<int>(what.size()), what.data(),
               message.c_str());
  std::exit(1);
}

void check(const Status& s, std::string_view what) {
  if (!s.ok()) die(what, s.error().message);
}

std::string key_name(size_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "key:%012zu", i);
  return buf;
}

// The active MemTable's size: a round ends when it reaches the buffer size.
size_t active_bytes(const Engine& e) { return e.version()->layers[0]->bytes(); }

// Applies what is active and returns the apply's stats.
struct Applied {
  uint64_t entries, total_us, commit_us;
};
Applied flush(Engine& e) {
  const EngineStats& st = e.stats();
  const uint64_t before = st.applies.load();
  const uint64_t stale_us = st.last_apply_us.load();
  check(e.flush(), "flush");
  if (st.applies.load() != before + 1) die("flush", "expected exactly one apply");
  // The applier stores an apply's time just after publishing it, so
  // flush() may return first: wait (bounded) for the new figure.
  for (int i = 0; i < 5000 && st.last_apply_us.load() == stale_us; ++i) ::usleep(1000);
  if (st.last_apply_us.load() == stale_us) die("flush", "the apply's time never came");
  return {st.last_apply_entries.load(), st.last_apply_us.load(), st.last_apply_commit_us.load()};
}

int run(const Options& o) {
  std::string dir = o.dir;
  bool remove_dir = false;
  if (dir.empty()) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "lmkv-apply-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) die("mkdtemp", std::strerror(errno));
    dir = tmpl;
    remove_dir = true;
  }
  EngineOptions eo;
  eo.env.dir = dir + "/data";
  eo.fsync = Fsync::kNo;
  eo.write_buffer_size = 2 * o.buffer;  // rounds freeze by flush() only (also the arena hint)
  eo.max_unapplied = size_t{1} << 40;
  eo.buffer_max_age_ms = int64_t{1} << 40;
  eo.prefetch_threads = o.prefetch;
  auto opened = Engine::open(eo);
  if (!opened.ok()) die("open", opened.error().message);
  auto engine = std::move(*opened);

  std::mt19937_64 rng(12345);
  std::string value(100, 'v');
  auto fill_value = [&] {
    const uint64_t r = rng();
    std::memcpy(value.data(), &r, sizeof r);  // some variety, same size
  };
  constexpr size_t kGroup = 512;  // effects per writer group (like -P 16 MSETs)

  // Preload in random order, applying every ~buffer bytes.
  const int64_t preload_started = unix_ms();
  std::vector<uint32_t> order(o.preload ? o.keys : 0);
  std::iota(order.begin(), order.end(), 0u);
  std::shuffle(order.begin(), order.end(), rng);
  for (size_t i = 0; i < order.size();) {
    WriteTxn txn(*engine);
    for (size_t end = std::min(order.size(), i + kGroup); i < end; ++i) {
      fill_value();
      check(txn.put(0, key_name(order[i]), ValueView{Type::kString, 0, value}), "put");
    }
    check(txn.commit(), "commit");
    if (active_bytes(*engine) >= o.buffer) flush(*engine);
  }
  if (o.preload) flush(*engine);
  std::printf("preloaded %zu keys in %.1f s; data.mdb %.1f MiB\n", o.keys,
              static_cast<double>(unix_ms() - preload_started) / 1000.0,
              static_cast<double>(engine->env().file_size()) / (1 << 20));

  LMKV_ZERO_COUNTERS();
  // Deadlines an hour or so away (never due here), spread over ~17 minutes
  // like SET EX from many clients: index keys mostly distinct.
  const int64_t deadline_base = unix_ms() + 3'600'000;
  std::uniform_int_distribution<int64_t> deadline_spread(0, 1'000'000);
  std::uniform_int_distribution<size_t> pick_key(0, o.keys - 1);
  std::uniform_int_distribution<int> percent(0, 99);
  std::vector<double> loop_us_per_key, total_us_per_key;
  size_t all_keys = 0;
  for (int round = 0; round < o.rounds; ++round) {
    std::unordered_set<size_t> distinct;
    size_t sets = 0, dels = 0, ttls = 0;
    while (active_bytes(*engine) < o.buffer) {
      WriteTxn txn(*engine);
      for (size_t n = 0; n < kGroup; ++n) {
        const size_t k = pick_key(rng);
        distinct.insert(k);
        if (percent(rng) < o.dels) {
          auto deleted = txn.del(0, key_name(k), unix_ms());
          if (!deleted.ok()) die("del", deleted.error().message);
          ++dels;
        } else {
          fill_value();
          const bool with_ttl = percent(rng) < o.ttl;
          ttls += with_ttl;
          const int64_t deadline = with_ttl ? deadline_base + deadline_spread(rng) : 0;
          check(txn.put(0, key_name(k), ValueView{Type::kString, deadline, value}), "put");
          ++sets;
        }
      }
      check(txn.commit(), "commit");
    }
    const Applied a = flush(*engine);
    LMKV_DUMP_COUNTERS();
    const double keys = static_cast<double>(distinct.size());
    all_keys += distinct.size();
    const double loop_us = static_cast<double>(a.total_us - a.commit_us);
    loop_us_per_key.push_back(loop_us / keys);
    total_us_per_key.push_back(static_cast<double>(a.total_us) / keys);
    std::printf(
        "round %d: %zu sets (%zu with ttl) %zu dels, %zu distinct keys, %lu entries: "
        "apply %.1f ms (commit %.1f ms) -> %.3f us/key without commit, %.3f with\n",
        round, sets, ttls, dels, distinct.size(), static_cast<unsigned long>(a.entries),
        loop_us / 1000.0, static_cast<double>(a.commit_us) / 1000.0, loop_us_per_key.back(),
        total_us_per_key.back());
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
  };
  std::printf("median: %.3f us/key without commit, %.3f us/key with commit; %zu keys in all\n",
              median(loop_us_per_key), median(total_us_per_key), all_keys);
  engine.reset();
  if (remove_dir) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  return 0;
}

}  // namespace
}  // namespace lmkv::store

int main(int argc, char** argv) {
  lmkv::store::Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view flag = argv[i];
    const char* arg = argv[i + 1];
    if (flag == "--keys")
      o.keys = std::strtoull(arg, nullptr, 10);
    else if (flag == "--rounds")
      o.rounds = std::atoi(arg);
    else if (flag == "--dels")
      o.dels = std::atoi(arg);
    else if (flag == "--ttl")
      o.ttl = std::atoi(arg);
    else if (flag == "--prefetch")
      o.prefetch = std::atoi(arg);
    else if (flag == "--buffer")
      o.buffer = std::strtoull(arg, nullptr, 10);
    else if (flag == "--dir")
      o.dir = arg;
    else if (flag == "--preload")
      o.preload = std::atoi(arg) != 0;
    else {
      std::fprintf(stderr,
                   "usage: apply_bench [--keys N] [--rounds N] [--dels PCT] [--ttl PCT] "
                   "[--prefetch THREADS] [--buffer BYTES] [--dir DIR] [--preload 0|1]\n");
      return 2;
    }
  }
  if (o.keys == 0 || (!o.preload && o.dir.empty())) return 2;
  return lmkv::store::run(o);
}
