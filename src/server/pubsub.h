// server/pubsub.h: the pub/sub broker (channels, patterns, MONITOR and
// keyspace events) across all loops.
//
// The subscription tables are shared by every loop under one shared_mutex:
// PUBLISH takes it shared, finds the receivers, groups them by their loop
// and posts one mailbox message per loop per publish (per write group for
// keyspace events); the receiving loop formats each message in its
// client's protocol and appends it to the connection's ordinary output
// buffer, so the client-output-buffer-limit applies and a subscriber that
// never reads costs memory on its own loop but never stalls a publisher.
// A message is dropped at delivery if its client unsubscribed meanwhile.
// Owned by Server; knows Shard for delivery, nothing of commands' parsing.
// Any thread, as commands::PubSub says.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "commands/pubsub.h"

namespace lmkv::server {

class Shard;

class Broker final : public commands::PubSub {
 public:
  explicit Broker(const std::vector<std::unique_ptr<Shard>>& shards) : shards_(shards) {}

  std::pair<bool, uint32_t> subscribe(const commands::Session& s, std::string_view name,
                                      bool pattern) override;
  std::pair<bool, uint32_t> unsubscribe(const commands::Session& s, std::string_view name,
                                        bool pattern) override;
  std::vector<std::string> subscriptions(const commands::Session& s, bool pattern) const override;
  void drop(const commands::Session& s) override;
  int64_t publish(std::string_view channel, std::string_view message) override;
  std::vector<std::string> channels(std::optional<std::string_view> pattern) const override;
  int64_t numsub(std::string_view channel) const override;
  int64_t numpat() const override;
  void add_monitor(const commands::Session& s) override;
  void feed_monitors(const commands::Session& s, int db,
                     std::span<const std::string_view> args) override;
  void publish_events(std::span<const commands::KeyspaceEvent> events) override;

  // INFO stats: pubsub_channels, pubsub_patterns.
  size_t channel_count() const;
  size_t pattern_count() const;

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Names = std::set<std::string, std::less<>>;
  using Members = std::unordered_map<uint64_t, int>;  // client id -> its loop
  // One client's subscriptions, to unsubscribe from all and to check a
  // message still wanted at delivery.
  struct ClientSubs {
    int loop = 0;
    Names channels, patterns;
    bool monitor = false;
  };
  // What one loop receives from one publish (or one write group): the
  // messages, and who gets which, directly (pattern < 0) or by a pattern.
  struct Delivery {
    uint64_t client;
    uint32_t message;
    int32_t pattern;
  };
  struct Outbox {
    std::vector<std::pair<std::string, std::string>> messages;  // channel, payload
    std::vector<std::string> patterns;
    std::vector<Delivery> deliveries;
  };

  // Adds the receivers of one message to `boxes` (one per loop); returns
  // their number. Caller holds mu_ (shared).
  int64_t route(std::string_view channel, std::string_view message,
                std::vector<Outbox>& boxes) const;
  // Posts every non-empty box to its loop.
  void send(std::vector<Outbox>& boxes);
  // On loop `loop`: appends each still-wanted message to its client's output.
  void deliver(int loop, const Outbox& box) const;
  void forget_locked(uint64_t id, ClientSubs& subs);

  const std::vector<std::unique_ptr<Shard>>& shards_;
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, Members, StringHash, std::equal_to<>> channels_;
  std::map<std::string, Members, std::less<>> patterns_;
  std::unordered_map<uint64_t, ClientSubs> clients_;
  Members monitors_by_id_;
};

}  // namespace lmkv::server
