// store/expiry.h: active expiry (Redis's activeExpireCycle, over an index).
//
// The index is the LMDB database "expires" (MDB_DUPSORT): key = the
// deadline as 8 bytes big-endian (so LMDB's order is deadline order), data =
// one byte of physical database + the user key (at most 511 bytes, LMDB's
// limit for dup data). The applier adds an entry for every value with a
// deadline it writes (apply.cc) and never reads to remove the entry of an
// old deadline, so entries are hints: a key may since have been
// overwritten, deleted, persisted or given another deadline.
//
// One cycle (writer thread, every ~100 ms, sooner while batches come back
// full): read up to max_keys entries with deadline <= now from a short LMDB
// read transaction, resuming after the last entry consumed (no read at all
// while the last apply left the index empty: beyond RAM its pages may have
// to come from the disk, queued behind the applier's and the prefetch
// pool's I/O, and they were 24 of the writer's 25 major faults in a 90 s
// trace with no key that could expire); check each key
// in a WriteTxn, which sees the latest state, and DEL (logged, so replicas
// and replay agree) those whose current value is expired; commit the
// group; then attach every consumed entry, expired or stale, to the active
// MemTable, which holds those DELs: the applier deletes the entries in the
// same LMDB transaction that applies the DELs (the writer never waits for
// an LMDB write, and no crash can leave an expired key without its entry).
// After each apply the cycle starts again from the smallest deadline, since
// an apply may add entries below the resume point; entries consumed but not
// yet deleted are then checked again, which is cheap and harmless.
//
// Young deadlines: a key whose deadline is only in the unapplied MemTables
// is not in the index yet (it is invisible to reads once expired: ReadView
// checks the deadline). So that a short TTL is reclaimed about when Redis
// would (SET k v PX 100, then DBSIZE a second later), the cycle also hears
// of every deadline a group sets (WriteTxn's DeadlineObserver) and keeps
// those due within young_horizon_ms in a queue of at most max_young keys,
// checked like index entries. Past those bounds a key is reclaimed once its
// MemTable is applied: within the MemTable age limit (buffer_max_age_ms, 5 s
// by default) plus one apply.
//
// Knows nothing of RESP or pub/sub: the caller gets the expired keys and
// raises the keyspace events. ExpiryCycle: writer thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <queue>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "store/engine.h"
#include "store/write_txn.h"

namespace lmkv::store {

inline constexpr size_t kDeadlineBytes = 8;

// The raw index entry: 8-byte big-endian deadline (clamped to >= 1), the
// physical db byte, the key.
std::string expiry_entry(int64_t deadline_ms, int physical_db, std::string_view key);

struct ExpiryCandidate {
  int64_t deadline_ms = 0;
  int physical_db = 0;
  std::string key;
  std::string raw;  // the whole entry, as expiry_entry made it
};

// Appends to *out up to `max` index entries with deadline <= now_ms that
// sort after `after` (a raw entry; empty: from the start), in index order.
Status read_due_entries(Env& env, int64_t now_ms, size_t max, std::string_view after,
                        std::vector<ExpiryCandidate>* out);
// The index's entries as of `txn`, or of a read transaction of its own
// (null): the applier's count for the cycle (Engine::expiry_index_entries).
Result<uint64_t> index_entries(const Env& env, MDB_txn* txn = nullptr);

// A key deleted by a cycle, by logical database (for keyspace events).
struct ExpiredKey {
  int db = 0;
  std::string key;
};

class ExpiryCycle : public DeadlineObserver {
 public:
  struct Options {
    size_t max_keys = 200;      // entries examined per cycle
    int64_t max_us = 1000;      // and time spent per cycle
    int64_t interval_ms = 100;  // between cycles that found less than a full batch
    // Young deadlines kept (see above): those due within the horizon (by the
    // wall clock when set), at most max_young keys; the rest wait for the index.
    int64_t young_horizon_ms = 10'000;
    size_t max_young = 65'536;
  };
  ExpiryCycle() = default;
  explicit ExpiryCycle(Options o) : options_(o) {}

  // Whether a cycle should run at monotonic time mono_ms.
  bool due(int64_t mono_ms) const { return mono_ms >= next_ms_; }
  // How long the writer may sleep before the next cycle is due.
  int64_t wait_ms(int64_t mono_ms) const { return next_ms_ > mono_ms ? next_ms_ - mono_ms : 0; }
  // Skips the cycle due now (writes are refused: disk full); the next one
  // is due an interval later.
  void postpone(int64_t mono_ms) { next_ms_ = mono_ms + options_.interval_ms; }

  // Runs one cycle at wall time now_ms (see above); appends what it
  // deleted to *expired and returns how many. LMDB read errors are logged
  // and skip the cycle; an error returned is the group's commit failing,
  // which is fatal to the process (Engine::commit).
  // `observer_for` gives the group's TouchObserver (WATCH), or null.
  using ObserverFor = std::function<TouchObserver*(WriteTxn&)>;
  Result<size_t> run(Engine& engine, int64_t now_ms, const ObserverFor& observer_for,
                     std::vector<ExpiredKey>* expired);

  // A group set this deadline (DeadlineObserver): queued if young.
  void deadline_set(int physical_db, std::string_view key, int64_t deadline_ms) override;
  size_t young() const { return young_.size(); }

 private:
  // The young queue's entries, soonest first (a min-heap on deadline).
  struct Later {
    bool operator()(const ExpiryCandidate& a, const ExpiryCandidate& b) const {
      return a.deadline_ms > b.deadline_ms;
    }
  };
  // Moves the young entries due at now_ms, up to `max`, to *out.
  void take_young(int64_t now_ms, size_t max, std::vector<ExpiryCandidate>* out);

  Options options_;
  std::priority_queue<ExpiryCandidate, std::vector<ExpiryCandidate>, Later> young_;
  int64_t next_ms_ = 0;
  std::string resume_;  // the last entry consumed since the last apply
  uint64_t applies_seen_ = ~uint64_t{0};
};

}  // namespace lmkv::store
