#include "server/server.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <latch>
#include <random>

#include <fmt/format.h>

#include "base/clock.h"
#include "base/log.h"
#include "net/listener.h"
#include "server/info.h"

namespace lmkv::server {
namespace {

std::string random_hex40() {
  std::random_device rd;
  std::string out;
  for (int i = 0; i < 40; ++i) out += "0123456789abcdef"[rd() % 16];
  return out;
}

}  // namespace

Server::Server(Config config)
    : config_(std::move(config)),
      databases_(config_.databases),
      range_default_(config_.range_default_limit),
      range_max_(config_.range_max_limit),
      maxclients_(config_.maxclients),
      run_id_(random_hex40()),
      replid_(random_hex40()) {}

Server::~Server() {
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

Status Server::start() {
  started_ms_ = mono_ms();
  int threads = config_.threads > 0 ? config_.threads : static_cast<int>(uv_available_parallelism());
  config_.threads = threads;

  store::EngineOptions options;
  // Readers: one per loop, the writer's, INFO's and a margin.
  options.env = {.dir = config_.dir, .databases = config_.databases, .readers = threads + 8};
  options.fsync = config_.fsync;
  options.write_buffer_size = static_cast<size_t>(config_.write_buffer_size);
  options.max_unapplied = static_cast<size_t>(config_.max_unapplied_bytes);
  auto engine = store::Engine::open(options);
  if (!engine) return engine.error();
  engine_ = std::move(*engine);
  const auto& rs = engine_->stats();
  log::notice("recovered in {:.1f} ms: {} log frames replayed, log {}..{}",
              rs.recovery_us.load() / 1000.0, rs.replayed_frames.load(),
              engine_->applied_offset(), engine_->log_end_offset());

  commands::register_string_family(registry_);
  commands::register_keys_family(registry_);
  commands::register_range_family(registry_);
  commands::register_connection_family(registry_);
  commands::register_server_family(registry_);
  dispatcher_ = std::make_unique<commands::Dispatcher>(registry_);

  auto fd = net::listen_tcp(config_.bind, config_.port);
  if (!fd) return fd.error();
  listen_fd_ = *fd;

  writer_ = std::make_unique<Writer>(*engine_, *this);
  writer_->start();
  for (int i = 0; i < threads; ++i) shards_.push_back(std::make_unique<Shard>(i, *this));
  for (auto& shard : shards_) {
    Shard* s = shard.get();
    s->loop().start([s, fd = listen_fd_] { s->listen(fd); });
  }
  if (!config_.pidfile.empty()) {
    std::ofstream(config_.pidfile) << getpid() << "\n";
  }
  log::notice("lmkv {} ready to accept connections on {}:{} ({} loops, data in {}, fsync {})",
              LMKV_VERSION, config_.bind, config_.port, threads, config_.dir,
              fsync_name(config_.fsync));
  return {};
}

int Server::run() {
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
  range_default_ = next.range_default_limit;
  range_max_ = next.range_max_limit;
  maxclients_ = next.maxclients;
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

}  // namespace lmkv::server
