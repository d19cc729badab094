// server/backup.cc: the SAVE/BGSAVE thread (see backup.h).
#include "server/backup.h"

#include <fmt/format.h>

#include "base/clock.h"
#include "base/log.h"
#include "resp/errors.h"
#include "store/snapshot.h"

namespace lmkv::server {

Backup::Backup(store::Engine& engine, std::string dir, RunOnWriter run_on_writer, Changes changes,
               int64_t started_unix_s)
    : engine_(engine),
      dir_(std::move(dir)),
      run_on_writer_(std::move(run_on_writer)),
      changes_(std::move(changes)),
      last_save_unix_s_(started_unix_s) {}

Backup::~Backup() { stop(); }

Status Backup::start(Done done) {
  std::unique_lock lock(mu_);
  if (running_) return err(std::string(resp::msg::kBgsaveInProgress));
  if (stopping_) return err("the server is shutting down");
  // The previous save has ended (running_ is false): its thread is done.
  if (thread_.joinable()) thread_.join();
  running_ = true;
  have_target_ = false;
  started_ms_ = mono_ms();
  changes_at_start_ = changes_();
  const uint64_t generation = ++generation_;
  thread_ = std::thread([this, generation, done = std::move(done)] { run(generation, done); });
  return {};
}

void Backup::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool Backup::in_progress() const {
  std::lock_guard lock(mu_);
  return running_;
}

int64_t Backup::lastsave() const {
  std::lock_guard lock(mu_);
  return last_save_unix_s_;
}

std::string Backup::info_fields() const {
  const uint64_t changes = changes_();
  std::lock_guard lock(mu_);
  return fmt::format(
      "rdb_changes_since_last_save:{}\r\n"
      "rdb_bgsave_in_progress:{}\r\n"
      "rdb_last_save_time:{}\r\n"
      "rdb_last_bgsave_status:{}\r\n"
      "rdb_last_bgsave_time_sec:{}\r\n"
      "rdb_current_bgsave_time_sec:{}\r\n"
      "rdb_saves:{}\r\n"
      "lmkv_snapshot_dir:{}/snapshot\r\n"
      "lmkv_last_snapshot_offset:{}\r\n"
      "lmkv_last_snapshot_bytes:{}\r\n"
      "lmkv_last_snapshot_ms:{}\r\n",
      changes - changes_at_last_save_, running_ ? 1 : 0, last_save_unix_s_, last_ok_ ? "ok" : "err",
      last_time_sec_, running_ ? (mono_ms() - started_ms_) / 1000 : -1, saves_, dir_, last_offset_,
      last_bytes_, last_ms_);
}

void Backup::run(uint64_t generation, Done done) {
  // 1. Freeze at a group boundary, on the writer.
  run_on_writer_([this, generation] {
    const uint64_t x = engine_.freeze();
    {
      std::lock_guard lock(mu_);
      if (generation != generation_) return;
      target_ = x;
      have_target_ = true;
    }
    cv_.notify_all();
  });
  uint64_t target = 0;
  Result<store::SnapshotInfo> made = err("the server is shutting down");
  bool go = false;
  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return have_target_ || stopping_; });
    go = have_target_;
    target = target_;
    freeze_offset_ = target;
  }
  // 2. Wait for the applier, then copy.
  if (go) {
    if (Status s = engine_.wait_applied(target); !s)
      made = s.error();
    else
      made = store::write_snapshot(engine_.env(), dir_);
  }
  Status outcome;
  const int64_t ms = mono_ms() - started_ms_;  // started_ms_ changes only in start()
  {
    std::lock_guard lock(mu_);
    last_ok_ = made.ok();
    last_time_sec_ = ms / 1000;
    if (made) {
      last_ms_ = ms;
      last_save_unix_s_ = unix_ms() / 1000;
      changes_at_last_save_ = changes_at_start_;
      last_offset_ = made->offset;
      last_bytes_ = made->bytes;
      ++saves_;
    }
    running_ = false;
  }
  if (made) {
    log::notice("snapshot saved in {}: offset {} (asked for {}), {} bytes, {} ms", made->path,
                made->offset, target, made->bytes, ms);
  } else {
    log::warning("snapshot failed: {}", made.error().message);
    outcome = made.error();
  }
  if (done) done(outcome);
}

}  // namespace lmkv::server
