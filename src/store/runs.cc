// store/runs.cc: staged runs' format (see runs.h).
#include "store/runs.h"

#include <cstring>

namespace lmkv::store {
namespace {

// Meta "runs": per run one slot byte and its cleared bitmap.
constexpr size_t kRecord = 1 + sizeof(RunInfo::cleared);

MDB_val as_val(std::string_view s) { return {s.size(), const_cast<char*>(s.data())}; }
std::string_view as_view(const MDB_val& v) {
  return {static_cast<const char*>(v.mv_data), v.mv_size};
}

}  // namespace

Result<std::vector<RunInfo>> read_runs(const Env& env, MDB_txn* txn) {
  MDB_val k = as_val(kRunsKey), v;
  std::vector<RunInfo> runs;
  const int rc = mdb_get(txn, env.meta_dbi(), &k, &v);
  if (rc == MDB_NOTFOUND) return runs;
  if (rc) return lmdb_error(rc, "get runs");
  if (v.mv_size % kRecord != 0) return err("meta: runs is malformed");
  const auto* p = static_cast<const unsigned char*>(v.mv_data);
  for (size_t at = 0; at < v.mv_size; at += kRecord) {
    RunInfo run;
    run.slot = p[at];
    if (run.slot >= Env::kRunSlots) return err("meta: runs names a slot out of range");
    std::memcpy(run.cleared.data(), p + at + 1, sizeof run.cleared);
    runs.push_back(run);
  }
  return runs;
}

Status write_runs(const Env& env, MDB_txn* txn, const std::vector<RunInfo>& runs) {
  MDB_val k = as_val(kRunsKey);
  if (runs.empty()) {
    const int rc = mdb_del(txn, env.meta_dbi(), &k, nullptr);
    if (rc && rc != MDB_NOTFOUND) return lmdb_error(rc, "del runs");
    return {};
  }
  std::string bytes;
  for (const auto& run : runs) {
    bytes.push_back(static_cast<char>(run.slot));
    bytes.append(reinterpret_cast<const char*>(run.cleared.data()), sizeof run.cleared);
  }
  MDB_val v = as_val(bytes);
  if (int rc = mdb_put(txn, env.meta_dbi(), &k, &v, 0)) return lmdb_error(rc, "put runs");
  return {};
}

void run_key(int db, std::string_view key, std::string* out) {
  out->clear();
  out->push_back(static_cast<char>(db));
  out->append(key);
}

Status stage_run(const Env& env, MDB_txn* txn, const MemTable& frozen, RunInfo* run) {
  constexpr uint64_t kAll = UINT64_MAX;
  MDB_cursor* cur = nullptr;
  if (int rc = mdb_cursor_open(txn, env.run_dbi(run->slot), &cur))
    return lmdb_error(rc, "run cursor");
  std::string keybuf;
  for (int db = 0; db < env.databases(); ++db) {
    if (frozen.cleared_at(db, kAll) != 0) run->set_cleared(db);
    MemTable::Iterator it(frozen, db, kAll);
    for (it.seek_to_first(); it.valid(); it.next()) {
      run_key(db, it.key(), &keybuf);
      MDB_val k = as_val(keybuf);
      const bool value = it.entry().kind == MemTable::Kind::kValue;
      // A tombstone is an empty value; a value is encoded straight into
      // the page (MDB_RESERVE), in order (MDB_APPEND: no search).
      MDB_val v{value ? encoded_value_size(it.entry().value) : 0, nullptr};
      if (int rc = mdb_cursor_put(cur, &k, &v, MDB_APPEND | MDB_RESERVE)) {
        mdb_cursor_close(cur);
        return lmdb_error(rc, "stage");
      }
      if (value) encode_value(it.entry().value, static_cast<char*>(v.mv_data));
    }
  }
  mdb_cursor_close(cur);
  return {};
}

Result<RunLookup> lookup(const Env& env, MDB_txn* txn, const RunInfo& run, int db,
                         std::string_view key, std::string* keybuf) {
  run_key(db, key, keybuf);
  MDB_val k = as_val(*keybuf), v;
  const int rc = mdb_get(txn, env.run_dbi(run.slot), &k, &v);
  if (rc == MDB_NOTFOUND) return RunLookup{run.clears(db) ? RunHit::kCleared : RunHit::kAbsent, {}};
  if (rc) return lmdb_error(rc, "run get");
  if (v.mv_size == 0) return RunLookup{RunHit::kTombstone, {}};
  auto value = decode_value(as_view(v));
  if (!value) return err("run get: corrupt value");
  return RunLookup{RunHit::kValue, *value};
}

Status read_run(const Env& env, MDB_txn* txn, const RunInfo& run, std::string_view after,
                size_t limit, std::vector<RunEntry>* out, bool* exhausted) {
  MDB_cursor* cur = nullptr;
  if (int rc = mdb_cursor_open(txn, env.run_dbi(run.slot), &cur))
    return lmdb_error(rc, "run cursor");
  MDB_val k = as_val(after), v;
  int rc = after.empty() ? mdb_cursor_get(cur, &k, &v, MDB_FIRST)
                         : mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
  if (rc == 0 && !after.empty() && as_view(k) == after) rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
  size_t n = 0;
  for (; rc == 0 && n < limit; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT), ++n) {
    if (k.mv_size < 1) break;
    const std::string_view raw = as_view(k);
    RunEntry e{static_cast<unsigned char>(raw[0]), raw.substr(1), std::nullopt};
    if (v.mv_size != 0) {
      e.value = decode_value(as_view(v));
      if (!e.value) {
        mdb_cursor_close(cur);
        return err("run read: corrupt value");
      }
    }
    out->push_back(e);
  }
  mdb_cursor_close(cur);
  if (rc == 0 && k.mv_size < 1) return err("run read: empty key");
  if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_error(rc, "run read");
  *exhausted = rc == MDB_NOTFOUND;
  return {};
}

}  // namespace lmkv::store
