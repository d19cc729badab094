// server/backup.h: SAVE and BGSAVE (issue 6), and what INFO persistence and
// LASTSAVE say about them.
//
// One snapshot at a time, on a thread this object owns (no fork):
//   1. on the writer thread, between two groups: Engine::freeze() returns
//      the log offset X that LMDB holds once what is frozen is applied, so
//      X covers every write acknowledged before the save was asked for;
//   2. on the backup thread: Engine::wait_applied(X), then
//      store::write_snapshot() copies LMDB with compaction from its own read
//      transaction. That state stores an offset Y >= X and equals the log at
//      Y, so the snapshot holds exactly the acknowledged data at Y.
// Writers and readers go on meanwhile; the bulk apply only has to keep its
// usual pace. The caller decides who hears of the end (SAVE's client).
//
// Knows nothing of RESP or the loops. start() from any thread; the done
// callback runs on the backup thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "base/error.h"
#include "store/engine.h"

namespace lmkv::server {

class Backup {
 public:
  // Runs a task on the writer thread between groups (Writer::post).
  using RunOnWriter = std::function<void(std::function<void()>)>;
  // Counts changes so far (INFO rdb_changes_since_last_save).
  using Changes = std::function<uint64_t()>;
  using Done = std::function<void(const Status&)>;

  // `dir` receives <dir>/snapshot; `started_unix_s` is LASTSAVE until the
  // first save (Redis: the start or load time).
  Backup(store::Engine& engine, std::string dir, RunOnWriter run_on_writer, Changes changes,
         int64_t started_unix_s);
  ~Backup();
  Backup(const Backup&) = delete;
  Backup& operator=(const Backup&) = delete;

  // Starts a snapshot; "Background save already in progress" while one
  // runs. `done` is called on the backup thread with its outcome.
  Status start(Done done);
  // Shutdown, after the writer stopped: a save still waiting for its writer
  // task fails; one copying is waited for. Then joins the thread.
  void stop();

  bool in_progress() const;
  int64_t lastsave() const;  // unix seconds of the last successful save
  // The rdb_* and lmkv_*snapshot* lines of INFO persistence.
  std::string info_fields() const;

 private:
  void run(uint64_t generation, Done done);

  store::Engine& engine_;
  const std::string dir_;
  RunOnWriter run_on_writer_;
  Changes changes_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
  bool running_ = false;
  bool stopping_ = false;
  uint64_t generation_ = 0;
  bool have_target_ = false;  // the writer task has frozen the MemTable
  uint64_t target_ = 0;       // X
  int64_t started_ms_ = 0;    // of the running save (monotonic)
  uint64_t changes_at_start_ = 0;
  // The last save's outcome.
  uint64_t changes_at_last_save_ = 0;
  int64_t last_save_unix_s_ = 0;
  bool last_ok_ = true;
  int64_t last_time_sec_ = -1;
  int64_t last_ms_ = -1;
  uint64_t saves_ = 0;
  uint64_t last_offset_ = 0;
  uint64_t last_bytes_ = 0;
  uint64_t freeze_offset_ = 0;
};

}  // namespace lmkv::server
