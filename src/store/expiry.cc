// store/expiry.cc: the expiry index's encoding and the active expiry cycle
// (see expiry.h).
#include "store/expiry.h"

#include <limits>
#include <utility>

#include "base/clock.h"
#include "base/log.h"

namespace lmkv::store {

std::string expiry_entry(int64_t deadline_ms, int physical_db, std::string_view key) {
  const auto d = static_cast<uint64_t>(deadline_ms < 1 ? 1 : deadline_ms);
  std::string out;
  out.reserve(kDeadlineBytes + 1 + key.size());
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>(d >> (8 * i)));
  out.push_back(static_cast<char>(physical_db));
  out.append(key);
  return out;
}

namespace {

uint64_t decode_deadline(const MDB_val& k) {
  uint64_t d = 0;
  const auto* p = static_cast<const unsigned char*>(k.mv_data);
  for (size_t i = 0; i < kDeadlineBytes; ++i) d = (d << 8) | p[i];
  return d;
}

// Closes the cursor and aborts the read transaction on every return.
struct ReadTxn {
  MDB_txn* txn = nullptr;
  MDB_cursor* cur = nullptr;
  ~ReadTxn() {
    if (cur) mdb_cursor_close(cur);
    if (txn) mdb_txn_abort(txn);
  }
};

}  // namespace

Result<uint64_t> index_entries(const Env& env, MDB_txn* txn) {
  ReadTxn own;
  if (!txn) {
    if (int rc = mdb_txn_begin(env.raw(), nullptr, MDB_RDONLY, &own.txn)) {
      own.txn = nullptr;
      return lmdb_error(rc, "expiry txn_begin");
    }
    txn = own.txn;
  }
  MDB_stat st{};
  if (int rc = mdb_stat(txn, env.expires_dbi(), &st)) return lmdb_error(rc, "expiry stat");
  return uint64_t{st.ms_entries};
}

// Positions at the first entry after `after` (MDB_GET_BOTH_RANGE finds the
// first dup >= its data under that exact deadline; an equal one is stepped
// over), then walks entries in (deadline, data) order.
Status read_due_entries(Env& env, int64_t now_ms, size_t max, std::string_view after,
                        std::vector<ExpiryCandidate>* out) {
  if (now_ms < 1 || max == 0) return {};
  ReadTxn t;
  if (int rc = mdb_txn_begin(env.raw(), nullptr, MDB_RDONLY, &t.txn)) {
    t.txn = nullptr;
    return lmdb_error(rc, "expiry txn_begin");
  }
  if (int rc = mdb_cursor_open(t.txn, env.expires_dbi(), &t.cur)) {
    t.cur = nullptr;
    return lmdb_error(rc, "expiry cursor_open");
  }
  MDB_val k{}, v{};
  int rc;
  if (after.size() <= kDeadlineBytes) {
    rc = mdb_cursor_get(t.cur, &k, &v, MDB_FIRST);
  } else {
    k = {kDeadlineBytes, const_cast<char*>(after.data())};
    v = {after.size() - kDeadlineBytes, const_cast<char*>(after.data() + kDeadlineBytes)};
    rc = mdb_cursor_get(t.cur, &k, &v, MDB_GET_BOTH_RANGE);
    if (rc == 0) {
      const std::string_view found(static_cast<const char*>(v.mv_data), v.mv_size);
      if (found == after.substr(kDeadlineBytes)) rc = mdb_cursor_get(t.cur, &k, &v, MDB_NEXT);
    } else if (rc == MDB_NOTFOUND) {
      // No dup >= after under that deadline (or no such deadline): the
      // first entry with a larger deadline.
      k = {kDeadlineBytes, const_cast<char*>(after.data())};
      rc = mdb_cursor_get(t.cur, &k, &v, MDB_SET_RANGE);
      if (rc == 0 && std::string_view(static_cast<const char*>(k.mv_data), k.mv_size) ==
                         after.substr(0, kDeadlineBytes))
        rc = mdb_cursor_get(t.cur, &k, &v, MDB_NEXT_NODUP);
    }
  }
  const auto now = static_cast<uint64_t>(now_ms);
  for (size_t n = 0; rc == 0 && n < max; ++n) {
    if (k.mv_size != kDeadlineBytes || v.mv_size < 1) {
      rc = mdb_cursor_get(t.cur, &k, &v, MDB_NEXT);  // not ours: skip
      continue;
    }
    const uint64_t deadline = decode_deadline(k);
    if (deadline > now) break;
    ExpiryCandidate c;
    c.deadline_ms = static_cast<int64_t>(deadline);
    c.physical_db = static_cast<unsigned char>(static_cast<const char*>(v.mv_data)[0]);
    c.key.assign(static_cast<const char*>(v.mv_data) + 1, v.mv_size - 1);
    c.raw.assign(static_cast<const char*>(k.mv_data), k.mv_size);
    c.raw.append(static_cast<const char*>(v.mv_data), v.mv_size);
    out->push_back(std::move(c));
    rc = mdb_cursor_get(t.cur, &k, &v, MDB_NEXT);
  }
  if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_error(rc, "expiry cursor_get");
  return {};
}

void ExpiryCycle::deadline_set(int physical_db, std::string_view key, int64_t deadline_ms) {
  if (young_.size() >= options_.max_young) return;
  if (deadline_ms > unix_ms() + options_.young_horizon_ms) return;
  young_.push({deadline_ms, physical_db, std::string(key), {}});
}

void ExpiryCycle::take_young(int64_t now_ms, size_t max, std::vector<ExpiryCandidate>* out) {
  while (!young_.empty() && young_.top().deadline_ms <= now_ms && out->size() < max) {
    // top() is const; the entry leaves the queue next, so its key may move.
    out->push_back(std::move(const_cast<ExpiryCandidate&>(young_.top())));
    young_.pop();
  }
}

Result<size_t> ExpiryCycle::run(Engine& engine, int64_t now_ms, const ObserverFor& observer_for,
                                std::vector<ExpiredKey>* expired) {
  const int64_t started_us = unix_us();
  const int64_t started_mono = mono_ms();
  next_ms_ = started_mono + options_.interval_ms;
  engine.count_expiry_cycle();
  // An apply may have added entries below the resume point, and has deleted
  // what was consumed before it: start again from the smallest deadline.
  const uint64_t applies = engine.stats().applies.load(std::memory_order_acquire);
  if (applies != applies_seen_) {
    applies_seen_ = applies;
    resume_.clear();
  }
  // Young deadlines first (no index entry: raw stays empty), then the index.
  std::vector<ExpiryCandidate> due;
  take_young(now_ms, options_.max_keys, &due);
  const size_t young = due.size();
  if (young < options_.max_keys && engine.expiry_index_entries() > 0) {
    engine.count_expiry_index_read();
    if (auto s = read_due_entries(engine.env(), now_ms, options_.max_keys - young, resume_, &due);
        !s) {
      log::warning("active expiry: {}", s.error().message);
      due.resize(young);
    }
  }
  if (due.empty()) return size_t{0};

  WriteTxn txn(engine);
  if (observer_for) txn.set_observer(observer_for(txn));
  std::vector<std::string> consumed;
  consumed.reserve(due.size());
  size_t deleted = 0;
  bool out_of_time = false;
  for (size_t i = 0; i < due.size(); ++i) {
    if (i % 16 == 15 && unix_us() - started_us > options_.max_us) {
      out_of_time = true;
      // Young entries not reached go back to the queue (the index's stay).
      for (size_t j = i; j < young; ++j) young_.push(std::move(due[j]));
      break;
    }
    auto& c = due[i];
    const int db = engine.logical_db(c.physical_db);
    if (db >= 0) {
      // Any stored value, expired or not: the earliest possible time.
      auto current = txn.get(db, c.key, std::numeric_limits<int64_t>::min());
      if (!current) {
        log::warning("active expiry: {}", current.error().message);
        break;
      }
      if (*current && (*current)->expired(now_ms)) {
        auto gone = txn.del(db, c.key, now_ms);
        if (!gone) {
          log::warning("active expiry: {}", gone.error().message);
          break;
        }
        ++deleted;
        if (expired) expired->push_back({db, std::move(c.key)});
      }
    }
    if (c.raw.empty()) continue;  // a young entry
    resume_ = c.raw;
    consumed.push_back(std::move(c.raw));
  }
  // The DELs reach the log before their index entries may leave LMDB.
  if (auto s = txn.commit(); !s) return s.error();
  engine.drop_expiry_entries(std::move(consumed));
  if (deleted) engine.note_expired(deleted);
  // A full batch (or one cut short) means more may be due: run again soon.
  // (One millisecond apart, so expiry takes at most about half the writer.)
  if (out_of_time || due.size() == options_.max_keys) next_ms_ = started_mono + 1;
  return deleted;
}

}  // namespace lmkv::store
