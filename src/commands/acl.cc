// commands/acl.cc: the user table, permission checks, protected mode,
// rename-command, and the ACL command family. See acl.h.

#include "commands/acl.h"

#include <algorithm>
#include <cstring>
#include <mutex>

#include "base/numbers.h"
#include "commands/registry.h"
#include "commands/subcommands.h"
#include "resp/errors.h"

namespace lmkv::commands {

// ===================================================================
// SHA-256 (FIPS 180-4), written from the specification
// ===================================================================

namespace {

constexpr uint32_t kRoundConstants[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

constexpr uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

// Mixes one 64-byte block into the state.
void sha256_block(uint32_t state[8], const uint8_t* block) {
  uint32_t w[64];
  for (int i = 0; i < 16; ++i)
    w[i] = (uint32_t{block[4 * i]} << 24) | (uint32_t{block[4 * i + 1]} << 16) |
           (uint32_t{block[4 * i + 2]} << 8) | uint32_t{block[4 * i + 3]};
  for (int i = 16; i < 64; ++i) {
    const uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
    const uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
  uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
  for (int i = 0; i < 64; ++i) {
    const uint32_t t1 = h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) +
                        kRoundConstants[i] + w[i];
    const uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    h = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  state[0] += a, state[1] += b, state[2] += c, state[3] += d;
  state[4] += e, state[5] += f, state[6] += g, state[7] += h;
}

}  // namespace

Digest sha256(std::string_view data) {
  uint32_t state[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                       0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  size_t n = data.size();
  for (; n >= 64; n -= 64, p += 64) sha256_block(state, p);
  // The tail, a 0x80 byte, zeros, and the bit length (big endian) fill one
  // or two final blocks.
  uint8_t tail[128] = {};
  std::memcpy(tail, p, n);
  tail[n] = 0x80;
  const size_t total = n + 9 <= 64 ? 64 : 128;
  const uint64_t bits = static_cast<uint64_t>(data.size()) * 8;
  for (int i = 0; i < 8; ++i) tail[total - 1 - i] = static_cast<uint8_t>(bits >> (8 * i));
  for (size_t off = 0; off < total; off += 64) sha256_block(state, tail + off);
  Digest out;
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 4; ++j) out[4 * i + j] = static_cast<uint8_t>(state[i] >> (24 - 8 * j));
  return out;
}

std::string to_hex(const Digest& d) {
  std::string out;
  out.reserve(64);
  for (uint8_t b : d) {
    out += "0123456789abcdef"[b >> 4];
    out += "0123456789abcdef"[b & 15];
  }
  return out;
}

bool digest_equal(const Digest& a, const Digest& b) {
  // Accumulate every difference: no early exit, so the time does not tell
  // how many leading bytes matched.
  volatile uint8_t diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff = diff | static_cast<uint8_t>(a[i] ^ b[i]);
  return diff == 0;
}

// ===================================================================
// Categories
// ===================================================================

const std::vector<std::string_view>& acl_categories() {
  static const std::vector<std::string_view> kNames = {
      "keyspace", "read",   "write",       "set",       "sortedset",  "list",        "hash",
      "string",   "bitmap", "hyperloglog", "geo",       "stream",     "pubsub",      "admin",
      "fast",     "slow",   "blocking",    "dangerous", "connection", "transaction", "scripting"};
  return kNames;
}

namespace {

// Data-type groups whose commands are in the category of the same name
// rather than @keyspace.
bool is_type_group(std::string_view g) {
  return g == "string" || g == "list" || g == "hash" || g == "set" || g == "sorted-set" ||
         g == "sortedset" || g == "stream" || g == "bitmap" || g == "hyperloglog" || g == "geo";
}

// Redis marks these @dangerous besides every admin command.
bool dangerous_name(std::string_view lower) {
  static constexpr std::string_view kNames[] = {
      "flushall",         "flushdb",        "keys",           "info",           "sort",
      "sort_ro",          "migrate",        "restore",        "restore-asking", "role",
      "monitor",          "client|list",    "client|kill",    "config|get",     "config|set",
      "config|resetstat", "config|rewrite", "command|getkeys"};
  return std::find(std::begin(kNames), std::end(kNames), lower) != std::end(kNames);
}

}  // namespace

bool in_category(const CommandSpec& spec, std::string_view cat) {
  const uint32_t f = spec.flags;
  const std::string_view g = spec.group;
  if (cat == "all") return true;
  if (cat == "read") return f & kRead;
  if (cat == "write") return f & kWrite;
  if (cat == "admin") return f & kAdmin;
  if (cat == "fast") return f & kFast;
  if (cat == "slow") return !(f & kFast);
  if (cat == "dangerous") return (f & kAdmin) || dangerous_name(spec.lower_name);
  if (cat == "pubsub") return (f & kPubSub) || g == "pubsub";
  if (cat == "keyspace") return (f & (kRead | kWrite)) && !is_type_group(g);
  if (cat == "connection") return g == "connection";
  if (cat == "transaction") return g == "transactions";
  if (cat == "scripting") return g == "scripting";
  if (cat == "sortedset") return g == "sorted-set" || g == "sortedset";
  if (cat == "blocking") return false;  // no blocking commands yet
  return is_type_group(cat) && g == cat;
}

namespace {

bool known_category(std::string_view cat) {
  if (cat == "all") return true;
  const auto& names = acl_categories();
  return std::find(names.begin(), names.end(), cat) != names.end();
}

// The subcommand of a container that args name, or null.
const CommandSpec* find_sub(const CommandSpec& spec, Args args) {
  if (spec.subcommand_specs.empty() || args.size() < 2) return nullptr;
  for (const auto& s : spec.subcommand_specs)
    if (iequals(s.name, args[1])) return &s;
  return nullptr;
}

}  // namespace

// ===================================================================
// AclUser
// ===================================================================

bool AclUser::allows(const CommandSpec& spec, const CommandSpec* sub) const {
  const CommandSpec& effective = sub ? *sub : spec;
  for (auto it = rules.rbegin(); it != rules.rend(); ++it) {
    const bool allow = (*it)[0] == '+';
    const std::string_view what = std::string_view(*it).substr(1);
    bool matches;
    if (what.starts_with('@'))
      matches = in_category(effective, what.substr(1));
    else if (what.find('|') != std::string_view::npos)
      matches = sub && what == sub->lower_name;
    else
      matches = what == spec.lower_name;
    if (matches) return allow;
  }
  return false;
}

bool AclUser::unrestricted() const { return allkeys && rules.size() == 1 && rules[0] == "+@all"; }

std::string AclUser::describe_rules() const {
  std::string out;
  if (rules.empty() || rules[0] != "+@all") out = "-@all";
  for (const auto& r : rules) {
    if (!out.empty()) out += ' ';
    out += r;
  }
  return out;
}

std::string AclUser::describe() const {
  std::string out = "user " + name + (enabled ? " on" : " off");
  if (nopass) out += " nopass";
  for (const auto& d : passwords) out += " #" + to_hex(d);
  if (allkeys) out += " ~*";
  out += allchannels ? " &*" : " resetchannels";
  out += ' ';
  out += describe_rules();
  return out;
}

// ===================================================================
// Acl
// ===================================================================

Acl::Acl() {
  AclUser d;
  d.name = "default";
  d.enabled = true;
  d.nopass = true;
  d.allkeys = true;
  d.allchannels = true;
  d.rules = {"+@all"};
  users_.emplace("default", std::move(d));
}

namespace {

Error modifier_error(std::string_view rule, std::string_view why) {
  return err("Error in ACL SETUSER modifier '" + resp::sanitize(rule) + "': " + std::string(why));
}

std::optional<Digest> parse_hex_digest(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  Digest d;
  for (size_t i = 0; i < 32; ++i) {
    int v = 0;
    for (char c : hex.substr(2 * i, 2)) {
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= c - '0';
      else if (c >= 'a' && c <= 'f')
        v |= c - 'a' + 10;
      else
        return std::nullopt;
    }
    d[i] = static_cast<uint8_t>(v);
  }
  return d;
}

void remove_digest(std::vector<Digest>& v, const Digest& d) {
  v.erase(std::remove(v.begin(), v.end(), d), v.end());
}

}  // namespace

// One rule applied to `u` (a copy; set_user commits it only if every rule
// applies).
Status Acl::apply(AclUser& u, std::string_view rule) const {
  if (rule.empty()) return modifier_error(rule, "Syntax error");
  const std::string lower = to_lower(rule);
  if (lower == "on")
    u.enabled = true;
  else if (lower == "off")
    u.enabled = false;
  else if (lower == "nopass") {
    u.nopass = true;
    u.passwords.clear();
  } else if (lower == "resetpass") {
    u.nopass = false;
    u.passwords.clear();
  } else if (rule[0] == '>' || rule[0] == '#') {
    std::optional<Digest> d =
        rule[0] == '>' ? std::optional(sha256(rule.substr(1))) : parse_hex_digest(rule.substr(1));
    if (!d)
      return modifier_error(rule,
                            "The password hash must be exactly 64 characters and contain only "
                            "lowercase hexadecimal characters");
    if (std::find(u.passwords.begin(), u.passwords.end(), *d) == u.passwords.end())
      u.passwords.push_back(*d);
    u.nopass = false;
  } else if (rule[0] == '<' || rule[0] == '!') {
    std::optional<Digest> d =
        rule[0] == '<' ? std::optional(sha256(rule.substr(1))) : parse_hex_digest(rule.substr(1));
    if (!d || std::find(u.passwords.begin(), u.passwords.end(), *d) == u.passwords.end())
      return modifier_error(rule,
                            "The password you are trying to remove from the user does not exist");
    remove_digest(u.passwords, *d);
  } else if (lower == "~*" || lower == "allkeys") {
    u.allkeys = true;
  } else if (lower == "resetkeys") {
    u.allkeys = false;
  } else if (rule[0] == '~' || rule[0] == '%') {
    return modifier_error(rule, "lmkv supports only the ~* key pattern (allkeys)");
  } else if (lower == "&*" || lower == "allchannels") {
    u.allchannels = true;
  } else if (lower == "resetchannels") {
    u.allchannels = false;
  } else if (rule[0] == '&') {
    return modifier_error(rule, "lmkv supports only the &* channel pattern (allchannels)");
  } else if (rule[0] == '(') {
    return modifier_error(rule, "lmkv does not support selectors");
  } else if (lower == "allcommands" || lower == "+@all") {
    u.rules = {"+@all"};
  } else if (lower == "nocommands" || lower == "-@all") {
    u.rules.clear();
  } else if (lower == "reset") {
    AclUser fresh;
    fresh.name = u.name;
    u = std::move(fresh);
  } else if (rule[0] == '+' || rule[0] == '-') {
    const std::string_view what = std::string_view(lower).substr(1);
    if (what.starts_with('@')) {
      if (!known_category(what.substr(1)))
        return modifier_error(rule, "Unknown command or category name in ACL");
      u.rules.push_back(lower);
      return {};
    }
    const size_t bar = what.find('|');
    const CommandSpec* spec = registry_ ? registry_->find(what.substr(0, bar)) : nullptr;
    if (!spec) return modifier_error(rule, "Unknown command or category name in ACL");
    if (bar != std::string_view::npos) {
      bool found = false;
      for (const auto& s : spec->subcommand_specs) found = found || s.lower_name == what;
      if (!found) return modifier_error(rule, "Unknown command or category name in ACL");
    }
    // A later rule for the same command replaces the earlier one.
    const std::string_view bare = what;
    u.rules.erase(
        std::remove_if(u.rules.begin(), u.rules.end(),
                       [&](const std::string& r) { return std::string_view(r).substr(1) == bare; }),
        u.rules.end());
    u.rules.push_back(lower);
  } else {
    return modifier_error(rule, "Syntax error");
  }
  return {};
}

Status Acl::set_user(std::string_view name, const std::vector<std::string_view>& rules) {
  std::unique_lock lock(mu_);
  AclUser u;
  if (auto it = users_.find(name); it != users_.end())
    u = it->second;
  else
    u.name = std::string(name);
  for (std::string_view rule : rules)
    if (auto s = apply(u, rule); !s) return s;
  users_.insert_or_assign(std::string(name), std::move(u));
  refresh_flags();
  return {};
}

Result<int64_t> Acl::delete_users(const std::vector<std::string_view>& names) {
  for (std::string_view n : names)
    if (n == "default") return err("The 'default' user cannot be removed");
  std::unique_lock lock(mu_);
  int64_t deleted = 0;
  for (std::string_view n : names) {
    if (auto it = users_.find(n); it != users_.end()) {
      users_.erase(it);
      ++deleted;
    }
  }
  return deleted;
}

void Acl::set_requirepass(std::string_view password) {
  std::unique_lock lock(mu_);
  AclUser& d = users_.at("default");
  d.passwords.clear();
  d.nopass = password.empty();
  if (!password.empty()) d.passwords.push_back(sha256(password));
  refresh_flags();
}

void Acl::refresh_flags() {
  const AclUser& d = users_.at("default");
  auth_required_.store(!d.nopass || !d.enabled, std::memory_order_relaxed);
  default_nopass_.store(d.nopass, std::memory_order_relaxed);
  default_unrestricted_.store(d.unrestricted(), std::memory_order_relaxed);
}

bool Acl::authenticate(std::string_view user, std::string_view password) const {
  const Digest given = sha256(password);
  std::shared_lock lock(mu_);
  auto it = users_.find(user);
  if (it == users_.end() || !it->second.enabled) return false;
  if (it->second.nopass) return true;
  bool match = false;
  for (const Digest& d : it->second.passwords) match = digest_equal(d, given) || match;
  return match;
}

Acl::Check Acl::check(std::string_view user, const CommandSpec& spec, Args args) const {
  // The common case, the default user with every permission, takes no lock.
  if (user == "default" && default_unrestricted_.load(std::memory_order_relaxed))
    return Check::kAllowed;
  std::shared_lock lock(mu_);
  auto it = users_.find(user);
  if (it == users_.end()) return Check::kNoUser;
  const AclUser& u = it->second;
  if (!u.allows(spec, find_sub(spec, args))) return Check::kNoCommand;
  if (!u.allkeys && spec.keys.first > 0) return Check::kNoKeys;
  return Check::kAllowed;
}

bool Acl::exists(std::string_view name) const {
  std::shared_lock lock(mu_);
  return users_.find(name) != users_.end();
}

std::vector<std::string> Acl::names() const {
  std::shared_lock lock(mu_);
  std::vector<std::string> out;
  for (const auto& [name, u] : users_) out.push_back(name);
  return out;
}

std::vector<std::string> Acl::list() const {
  std::shared_lock lock(mu_);
  std::vector<std::string> out;
  for (const auto& [name, u] : users_) out.push_back(u.describe());
  return out;
}

std::optional<AclUser> Acl::get(std::string_view name) const {
  std::shared_lock lock(mu_);
  auto it = users_.find(name);
  if (it == users_.end()) return std::nullopt;
  return it->second;
}

// ===================================================================
// Dispatcher, accept and logging decisions
// ===================================================================

AuthVerdict check_auth(const Acl* acl, Session& session, const CommandSpec& spec, Args args,
                       resp::ReplyWriter& reply) {
  if (!acl) return AuthVerdict::kRun;
  if (!session.authenticated && acl->auth_required() && !(spec.flags & kNoAuth)) {
    reply.error(Code::kNoAuth, resp::msg::kNoAuth);
    return AuthVerdict::kReplied;
  }
  switch (acl->check(session.user, spec, args)) {
    case Acl::Check::kAllowed:
      return AuthVerdict::kRun;
    case Acl::Check::kNoUser:
      return AuthVerdict::kClose;
    case Acl::Check::kNoKeys:
      reply.error(Code::kNoPerm,
                  "this user has no permissions to access one of the keys used as "
                  "arguments");
      return AuthVerdict::kReplied;
    case Acl::Check::kNoCommand:
      break;
  }
  const CommandSpec* sub = find_sub(spec, args);
  reply.error(Code::kNoPerm, "this user has no permissions to run the '" +
                                 (sub ? sub->lower_name : spec.lower_name) + "' command");
  return AuthVerdict::kReplied;
}

const std::string_view kProtectedModeDenied =
    "Redis is running in protected mode because protected mode is enabled and no password is "
    "set for the default user. In this mode connections are only accepted from the loopback "
    "interface. If you want to connect from external computers to Redis you may adopt one of "
    "the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET "
    "protected-mode no' from the loopback interface by connecting to Redis from the same host "
    "the server is running, however MAKE SURE Redis is not publicly accessible from internet if "
    "you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just "
    "disable the protected mode by editing the Redis configuration file, and setting the "
    "protected mode option to 'no', and then restarting the server. 3) If you started the "
    "server manually just for testing, restart it with the '--protected-mode no' option. 4) "
    "Setup a an authentication password for the default user. NOTE: You only need to do one of "
    "the above things in order for the server to start accepting connections from the outside.";

bool protected_mode_denies(bool protected_mode, bool default_nopass, std::string_view peer) {
  if (!protected_mode || !default_nopass) return false;
  const size_t colon = peer.rfind(':');
  const std::string_view ip = colon == std::string_view::npos ? peer : peer.substr(0, colon);
  const bool loopback = ip.starts_with("127.") || ip == "::1" || ip.starts_with("::ffff:127.");
  return !loopback;
}

bool redact_args(const CommandSpec& spec, Args args) {
  const std::string_view n = spec.lower_name;
  if (n == "auth") return true;
  if (n == "hello") {
    for (size_t i = 2; i < args.size(); ++i)
      if (iequals(args[i], "AUTH")) return true;
    return false;
  }
  if (n == "acl") return args.size() > 1 && iequals(args[1], "SETUSER");
  if (n == "config" && args.size() > 1 && iequals(args[1], "SET")) {
    for (size_t i = 2; i < args.size(); i += 2)
      if (iequals(args[i], "requirepass") || iequals(args[i], "masterauth")) return true;
  }
  return false;
}

Status apply_rename(Registry& registry, std::string_view from, std::string_view to) {
  return registry.rename(from, to);
}

// ===================================================================
// ACL WHOAMI USERS LIST CAT SETUSER DELUSER GETUSER HELP
// ===================================================================

namespace {

Acl* need_acl(Context& ctx) {
  Acl* acl = ctx.server.acl();
  if (!acl) ctx.reply.error(Code::kErr, "ACL is not available");
  return acl;
}

void acl(Context& ctx, Args args) { run_subcommand(ctx, args); }

// ACL WHOAMI: the session's user name.
void acl_whoami(Context& ctx, Args) { ctx.reply.bulk(ctx.session ? ctx.session->user : "default"); }

// ACL USERS: every user name, sorted.
void acl_users(Context& ctx, Args) {
  Acl* a = need_acl(ctx);
  if (!a) return;
  auto names = a->names();
  ctx.reply.array(names.size());
  for (const auto& n : names) ctx.reply.bulk(n);
}

// ACL LIST: each user as its config file line (passwords as #digests).
void acl_list(Context& ctx, Args) {
  Acl* a = need_acl(ctx);
  if (!a) return;
  auto lines = a->list();
  ctx.reply.array(lines.size());
  for (const auto& l : lines) ctx.reply.bulk(l);
}

// ACL CAT [category]: the category names, or the commands (and
// subcommands) in one.
void acl_cat(Context& ctx, Args args) {
  if (args.size() > 3) return ctx.reply.error(resp::wrong_arity("acl|cat"));
  if (args.size() == 2) {
    const auto& names = acl_categories();
    ctx.reply.array(names.size());
    for (auto n : names) ctx.reply.bulk(n);
    return;
  }
  const std::string cat = to_lower(args[2]);
  if (!known_category(cat) || cat == "all")
    return ctx.reply.error(Code::kErr, "Unknown category '" + resp::sanitize(args[2]) + "'");
  std::vector<std::string_view> out;
  if (ctx.registry) {
    for (const CommandSpec* c : ctx.registry->all()) {
      if (c->subcommand_specs.empty()) {
        if (in_category(*c, cat)) out.push_back(c->lower_name);
        continue;
      }
      for (const auto& s : c->subcommand_specs)
        if (in_category(s, cat)) out.push_back(s.lower_name);
    }
  }
  ctx.reply.array(out.size());
  for (auto n : out) ctx.reply.bulk(n);
}

// ACL SETUSER name [rule ...]: creates or changes a user, all rules or none.
void acl_setuser(Context& ctx, Args args) {
  Acl* a = need_acl(ctx);
  if (!a) return;
  std::vector<std::string_view> rules(args.begin() + 3, args.end());
  Status s = a->set_user(args[2], rules);
  if (!s) return ctx.reply.error(s.error());
  ctx.reply.ok();
}

// ACL DELUSER name [name ...]: how many existed. Sessions of a deleted
// user are closed at their next command.
void acl_deluser(Context& ctx, Args args) {
  Acl* a = need_acl(ctx);
  if (!a) return;
  std::vector<std::string_view> names(args.begin() + 2, args.end());
  auto n = a->delete_users(names);
  if (!n) return ctx.reply.error(n.error());
  ctx.reply.integer(*n);
}

// ACL GETUSER name: flags, passwords, commands, keys, channels, selectors;
// null for an unknown user.
void acl_getuser(Context& ctx, Args args) {
  Acl* a = need_acl(ctx);
  if (!a) return;
  auto u = a->get(args[2]);
  if (!u) return ctx.reply.null();
  ctx.reply.map(6);
  ctx.reply.bulk("flags");
  ctx.reply.array(u->nopass ? 2 : 1);
  ctx.reply.bulk(u->enabled ? "on" : "off");
  if (u->nopass) ctx.reply.bulk("nopass");
  ctx.reply.bulk("passwords");
  ctx.reply.array(u->passwords.size());
  for (const auto& d : u->passwords) ctx.reply.bulk(to_hex(d));
  ctx.reply.bulk("commands");
  ctx.reply.bulk(u->describe_rules());
  ctx.reply.bulk("keys");
  ctx.reply.bulk(u->allkeys ? "~*" : "");
  ctx.reply.bulk("channels");
  ctx.reply.bulk(u->allchannels ? "&*" : "");
  ctx.reply.bulk("selectors");
  ctx.reply.array(0);
}

void acl_help(Context& ctx, Args) {
  reply_help(ctx, "ACL",
             {"CAT [<category>]",
              "    List all commands that belong to <category>, or all command categories",
              "    when no category is specified.", "DELUSER <username> [<username> ...]",
              "    Delete a list of users.", "GETUSER <username>", "    Get the user's details.",
              "LIST", "    Show users details in config file format.",
              "SETUSER <username> <attribute> [<attribute> ...]",
              "    Create or modify a user with the specified attributes.", "USERS",
              "    List all the registered usernames.", "WHOAMI",
              "    Return the current connection username."});
}

CommandSpec sub(std::string_view name, std::string full, int arity, uint32_t flags, Handler run,
                std::string_view summary, std::string_view since) {
  return subcommand("server", name, std::move(full), arity, flags, run, summary, since);
}

}  // namespace

// clang-format off
void register_acl_family(Registry& r) {
  constexpr uint32_t kAclAdmin = kAdmin | kNoScript | kLoading | kStale;
  constexpr uint32_t kAclPlain = kNoScript | kLoading | kStale;
  r.add({.name = "ACL", .arity = -2, .run = acl, .group = "server", .summary = "A container for Access List Control commands", .since = "6.0.0",
         .subcommand_specs = {
             sub("WHOAMI", "acl|whoami", 2, kAclPlain, acl_whoami, "Return the name of the user associated to the current connection", "6.0.0"),
             sub("USERS", "acl|users", 2, kAclAdmin, acl_users, "List the username of all the configured ACL rules", "6.0.0"),
             sub("LIST", "acl|list", 2, kAclAdmin, acl_list, "List the current ACL rules in ACL config file format", "6.0.0"),
             sub("CAT", "acl|cat", -2, kAclPlain, acl_cat, "List the ACL categories or the commands inside a category", "6.0.0"),
             sub("SETUSER", "acl|setuser", -3, kAclAdmin, acl_setuser, "Modify or create the rules for a specific ACL user", "6.0.0"),
             sub("DELUSER", "acl|deluser", -3, kAclAdmin, acl_deluser, "Remove the specified ACL users and the associated rules", "6.0.0"),
             sub("GETUSER", "acl|getuser", 3, kAclAdmin, acl_getuser, "Get the rules for a specific ACL user", "6.0.0"),
             sub("HELP", "acl|help", 2, kLoading | kStale, acl_help, "Show helpful text about the different subcommands", "6.0.0")}});
}
// clang-format on

}  // namespace lmkv::commands
