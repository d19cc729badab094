#include "server/config.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include <fmt/format.h>

#include "base/numbers.h"
#include "commands/glob.h"
#include "commands/notify.h"

namespace lmkv::server {
namespace {

// Redis's memtoll units: 1k = 1000, 1kb = 1024, likewise m/mb, g/gb.
std::optional<int64_t> parse_memory(std::string_view s) {
  static constexpr std::pair<std::string_view, int64_t> kUnits[] = {
      {"kb", 1024}, {"mb", 1024 * 1024}, {"gb", 1024LL * 1024 * 1024},
      {"k", 1000},  {"m", 1000 * 1000},  {"g", 1000LL * 1000 * 1000}, {"b", 1}};
  std::string lower = to_lower(s);
  for (auto [suffix, mul] : kUnits) {
    if (lower.size() > suffix.size() && lower.ends_with(suffix)) {
      auto n = parse_i64(std::string_view(lower).substr(0, lower.size() - suffix.size()));
      if (!n || *n > INT64_MAX / mul) return std::nullopt;
      return *n * mul;
    }
  }
  return parse_i64(lower);
}

std::optional<bool> parse_yes_no(std::string_view s) {
  if (iequals(s, "yes")) return true;
  if (iequals(s, "no")) return false;
  return std::nullopt;
}

Error bad_value(std::string_view name, std::string_view value, std::string_view why) {
  return err(fmt::format("argument '{}' for '{}' is invalid: {}", value, name, why));
}

// Integer directive setter within [lo, hi].
template <class T>
Status set_int(T& field, std::string_view name, std::string_view v, int64_t lo, int64_t hi,
               bool memory = false) {
  auto n = memory ? parse_memory(v) : parse_i64(v);
  if (!n) return bad_value(name, v, "not an integer");
  if (*n < lo || *n > hi)
    return bad_value(name, v, fmt::format("must be between {} and {}", lo, hi));
  field = static_cast<T>(*n);
  return {};
}

// A yes/no directive, Redis's way.
Status set_yes_no(bool& field, std::string_view name, std::string_view v) {
  auto b = parse_yes_no(v);
  if (!b) return bad_value(name, v, "expected yes or no");
  field = *b;
  return {};
}
std::string yes_no(bool b) { return b ? "yes" : "no"; }

// client-output-buffer-limit <class> <hard> <soft> <soft-seconds> [...]:
// one or more classes (normal, replica or its old name slave, pubsub),
// all checked before any is changed; the error texts are Redis's.
Status set_output_limits(Config& c, std::string_view v) {
  std::vector<std::string_view> words;
  for (size_t i = 0; i < v.size();) {
    size_t j = v.find(' ', i);
    if (j == std::string_view::npos) j = v.size();
    if (j > i) words.push_back(v.substr(i, j - i));
    i = j + 1;
  }
  if (words.empty() || words.size() % 4 != 0)
    return err("Wrong number of arguments in buffer limit configuration.");
  Config next = c;
  for (size_t i = 0; i < words.size(); i += 4) {
    int cls;
    if (iequals(words[i], "normal")) cls = kNormalClass;
    else if (iequals(words[i], "replica") || iequals(words[i], "slave")) cls = kReplicaClass;
    else if (iequals(words[i], "pubsub")) cls = kPubsubClass;
    else return err("Invalid client class specified in buffer limit configuration.");
    auto hard = parse_memory(words[i + 1]);
    auto soft = parse_memory(words[i + 2]);
    auto seconds = parse_i64(words[i + 3]);
    if (!hard || !soft || !seconds || *hard < 0 || *soft < 0 || *seconds < 0)
      return err("Error in hard, soft or soft_seconds setting in buffer limit configuration.");
    next.client_output_buffer_limit[cls] = {*hard, *soft, *seconds};
  }
  std::copy(std::begin(next.client_output_buffer_limit), std::end(next.client_output_buffer_limit),
            std::begin(c.client_output_buffer_limit));
  return {};
}

// As Redis shows it: "normal 0 0 0 slave 268435456 67108864 60 pubsub ...".
std::string get_output_limits(const Config& c) {
  static constexpr std::string_view kNames[] = {"normal", "slave", "pubsub"};
  std::string out;
  for (int cls = 0; cls < 3; ++cls) {
    const auto& l = c.client_output_buffer_limit[cls];
    out += fmt::format("{}{} {} {} {}", cls ? " " : "", kNames[cls], l.hard, l.soft,
                       l.soft_seconds);
  }
  return out;
}

// An integer directive with Redis's own error texts, which CONFIG SET
// reports after "CONFIG SET failed (possibly related to argument 'x') - ".
Status set_redis_int(int64_t& field, std::string_view v, int64_t lo, int64_t hi) {
  auto n = parse_i64(v);
  if (!n) return err("argument couldn't be parsed into an integer");
  if (*n < lo || *n > hi)
    return err(fmt::format("argument must be between {} and {} inclusive", lo, hi));
  field = *n;
  return {};
}

struct Directive {
  std::string_view name;
  bool runtime;  // CONFIG SET may change it while running
  std::function<Status(Config&, std::string_view)> set;
  std::function<std::string(const Config&)> get;
};

const std::vector<Directive>& directives() {
  static const std::vector<Directive> table = {
      {"port", false,
       [](Config& c, std::string_view v) { return set_int(c.port, "port", v, 0, 65535); },
       [](const Config& c) { return std::to_string(c.port); }},
      {"bind", false,
       [](Config& c, std::string_view v) {
         // Redis accepts several addresses; lmkv listens on the first.
         auto first = v.substr(0, v.find(' '));
         if (first.empty()) return Status(bad_value("bind", v, "empty address"));
         c.bind = std::string(first);
         return Status();
       },
       [](const Config& c) { return c.bind; }},
      {"dir", false,
       [](Config& c, std::string_view v) {
         if (v.empty()) return Status(bad_value("dir", v, "empty path"));
         c.dir = std::string(v);
         return Status();
       },
       [](const Config& c) { return c.dir; }},
      {"threads", false,
       [](Config& c, std::string_view v) { return set_int(c.threads, "threads", v, 0, 256); },
       [](const Config& c) { return std::to_string(c.threads); }},
      {"fsync", true,
       [](Config& c, std::string_view v) {
         if (iequals(v, "always"))
           c.fsync = store::Fsync::kAlways;
         else if (iequals(v, "everysec"))
           c.fsync = store::Fsync::kEverysec;
         else if (iequals(v, "no"))
           c.fsync = store::Fsync::kNo;
         else
           return Status(bad_value("fsync", v, "expected always, everysec or no"));
         return Status();
       },
       [](const Config& c) { return std::string(fsync_name(c.fsync)); }},
      {"maxclients", true,
       [](Config& c, std::string_view v) {
         return set_int(c.maxclients, "maxclients", v, 1, 1000000);
       },
       [](const Config& c) { return std::to_string(c.maxclients); }},
      {"databases", false,
       [](Config& c, std::string_view v) { return set_int(c.databases, "databases", v, 1, 64); },
       [](const Config& c) { return std::to_string(c.databases); }},
      {"logfile", false,
       [](Config& c, std::string_view v) {
         c.logfile = std::string(v);
         return Status();
       },
       [](const Config& c) { return c.logfile; }},
      {"loglevel", true,
       [](Config& c, std::string_view v) {
         if (!log::parse_level(to_lower(v), &c.loglevel))
           return Status(bad_value("loglevel", v, "expected debug, verbose, notice or warning"));
         return Status();
       },
       [](const Config& c) {
         static constexpr std::string_view kNames[] = {"debug", "verbose", "notice", "warning"};
         return std::string(kNames[static_cast<int>(c.loglevel)]);
       }},
      {"pidfile", false,
       [](Config& c, std::string_view v) {
         c.pidfile = std::string(v);
         return Status();
       },
       [](const Config& c) { return c.pidfile; }},
      {"daemonize", false,
       [](Config& c, std::string_view v) { return set_yes_no(c.daemonize, "daemonize", v); },
       [](const Config& c) { return yes_no(c.daemonize); }},
      {"range-default-limit", true,
       [](Config& c, std::string_view v) {
         return set_int(c.range_default_limit, "range-default-limit", v, 1, 100000000);
       },
       [](const Config& c) { return std::to_string(c.range_default_limit); }},
      {"range-max-limit", true,
       [](Config& c, std::string_view v) {
         return set_int(c.range_max_limit, "range-max-limit", v, 1, 100000000);
       },
       [](const Config& c) { return std::to_string(c.range_max_limit); }},
      {"proto-max-bulk-len", true,
       [](Config& c, std::string_view v) {
         return set_int(c.proto_max_bulk_len, "proto-max-bulk-len", v, 1024, INT64_MAX, true);
       },
       [](const Config& c) { return std::to_string(c.proto_max_bulk_len); }},
      {"write-buffer-size", false,
       [](Config& c, std::string_view v) {
         return set_int(c.write_buffer_size, "write-buffer-size", v, 64 << 10, 1LL << 40, true);
       },
       [](const Config& c) { return std::to_string(c.write_buffer_size); }},
      {"max-unapplied-bytes", false,
       [](Config& c, std::string_view v) {
         return set_int(c.max_unapplied_bytes, "max-unapplied-bytes", v, 64 << 10, 1LL << 40,
                        true);
       },
       [](const Config& c) { return std::to_string(c.max_unapplied_bytes); }},
      {"staged-runs", false,
       [](Config& c, std::string_view v) {
         return set_int(c.staged_runs, "staged-runs", v, 0, store::Env::kRunSlots);
       },
       [](const Config& c) { return std::to_string(c.staged_runs); }},
      {"prefetch-threads", false,
       [](Config& c, std::string_view v) {
         return set_int(c.prefetch_threads, "prefetch-threads", v, 0, 64);
       },
       [](const Config& c) { return std::to_string(c.prefetch_threads); }},
      {"key-filter", false,
       [](Config& c, std::string_view v) { return set_yes_no(c.key_filter, "key-filter", v); },
       [](const Config& c) { return yes_no(c.key_filter); }},
      {"client-query-buffer-limit", true,
       [](Config& c, std::string_view v) {
         return set_int(c.client_query_buffer_limit, "client-query-buffer-limit", v, 1 << 20,
                        INT64_MAX, true);
       },
       [](const Config& c) { return std::to_string(c.client_query_buffer_limit); }},
      {"client-output-buffer-limit", true, set_output_limits, get_output_limits},
      {"timeout", true,
       [](Config& c, std::string_view v) { return set_int(c.timeout, "timeout", v, 0, INT32_MAX); },
       [](const Config& c) { return std::to_string(c.timeout); }},
      {"notify-keyspace-events", true,
       [](Config& c, std::string_view v) {
         auto flags = commands::parse_notify_classes(v);
         if (!flags)
           return Status(err(
               "CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - "
               "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."));
         c.notify_keyspace_events = *flags;
         return Status();
       },
       [](const Config& c) { return commands::format_notify_classes(c.notify_keyspace_events); }},
      // The default user's password; CONFIG GET shows it, as Redis does.
      {"requirepass", true,
       [](Config& c, std::string_view v) {
         c.requirepass = std::string(v);
         return Status();
       },
       [](const Config& c) { return c.requirepass; }},
      {"protected-mode", true,
       [](Config& c, std::string_view v) {
         return set_yes_no(c.protected_mode, "protected-mode", v);
       },
       [](const Config& c) { return yes_no(c.protected_mode); }},
      // Read-only answers that tools ask for (redis-benchmark reads these two).
      {"save", false,
       [](Config&, std::string_view v) {
         return v.empty() ? Status() : Status(bad_value("save", v, "lmkv does not use RDB"));
       },
       [](const Config&) { return std::string(); }},
      {"slowlog-log-slower-than", true,
       [](Config& c, std::string_view v) {
         return set_redis_int(c.slowlog_log_slower_than, v, -1, INT64_MAX);
       },
       [](const Config& c) { return std::to_string(c.slowlog_log_slower_than); }},
      {"slowlog-max-len", true,
       [](Config& c, std::string_view v) {
         return set_redis_int(c.slowlog_max_len, v, 0, INT64_MAX);
       },
       [](const Config& c) { return std::to_string(c.slowlog_max_len); }},
      {"appendonly", false,
       [](Config&, std::string_view v) {
         return iequals(v, "no") ? Status() : Status(bad_value("appendonly", v, "lmkv has no AOF"));
       },
       [](const Config&) { return std::string("no"); }},
  };
  return table;
}

const Directive* find(std::string_view name) {
  for (const auto& d : directives())
    if (iequals(d.name, name)) return &d;
  return nullptr;
}

// Splits a config line into words with Redis's quoting ("..." and '...').
Result<std::vector<std::string>> split_line(std::string_view line) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    if (i == line.size()) break;
    std::string word;
    if (line[i] == '"' || line[i] == '\'') {
      char q = line[i++];
      bool closed = false;
      while (i < line.size()) {
        char c = line[i++];
        if (c == '\\' && q == '"' && i < line.size()) {
          char e = line[i++];
          word += e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e;
        } else if (c == q) {
          closed = true;
          break;
        } else {
          word += c;
        }
      }
      if (!closed) return err("unbalanced quotes");
    } else {
      while (i < line.size() && !std::isspace(static_cast<unsigned char>(line[i])))
        word += line[i++];
    }
    words.push_back(std::move(word));
  }
  return words;
}

std::string join(const std::vector<std::string>& words, size_t from) {
  std::string out;
  for (size_t i = from; i < words.size(); ++i) {
    if (i > from) out += ' ';
    out += words[i];
  }
  return out;
}

}  // namespace

int64_t default_write_buffer_size(uint64_t memory_limit, int64_t max_unapplied_bytes) {
  const int64_t by_memory = memory_limit >= (uint64_t{2} << 30) ? 16LL << 20 : 8LL << 20;
  return std::max<int64_t>(64 << 10, std::min(by_memory, max_unapplied_bytes / 2));
}

int64_t default_staged_runs(uint64_t memory_limit) {
  return memory_limit >= (uint64_t{4} << 30) ? 4 : 1;
}

std::string_view fsync_name(store::Fsync f) {
  switch (f) {
    case store::Fsync::kAlways: return "always";
    case store::Fsync::kEverysec: return "everysec";
    case store::Fsync::kNo: return "no";
  }
  return "always";
}

Status set_directive(Config& config, std::string_view name, std::string_view value,
                     bool at_runtime) {
  const Directive* d = find(name);
  if (!d) return err(fmt::format("Unknown option or number of arguments for CONFIG SET - '{}'", name));
  if (at_runtime && !d->runtime)
    return err(fmt::format("CONFIG SET failed (possibly related to argument '{}') - can't set "
                           "immutable config",
                           name));
  return d->set(config, value);
}

std::vector<std::pair<std::string, std::string>> get_directives(const Config& config,
                                                                std::string_view pattern) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& d : directives())
    if (commands::glob_match(pattern, d.name, true))
      out.emplace_back(std::string(d.name), d.get(config));
  return out;
}

Status apply_config_text(Config& config, std::string_view text, std::string_view origin) {
  std::istringstream in{std::string(text)};
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    auto words = split_line(line);
    if (!words) return err(fmt::format("{}:{}: {}", origin, lineno, words.error().message));
    if (words->empty() || (*words)[0][0] == '#') continue;
    const auto& name = (*words)[0];
    if (iequals(name, "include")) {
      return err(fmt::format("{}:{}: 'include' is not supported", origin, lineno));
    }
    // Multi-word directives keep their words (a password may hold spaces,
    // a new command name may be ""), so they skip the one-value table.
    if (iequals(name, "user")) {
      if (words->size() < 2) return err(fmt::format("{}:{}: 'user' needs a name", origin, lineno));
      config.users.emplace_back(words->begin() + 1, words->end());
      continue;
    }
    if (iequals(name, "rename-command")) {
      if (words->size() != 3)
        return err(fmt::format("{}:{}: rename-command takes a command and a new name", origin,
                               lineno));
      config.renames.emplace_back((*words)[1], (*words)[2]);
      continue;
    }
    if (!find(name))
      return err(fmt::format("{}:{}: unknown directive '{}'", origin, lineno, name));
    if (auto s = set_directive(config, name, join(*words, 1), false); !s)
      return err(fmt::format("{}:{}: {}", origin, lineno, s.error().message));
  }
  return {};
}

Result<CommandLine> parse_command_line(int argc, char** argv) {
  CommandLine cl;
  int i = 1;
  std::string file;
  if (i < argc && argv[i][0] != '-') file = argv[i++];
  // Overrides are gathered as text so they apply after the file, in order.
  std::vector<std::pair<std::string, std::string>> overrides;
  while (i < argc) {
    std::string_view a = argv[i++];
    if (a == "-h" || a == "--help") { cl.help = true; return cl; }
    if (a == "-v" || a == "--version") { cl.version = true; return cl; }
    if (!a.starts_with("--") || a.size() == 2)
      return err(fmt::format("unexpected argument '{}' (try --help)", a));
    std::string name(a.substr(2));
    std::vector<std::string> values;
    while (i < argc && !std::string_view(argv[i]).starts_with("--")) values.emplace_back(argv[i++]);
    if (name == "config") {
      if (values.size() != 1) return err("--config takes one file");
      file = values[0];
      continue;
    }
    if (name == "rename-command" || name == "user") {
      // Kept as a config line, so the file's parser handles the words.
      std::string line = name;
      for (const auto& v : values) {
        line += " \"";
        for (char ch : v) {
          if (ch == '"' || ch == '\\') line += '\\';
          line += ch;
        }
        line += '"';
      }
      if (auto s = apply_config_text(cl.config, line, "--" + name); !s) return s.error();
      overrides.emplace_back(name, line);
      continue;
    }
    if (!find(name)) return err(fmt::format("unknown option '--{}' (try --help)", name));
    std::string joined;
    for (size_t k = 0; k < values.size(); ++k) joined += (k ? " " : "") + values[k];
    if (auto s = set_directive(cl.config, name, joined, false); !s)
      return err(fmt::format("--{}: {}", name, s.error().message));
    overrides.emplace_back(name, joined);
  }
  if (!file.empty()) {
    std::ifstream f(file);
    if (!f) return err(fmt::format("cannot read config file '{}'", file));
    std::stringstream text;
    text << f.rdbuf();
    Config from_file;
    if (auto s = apply_config_text(from_file, text.str(), file); !s) return s.error();
    // Command-line directives win over the file's.
    for (const auto& [name, value] : overrides) {
      if (name == "rename-command" || name == "user") {
        if (auto s = apply_config_text(from_file, value, "--" + name); !s) return s.error();
        continue;
      }
      if (auto s = set_directive(from_file, name, value, false); !s) return s.error();
    }
    cl.config = std::move(from_file);
    std::error_code ec;
    cl.config.config_file = std::filesystem::absolute(file, ec).string();
  }
  return cl;
}

std::string usage() {
  std::string out =
      "Usage: lmkv-server [/path/to/lmkv.conf] [--config FILE] [--directive value ...]\n"
      "       lmkv-server --help | --version\n\n"
      "Directives (also valid as config file lines; see lmkv-server(1)):\n";
  Config defaults;
  for (const auto& d : directives())
    out += fmt::format("  --{:<22} default '{}'{}\n", d.name, d.get(defaults),
                       d.runtime ? " (CONFIG SET)" : "");
  return out;
}

// ===================================================================
// CONFIG REWRITE
// ===================================================================

namespace {

// A value as a config line word: bare when split_line() would read it back
// unchanged, else double-quoted with the escapes split_line() undoes.
std::string quote_value(const std::string& v) {
  bool bare = !v.empty() && v.front() != ' ' && v.back() != ' ' && v.find("  ") == std::string::npos;
  for (char c : v)
    if (c == '"' || c == '\'' || c == '\\' || static_cast<unsigned char>(c) < ' ') bare = false;
  if (bare) return v;
  std::string out = "\"";
  for (char c : v) {
    if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\t') out += "\\t";
    else if (c == '"' || c == '\\') (out += '\\') += c;
    else out += c;
  }
  return out + '"';
}

}  // namespace

Status rewrite_config_file(const Config& config, const std::string& path) {
  std::string text;
  {
    std::ifstream in(path);
    if (!in) return err(fmt::format("Rewriting config file: cannot read {}", path));
    std::stringstream buf;
    buf << in.rdbuf();
    text = buf.str();
  }
  const Config defaults;
  std::vector<bool> written(directives().size(), false);
  auto index_of = [](std::string_view name) -> std::optional<size_t> {
    const auto& table = directives();
    for (size_t i = 0; i < table.size(); ++i)
      if (iequals(table[i].name, name)) return i;
    return std::nullopt;
  };
  std::string out;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    auto words = split_line(line);
    std::optional<size_t> i;
    if (words && !words->empty() && (*words)[0][0] != '#') i = index_of((*words)[0]);
    if (!i) {
      out += line + "\n";
      continue;
    }
    if (written[*i]) continue;  // a repeat: the first line now holds the value
    written[*i] = true;
    const Directive& d = directives()[*i];
    out += fmt::format("{} {}\n", d.name, quote_value(d.get(config)));
  }
  bool header = false;
  for (size_t i = 0; i < directives().size(); ++i) {
    const Directive& d = directives()[i];
    if (written[i] || d.get(config) == d.get(defaults)) continue;
    if (!header) {
      if (!out.empty() && out.back() != '\n') out += '\n';
      out += "# Generated by CONFIG REWRITE\n";
      header = true;
    }
    out += fmt::format("{} {}\n", d.name, quote_value(d.get(config)));
  }
  // In place, as Redis does, so a symlinked or bind-mounted file stays one.
  std::ofstream f(path, std::ios::trunc);
  f << out;
  f.flush();
  if (!f) return err(fmt::format("Rewriting config file: cannot write {}", path));
  return {};
}

}  // namespace lmkv::server
