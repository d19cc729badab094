// server/server.h: the composition root.
//
// Server builds and owns everything for one process: the configuration,
// the store engine (log, write buffer, LMDB), the command registry and dispatcher, the client
// registry and SCAN cursor table, the writer, and one Shard per loop. It is
// the commands' ServerApi (INFO, CONFIG, SHUTDOWN). run() blocks the main
// thread on a control loop that handles signals and shutdown requests.
#pragma once

#include <uv.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "commands/acl.h"
#include "commands/client_registry.h"
#include "commands/command_stats.h"
#include "commands/slowlog.h"
#include "commands/dispatcher.h"
#include "commands/registry.h"
#include "commands/scan_cursors.h"
#include "server/backup.h"
#include "server/config.h"
#include "server/pubsub.h"
#include "server/shard.h"
#include "server/writer.h"
#include "store/engine.h"

namespace lmkv::server {

struct Stats {
  std::atomic<uint64_t> connections_received{0};
  std::atomic<uint64_t> rejected_connections{0};
};

class Server final : public commands::ServerApi {
 public:
  explicit Server(Config config);
  ~Server() override;

  // Opens the store, binds the port, takes over SIGTERM and SIGINT, and
  // starts the writer and the loops.
  Status start();
  // Serves until SIGTERM, SIGINT or SHUTDOWN; then shuts down cleanly.
  // Returns the process exit code.
  int run();

  // ServerApi
  std::string info(std::span<const std::string> sections) override;
  std::vector<std::pair<std::string, std::string>> config_get(std::string_view pattern) override;
  Status config_set(std::string_view name, std::string_view value) override;
  Status shutdown() override;
  commands::ClientRegistry& clients() override { return clients_; }
  commands::ScanCursors& scan_cursors() override { return cursors_; }
  commands::CommandStats* command_stats() override { return &command_stats_; }
  commands::SlowLog* slowlog() override { return &slowlog_; }
  Status config_set_many(
      std::span<const std::pair<std::string_view, std::string_view>> pairs) override;
  void reset_stats() override;
  Status config_rewrite() override;
  int64_t lastsave() const override { return backup_ ? backup_->lastsave() : started_unix_s_; }
  Status bgsave() override;
  Status save(commands::Session& session) override;
  bool hold_for_counts(commands::Session& session) override;
  // SAVE/BGSAVE state for INFO persistence.
  const Backup* backup() const { return backup_.get(); }
  commands::PubSub* pubsub() override { return pubsub_.get(); }
  int databases() const override { return databases_; }
  int64_t range_default_limit() const override { return range_default_.load(); }
  int64_t range_max_limit() const override { return range_max_.load(); }
  commands::Acl* acl() override { return &acl_; }

  // For the shards.
  const commands::Dispatcher& dispatcher() const { return *dispatcher_; }
  Writer& writer() { return *writer_; }
  store::Engine& engine() { return *engine_; }
  Stats& stats() { return stats_; }
  int64_t maxclients() const { return maxclients_.load(); }
  bool protected_mode() const { return protected_mode_.load(std::memory_order_relaxed); }
  // Client limits for the loops (CONFIG SET may change them). Any thread.
  int64_t query_buffer_limit() const { return query_buffer_limit_.load(); }
  net::OutputLimit output_limit(OutputClass cls) const;
  int64_t idle_timeout_s() const { return timeout_.load(); }
  // Limits for a new connection's parser (proto-max-bulk-len may change).
  resp::ParserLimits parser_limits() const;
  // Where log lines go, so CONFIG SET loglevel keeps the sink.
  void set_log_file(std::FILE* f) { log_file_ = f; }

  // For INFO.
  Config config_snapshot() const;
  const std::string& run_id() const { return run_id_; }
  const std::string& replid() const { return replid_; }
  int64_t started_ms() const { return started_ms_; }
  const std::vector<std::unique_ptr<Shard>>& shards() const { return shards_; }
  const Broker& broker() const { return *pubsub_; }

 private:
  void stop_everything();
  Status setup_auth();
  Status fit_maxclients_to_files();
  void open_control();
  static void on_signal(uv_signal_t* h, int signum);

  mutable std::mutex config_mu_;
  Config config_;
  const int databases_;
  std::atomic<int64_t> range_default_, range_max_, maxclients_;
  std::atomic<int64_t> query_buffer_limit_, timeout_;
  std::atomic<int64_t> output_limits_[3][3];  // [class][hard, soft, soft seconds]
  void publish_client_limits(const Config& c);
  std::FILE* log_file_ = nullptr;
  std::string run_id_, replid_;
  int64_t started_ms_ = 0;
  int64_t started_unix_s_ = 0;  // LASTSAVE
  commands::CommandStats command_stats_;
  commands::SlowLog slowlog_;

  std::unique_ptr<store::Engine> engine_;
  commands::Registry registry_;
  std::unique_ptr<commands::Dispatcher> dispatcher_;
  commands::ClientRegistry clients_;
  commands::Acl acl_;
  std::atomic<bool> protected_mode_{true};
  commands::ScanCursors cursors_;
  std::unique_ptr<Writer> writer_;
  // SAVE/BGSAVE: its thread goes before the writer and engine it uses.
  std::unique_ptr<Backup> backup_;
  std::vector<std::unique_ptr<Shard>> shards_;
  // Pub/sub across the loops; delivers through shards_, so it is built with them.
  std::unique_ptr<Broker> pubsub_;
  int listen_fd_ = -1;
  Stats stats_;

  // The control loop on the main thread: signals and shutdown requests.
  uv_loop_t control_;
  uv_async_t shutdown_async_;
  uv_signal_t sigterm_, sigint_;
  std::atomic<bool> shutting_down_{false};
};

}  // namespace lmkv::server
