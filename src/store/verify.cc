// store/verify.cc: lmkv-check's pass over an environment (see verify.h).
#include "store/verify.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>

#include "base/clock.h"
#include "base/numbers.h"
#include "store/engine.h"
#include "store/env.h"
#include "store/expiry.h"
#include "store/value.h"

namespace lmkv::store {
namespace {

// Enough for any --databases (the server allows at most 256: one map byte).
constexpr MDB_dbi kMaxDbs = 2 * 256 + 2;

std::string_view as_view(const MDB_val& v) {
  return {static_cast<const char*>(v.mv_data), v.mv_size};
}

// A key as it may be printed: non-printable bytes as \xNN, long keys cut.
std::string printable(std::string_view key) {
  std::string out;
  for (size_t i = 0; i < key.size() && i < 64; ++i) {
    const auto c = static_cast<unsigned char>(key[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\')
      out.push_back(static_cast<char>(c));
    else
      out += fmt::format("\\x{:02x}", c);
  }
  if (key.size() > 64) out += "...";
  return out;
}

// Closes everything the check opened, on every return.
struct Handles {
  MDB_env* env = nullptr;
  MDB_txn* txn = nullptr;
  std::vector<MDB_cursor*> cursors;
  ~Handles() {
    for (auto* c : cursors)
      if (c) mdb_cursor_close(c);
    if (txn) mdb_txn_abort(txn);
    if (env) mdb_env_close(env);
  }
};

class Checker {
 public:
  Checker(const VerifyOptions& o, VerifyReport& r) : options_(o), report_(r) {}

  void problem(std::string text) {
    if (report_.problems.size() < options_.max_problems)
      report_.problems.push_back(std::move(text));
    ++report_.problem_count;
  }
  void note(std::string text) { report_.notes.push_back(std::move(text)); }

 private:
  const VerifyOptions& options_;
  VerifyReport& report_;
};

// Reads the meta database: offsets, the SWAPDB map and the counts of keys
// with a deadline (into *expires, when stored).
void check_meta(MDB_txn* txn, MDB_dbi meta, int databases, Checker& c, VerifyReport& r,
                std::vector<int>* logical_of, std::optional<std::vector<int64_t>>* expires) {
  MDB_cursor* cur = nullptr;
  if (int rc = mdb_cursor_open(txn, meta, &cur)) {
    c.problem(fmt::format("meta: cannot open a cursor: {}", mdb_strerror(rc)));
    return;
  }
  MDB_val k, v;
  for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    const std::string_view name = as_view(k);
    if (name == Engine::kAppliedOffsetKey) {
      if (v.mv_size != 8) {
        c.problem(fmt::format("meta: applied_offset is {} bytes, not 8", v.mv_size));
        continue;
      }
      std::memcpy(&r.applied_offset, v.mv_data, 8);
      r.has_applied_offset = true;
    } else if (name == Engine::kMainOffsetKey) {
      if (v.mv_size != 8) c.problem(fmt::format("meta: main_offset is {} bytes, not 8", v.mv_size));
    } else if (name == kMergingKey) {
      c.note("a merge of the runs was under way; the next start merges them again");
    } else if (name == kRunsKey) {
      r.live_runs = v.mv_size / (1 + sizeof(RunInfo::cleared));
    } else if (name == Engine::kAppliedPositionKey) {
      if (v.mv_size != sizeof(WalPosition))
        c.problem(fmt::format("meta: applied_position is {} bytes, not {}", v.mv_size,
                              sizeof(WalPosition)));
    } else if (name == Engine::kDbMapKey) {
      const std::string_view map = as_view(v);
      std::vector<bool> seen(map.size(), false);
      bool ok = map.size() <= static_cast<size_t>(databases);
      for (size_t i = 0; ok && i < map.size(); ++i) {
        const auto p = static_cast<uint8_t>(map[i]);
        ok = p < map.size() && !seen[p];
        if (ok) {
          seen[p] = true;
          (*logical_of)[p] = static_cast<int>(i);
        }
      }
      if (!ok) {
        c.problem(fmt::format("meta: db_map ({} bytes for {} databases) is not a permutation",
                              map.size(), databases));
        continue;
      }
      for (size_t i = 0; i < map.size(); ++i)
        r.db_map +=
            fmt::format("{}{}", i ? " " : "", static_cast<int>(static_cast<uint8_t>(map[i])));
    } else if (name == Engine::kExpiresKey) {
      if (v.mv_size % sizeof(int64_t) != 0 ||
          v.mv_size > static_cast<size_t>(databases) * sizeof(int64_t)) {
        c.problem(fmt::format("meta: expires is {} bytes for {} databases", v.mv_size, databases));
        continue;
      }
      expires->emplace(static_cast<size_t>(databases), 0);
      std::memcpy((*expires)->data(), v.mv_data, v.mv_size);
    } else {
      c.note(fmt::format("meta: unknown key '{}'", printable(name)));
    }
  }
  mdb_cursor_close(cur);
}

}  // namespace

Result<VerifyReport> verify_environment(const VerifyOptions& options) {
  VerifyReport r;
  Checker c(options, r);
  const int64_t now = options.now_ms ? options.now_ms : unix_ms();
  const std::string data = options.dir + "/data.mdb";
  struct stat st {};
  if (::stat(data.c_str(), &st) != 0) return err(fmt::format("no LMDB file {}", data));
  r.file_bytes = static_cast<uint64_t>(st.st_size);

  Handles h;
  if (int rc = mdb_env_create(&h.env)) return lmdb_error(rc, "env_create");
  mdb_env_set_maxdbs(h.env, kMaxDbs);
  // Map the file with room to grow (a server may be writing), not the
  // writer's huge map: address space may be capped (ulimit -v, sanitizers).
  auto map_for = [](uint64_t file) { return static_cast<size_t>(2 * file + (64u << 20)); };
  mdb_env_set_mapsize(h.env, map_for(r.file_bytes));
  if (int rc =
          mdb_env_open(h.env, options.dir.c_str(), MDB_RDONLY | MDB_NOTLS | MDB_NORDAHEAD, 0644))
    return lmdb_error(rc, "open '" + options.dir + "'");
  // Pages past the end of the file would fault (SIGBUS) when touched.
  MDB_envinfo info;
  MDB_stat stat;
  mdb_env_info(h.env, &info);
  mdb_env_stat(h.env, &stat);
  r.used_bytes = (static_cast<uint64_t>(info.me_last_pgno) + 1) * stat.ms_psize;
  if (r.used_bytes > r.file_bytes) {
    c.problem(fmt::format("data.mdb is truncated: {} bytes, but LMDB uses {}", r.file_bytes,
                          r.used_bytes));
    return r;
  }
  int rc = mdb_txn_begin(h.env, nullptr, MDB_RDONLY, &h.txn);
  for (int retry = 0; rc == MDB_MAP_RESIZED && retry < 3; ++retry) {
    // A running server grew the file past our map since the open.
    if (::stat(data.c_str(), &st) == 0) mdb_env_set_mapsize(h.env, map_for(st.st_size));
    rc = mdb_txn_begin(h.env, nullptr, MDB_RDONLY, &h.txn);
  }
  if (rc) {
    h.txn = nullptr;
    return lmdb_error(rc, "txn_begin");
  }

  // The named databases are the records of the unnamed one.
  MDB_dbi main_dbi = 0;
  if (int rc = mdb_dbi_open(h.txn, nullptr, 0, &main_dbi)) return lmdb_error(rc, "open main");
  std::map<int, std::string> numbered;
  bool have_meta = false, have_expires = false;
  {
    MDB_cursor* cur = nullptr;
    if (int rc = mdb_cursor_open(h.txn, main_dbi, &cur)) return lmdb_error(rc, "cursor");
    MDB_val k, v;
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
      const std::string name(as_view(k));
      auto n = parse_i64(name);
      if (n && *n >= 0 && *n < 256 && std::to_string(*n) == name)
        numbered[static_cast<int>(*n)] = name;
      else if (name == "meta")
        have_meta = true;
      else if (name == "expires")
        have_expires = true;
      else if (name.rfind("run.", 0) == 0)
        ++r.run_slots;  // store/runs.h
      else
        c.note(fmt::format("unknown named database '{}'", printable(name)));
    }
    mdb_cursor_close(cur);
  }
  const int databases = numbered.empty() ? 0 : numbered.rbegin()->first + 1;
  if (static_cast<int>(numbered.size()) != databases)
    c.problem(
        fmt::format("databases are not numbered 0..{}: {} found", databases - 1, numbered.size()));
  if (!have_meta) c.problem("no 'meta' database");
  if (!have_expires) c.problem("no 'expires' database");

  std::vector<MDB_dbi> dbis(static_cast<size_t>(databases), 0);
  std::vector<bool> opened(dbis.size(), false);
  for (const auto& [n, name] : numbered) {
    if (int rc = mdb_dbi_open(h.txn, name.c_str(), 0, &dbis[static_cast<size_t>(n)]))
      c.problem(fmt::format("database {}: cannot open: {}", name, mdb_strerror(rc)));
    else
      opened[static_cast<size_t>(n)] = true;
  }
  std::vector<int> logical_of(dbis.size());
  for (size_t i = 0; i < logical_of.size(); ++i) logical_of[i] = static_cast<int>(i);
  MDB_dbi meta = 0, expires = 0;
  std::optional<std::vector<int64_t>> stored_expires;
  if (have_meta && mdb_dbi_open(h.txn, "meta", 0, &meta) == 0)
    check_meta(h.txn, meta, databases, c, r, &logical_of, &stored_expires);
  if (have_expires && mdb_dbi_open(h.txn, "expires", 0, &expires) != 0) have_expires = false;

  // Every record decodes; every deadline has its index entry.
  MDB_cursor* index = nullptr;
  if (have_expires && mdb_cursor_open(h.txn, expires, &index) != 0) index = nullptr;
  h.cursors.push_back(index);
  for (int db = 0; db < databases; ++db) {
    if (!opened[static_cast<size_t>(db)]) continue;
    VerifyDb counts{.physical = db, .logical = logical_of[static_cast<size_t>(db)]};
    MDB_cursor* cur = nullptr;
    if (int rc = mdb_cursor_open(h.txn, dbis[static_cast<size_t>(db)], &cur)) {
      c.problem(fmt::format("database {}: cursor: {}", db, mdb_strerror(rc)));
      continue;
    }
    MDB_val k, v;
    int rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
      ++counts.keys;
      const auto key = decode_key(as_view(k));
      if (!key) {
        c.problem(
            fmt::format("db {}: key '{}' is not in the user namespace", db, printable(as_view(k))));
        continue;
      }
      if (!key_fits(*key))
        c.problem(fmt::format("db {}: key '{}...' is {} bytes (at most {})", db, printable(*key),
                              key->size(), kMaxKeySize));
      const auto value = decode_value(as_view(v));
      if (!value) {
        c.problem(fmt::format(
            "db {}: key '{}': value does not decode (header byte 0x{:02x}, {} bytes)", db,
            printable(*key),
            v.mv_size ? static_cast<unsigned char>(*static_cast<char*>(v.mv_data)) : 0, v.mv_size));
        continue;
      }
      counts.value_bytes += value->data.size();
      if (value->deadline_ms == 0) continue;
      ++counts.with_deadline;
      if (value->expired(now)) ++counts.expired;
      if (!index) continue;
      const std::string entry = expiry_entry(value->deadline_ms, db, *key);
      MDB_val ik{kDeadlineBytes, const_cast<char*>(entry.data())};
      MDB_val iv{entry.size() - kDeadlineBytes, const_cast<char*>(entry.data() + kDeadlineBytes)};
      if (mdb_cursor_get(index, &ik, &iv, MDB_GET_BOTH) != 0)
        c.problem(fmt::format("db {}: key '{}' expires at {} but has no expiry index entry", db,
                              printable(*key), value->deadline_ms));
    }
    if (rc != MDB_NOTFOUND) c.problem(fmt::format("database {}: read: {}", db, mdb_strerror(rc)));
    mdb_cursor_close(cur);
    if (stored_expires &&
        (*stored_expires)[static_cast<size_t>(db)] != static_cast<int64_t>(counts.with_deadline))
      c.problem(fmt::format("db {}: {} keys have a deadline but meta counts {}", db,
                            counts.with_deadline, (*stored_expires)[static_cast<size_t>(db)]));
    r.dbs.push_back(counts);
  }

  // Index entries: well formed; those whose value has moved on are stale.
  if (index) {
    MDB_val k, v;
    int rc;
    for (rc = mdb_cursor_get(index, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(index, &k, &v, MDB_NEXT)) {
      ++r.index_entries;
      if (k.mv_size != kDeadlineBytes || v.mv_size < 1) {
        c.problem(
            fmt::format("expiry index: malformed entry ({} + {} bytes)", k.mv_size, v.mv_size));
        continue;
      }
      uint64_t deadline = 0;
      for (size_t i = 0; i < kDeadlineBytes; ++i)
        deadline = (deadline << 8) | static_cast<const unsigned char*>(k.mv_data)[i];
      const int db = static_cast<unsigned char>(*static_cast<const char*>(v.mv_data));
      const std::string_view key = as_view(v).substr(1);
      if (db >= databases || !opened[static_cast<size_t>(db)]) {
        c.problem(fmt::format("expiry index: entry for database {} of {}", db, databases));
        continue;
      }
      std::string raw;
      encode_key(key, &raw);
      MDB_val vk{raw.size(), raw.data()}, vv;
      bool stale = true;
      if (key_fits(key) && mdb_get(h.txn, dbis[static_cast<size_t>(db)], &vk, &vv) == 0) {
        const auto value = decode_value(as_view(vv));
        stale = !value ||
                static_cast<uint64_t>(std::max<int64_t>(value->deadline_ms, 1)) != deadline ||
                value->deadline_ms == 0;
      }
      if (stale) ++r.index_stale;
    }
    if (rc != MDB_NOTFOUND) c.problem(fmt::format("expiry index: read: {}", mdb_strerror(rc)));
  }

  // The log LMDB has not applied yet.
  auto log = Wal::scan(options.dir + "/log", r.applied_offset);
  if (!log) {
    c.problem("log: " + log.error().message);
  } else {
    r.log = *log;
    if (log->lost_segments)
      c.problem("log: " + log->tail + "; later segments would be dropped by recovery");
    else if (!log->tail.empty())
      c.note(fmt::format("log: {} ({} bytes recovery cuts; normal after a crash)", log->tail,
                         log->tail_bytes));
    if (log->present && log->segments > 0 && log->end_offset < r.applied_offset)
      c.note(fmt::format("log: ends at {}, before LMDB's applied offset {} (restarted there)",
                         log->end_offset, r.applied_offset));
  }
  return r;
}

}  // namespace lmkv::store
