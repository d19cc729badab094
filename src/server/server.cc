#include "server/server.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <latch>
#include <random>

#include "base/clock.h"
#include "base/files.h"
#include "base/log.h"
#include "base/memory.h"
#include "net/listener.h"
#include "server/info.h"
#include "store/counter.h"

namespace lmkv::server {
namespace {

std::string random_hex40() {
  std::random_device rd;
  std::string out;
  for (int i = 0; i < 40; ++i) out += "0123456789abcdef"[rd() % 16];
  return out;
}

// Descriptors kept back from clients: the data and log files (closed
// segments wait for the log syncer), a snapshot copy's, /proc and config
// reads, and each loop's own (epoll, eventfd, signal pipe, its listener,
// libuv's EMFILE spare). Redis keeps 32 (CONFIG_MIN_RESERVED_FDS).
int64_t reserved_descriptors(int loops) { return 32 + 8 * int64_t{loops}; }

}  // namespace

Server::Server(Config config)
    : config_(std::move(config)),
      databases_(config_.databases),
      range_default_(config_.range_default_limit),
      range_max_(config_.range_max_limit),
      maxclients_(config_.maxclients),
      run_id_(random_hex40()),
      replid_(random_hex40()) {
  publish_client_limits(config_);
}

// Copies the client limits where the loops read them without the lock.
void Server::publish_client_limits(const Config& c) {
  query_buffer_limit_ = c.client_query_buffer_limit;
  timeout_ = c.timeout;
  for (int cls = 0; cls < 3; ++cls) {
    output_limits_[cls][0] = c.client_output_buffer_limit[cls].hard;
    output_limits_[cls][1] = c.client_output_buffer_limit[cls].soft;
    output_limits_[cls][2] = c.client_output_buffer_limit[cls].soft_seconds;
  }
}

net::OutputLimit Server::output_limit(OutputClass cls) const {
  return {.hard = output_limits_[cls][0].load(std::memory_order_relaxed),
          .soft = output_limits_[cls][1].load(std::memory_order_relaxed),
          .soft_seconds = output_limits_[cls][2].load(std::memory_order_relaxed)};
}

// Redis's adjustOpenFilesLimit: the descriptor limit is raised to hold
// maxclients clients plus the server's own; where it cannot be, maxclients
// shrinks to fit, so a flood of clients meets "max number of clients
// reached" instead of taking the descriptors the log needs to roll.
Status Server::fit_maxclients_to_files() {
  const int64_t reserved = reserved_descriptors(config_.threads);
  const auto want = static_cast<uint64_t>(config_.maxclients + reserved);
  const FilesLimit limit = raise_files_limit(want);
  if (limit.now >= want) {
    if (limit.now > limit.before)
      log::notice("Increased maximum number of open files to {} (it was originally set to {}).",
                  limit.now, limit.before);
    return {};
  }
  if (limit.now <= static_cast<uint64_t>(reserved))
    return err(
        fmt::format("Your current 'ulimit -n' of {} is not enough for the server to start. "
                    "Please increase your open file limit to at least {}.",
                    limit.now, want));
  log::warning("You requested maxclients of {} requiring at least {} max file descriptors.",
               config_.maxclients, want);
  log::warning("Server can't set maximum open files to {} because of OS error: {}.", want,
               std::strerror(limit.error));
  config_.maxclients = static_cast<int64_t>(limit.now) - reserved;
  maxclients_ = config_.maxclients;
  log::warning(
      "Current maximum open files is {}. maxclients has been reduced to {} to compensate "
      "for low ulimit. If you need higher maxclients increase 'ulimit -n'.",
      limit.now, config_.maxclients);
  return {};
}

Server::~Server() {
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

Status Server::start() {
  started_ms_ = mono_ms();
  int threads = config_.threads > 0 ? config_.threads : static_cast<int>(uv_available_parallelism());
  config_.threads = threads;
  if (auto s = fit_maxclients_to_files(); !s) return s;
  if (config_.write_buffer_size == 0) {
    config_.write_buffer_size =
        default_write_buffer_size(memory_limit(), config_.max_unapplied_bytes);
  }

  if (config_.staged_runs == 0) config_.staged_runs = default_staged_runs(memory_limit());

  store::EngineOptions options;
  // Readers: one per loop, the writer's, INFO's, a snapshot copy's, the
  // DBSIZE counter's two (store/counter.h) and a margin.
  options.env = {.dir = config_.dir, .databases = config_.databases, .readers = threads + 9};
  options.fsync = config_.fsync;
  options.write_buffer_size = static_cast<size_t>(config_.write_buffer_size);
  options.max_unapplied = static_cast<size_t>(config_.max_unapplied_bytes);
  options.staged_runs = static_cast<int>(config_.staged_runs);
  // Its reader slots are added to options.env.readers by Engine::open.
  options.prefetch_threads = static_cast<int>(config_.prefetch_threads);
  // Building the filter reads every key: past a quarter of the memory the
  // process may use, that is a read of the data file from disk.
  options.key_filter = config_.key_filter;
  options.key_filter_max_data = memory_limit() / 4;
  auto engine = store::Engine::open(options);
  if (!engine) return engine.error();
  engine_ = std::move(*engine);
  const auto& rs = engine_->stats();
  log::notice("recovered in {:.1f} ms: {} log frames replayed, log {}..{}",
              rs.recovery_us.load() / 1000.0, rs.replayed_frames.load(),
              engine_->applied_offset(), engine_->log_end_offset());

  commands::register_string_family(registry_);
  commands::register_bitmap_family(registry_);
  commands::register_keys_family(registry_);
  commands::register_expire_family(registry_);
  commands::register_range_family(registry_);
  commands::register_connection_family(registry_);
  commands::register_server_family(registry_);
  commands::register_acl_family(registry_);
  if (auto s = setup_auth(); !s) return s;
  commands::register_pubsub_family(registry_);
  commands::register_transaction_family(registry_);
  dispatcher_ = std::make_unique<commands::Dispatcher>(registry_);
  command_stats_.attach(registry_);
  slowlog_.configure(config_.slowlog_log_slower_than, config_.slowlog_max_len);
  started_unix_s_ = unix_ms() / 1000;
  // CLIENT PAUSE changed: every loop retries the clients it holds.
  clients_.set_pause_listener([this] {
    for (auto& shard : shards_) {
      Shard* sh = shard.get();
      sh->loop().post([sh] { sh->retry_paused(); });
    }
  });

  auto fd = net::listen_tcp(config_.bind, config_.port);
  if (!fd) return fd.error();
  listen_fd_ = *fd;
  // Before any loop accepts: whoever connects may read the pidfile (Redis
  // writes it before its event loop runs, too).
  if (!config_.pidfile.empty()) std::ofstream(config_.pidfile) << getpid() << "\n";

  pubsub_ = std::make_unique<Broker>(shards_);
  pubsub_->set_notify_flags(config_.notify_keyspace_events);
  writer_ = std::make_unique<Writer>(*engine_, *this);
  writer_->start();
  backup_ = std::make_unique<Backup>(
      *engine_, config_.dir, [this](std::function<void()> task) { writer_->post(std::move(task)); },
      [this] { return writer_->stats().commands.load(std::memory_order_relaxed); },
      started_unix_s_);
  for (int i = 0; i < threads; ++i) shards_.push_back(std::make_unique<Shard>(i, *this));
  open_control();
  for (auto& shard : shards_) {
    Shard* s = shard.get();
    s->loop().start([s, fd = listen_fd_] { s->listen(fd); });
  }
  // The loops run: a CONFIG SET may write config_ from now on (TSan saw it).
  std::lock_guard lock(config_mu_);
  log::notice("lmkv {} ready to accept connections on {}:{} ({} loops, data in {}, fsync {})",
              LMKV_VERSION, config_.bind, config_.port, threads, config_.dir,
              fsync_name(config_.fsync));
  return {};
}

// rename-command, the config file's users, then requirepass (the default
// user's password), as Redis applies them. Errors name the directive but
// never echo a password.
Status Server::setup_auth() {
  for (const auto& [from, to] : config_.renames) {
    if (auto s = commands::apply_rename(registry_, from, to); !s)
      return err(fmt::format("rename-command {}: {}", from, s.error().message));
  }
  acl_.set_registry(&registry_);
  for (const auto& words : config_.users) {
    std::vector<std::string_view> rules(words.begin() + 1, words.end());
    if (auto s = acl_.set_user(words[0], rules); !s)
      return err(fmt::format("user {}: {}", words[0], s.error().message));
  }
  if (!config_.requirepass.empty()) acl_.set_requirepass(config_.requirepass);
  protected_mode_ = config_.protected_mode;
  return {};
}

// Before any loop accepts: a client's SHUTDOWN posts to shutdown_async_,
// and a SIGTERM sent once the server answers PING must find the handler,
// not the default action that kills the process uncleanly.
void Server::open_control() {
  uv_loop_init(&control_);
  uv_async_init(&control_, &shutdown_async_, [](uv_async_t* h) {
    auto* self = static_cast<Server*>(h->data);
    uv_close(reinterpret_cast<uv_handle_t*>(&self->shutdown_async_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&self->sigterm_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&self->sigint_), nullptr);
  });
  shutdown_async_.data = this;
  for (auto [sig, handle] : {std::pair{SIGTERM, &sigterm_}, std::pair{SIGINT, &sigint_}}) {
    uv_signal_init(&control_, handle);
    handle->data = this;
    uv_signal_start(handle, &Server::on_signal, sig);
  }
}

int Server::run() {
  uv_run(&control_, UV_RUN_DEFAULT);
  uv_loop_close(&control_);
  stop_everything();
  return 0;
}

void Server::on_signal(uv_signal_t* h, int signum) {
  auto* self = static_cast<Server*>(h->data);
  log::notice("received {}, shutting down", signum == SIGINT ? "SIGINT" : "SIGTERM");
  (void)self->shutdown();
}

Status Server::shutdown() {
  if (!shutting_down_.exchange(true)) uv_async_send(&shutdown_async_);
  return {};
}

// The clean shutdown: stop taking commands, let the writer finish and
// acknowledge everything it has, flush and close every client, then make
// the store durable and close it.
void Server::stop_everything() {
  std::latch intake_stopped(static_cast<std::ptrdiff_t>(shards_.size()));
  for (auto& shard : shards_) {
    Shard* s = shard.get();
    s->loop().post([s, &intake_stopped] {
      s->stop_intake();
      intake_stopped.count_down();
    });
  }
  intake_stopped.wait();
  writer_->stop();
  // A SAVE's reply goes out before the loops drain. A held DBSIZE is not
  // run again (intake has stopped); the counter's callbacks post to the
  // loops, so it stops while they run.
  if (backup_) backup_->stop();
  engine_->stop_counter();
  for (auto& shard : shards_) {
    Shard* s = shard.get();
    s->loop().post([s] { s->drain(); });
  }
  for (auto& shard : shards_) shard->loop().join();
  // The shards' read views go before the engine they read.
  shards_.clear();
  // The writer has stopped; the engine syncs the log as it closes. Frozen
  // buffers not yet applied stay in the log and are replayed at start.
  engine_.reset();
  if (!config_.pidfile.empty()) std::remove(config_.pidfile.c_str());
  log::notice("lmkv is now ready to exit, bye bye...");
}

// ===================================================================
// SAVE and BGSAVE (server/backup.h)
// ===================================================================

Status Server::bgsave() { return backup_->start(nullptr); }

// The snapshot's end is posted to the client's loop, which writes the reply
// in place of the SAVE it kept unconsumed (Shard::defer_current).
Status Server::save(commands::Session& session) {
  Shard* shard = shards_[static_cast<size_t>(session.loop)].get();
  const uint64_t id = session.id;
  const int protocol = session.protocol.load(std::memory_order_relaxed);
  Status started = backup_->start([shard, id, protocol](const Status& outcome) {
    std::string reply;
    resp::ReplyWriter w(&reply, protocol);
    if (outcome) w.ok();
    else w.error(outcome.error());
    shard->loop().post([shard, id, reply = std::move(reply)]() mutable {
      shard->finish_deferred(id, std::move(reply));
    });
  });
  if (started) shard->defer_current(id);
  return started;
}

// The counter sums on its own thread, then the client's loop runs the held
// command again (Shard::defer_current with `rerun`).
bool Server::hold_for_counts(commands::Session& session) {
  store::Counter* counter = engine_->counter();
  if (!counter) return false;
  Shard* shard = shards_[static_cast<size_t>(session.loop)].get();
  const uint64_t id = session.id;
  shard->defer_current(id, /*rerun=*/true);
  counter->hurry([shard, id] {
    shard->loop().post([shard, id] { shard->finish_deferred(id, std::nullopt); });
  });
  return true;
}

std::string Server::info(std::span<const std::string> sections) {
  return render_info(*this, sections);
}

std::vector<std::pair<std::string, std::string>> Server::config_get(std::string_view pattern) {
  std::lock_guard lock(config_mu_);
  return get_directives(config_, pattern);
}

Status Server::config_set(std::string_view name, std::string_view value) {
  std::lock_guard lock(config_mu_);
  Config next = config_;
  if (auto s = set_directive(next, name, value, true); !s) return s;
  if (next.fsync != config_.fsync) {
    if (auto s = engine_->set_fsync(next.fsync); !s) return s;
  }
  if (next.loglevel != config_.loglevel) log::configure(next.loglevel, log_file_);
  if (next.requirepass != config_.requirepass) acl_.set_requirepass(next.requirepass);
  protected_mode_ = next.protected_mode;
  range_default_ = next.range_default_limit;
  range_max_ = next.range_max_limit;
  maxclients_ = next.maxclients;
  slowlog_.configure(next.slowlog_log_slower_than, next.slowlog_max_len);
  if (pubsub_) pubsub_->set_notify_flags(next.notify_keyspace_events);
  publish_client_limits(next);
  config_ = std::move(next);
  return {};
}

Config Server::config_snapshot() const {
  std::lock_guard lock(config_mu_);
  return config_;
}

resp::ParserLimits Server::parser_limits() const {
  std::lock_guard lock(config_mu_);
  resp::ParserLimits limits;
  limits.max_bulk_len = config_.proto_max_bulk_len;
  return limits;
}

// ===================================================================
// CONFIG SET (several), RESETSTAT, REWRITE
// ===================================================================

// All pairs are checked against a copy of the configuration first, so a
// bad one changes nothing; then each is applied. Errors carry Redis's
// "CONFIG SET failed (possibly related to argument ...)" frame.
Status Server::config_set_many(
    std::span<const std::pair<std::string_view, std::string_view>> pairs) {
  {
    std::lock_guard lock(config_mu_);
    Config next = config_;
    for (const auto& [name, value] : pairs) {
      if (auto s = set_directive(next, name, value, true); !s) {
        const std::string& m = s.error().message;
        if (m.starts_with("Unknown option") || m.starts_with("CONFIG SET failed")) return s;
        return err(fmt::format("CONFIG SET failed (possibly related to argument '{}') - {}", name,
                               m));
      }
    }
    // More clients need more descriptors: checked before anything is set.
    if (next.maxclients > config_.maxclients) {
      const int64_t reserved = reserved_descriptors(config_.threads);
      const FilesLimit limit = raise_files_limit(static_cast<uint64_t>(next.maxclients + reserved));
      if (limit.now < static_cast<uint64_t>(next.maxclients + reserved))
        return err(fmt::format(
            "CONFIG SET failed (possibly related to argument 'maxclients') - The operating system "
            "is not able to handle the specified number of clients, try with {}",
            std::max<int64_t>(static_cast<int64_t>(limit.now) - reserved, 1)));
    }
  }
  for (const auto& [name, value] : pairs)
    if (auto s = config_set(name, value); !s) return s;
  return {};
}

// Like Redis's resetServerStats: the INFO stats counters, commandstats and
// errorstats; the SLOWLOG has its own RESET.
void Server::reset_stats() {
  stats_.connections_received = 0;
  stats_.rejected_connections = 0;
  for (auto& shard : shards_) shard->reset_commands_processed();
  command_stats_.reset();
}

Status Server::config_rewrite() {
  const Config c = config_snapshot();
  if (c.config_file.empty()) return err("The server is running without a config file");
  return rewrite_config_file(c, c.config_file);
}

}  // namespace lmkv::server
