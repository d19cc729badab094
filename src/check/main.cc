// check/main.cc: lmkv-check DIR: verifies an lmkv environment directory
// offline (store/verify.h) and prints what it found. Exit status 0 when it
// is healthy, 1 when it has problems or cannot be opened, 2 on usage errors.
// Reads only; safe while a server runs on the directory.
#include <fmt/format.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "store/verify.h"

namespace {

constexpr const char* kUsage =
    "Usage: lmkv-check [--quiet] [--max-problems N] DIR\n"
    "Verifies the lmkv data directory (or snapshot) DIR: LMDB records, the\n"
    "expiry index, the meta database and the log. Exit 0: healthy; 1: problems.\n";

void print_report(const lmkv::store::VerifyReport& r, const std::string& dir) {
  fmt::print("{}: data.mdb {} bytes ({} in use)\n", dir, r.file_bytes, r.used_bytes);
  fmt::print("applied offset: {}{}\n", r.applied_offset,
             r.has_applied_offset ? "" : " (never applied)");
  if (!r.db_map.empty()) fmt::print("database map (SWAPDB): {}\n", r.db_map);
  if (r.live_runs > 0)
    fmt::print("staged runs not yet merged: {} (the server merges them at its next start)\n",
               r.live_runs);
  uint64_t keys = 0;
  for (const auto& db : r.dbs) {
    keys += db.keys;
    if (db.keys == 0) continue;
    fmt::print("db{}: keys={} expires={} expired={} value_bytes={}", db.logical, db.keys,
               db.with_deadline, db.expired, db.value_bytes);
    if (db.logical != db.physical) fmt::print(" (stored as {})", db.physical);
    fmt::print("\n");
  }
  fmt::print("total keys: {} in {} databases\n", keys, r.dbs.size());
  fmt::print("expiry index: {} entries, {} stale\n", r.index_entries, r.index_stale);
  if (!r.log.present) {
    fmt::print("log: none (a snapshot, or never started)\n");
  } else {
    fmt::print("log: {} segments, {} frames ({} bytes) after the applied offset, ends at {}{}\n",
               r.log.segments, r.log.frames, r.log.payload_bytes, r.log.end_offset,
               r.log.tail.empty() ? ", clean end" : "");
  }
  for (const auto& n : r.notes) fmt::print("note: {}\n", n);
}

}  // namespace

int main(int argc, char** argv) {
  lmkv::store::VerifyOptions options;
  bool quiet = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "-q" || arg == "--quiet") {
      quiet = true;
    } else if (arg == "--max-problems" && i + 1 < argc) {
      options.max_problems = std::strtoul(argv[++i], nullptr, 10);
    } else if (!arg.empty() && arg[0] != '-' && options.dir.empty()) {
      options.dir = arg;
    } else {
      std::fputs(kUsage, stderr);
      return 2;
    }
  }
  if (options.dir.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  auto report = lmkv::store::verify_environment(options);
  if (!report) {
    fmt::print(stderr, "lmkv-check: {}\n", report.error().message);
    return 1;
  }
  if (!quiet) print_report(*report, options.dir);
  for (const auto& p : report->problems) fmt::print(stderr, "problem: {}\n", p);
  if (report->problem_count > report->problems.size())
    fmt::print(stderr, "... and {} more problems\n",
               report->problem_count - report->problems.size());
  if (!report->healthy()) {
    fmt::print(stderr, "lmkv-check: {} problems found\n", report->problem_count);
    return 1;
  }
  if (!quiet) fmt::print("OK\n");
  return 0;
}
