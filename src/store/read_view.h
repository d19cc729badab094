// store/read_view.h: the read side of the store, one per loop (and one for
// the writer).
//
// A ReadView is {durable_seq, Version (the MemTables not yet in LMDB), a
// short LMDB read transaction}, taken in that order on the first read after
// end() (see engine.h for why the order makes the view complete). Point
// reads consult the layers newest first, then LMDB; RANGE and SCAN merge the
// layers and an LMDB cursor in key order, skipping tombstones, cleared
// databases and expired keys. Entries newer than durable_seq are ignored, so
// no read sees an unacknowledged write or a torn MSET; the writer's view
// sees everything. end() after each batch of commands lets go of the
// snapshot: nothing pins one across a client's think time.
// Callers name logical databases; the view translates them to physical ones
// with the map of its snapshot (SWAPDB; see engine.h), or, for the writer's
// view, the writer's latest map.
// One thread at a time; values returned view into LMDB pages or MemTable
// arenas and are valid until end().
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"
#include "store/engine.h"
#include "store/value.h"

namespace lmkv::store {

// One end of a key range: the whole keyspace's end (`infinite`), or a key
// taken inclusively or exclusively (RANGE's "[k", "(k", "-", "+").
struct Bound {
  std::string_view key;
  bool inclusive = true;
  bool infinite = true;

  static Bound unbounded() { return {}; }
  static Bound at(std::string_view k, bool inclusive) { return {k, inclusive, false}; }
};

class ReadView {
 public:
  // `see_everything`: the writer's view, which also sees groups that are
  // not durable yet (its own, being executed).
  explicit ReadView(Engine& engine, bool see_everything = false)
      : engine_(engine), see_everything_(see_everything) {}
  ~ReadView();
  ReadView(const ReadView&) = delete;
  ReadView& operator=(const ReadView&) = delete;

  // Resets the transaction; the next read renews it. Call after each batch.
  void end();

  // The live value of `key` in database `db`, or nullopt if absent, expired
  // or too long to exist.
  Result<std::optional<ValueView>> get(int db, std::string_view key, int64_t now_ms);

  // Keys in `db`, counting expired keys not yet deleted (as Redis's DBSIZE):
  // LMDB's entry count plus each layer's change to it. Each layer keeps its
  // change summed over a prefix of its insertion log (MemTable::
  // CountProgress), so a call looks only at the entries written since the
  // last one (amortized O(1) per write; O(1) in the dataset and the write
  // buffer); a layer nobody counted yet is walked once. After a FLUSHDB
  // still in the buffer it walks the keys of the layers up to the marker.
  Result<uint64_t> dbsize(int db);
  // The same, with the keys that have a deadline (INFO keyspace's expires=,
  // expired ones not yet deleted included, as Redis's): LMDB's are counted
  // by the bulk apply (Engine::stored_expires).
  Result<KeyCounts> key_counts(int db);
  // For store/counter.h, on a client view: sums up to `budget` log entries
  // not summed yet into their layers' progress, so the next key_counts
  // finds them done; then end(). Returns how many it summed (< budget:
  // it caught up with the log).
  Result<size_t> count_ahead(size_t budget);
  // For DBSIZE and INFO on a loop, before key_counts: at most how many log
  // entries it would sum now for `db` (-1: for every database). Reads no
  // key. 0 after a failed begin(): key_counts then reports the error.
  size_t counts_pending(int db);

  // Visits the live keys of `db` within [lo, hi] in byte order (descending
  // when `reverse`), calling visit(key, value) until it returns false.
  // Bounds longer than a key can be are clamped. Returns the number of
  // entries stepped over, expired ones included (bounded-work callers count
  // them).
  using Visitor = std::function<bool(std::string_view key, const ValueView& value)>;
  Result<uint64_t> scan(int db, const Bound& lo, const Bound& hi, bool reverse, int64_t now_ms,
                        const Visitor& visit);

 private:
  Status begin();
  Status begin_without_runs();
  // For counts (key_counts, count_ahead): begin, or begin_without_runs when
  // `without_runs`, with a Version whose merge_base is set if the snapshot
  // shows a merge under way in parts. CountBase then points txn_ at it.
  Status begin_for_counts(bool without_runs);
  class CountBase;
  // The layers that may hold `db`'s keys: newest first, up to and including
  // the first one with a visible clear marker. `cleared` says whether LMDB is
  // hidden by such a marker.
  size_t layers_for(int db, bool* cleared) const;
  bool may_be_in_lmdb(int db) const;  // keybuf_ holds the encoded key
  // What a key adds to the counts: a value 1 key, and 1 expires if it has a
  // deadline. share_below: the key's share in layers[from...] or, below
  // them, in LMDB (lmdb_share).
  static KeyCounts share_of(const ValueView& v) { return {1, v.deadline_ms != 0}; }
  Result<KeyCounts> lmdb_share(int db, std::string_view key);
  // After a restart: the newest run that knows the key, or kAbsent.
  Result<RunLookup> run_lookup(int db, std::string_view key);
  Result<KeyCounts> share_below(size_t from, int db, std::string_view key);
  // How much layers[i] changes db's counts over the state below it:
  // incrementally from the layer's log, or by walking its keys. With a
  // budget: at most that many of db's entries, taken off it, never a walk.
  Result<KeyCounts> layer_delta(size_t i, int db, size_t* budget = nullptr);
  Result<KeyCounts> walk_delta(size_t i, int db);
  Result<KeyCounts> entry_change(size_t i, int db, const MemTable::LogEntry& e);
  // The physical database of logical `db` in this view (after begin()).
  int physical(int db) const {
    return see_everything_ ? engine_.physical_db(db) : map_[static_cast<size_t>(db)];
  }

  Engine& engine_;
  const bool see_everything_;
  uint64_t visible_ = 0;
  std::shared_ptr<const Version> version_;
  MDB_txn* txn_ = nullptr;
  bool active_ = false;
  std::string keybuf_;
  std::string runbuf_;        // a key in a staged run's form (store/runs.h)
  std::vector<uint8_t> map_;  // logical -> physical at visible_ (client views)
};

}  // namespace lmkv::store
