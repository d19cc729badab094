// commands/pubsub.h: what the pub/sub commands, the dispatcher (MONITOR,
// the subscribed state) and the writer (keyspace events) ask of the broker.
//
// The broker itself lives in server/ (server/pubsub.h), owned by the Server
// and reached through ServerApi::pubsub(); it knows the loops and delivers
// each message on its subscriber's loop. This interface knows nothing of
// loops or sockets: a subscriber is a Session, which names its loop.
// Every method may be called from any loop thread or the writer; the
// Session arguments must be the calling loop's own sessions.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "commands/notify.h"

namespace lmkv::commands {

struct Session;

class PubSub {
 public:
  virtual ~PubSub() = default;

  // Adds `name` to the session's channels (or patterns). Returns whether it
  // was new and the session's count of channels + patterns afterwards.
  virtual std::pair<bool, uint32_t> subscribe(const Session& s, std::string_view name,
                                              bool pattern) = 0;
  // Removes `name`; returns whether it was there and the count afterwards.
  virtual std::pair<bool, uint32_t> unsubscribe(const Session& s, std::string_view name,
                                                bool pattern) = 0;
  // The session's channels (or patterns), sorted.
  virtual std::vector<std::string> subscriptions(const Session& s, bool pattern) const = 0;
  // Forgets every subscription of the session and stops its MONITOR (the
  // connection closed, or RESET).
  virtual void drop(const Session& s) = 0;

  // Sends `message` to every subscriber of `channel` and every matching
  // pattern, on all loops, without waiting for any of them. Returns the
  // number of receivers (a client matching twice counts twice).
  virtual int64_t publish(std::string_view channel, std::string_view message) = 0;
  // PUBSUB CHANNELS / NUMSUB / NUMPAT.
  virtual std::vector<std::string> channels(std::optional<std::string_view> pattern) const = 0;
  virtual int64_t numsub(std::string_view channel) const = 0;
  virtual int64_t numpat() const = 0;

  // MONITOR: streams every later command of every client to this session.
  virtual void add_monitor(const Session& s) = 0;
  // Shows one command to the monitors (Redis's format, arguments quoted).
  virtual void feed_monitors(const Session& s, int db, std::span<const std::string_view> args) = 0;
  // One atomic load: the dispatcher calls feed_monitors only when true.
  bool has_monitors() const { return monitors_.load(std::memory_order_relaxed) > 0; }

  // notify-keyspace-events as NotifyClass bits; 0 when nothing is published.
  uint32_t notify_flags() const { return notify_flags_.load(std::memory_order_relaxed); }
  void set_notify_flags(uint32_t flags) { notify_flags_.store(flags, std::memory_order_relaxed); }
  // Publishes a durable group's events (writer thread, after commit).
  virtual void publish_events(std::span<const KeyspaceEvent> events) = 0;

 protected:
  std::atomic<int> monitors_{0};
  std::atomic<uint32_t> notify_flags_{0};
};

}  // namespace lmkv::commands
