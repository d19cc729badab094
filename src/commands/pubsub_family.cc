// commands/pubsub_family.cc: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE,
// PUNSUBSCRIBE, PUBLISH, PUBSUB and MONITOR. They run on the client's loop
// and go through the broker (ctx.server.pubsub(), server/pubsub.h), which
// delivers messages on every loop. Confirmations are pushes: arrays in
// RESP2, ">" in RESP3, as in Redis. The dispatcher keeps a RESP2 client
// with subscriptions to these commands, PING, QUIT and RESET.

#include <string>
#include <string_view>
#include <vector>

#include "commands/pubsub.h"
#include "commands/registry.h"
#include "commands/subcommands.h"
#include "resp/errors.h"

namespace lmkv::commands {
namespace {

// The broker, or null after replying an error (a server without one).
PubSub* broker(Context& ctx) {
  PubSub* ps = ctx.server.pubsub();
  if (!ps) ctx.reply.error(Code::kErr, "pub/sub is not available");
  return ps;
}

// One confirmation: [kind, name or null, the session's subscription count].
void confirm(Context& ctx, std::string_view kind, const std::string_view* name, uint32_t count) {
  ctx.reply.push(3);
  ctx.reply.bulk(kind);
  if (name) {
    ctx.reply.bulk(*name);
  } else {
    ctx.reply.null();
  }
  ctx.reply.integer(count);
}

// ===================================================================
// SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE

// (P)SUBSCRIBE name [name ...]: one confirmation per name, repeats included.
void subscribe_generic(Context& ctx, Args args, bool pattern) {
  PubSub* ps = broker(ctx);
  if (!ps) return;
  for (size_t i = 1; i < args.size(); ++i) {
    auto [added, count] = ps->subscribe(*ctx.session, args[i], pattern);
    ctx.session->subscriptions = count;
    confirm(ctx, pattern ? "psubscribe" : "subscribe", &args[i], count);
  }
}

// (P)UNSUBSCRIBE [name ...]: without names, every channel (or pattern) of
// the session; with none at all, one confirmation with a null name.
void unsubscribe_generic(Context& ctx, Args args, bool pattern) {
  PubSub* ps = broker(ctx);
  if (!ps) return;
  const std::string_view kind = pattern ? "punsubscribe" : "unsubscribe";
  std::vector<std::string> all;
  std::vector<std::string_view> names(args.begin() + 1, args.end());
  if (names.empty()) {
    all = ps->subscriptions(*ctx.session, pattern);
    names.assign(all.begin(), all.end());
  }
  if (names.empty()) return confirm(ctx, kind, nullptr, ctx.session->subscriptions);
  for (std::string_view name : names) {
    auto [removed, count] = ps->unsubscribe(*ctx.session, name, pattern);
    ctx.session->subscriptions = count;
    confirm(ctx, kind, &name, count);
  }
}

void subscribe(Context& ctx, Args args) { subscribe_generic(ctx, args, false); }
void psubscribe(Context& ctx, Args args) { subscribe_generic(ctx, args, true); }
void unsubscribe(Context& ctx, Args args) { unsubscribe_generic(ctx, args, false); }
void punsubscribe(Context& ctx, Args args) { unsubscribe_generic(ctx, args, true); }

// PUBLISH channel message: the number of receivers, on every loop.
void publish(Context& ctx, Args args) {
  if (PubSub* ps = broker(ctx)) ctx.reply.integer(ps->publish(args[1], args[2]));
}

// ===================================================================
// PUBSUB

void pubsub(Context& ctx, Args args) { run_subcommand(ctx, args); }

// PUBSUB CHANNELS [pattern]: the channels with at least one subscriber.
void pubsub_channels(Context& ctx, Args args) {
  if (args.size() > 3)
    return ctx.reply.error(Code::kErr,
                           "unknown subcommand or wrong number of arguments for 'channels'. Try "
                           "PUBSUB HELP.");
  PubSub* ps = broker(ctx);
  if (!ps) return;
  auto names = ps->channels(args.size() == 3 ? std::optional(args[2]) : std::nullopt);
  ctx.reply.array(names.size());
  for (const auto& n : names) ctx.reply.bulk(n);
}

// PUBSUB NUMSUB [channel ...]: channel, count pairs (patterns not counted).
void pubsub_numsub(Context& ctx, Args args) {
  PubSub* ps = broker(ctx);
  if (!ps) return;
  ctx.reply.array(2 * (args.size() - 2));  // a flat array in RESP3 too (Redis 7.0)
  for (size_t i = 2; i < args.size(); ++i) {
    ctx.reply.bulk(args[i]);
    ctx.reply.integer(ps->numsub(args[i]));
  }
}

// PUBSUB NUMPAT: the number of distinct subscribed patterns.
void pubsub_numpat(Context& ctx, Args) {
  if (PubSub* ps = broker(ctx)) ctx.reply.integer(ps->numpat());
}

// PUBSUB SHARDCHANNELS / SHARDNUMSUB: lmkv has no shard channels
// (SSUBSCRIBE), so none is active.
void pubsub_shardchannels(Context& ctx, Args args) {
  if (args.size() > 3)
    return ctx.reply.error(Code::kErr,
                           "unknown subcommand or wrong number of arguments for 'shardchannels'. "
                           "Try PUBSUB HELP.");
  ctx.reply.array(0);
}

void pubsub_shardnumsub(Context& ctx, Args args) {
  ctx.reply.array(2 * (args.size() - 2));  // a flat array in RESP3 too (Redis 7.0)
  for (size_t i = 2; i < args.size(); ++i) {
    ctx.reply.bulk(args[i]);
    ctx.reply.integer(0);
  }
}

void pubsub_help(Context& ctx, Args) {
  reply_help(ctx, "PUBSUB",
             {"CHANNELS [<pattern>]",
              "    Return the currently active channels matching a <pattern> (default: '*').",
              "NUMPAT", "    Return number of subscriptions to patterns.", "NUMSUB [<channel> ...]",
              "    Return the number of subscribers for the specified channels, excluding",
              "    pattern subscriptions(default: no channels).", "SHARDCHANNELS [<pattern>]",
              "    Return the currently active shard level channels matching a <pattern> "
              "(default: '*').",
              "SHARDNUMSUB [<shardchannel> ...]",
              "    Return the number of subscribers for the specified shard level channel(s)"});
}

// ===================================================================
// MONITOR

// MONITOR: +OK, then every later command of every client. A client that is
// already monitoring gets no second reply, as in Redis.
void monitor(Context& ctx, Args) {
  if (ctx.session->monitor) return;
  PubSub* ps = broker(ctx);
  if (!ps) return;
  ps->add_monitor(*ctx.session);
  ctx.session->monitor = true;
  ctx.reply.ok();
}

CommandSpec sub(std::string_view name, std::string full, int arity, uint32_t flags, Handler run,
                std::string_view summary, std::string_view since) {
  return subcommand("pubsub", name, std::move(full), arity, flags, run, summary, since);
}

}  // namespace

// clang-format off
void register_pubsub_family(Registry& r) {
  constexpr uint32_t kSub = kPubSub | kNoScript | kLoading | kStale;
  constexpr uint32_t kInfo = kPubSub | kLoading | kStale;
  r.add({.name = "SUBSCRIBE", .arity = -2, .flags = kSub, .run = subscribe, .group = "pubsub", .summary = "Listen for messages published to the given channels", .since = "2.0.0"});
  r.add({.name = "UNSUBSCRIBE", .arity = -1, .flags = kSub, .run = unsubscribe, .group = "pubsub", .summary = "Stop listening for messages posted to the given channels", .since = "2.0.0"});
  r.add({.name = "PSUBSCRIBE", .arity = -2, .flags = kSub, .run = psubscribe, .group = "pubsub", .summary = "Listen for messages published to channels matching the given patterns", .since = "2.0.0"});
  r.add({.name = "PUNSUBSCRIBE", .arity = -1, .flags = kSub, .run = punsubscribe, .group = "pubsub", .summary = "Stop listening for messages posted to channels matching the given patterns", .since = "2.0.0"});
  r.add({.name = "PUBLISH", .arity = 3, .flags = kInfo | kFast, .run = publish, .group = "pubsub", .summary = "Post a message to a channel", .since = "2.0.0"});
  r.add({.name = "PUBSUB", .arity = -2, .run = pubsub, .group = "pubsub", .summary = "A container for Pub/Sub commands", .since = "2.8.0",
         .subcommand_specs = {
             sub("CHANNELS", "pubsub|channels", -2, kInfo, pubsub_channels, "List active channels", "2.8.0"),
             sub("NUMSUB", "pubsub|numsub", -2, kInfo, pubsub_numsub, "Get the count of subscribers for channels", "2.8.0"),
             sub("NUMPAT", "pubsub|numpat", 2, kInfo, pubsub_numpat, "Get the count of unique patterns pattern subscriptions", "2.8.0"),
             sub("SHARDCHANNELS", "pubsub|shardchannels", -2, kInfo, pubsub_shardchannels, "List active shard channels", "7.0.0"),
             sub("SHARDNUMSUB", "pubsub|shardnumsub", -2, kInfo, pubsub_shardnumsub, "Get the count of subscribers for shard channels", "7.0.0"),
             sub("HELP", "pubsub|help", 2, kLoading | kStale, pubsub_help, "Show helpful text about the different subcommands", "6.2.0")}});
  r.add({.name = "MONITOR", .arity = 1, .flags = kAdmin | kNoScript | kLoading | kStale | kNoMulti, .run = monitor, .group = "server", .summary = "Listen for all requests received by the server in real time", .since = "1.0.0"});
}
// clang-format on

}  // namespace lmkv::commands
