// store/snapshot.cc: the compacted copy behind SAVE/BGSAVE (snapshot.h).
#include "store/snapshot.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "store/engine.h"

namespace lmkv::store {
namespace {

namespace fs = std::filesystem;

Error sys_error(std::string_view what, const std::string& path) {
  return err(fmt::format("snapshot: {} {}: {}", what, path, std::strerror(errno)));
}

// fsync of a file or directory by path.
Status sync_path(const std::string& path, bool directory) {
  int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) return sys_error("open", path);
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return sys_error("fsync", path);
  return {};
}

Status remove_tree(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) return err(fmt::format("snapshot: remove {}: {}", path, ec.message()));
  return {};
}

}  // namespace

Result<uint64_t> read_stored_offset(const std::string& dir) {
  MDB_env* env = nullptr;
  if (int rc = mdb_env_create(&env)) return lmdb_error(rc, "env_create");
  uint64_t offset = 0;
  MDB_txn* txn = nullptr;
  MDB_dbi meta = 0;
  int rc = mdb_env_set_maxdbs(env, 4);
  // Map only what the file holds (LMDB raises it to the used size), not the
  // writer's huge map: address space may be capped (ulimit -v, sanitizers).
  struct stat st {};
  const std::string data = dir + "/data.mdb";
  if (rc == 0 && ::stat(data.c_str(), &st) == 0)
    rc = mdb_env_set_mapsize(env, std::max<size_t>(static_cast<size_t>(st.st_size), 1 << 20));
  if (rc == 0) rc = mdb_env_open(env, dir.c_str(), MDB_RDONLY | MDB_NOTLS, 0644);
  if (rc == 0) rc = mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn);
  if (rc == 0) rc = mdb_dbi_open(txn, "meta", 0, &meta);
  if (rc == 0) {
    const auto name = Engine::kAppliedOffsetKey;
    MDB_val k{name.size(), const_cast<char*>(name.data())}, v;
    rc = mdb_get(txn, meta, &k, &v);
    if (rc == 0 && v.mv_size == sizeof offset) std::memcpy(&offset, v.mv_data, sizeof offset);
    if (rc == MDB_NOTFOUND) rc = 0;  // never applied anything: offset 0
  }
  if (txn) mdb_txn_abort(txn);
  mdb_env_close(env);
  if (rc) return lmdb_error(rc, "read applied offset of '" + dir + "'");
  return offset;
}

// The copy runs from LMDB's own read transaction (one reader slot) while
// the applier keeps committing: LMDB's MVCC gives the copy one consistent
// state, and the applied offset stored in that state says which.
Result<SnapshotInfo> write_snapshot(Env& env, const std::string& into) {
  const std::string final_dir = into + "/" + std::string(kSnapshotDir);
  const std::string tmp_dir = final_dir + ".tmp";
  const std::string old_dir = final_dir + ".old";
  // A crash mid-save leaves a partial .tmp (or a .old): neither is ever read.
  if (auto s = remove_tree(tmp_dir); !s) return s.error();
  std::error_code ec;
  if (!fs::create_directory(tmp_dir, ec) || ec)
    return err(fmt::format("snapshot: mkdir {}: {}", tmp_dir, ec.message()));
  if (int rc = mdb_env_copy2(env.raw(), tmp_dir.c_str(), MDB_CP_COMPACT)) {
    (void)remove_tree(tmp_dir);
    return lmdb_error(rc, "copy to '" + tmp_dir + "'");
  }
  SnapshotInfo info;
  info.path = final_dir;
  const std::string data = tmp_dir + "/data.mdb";
  // The copy must be on disk before its name says it is complete.
  if (auto s = sync_path(data, false); !s) return s.error();
  struct stat st {};
  if (::stat(data.c_str(), &st) == 0) info.bytes = static_cast<uint64_t>(st.st_size);
  auto offset = read_stored_offset(tmp_dir);
  if (!offset) return offset.error();
  info.offset = *offset;
  // Opening it made a lock file; the snapshot is the data file alone.
  fs::remove(tmp_dir + "/lock.mdb", ec);
  if (auto s = sync_path(tmp_dir, true); !s) return s.error();

  if (auto s = remove_tree(old_dir); !s) return s.error();
  if (fs::exists(final_dir, ec) && ::rename(final_dir.c_str(), old_dir.c_str()) != 0)
    return sys_error("rename", final_dir);
  if (::rename(tmp_dir.c_str(), final_dir.c_str()) != 0) return sys_error("rename", tmp_dir);
  if (auto s = sync_path(into, true); !s) return s.error();
  if (auto s = remove_tree(old_dir); !s) return s.error();
  return info;
}

}  // namespace lmkv::store
