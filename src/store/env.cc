// store/env.cc: opening the LMDB environment (DESIGN.md "LMDB rules").
#include "store/env.h"

#include <sys/stat.h>

#include <cerrno>
#include <filesystem>
#include <string>
#include <system_error>
#include <utility>

namespace lmkv::store {
namespace {

// Reader slots beyond options.readers: tools (mdb_stat, backups) and
// transient readers must not make a loop's begin fail with MDB_READERS_FULL.
constexpr int kReaderMargin = 16;

// The smallest map tried when the address space is capped.
constexpr size_t kMinMapSize = size_t{1} << 30;

// Owns a half-opened environment so every early return in open() releases it.
struct EnvCloser {
  MDB_env* env = nullptr;
  ~EnvCloser() {
    if (env) mdb_env_close(env);
  }
  MDB_env* release() { return std::exchange(env, nullptr); }
};

}  // namespace

Error lmdb_error(int rc, std::string_view what) {
  std::string text = "LMDB ";
  text.append(what);
  text.append(": ");
  text.append(mdb_strerror(rc));
  // OOM-class: the applier reports the disk as full, and a reply says so.
  if (rc == MDB_MAP_FULL || rc == ENOSPC || rc == EDQUOT) {
    text.insert(0, "disk or map full: ");
    return Error{Code::kOom, std::move(text)};
  }
  return err(std::move(text));
}

// Opens (creating if needed) the environment and every named database in
// one write transaction, so the handles are valid in every thread afterwards
// (LMDB: a dbi opened in a committed transaction is shared by all). An
// existing environment made with fewer databases gains the missing ones.
Result<std::unique_ptr<Env>> Env::open(const EnvOptions& options) {
  if (options.databases < 1) return err("databases must be at least 1");
  if (options.readers < 1) return err("readers must be at least 1");

  std::error_code ec;
  std::filesystem::create_directories(options.dir, ec);
  if (ec) return err("cannot create data directory '" + options.dir + "': " + ec.message());
  if (!std::filesystem::is_directory(options.dir, ec))
    return err("data directory '" + options.dir + "' is not a directory");

  // The map is reserved address space, not memory, so it is set huge; but
  // where address space is capped (ulimit -v, valgrind) a smaller map is
  // the difference between starting and not. Each failed open needs a new
  // handle (lmdb.h), hence the loop.
  EnvCloser guard;
  int rc = 0;
  for (size_t map_size = options.map_size;; map_size /= 4) {
    if (guard.env) mdb_env_close(guard.release());
    if ((rc = mdb_env_create(&guard.env))) return lmdb_error(rc, "env_create");
    if ((rc = mdb_env_set_mapsize(guard.env, map_size))) return lmdb_error(rc, "set_mapsize");
    if ((rc = mdb_env_set_maxreaders(guard.env,
                                     static_cast<unsigned>(options.readers + kReaderMargin))))
      return lmdb_error(rc, "set_maxreaders");
    // Data and expiry index per database, plus "meta", plus the run slots.
    if ((rc = mdb_env_set_maxdbs(guard.env,
                                 static_cast<MDB_dbi>(2 * options.databases + 1 + kRunSlots))))
      return lmdb_error(rc, "set_maxdbs");
    // Every commit is synced: the log is released up to what LMDB holds.
    const unsigned int flags = MDB_NORDAHEAD | MDB_NOTLS;
    rc = mdb_env_open(guard.env, options.dir.c_str(), flags, 0644);
    if (rc == 0) break;
    const bool no_address_space = rc == ENOMEM || rc == EINVAL;
    if (!no_address_space || map_size / 4 < kMinMapSize)
      return lmdb_error(rc, "open '" + options.dir + "'");
  }
  // Frees reader slots left by processes that died holding them.
  int dead = 0;
  mdb_reader_check(guard.env, &dead);

  auto env = std::unique_ptr<Env>(new Env());
  env->dir_ = options.dir;

  MDB_txn* txn = nullptr;
  if ((rc = mdb_txn_begin(guard.env, nullptr, 0, &txn))) return lmdb_error(rc, "txn_begin");
  env->dbis_.resize(static_cast<size_t>(options.databases));
  for (int db = 0; db < options.databases; ++db) {
    const std::string name = std::to_string(db);
    if ((rc = mdb_dbi_open(txn, name.c_str(), MDB_CREATE, &env->dbis_[db]))) {
      mdb_txn_abort(txn);
      return lmdb_error(rc, "open database " + name);
    }
  }
  if ((rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &env->meta_))) {
    mdb_txn_abort(txn);
    return lmdb_error(rc, "open database meta");
  }
  if ((rc = mdb_dbi_open(txn, "expires", MDB_CREATE | MDB_DUPSORT, &env->expires_))) {
    mdb_txn_abort(txn);
    return lmdb_error(rc, "open database expires");
  }
  env->runs_.resize(kRunSlots);
  for (int slot = 0; slot < kRunSlots; ++slot) {
    const std::string name = "run." + std::to_string(slot);
    if ((rc =
             mdb_dbi_open(txn, name.c_str(), MDB_CREATE, &env->runs_[static_cast<size_t>(slot)]))) {
      mdb_txn_abort(txn);
      return lmdb_error(rc, "open database " + name);
    }
  }
  if ((rc = mdb_txn_commit(txn))) return lmdb_error(rc, "commit");
  env->env_ = guard.release();
  return env;
}

Env::~Env() {
  if (env_) mdb_env_close(env_);
}

Status Env::sync() {
  if (int rc = mdb_env_sync(env_, 1)) return lmdb_error(rc, "sync");
  return {};
}

uint64_t Env::file_size() const {
  struct stat st;
  const std::string path = dir_ + "/data.mdb";
  if (::stat(path.c_str(), &st) != 0) return 0;
  return static_cast<uint64_t>(st.st_size);
}

}  // namespace lmkv::store
