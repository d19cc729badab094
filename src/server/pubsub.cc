#include "server/pubsub.h"

#include <fmt/format.h>

#include <cctype>

#include "base/clock.h"
#include "base/numbers.h"
#include "commands/context.h"
#include "commands/glob.h"
#include "resp/reply_writer.h"
#include "server/shard.h"

namespace lmkv::server {
namespace {

// Appends `arg` quoted as Redis's sdscatrepr does: backslash escapes for
// the quote, the backslash and \n \r \t \a \b, \xHH for other unprintable
// bytes.
void append_repr(std::string& out, std::string_view arg) {
  out += '"';
  for (unsigned char c : arg) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\a':
        out += "\\a";
        break;
      case '\b':
        out += "\\b";
        break;
      default:
        if (std::isprint(c)) {
          out += static_cast<char>(c);
        } else {
          out += fmt::format("\\x{:02x}", c);
        }
    }
  }
  out += '"';
}

// Whether MONITOR shows argument `i` as "(redacted)": every argument of
// AUTH, and the user name and password after HELLO's AUTH, as Redis does.
std::vector<bool> redactions(std::span<const std::string_view> args) {
  std::vector<bool> hide(args.size(), false);
  if (iequals(args[0], "AUTH")) {
    for (size_t i = 1; i < args.size(); ++i) hide[i] = true;
  } else if (iequals(args[0], "HELLO")) {
    for (size_t i = 2; i < args.size(); ++i) {
      if (iequals(args[i], "AUTH")) {
        for (size_t j = i + 1; j <= i + 2 && j < args.size(); ++j) hide[j] = true;
        i += 2;
      } else if (iequals(args[i], "SETNAME")) {
        ++i;
      }
    }
  }
  return hide;
}

}  // namespace

// ===========================================================================
// Subscriptions (the subscriber's loop)

std::pair<bool, uint32_t> Broker::subscribe(const commands::Session& s, std::string_view name,
                                            bool pattern) {
  std::unique_lock lock(mu_);
  ClientSubs& subs = clients_[s.id];
  subs.loop = s.loop;
  Names& names = pattern ? subs.patterns : subs.channels;
  const bool added = names.emplace(name).second;
  if (added) {
    if (pattern) {
      auto it = patterns_.find(name);
      if (it == patterns_.end()) it = patterns_.emplace(std::string(name), Members{}).first;
      it->second[s.id] = s.loop;
    } else {
      auto it = channels_.find(name);
      if (it == channels_.end()) it = channels_.emplace(std::string(name), Members{}).first;
      it->second[s.id] = s.loop;
    }
  }
  return {added, static_cast<uint32_t>(subs.channels.size() + subs.patterns.size())};
}

std::pair<bool, uint32_t> Broker::unsubscribe(const commands::Session& s, std::string_view name,
                                              bool pattern) {
  std::unique_lock lock(mu_);
  auto client = clients_.find(s.id);
  if (client == clients_.end()) return {false, 0};
  ClientSubs& subs = client->second;
  Names& names = pattern ? subs.patterns : subs.channels;
  bool removed = false;
  if (auto it = names.find(name); it != names.end()) {
    names.erase(it);
    removed = true;
    if (pattern) {
      auto p = patterns_.find(name);
      p->second.erase(s.id);
      if (p->second.empty()) patterns_.erase(p);
    } else {
      auto c = channels_.find(name);
      c->second.erase(s.id);
      if (c->second.empty()) channels_.erase(c);
    }
  }
  const auto count = static_cast<uint32_t>(subs.channels.size() + subs.patterns.size());
  if (count == 0 && !subs.monitor) clients_.erase(client);
  return {removed, count};
}

std::vector<std::string> Broker::subscriptions(const commands::Session& s, bool pattern) const {
  std::shared_lock lock(mu_);
  auto client = clients_.find(s.id);
  if (client == clients_.end()) return {};
  const Names& names = pattern ? client->second.patterns : client->second.channels;
  return {names.begin(), names.end()};
}

void Broker::forget_locked(uint64_t id, ClientSubs& subs) {
  for (const auto& name : subs.channels) {
    auto c = channels_.find(name);
    c->second.erase(id);
    if (c->second.empty()) channels_.erase(c);
  }
  for (const auto& name : subs.patterns) {
    auto p = patterns_.find(name);
    p->second.erase(id);
    if (p->second.empty()) patterns_.erase(p);
  }
  if (subs.monitor) {
    monitors_by_id_.erase(id);
    monitors_.fetch_sub(1, std::memory_order_relaxed);
  }
}

void Broker::drop(const commands::Session& s) {
  std::unique_lock lock(mu_);
  auto client = clients_.find(s.id);
  if (client == clients_.end()) return;
  forget_locked(s.id, client->second);
  clients_.erase(client);
}

// ===========================================================================
// Publishing (any thread) and delivery (the subscriber's loop)

int64_t Broker::route(std::string_view channel, std::string_view message,
                      std::vector<Outbox>& boxes) const {
  int64_t receivers = 0;
  // Each loop's box holds the message once, however many receivers it has.
  std::vector<int32_t> index(boxes.size(), -1);
  auto add = [&](uint64_t client, int loop, int32_t pattern) {
    Outbox& box = boxes[static_cast<size_t>(loop)];
    if (index[loop] < 0) {
      index[loop] = static_cast<int32_t>(box.messages.size());
      box.messages.emplace_back(std::string(channel), std::string(message));
    }
    box.deliveries.push_back({client, static_cast<uint32_t>(index[loop]), pattern});
    ++receivers;
  };
  if (auto c = channels_.find(channel); c != channels_.end()) {
    for (const auto& [client, loop] : c->second) add(client, loop, -1);
  }
  for (const auto& [pattern, members] : patterns_) {
    if (!commands::glob_match(pattern, channel)) continue;
    for (const auto& [client, loop] : members) {
      Outbox& box = boxes[static_cast<size_t>(loop)];
      box.patterns.push_back(pattern);
      add(client, loop, static_cast<int32_t>(box.patterns.size() - 1));
    }
  }
  return receivers;
}

void Broker::send(std::vector<Outbox>& boxes) {
  for (size_t i = 0; i < boxes.size(); ++i) {
    if (boxes[i].deliveries.empty()) continue;
    const int loop = static_cast<int>(i);
    shards_[i]->loop().post([this, loop, box = std::move(boxes[i])] { deliver(loop, box); });
  }
}

void Broker::deliver(int loop, const Outbox& box) const {
  Shard& shard = *shards_[static_cast<size_t>(loop)];
  std::shared_lock lock(mu_);
  for (const Delivery& d : box.deliveries) {
    auto client = clients_.find(d.client);
    if (client == clients_.end()) continue;
    const auto& [channel, payload] = box.messages[d.message];
    const bool wanted = d.pattern < 0 ? client->second.channels.contains(channel)
                                      : client->second.patterns.contains(box.patterns[d.pattern]);
    if (!wanted) continue;
    auto target = shard.find_client(d.client);
    if (!target) continue;
    resp::ReplyWriter w(&target->conn->out(),
                        target->session->protocol.load(std::memory_order_relaxed));
    if (d.pattern < 0) {
      w.push(3);
      w.bulk("message");
    } else {
      w.push(4);
      w.bulk("pmessage");
      w.bulk(box.patterns[d.pattern]);
    }
    w.bulk(channel);
    w.bulk(payload);
    target->conn->mark_dirty();
  }
}

int64_t Broker::publish(std::string_view channel, std::string_view message) {
  std::vector<Outbox> boxes(shards_.size());
  int64_t receivers;
  {
    std::shared_lock lock(mu_);
    receivers = route(channel, message, boxes);
  }
  send(boxes);
  return receivers;
}

// Each event goes to __keyspace@<db>__:<key> (K) and __keyevent@<db>__:<event>
// (E); the whole group's messages reach each loop in one mailbox message.
void Broker::publish_events(std::span<const commands::KeyspaceEvent> events) {
  const uint32_t flags = notify_flags();
  std::vector<Outbox> boxes(shards_.size());
  {
    std::shared_lock lock(mu_);
    if (channels_.empty() && patterns_.empty()) return;
    std::string channel;
    for (const auto& e : events) {
      if (flags & commands::kNotifyKeyspace) {
        channel = fmt::format("__keyspace@{}__:{}", e.db, e.key);
        route(channel, e.event, boxes);
      }
      if (flags & commands::kNotifyKeyevent) {
        channel = fmt::format("__keyevent@{}__:{}", e.db, e.event);
        route(channel, e.key, boxes);
      }
    }
  }
  send(boxes);
}

// ===========================================================================
// PUBSUB and INFO

std::vector<std::string> Broker::channels(std::optional<std::string_view> pattern) const {
  std::shared_lock lock(mu_);
  std::vector<std::string> out;
  for (const auto& [name, members] : channels_)
    if (!pattern || commands::glob_match(*pattern, name)) out.push_back(name);
  return out;
}

int64_t Broker::numsub(std::string_view channel) const {
  std::shared_lock lock(mu_);
  auto c = channels_.find(channel);
  return c == channels_.end() ? 0 : static_cast<int64_t>(c->second.size());
}

int64_t Broker::numpat() const { return static_cast<int64_t>(pattern_count()); }

size_t Broker::channel_count() const {
  std::shared_lock lock(mu_);
  return channels_.size();
}

size_t Broker::pattern_count() const {
  std::shared_lock lock(mu_);
  return patterns_.size();
}

// ===========================================================================
// MONITOR

void Broker::add_monitor(const commands::Session& s) {
  std::unique_lock lock(mu_);
  ClientSubs& subs = clients_[s.id];
  subs.loop = s.loop;
  if (subs.monitor) return;
  subs.monitor = true;
  monitors_by_id_[s.id] = s.loop;
  monitors_.fetch_add(1, std::memory_order_relaxed);
}

// "+<unix seconds>.<micro> [<db> <addr>] "arg" ...", as Redis streams it;
// formatted once, then one mailbox message per monitor's loop.
void Broker::feed_monitors(const commands::Session& s, int db,
                           std::span<const std::string_view> args) {
  const int64_t us = unix_us();
  std::string line = fmt::format("{}.{:06} [{} {}]", us / 1000000, us % 1000000, db, s.addr);
  const auto hide = redactions(args);
  for (size_t i = 0; i < args.size(); ++i) {
    line += ' ';
    append_repr(line, hide[i] ? std::string_view("(redacted)") : args[i]);
  }
  std::vector<std::vector<uint64_t>> by_loop(shards_.size());
  {
    std::shared_lock lock(mu_);
    for (const auto& [client, loop] : monitors_by_id_) by_loop[loop].push_back(client);
  }
  auto shared_line = std::make_shared<const std::string>(std::move(line));
  for (size_t i = 0; i < by_loop.size(); ++i) {
    if (by_loop[i].empty()) continue;
    Shard* shard = shards_[i].get();
    shard->loop().post([shard, ids = std::move(by_loop[i]), shared_line] {
      for (uint64_t id : ids) {
        auto target = shard->find_client(id);
        if (!target || !target->session->monitor) continue;
        resp::ReplyWriter w(&target->conn->out());
        w.simple(*shared_line);
        target->conn->mark_dirty();
      }
    });
  }
}

}  // namespace lmkv::server
