// commands/expire_family.cc: key expiry: EXPIRE, PEXPIRE, EXPIREAT,
// PEXPIREAT (with NX|XX|GT|LT), TTL, PTTL, EXPIRETIME, PEXPIRETIME, PERSIST.
//
// A deadline is absolute Unix ms in the value header (ValueView.deadline_ms,
// 0: none); the store hides a key once now >= deadline. Changing only the
// deadline rewrites the value with WriteTxn::put, whose logged effect (SET k
// v PXAT ms) replays to the same state. Reads run on the loop against
// ctx.view, writes on the writer against ctx.txn.

#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include "commands/arguments.h"
#include "commands/registry.h"
#include "resp/errors.h"

namespace lmkv::commands {
namespace {

using store::ValueView;

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

// ===========================================================================
// Setting a deadline

// The condition flags EXPIRE's family accepts after the time.
struct ExpireFlags {
  bool nx = false, xx = false, gt = false, lt = false;
};

// Parses args[3...] as NX|XX|GT|LT (any case, repeats allowed). Errors as
// Redis 7.0: "Unsupported option <x>" for anything else, then NX with any
// other flag, then GT with LT. Checked before the time argument is parsed.
Result<ExpireFlags> parse_expire_flags(Args args) {
  ExpireFlags f;
  for (size_t i = 3; i < args.size(); ++i) {
    if (is_option(args[i], "NX")) {
      f.nx = true;
    } else if (is_option(args[i], "XX")) {
      f.xx = true;
    } else if (is_option(args[i], "GT")) {
      f.gt = true;
    } else if (is_option(args[i], "LT")) {
      f.lt = true;
    } else {
      std::string text(resp::msg::kUnsupportedOption);
      text += resp::sanitize(args[i]);
      return error_text(text);
    }
  }
  if (f.nx && (f.xx || f.gt || f.lt)) return error_text(resp::msg::kExpireNxConflict);
  if (f.gt && f.lt) return error_text(resp::msg::kExpireGtLt);
  return f;
}

// The absolute deadline args[2] names. Unlike SET's EX, negative and zero
// times are allowed (they delete the key); only an overflow while scaling
// seconds to ms or adding `now_ms` is "invalid expire time in '<command>'
// command".
Result<int64_t> parse_when(std::string_view arg, bool seconds, bool absolute, int64_t now_ms,
                           std::string_view command) {
  auto when = parse_integer(arg);
  if (!when) return when;
  int64_t ms = *when;
  if (seconds) {
    if (ms > kMax / 1000 || ms < kMin / 1000) return resp::invalid_expire(command);
    ms *= 1000;
  }
  if (!absolute) {
    if (ms > kMax - now_ms) return resp::invalid_expire(command);
    ms += now_ms;
  }
  return ms;
}

// True when the flags allow replacing `current` (0: no deadline) with
// `when`. No deadline counts as infinite: GT never beats it, LT always does.
bool flags_allow(const ExpireFlags& f, int64_t current, int64_t when) {
  const bool has = current != 0;
  if (f.nx && has) return false;
  if (f.xx && !has) return false;
  if (f.gt && (!has || when <= current)) return false;
  if (f.lt && has && when >= current) return false;
  return true;
}

// The body of EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT (key time [NX|XX|GT|
// LT]): 1 if the deadline was set, 0 if the key is absent or a flag said
// no. A deadline not after now deletes the key (event "del") instead of
// storing a deadline the store would hide at once (event "expire").
void expire_generic(Context& ctx, Args args, bool seconds, bool absolute,
                    std::string_view command) {
  auto flags = parse_expire_flags(args);
  if (!flags) return ctx.reply.error(flags.error());
  auto when = parse_when(args[2], seconds, absolute, ctx.now_ms, command);
  if (!when) return ctx.reply.error(when.error());

  auto cur = ctx.txn->get(ctx.db, args[1], ctx.now_ms);
  if (!cur) return ctx.fail(cur.error());
  if (!*cur || !flags_allow(*flags, (*cur)->deadline_ms, *when)) return ctx.reply.integer(0);

  if (*when <= ctx.now_ms) {
    auto gone = ctx.txn->del(ctx.db, args[1], ctx.now_ms);
    if (!gone) return ctx.fail(gone.error());
    notify(ctx, kNotifyGeneric, "del", args[1]);
    return ctx.reply.integer(1);
  }
  // Copied: the view into the old value may not survive the put.
  const std::string data((*cur)->data);
  auto put = ctx.txn->put(ctx.db, args[1], ValueView{(*cur)->type, *when, data});
  if (!put) return ctx.fail(put.error());
  notify(ctx, kNotifyGeneric, "expire", args[1]);
  ctx.reply.integer(1);
}

void expire(Context& ctx, Args args) { expire_generic(ctx, args, true, false, "expire"); }
void pexpire(Context& ctx, Args args) { expire_generic(ctx, args, false, false, "pexpire"); }
void expireat(Context& ctx, Args args) { expire_generic(ctx, args, true, true, "expireat"); }
void pexpireat(Context& ctx, Args args) { expire_generic(ctx, args, false, true, "pexpireat"); }

// PERSIST key: 1 if a deadline was removed, 0 if the key is absent or had
// none.
void persist(Context& ctx, Args args) {
  auto cur = ctx.txn->get(ctx.db, args[1], ctx.now_ms);
  if (!cur) return ctx.fail(cur.error());
  if (!*cur || (*cur)->deadline_ms == 0) return ctx.reply.integer(0);
  const std::string data((*cur)->data);
  auto put = ctx.txn->put(ctx.db, args[1], ValueView{(*cur)->type, 0, data});
  if (!put) return ctx.fail(put.error());
  notify(ctx, kNotifyGeneric, "persist", args[1]);
  ctx.reply.integer(1);
}

// ===========================================================================
// Reading a deadline

// The body of TTL, PTTL, EXPIRETIME and PEXPIRETIME: -2 when the key is
// absent, -1 when it has no deadline, else the time left (`absolute`: the
// deadline itself), never below 0. Seconds are rounded to the nearest, as
// Redis's (ms+500)/1000, computed without overflowing near INT64_MAX.
void ttl_generic(Context& ctx, Args args, bool ms, bool absolute) {
  auto v = ctx.view->get(ctx.db, args[1], ctx.now_ms);
  if (!v) return ctx.fail(v.error());
  if (!*v) return ctx.reply.integer(-2);
  const int64_t deadline = (*v)->deadline_ms;
  if (deadline == 0) return ctx.reply.integer(-1);
  int64_t t = absolute ? deadline : deadline - ctx.now_ms;
  if (t < 0) t = 0;
  ctx.reply.integer(ms ? t : t / 1000 + (t % 1000 >= 500 ? 1 : 0));
}

void ttl(Context& ctx, Args args) { ttl_generic(ctx, args, false, false); }
void pttl(Context& ctx, Args args) { ttl_generic(ctx, args, true, false); }
void expiretime(Context& ctx, Args args) { ttl_generic(ctx, args, false, true); }
void pexpiretime(Context& ctx, Args args) { ttl_generic(ctx, args, true, true); }

}  // namespace

// clang-format off
void register_expire_family(Registry& r) {
  r.add({.name = "EXPIRE",      .arity = -3, .flags = kWrite | kFast, .keys = {1, 1, 1}, .run = expire,      .group = "generic", .summary = "Set a key's time to live in seconds", .since = "1.0.0"});
  r.add({.name = "PEXPIRE",     .arity = -3, .flags = kWrite | kFast, .keys = {1, 1, 1}, .run = pexpire,     .group = "generic", .summary = "Set a key's time to live in milliseconds", .since = "2.6.0"});
  r.add({.name = "EXPIREAT",    .arity = -3, .flags = kWrite | kFast, .keys = {1, 1, 1}, .run = expireat,    .group = "generic", .summary = "Set the expiration for a key as a UNIX timestamp", .since = "1.2.0"});
  r.add({.name = "PEXPIREAT",   .arity = -3, .flags = kWrite | kFast, .keys = {1, 1, 1}, .run = pexpireat,   .group = "generic", .summary = "Set the expiration for a key as a UNIX timestamp specified in milliseconds", .since = "2.6.0"});
  r.add({.name = "PERSIST",     .arity = 2,  .flags = kWrite | kFast, .keys = {1, 1, 1}, .run = persist,     .group = "generic", .summary = "Remove the expiration from a key", .since = "2.2.0"});
  r.add({.name = "TTL",         .arity = 2,  .flags = kRead | kFast,  .keys = {1, 1, 1}, .run = ttl,         .group = "generic", .summary = "Get the time to live for a key in seconds", .since = "1.0.0"});
  r.add({.name = "PTTL",        .arity = 2,  .flags = kRead | kFast,  .keys = {1, 1, 1}, .run = pttl,        .group = "generic", .summary = "Get the time to live for a key in milliseconds", .since = "2.6.0"});
  r.add({.name = "EXPIRETIME",  .arity = 2,  .flags = kRead | kFast,  .keys = {1, 1, 1}, .run = expiretime,  .group = "generic", .summary = "Get the expiration Unix timestamp for a key", .since = "7.0.0"});
  r.add({.name = "PEXPIRETIME", .arity = 2,  .flags = kRead | kFast,  .keys = {1, 1, 1}, .run = pexpiretime, .group = "generic", .summary = "Get the expiration Unix timestamp for a key in milliseconds", .since = "7.0.0"});
}
// clang-format on

}  // namespace lmkv::commands
