#include "server/info.h"

#include <fmt/format.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "base/clock.h"
#include "commands/arguments.h"
#include "server/server.h"
#include "store/read_view.h"

namespace lmkv::server {
namespace {

// Resident memory of the process in bytes. lmkv keeps data in the page
// cache, not the heap, so RSS is the honest "used_memory".
uint64_t rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

std::string human(uint64_t bytes) {
  if (bytes >= (1ULL << 30)) return fmt::format("{:.2f}G", bytes / double(1ULL << 30));
  if (bytes >= (1ULL << 20)) return fmt::format("{:.2f}M", bytes / double(1ULL << 20));
  if (bytes >= 1024) return fmt::format("{:.2f}K", bytes / 1024.0);
  return fmt::format("{}B", bytes);
}

void section_server(Server& s, const Config& c, std::string& out) {
  utsname u{};
  uname(&u);
  const int64_t uptime = (mono_ms() - s.started_ms()) / 1000;
  out += fmt::format(
      "# Server\r\n"
      "redis_version:7.0.15\r\n"
      "lmkv_version:{}\r\n"
      "redis_git_sha1:00000000\r\n"
      "redis_git_dirty:0\r\n"
      "redis_mode:standalone\r\n"
      "os:{} {} {}\r\n"
      "arch_bits:64\r\n"
      "multiplexing_api:epoll\r\n"
      "process_id:{}\r\n"
      "run_id:{}\r\n"
      "tcp_port:{}\r\n"
      "server_time_usec:{}\r\n"
      "uptime_in_seconds:{}\r\n"
      "uptime_in_days:{}\r\n"
      "hz:10\r\n"
      "lmkv_threads:{}\r\n"
      "config_file:{}\r\n",
      LMKV_VERSION, u.sysname, u.release, u.machine, getpid(), s.run_id(), c.port, unix_us(),
      uptime, uptime / 86400, c.threads, c.config_file);
}

// Redis 7.0's fields, in its order; the recent maxima are over every loop.
void section_clients(Server& s, const Config& c, std::string& out) {
  size_t max_in = 0, max_out = 0;
  for (const auto& shard : s.shards()) {
    max_in = std::max(max_in, shard->recent_max_input());
    max_out = std::max(max_out, shard->recent_max_output());
  }
  out += fmt::format(
      "# Clients\r\n"
      "connected_clients:{}\r\n"
      "cluster_connections:0\r\n"
      "maxclients:{}\r\n"
      "client_recent_max_input_buffer:{}\r\n"
      "client_recent_max_output_buffer:{}\r\n"
      "blocked_clients:0\r\n"
      "tracking_clients:0\r\n"
      "clients_in_timeout_table:0\r\n",
      s.clients().size(), c.maxclients, max_in, max_out);
}

void section_memory(std::string& out) {
  const uint64_t rss = rss_bytes();
  out += fmt::format(
      "# Memory\r\n"
      "used_memory:{0}\r\n"
      "used_memory_human:{1}\r\n"
      "used_memory_rss:{0}\r\n"
      "used_memory_rss_human:{1}\r\n"
      "maxmemory:0\r\n"
      "maxmemory_human:0B\r\n"
      "maxmemory_policy:noeviction\r\n"
      "mem_allocator:libc\r\n",
      rss, human(rss));
}

void section_persistence(Server& s, const Config& c, std::string& out) {
  auto& e = s.engine();
  const auto& st = e.stats();
  const uint64_t apply_us = st.last_apply_us.load();
  const uint64_t apply_bytes = st.last_apply_bytes.load();
  out += fmt::format(
      "# Persistence\r\n"
      "loading:0\r\n"
      "async_loading:0\r\n"
      "{}"
      "aof_enabled:0\r\n"
      "aof_rewrite_in_progress:0\r\n"
      "aof_last_write_status:ok\r\n"
      "lmkv_fsync:{}\r\n"
      "lmkv_data_file_bytes:{}\r\n"
      "lmkv_log_bytes:{}\r\n"
      "lmkv_log_end_offset:{}\r\n"
      "lmkv_durable_offset:{}\r\n"
      "lmkv_applied_offset:{}\r\n"
      "lmkv_unapplied_bytes:{}\r\n"
      "lmkv_write_buffer_size:{}\r\n"
      "lmkv_max_unapplied_bytes:{}\r\n"
      "lmkv_slowdowns:{}\r\n"
      "lmkv_paced_groups:{}\r\n"
      "lmkv_paced_ms:{:.3f}\r\n"
      "lmkv_bulk_applies:{}\r\n"
      "lmkv_last_apply_ms:{:.3f}\r\n"
      "lmkv_last_apply_entries:{}\r\n"
      "lmkv_last_apply_bytes:{}\r\n"
      "lmkv_last_apply_mb_per_sec:{:.1f}\r\n"
      "lmkv_recovery_ms:{:.3f}\r\n"
      "lmkv_replayed_frames:{}\r\n",
      s.backup() ? s.backup()->info_fields() : std::string(), fsync_name(c.fsync),
      e.env().file_size(), e.log_disk_bytes(), e.log_end_offset(), e.durable_offset(),
      e.applied_offset(), e.unapplied_bytes(), c.write_buffer_size, c.max_unapplied_bytes,
      st.slowdowns.load(), st.paced_groups.load(), st.paced_us.load() / 1000.0, st.applies.load(),
      apply_us / 1000.0, st.last_apply_entries.load(), apply_bytes,
      apply_us ? apply_bytes / double(apply_us) : 0.0, st.recovery_us.load() / 1000.0,
      st.replayed_frames.load());
  // Bulk apply beyond RAM: the commit's (page writes + sync) share of the
  // last apply (with staged runs, of the last merge), the staged runs
  // (store/runs.h), and the prefetch pool's work (store/prefetch.h).
  const auto* pf = e.prefetcher();
  out += fmt::format(
      "lmkv_last_apply_commit_ms:{:.3f}\r\n"
      "lmkv_staged_runs:{}\r\n"
      "lmkv_live_runs:{}\r\n"
      "lmkv_merges:{}\r\n"
      "lmkv_merge_parts:{}\r\n"
      "lmkv_last_merge_ms:{:.3f}\r\n"
      "lmkv_last_merge_entries:{}\r\n"
      "lmkv_prefetch_threads:{}\r\n"
      "lmkv_prefetch_touched:{}\r\n"
      "lmkv_prefetch_skipped:{}\r\n"
      "lmkv_prefetch_sampled_out:{}\r\n",
      st.last_apply_commit_us.load() / 1000.0, c.staged_runs, e.staged_runs(), st.merges.load(),
      st.merge_parts.load(), st.last_merge_us.load() / 1000.0, st.last_merge_entries.load(),
      pf ? pf->threads() : 0, pf ? pf->stats().touched.load() : 0,
      pf ? pf->stats().skipped.load() : 0, pf ? pf->stats().sampled_out.load() : 0);
  // The key filter (store/key_filter.h): whether reads use one, its size
  // and how full it is (rebuilt past 50%), and how many were built. Then
  // the writes DBSIZE's background counter summed (store/counter.h), and
  // the DBSIZE and INFO calls held while it summed for them.
  const auto filter = e.key_filter();
  const store::Counter* counter = e.counter();
  out += fmt::format(
      "lmkv_key_filter:{}\r\n"
      "lmkv_key_filter_bytes:{}\r\n"
      "lmkv_key_filter_capacity:{}\r\n"
      "lmkv_key_filter_fill:{:.3f}\r\n"
      "lmkv_key_filter_builds:{}\r\n"
      "lmkv_counted_ahead:{}\r\n"
      "lmkv_counts_held:{}\r\n",
      filter ? 1 : 0, filter ? filter->memory_bytes() : 0, filter ? filter->capacity() : 0,
      filter ? filter->fill_ratio() : 0.0, st.filter_builds.load(), counter ? counter->summed() : 0,
      counter ? counter->hurried() : 0);
  // Where writers pause: the log's writes, its fdatasync and the throttle's
  // waits at max-unapplied-bytes (totals and slowest since start).
  out += fmt::format(
      "lmkv_log_write_ms:{:.3f}\r\n"
      "lmkv_log_write_max_ms:{:.3f}\r\n"
      "lmkv_slow_log_writes:{}\r\n"
      "lmkv_log_sync_ms:{:.3f}\r\n"
      "lmkv_log_sync_max_ms:{:.3f}\r\n"
      "lmkv_slow_log_syncs:{}\r\n"
      "lmkv_throttle_waits:{}\r\n"
      "lmkv_throttle_wait_ms:{:.3f}\r\n"
      "lmkv_throttle_wait_max_ms:{:.3f}\r\n",
      st.log_write_us.load() / 1000.0, st.log_write_max_us.load() / 1000.0,
      st.slow_log_writes.load(), st.log_sync_us.load() / 1000.0, st.log_sync_max_us.load() / 1000.0,
      st.slow_log_syncs.load(), st.throttle_waits.load(), st.throttle_wait_us.load() / 1000.0,
      st.throttle_wait_max_us.load() / 1000.0);
  // Disk full (man lmkv-server(1)): writes are refused while the log cannot
  // reserve space (or open its next segment: out of descriptors) or failing
  // bulk applies leave too much unapplied.
  out += fmt::format(
      "lmkv_disk_full:{}\r\n"
      "lmkv_log_space_full:{}\r\n"
      "lmkv_log_out_of_descriptors:{}\r\n"
      "lmkv_apply_failing:{}\r\n"
      "lmkv_apply_errors:{}\r\n"
      "lmkv_space_refusals:{}\r\n",
      e.disk_full() ? 1 : 0, e.log_full() ? 1 : 0, e.log_out_of_descriptors() ? 1 : 0,
      e.apply_failing() ? 1 : 0, st.apply_errors.load(), st.space_refusals.load());
}

void section_stats(Server& s, std::string& out) {
  uint64_t commands = 0;
  for (const auto& shard : s.shards()) commands += shard->commands_processed();
  out += fmt::format(
      "# Stats\r\n"
      "total_connections_received:{}\r\n"
      "total_commands_processed:{}\r\n"
      "rejected_connections:{}\r\n"
      "lmkv_write_groups:{}\r\n"
      "lmkv_write_commands:{}\r\n"
      "lmkv_write_groups_on_loops:{}\r\n"
      "lmkv_last_group_size:{}\r\n"
      "lmkv_log_syncs:{}\r\n"
      "expired_keys:{}\r\n"
      "evicted_keys:0\r\n",
      s.stats().connections_received.load(), commands, s.stats().rejected_connections.load(),
      s.writer().stats().groups.load(), s.writer().stats().commands.load(),
      s.writer().stats().groups_on_loops.load(), s.writer().stats().last_group_size.load(), s.engine().stats().syncs.load(),
      s.engine().stats().expired_keys.load());
  out += fmt::format("pubsub_channels:{}\r\npubsub_patterns:{}\r\n",
                     s.broker().channel_count(), s.broker().pattern_count());
  out += fmt::format("total_error_replies:{}\r\n", s.command_stats()->total_error_replies());
}

void section_replication(Server& s, std::string& out) {
  out += fmt::format(
      "# Replication\r\n"
      "role:master\r\n"
      "connected_slaves:0\r\n"
      "master_failover_state:no-failover\r\n"
      "master_replid:{}\r\n"
      "master_replid2:0000000000000000000000000000000000000000\r\n"
      "master_repl_offset:0\r\n"
      "second_repl_offset:-1\r\n"
      "repl_backlog_active:0\r\n"
      "repl_backlog_size:1048576\r\n"
      "repl_backlog_first_byte_offset:0\r\n"
      "repl_backlog_histlen:0\r\n",
      s.replid());
}

void section_cpu(std::string& out) {
  rusage self{};
  getrusage(RUSAGE_SELF, &self);
  auto secs = [](const timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; };
  out += fmt::format(
      "# CPU\r\n"
      "used_cpu_sys:{:.6f}\r\n"
      "used_cpu_user:{:.6f}\r\n",
      secs(self.ru_stime), secs(self.ru_utime));
}

void section_keyspace(Server& s, int databases, std::string& out) {
  out += "# Keyspace\r\n";
  // A short read transaction of its own: INFO is rare and must not depend
  // on the calling loop's snapshot.
  store::ReadView view(s.engine());
  // avg_ttl is Redis's estimate from its expiry sampling; lmkv makes none.
  for (int db = 0; db < databases; ++db) {
    auto n = view.key_counts(db);
    if (n && n->keys > 0)
      out += fmt::format("db{}:keys={},expires={},avg_ttl=0\r\n", db, n->keys, n->expires);
  }
}

}  // namespace

std::string render_info(Server& server, std::span<const std::string> sections) {
  static constexpr std::string_view kAll[] = {"server",     "clients",     "memory", "persistence",
                                              "stats",      "replication", "cpu",    "commandstats",
                                              "errorstats", "keyspace"};
  const Config c = server.config_snapshot();
  std::string out;
  for (std::string_view name : kAll) {
    if (!commands::info_section_wanted(sections, name)) continue;
    if (!out.empty()) out += "\r\n";
    if (name == "server") section_server(server, c, out);
    else if (name == "clients") section_clients(server, c, out);
    else if (name == "memory") section_memory(out);
    else if (name == "persistence") section_persistence(server, c, out);
    else if (name == "stats") section_stats(server, out);
    else if (name == "replication") section_replication(server, out);
    else if (name == "cpu") section_cpu(out);
    else if (name == "keyspace") section_keyspace(server, c.databases, out);
    else if (name == "commandstats")
      out += "# Commandstats\r\n" + server.command_stats()->commandstats();
    else if (name == "errorstats")
      out += "# Errorstats\r\n" + server.command_stats()->errorstats();
  }
  return out;
}

}  // namespace lmkv::server
