// commands/acl.h: users, passwords and command permissions (Redis 7.0's
// ACL subset), and the decisions built on them: NOAUTH/NOPERM before a
// command, protected mode at accept, which arguments are secrets.
//
// Owns the user table (one Acl per server, made by server/ and reached by
// commands through ServerApi::acl()). Passwords are kept only as SHA-256
// digests and compared in constant time; no function here logs. Knows the
// Registry (to validate +cmd rules and to list categories) but nothing of
// sockets or the store. Any loop thread may call it: the table is guarded
// by a shared mutex, and the per-command fast path is two atomics.
//
// Supported rules: on off nopass resetpass >pw <pw #hash !hash reset,
// allcommands nocommands +@cat -@cat +cmd -cmd +cmd|sub -cmd|sub,
// ~* allkeys resetkeys, &* allchannels resetchannels. Not supported (an
// error names the rule): key patterns other than *, %R~/%W~ key
// permissions, channel patterns other than *, selectors "(...)".
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.h"
#include "commands/context.h"

namespace lmkv::commands {

struct CommandSpec;
class Registry;

using Digest = std::array<uint8_t, 32>;

// SHA-256 (FIPS 180-4) of `data`, and its lower-case hex form (ACL LIST).
Digest sha256(std::string_view data);
std::string to_hex(const Digest& d);
// Equal digests, in time independent of where they differ.
bool digest_equal(const Digest& a, const Digest& b);

// One user. Command rules are kept in the order given, as Redis 7.0 shows
// them: the last rule that names a command (or one of its categories)
// decides; none means denied.
struct AclUser {
  std::string name;
  bool enabled = false;
  bool nopass = false;
  std::vector<Digest> passwords;
  bool allkeys = false;
  bool allchannels = false;
  std::vector<std::string> rules;  // "+@all", "+@read", "-set", "+config|get" (lower case)

  // The ACL LIST line ("user alice on #... ~* resetchannels -@all +@read").
  std::string describe() const;
  // Rules as ACL GETUSER's "commands" shows them ("-@all +@read").
  std::string describe_rules() const;
  // Whether the rules allow `spec` (run as `sub` when it is a container's
  // subcommand, else null).
  bool allows(const CommandSpec& spec, const CommandSpec* sub) const;
  // +@all and ~*: every command on every key.
  bool unrestricted() const;
};

// The Redis 7.0 category names, in ACL CAT's order.
const std::vector<std::string_view>& acl_categories();
// Whether `spec` (a command or a subcommand) belongs to `category`
// (without the '@'). Categories come from the flags and the DOCS group.
bool in_category(const CommandSpec& spec, std::string_view category);

class Acl {
 public:
  // Starts with the user "default": on nopass ~* &* +@all.
  Acl();

  // For validating +cmd rules and listing categories; set once at start,
  // before any rule naming a command is applied.
  void set_registry(const Registry* registry) { registry_ = registry; }

  // Applies rules to a user, creating it when missing (ACL SETUSER, the
  // config file's `user` lines). All or nothing: on error nothing changes,
  // and the error is Redis's "Error in ACL SETUSER modifier '...': ...".
  Status set_user(std::string_view name, const std::vector<std::string_view>& rules);
  // Deletes users; returns how many existed. "default" cannot go.
  Result<int64_t> delete_users(const std::vector<std::string_view>& names);
  // requirepass: resets the default user's passwords, then sets `password`
  // or, when empty, nopass.
  void set_requirepass(std::string_view password);

  // True when `user` exists, is on, and `password` is one of its passwords
  // (or it is nopass). Compares digests in constant time.
  bool authenticate(std::string_view user, std::string_view password) const;

  // The default user needs a password (not nopass, or off): new
  // connections start unauthenticated.
  bool auth_required() const { return auth_required_.load(std::memory_order_relaxed); }
  // The default user is nopass (protected mode, AUTH <password>).
  bool default_nopass() const { return default_nopass_.load(std::memory_order_relaxed); }

  enum class Check { kAllowed, kNoCommand, kNoKeys, kNoUser };
  // May `user` run `spec` with `args`? kNoUser: the user was deleted.
  Check check(std::string_view user, const CommandSpec& spec, Args args) const;

  bool exists(std::string_view name) const;
  std::vector<std::string> names() const;  // sorted (ACL USERS)
  std::vector<std::string> list() const;   // ACL LIST lines, sorted by name
  std::optional<AclUser> get(std::string_view name) const;

 private:
  Status apply(AclUser& u, std::string_view rule) const;
  void refresh_flags();  // under the exclusive lock

  mutable std::shared_mutex mu_;
  std::map<std::string, AclUser, std::less<>> users_;
  const Registry* registry_ = nullptr;
  std::atomic<bool> auth_required_{false};
  std::atomic<bool> default_nopass_{true};
  std::atomic<bool> default_unrestricted_{true};
};

// ===================================================================
// Decisions used by the dispatcher, the loops and the handlers
// ===================================================================

enum class AuthVerdict {
  kRun,      // go on with the next pre-check
  kReplied,  // NOAUTH or NOPERM was written
  kClose,    // the session's user was deleted: close without a reply
};
// The dispatcher's [auth] slot: NOAUTH for an unauthenticated session
// (commands flagged kNoAuth excepted), then NOPERM. `acl` null: no ACL.
AuthVerdict check_auth(const Acl* acl, Session& session, const CommandSpec& spec, Args args,
                       resp::ReplyWriter& reply);

// Redis's "-DENIED Redis is running in protected mode..." text (no prefix).
extern const std::string_view kProtectedModeDenied;
// Whether a new connection from `peer` ("ip:port") is refused: protected
// mode is on, the default user has no password, and the peer is not on
// loopback (127.0.0.0/8 or ::1). Redis 7.0 applies it whatever the bind.
bool protected_mode_denies(bool protected_mode, bool default_nopass, std::string_view peer);

// True when the command's arguments carry a secret and must not be shown
// (MONITOR, SLOWLOG, logs): AUTH, HELLO ... AUTH, ACL SETUSER, CONFIG SET
// requirepass. Callers show "(redacted)" for the arguments after the name.
bool redact_args(const CommandSpec& spec, Args args);

// rename-command: renames `from` to `to` in the registry, or removes it
// when `to` is empty. Errors are for the startup log.
Status apply_rename(Registry& registry, std::string_view from, std::string_view to);

}  // namespace lmkv::commands
