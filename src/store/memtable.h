// store/memtable.h: the write buffer, an insert-only concurrent skiplist
// (LevelDB's memtable) of values, tombstones and per-database clear markers,
// with a hash index for point reads.
//
// Entries are ordered by (db ascending, key bytewise ascending with shorter
// first, seq descending), so the first entry of a key at or below a visible
// seq is its newest visible state. Equal (db, key, seq) entries (an EXEC that
// sets a key twice) are ordered newest insertion first, and a clear marker
// issued in the same group as an entry hides it only if it came later: each
// entry and marker carries an insertion ordinal for that tie.
//
// A put costs a hash insert and an append, not a skiplist search: the hash
// index maps (db, key) to the key's newest entry, whose `older` link chains
// its versions, and answers get(). The skiplist, which only iterators need,
// is linked lazily: the first Iterator after new entries sorts them and
// links them in key order (ensure_indexed), so a write-only stream pays for
// order once per buffer, in the applier, at a fraction of a search per key.
//
// It knows nothing of LMDB, the log or RESP. Memory comes from an arena
// owned by the memtable and is freed all at once with it; nothing is ever
// removed. Threads: exactly one writer thread calls put/del/clear; any
// number of threads call the rest concurrently, without locks (but for
// DBSIZE's progress record and the lazy linking, behind short mutexes). A
// node is fully built before it is published with a release store, and
// readers load links with acquire, so a reader that publishes `visible`
// through its own acquire/release handshake with the writer sees every entry
// <= visible. Each entry is also appended to an insertion log (see
// log_entry) that DBSIZE reads to count a layer incrementally.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "base/pages.h"
#include "store/value.h"

namespace lmkv::store {

// What one key adds to a database's counts, or how a change moves them:
// keys, and of them keys with a deadline (DBSIZE; INFO keyspace's keys=
// and expires=).
struct KeyCounts {
  int64_t keys = 0;
  int64_t expires = 0;
  KeyCounts& operator+=(const KeyCounts& o) {
    keys += o.keys;
    expires += o.expires;
    return *this;
  }
  KeyCounts& operator-=(const KeyCounts& o) {
    keys -= o.keys;
    expires -= o.expires;
    return *this;
  }
  friend KeyCounts operator-(KeyCounts a, const KeyCounts& b) { return a -= b; }
  bool operator==(const KeyCounts&) const = default;
};

class MemTable {
 public:
  // `expected_bytes` sizes the Bloom filter (about one bit per 8 bytes of
  // entries, at least 64 Ki bits) and the hash index's first table (it
  // doubles when half full): the write buffer size. `pool`, if any, lends
  // the arena's blocks, which go back to it when the MemTable dies.
  explicit MemTable(size_t expected_bytes = 8u << 20, std::shared_ptr<PagePool> pool = nullptr);
  ~MemTable();
  MemTable(const MemTable&) = delete;
  MemTable& operator=(const MemTable&) = delete;

  static constexpr int kDbCount = 256;

  // Writer thread only. `db` is 0..255; seqs are normally non-decreasing
  // but need not be. Key and value bytes are copied into the arena.
  void put(uint64_t seq, int db, std::string_view key, const ValueView& value);
  // put without the copy: the entry views the key and value bytes where
  // they are, which must stay unchanged while the MemTable lives (hold()
  // their owner). A crash replay's entries view the mapped log: copying
  // them took fresh memory, and a fresh page is the dearest part of a
  // replay (see base/pages.h).
  void put_borrowed(uint64_t seq, int db, std::string_view key, const ValueView& value);
  // The same with the key's hash(db, key), which a caller that prefetched
  // the put already computed.
  void put_borrowed(uint64_t seq, int db, std::string_view key, const ValueView& value,
                    uint64_t hash);
  // Keeps `owner` (of borrowed bytes) alive as long as the MemTable.
  void hold(std::shared_ptr<const void> owner);
  void del(uint64_t seq, int db, std::string_view key);
  // FLUSHDB: hides every entry of `db` inserted before it (see above).
  void clear(uint64_t seq, int db);
  // FLUSHALL: clear(seq, db) for every db.
  void clear_all(uint64_t seq);
  // SWAPDB: from `seq` on, logical databases a and b name each other's
  // physical database. Entries are keyed by physical db, so a marker changes
  // no entry, only the map a reader computes (see apply_swaps).
  void swap(uint64_t seq, int a, int b);

  // Writer thread only. Starts loading the cache lines a put or del of
  // (db, key) touches first, its hash index slot and Bloom filter words
  // (each a likely miss in a buffer of megabytes), so a caller that knows
  // its next keys overlaps those misses with the work before them.
  void prefetch(int db, std::string_view key) const { prefetch(hash(db, key)); }
  void prefetch(uint64_t hash) const;
  // (db, key)'s place in every MemTable's hash index and Bloom filter.
  static uint64_t hash(int db, std::string_view key);

  // Any thread.
  enum class Kind { kAbsent, kValue, kTombstone, kCleared };
  struct Found {
    Kind kind = Kind::kAbsent;
    ValueView value;   // kValue only; views into the arena
    uint64_t seq = 0;  // the entry's seq, or the clear marker's for kCleared
  };

  // The newest state of (db, key) visible at `visible` (entries and clear
  // markers with seq <= visible). kValue/kTombstone: the newest entry, when
  // it is newer than the newest visible clear marker of db; kCleared: a
  // visible clear marker is newer than any visible entry of the key (so
  // older layers must not be consulted); kAbsent: this memtable knows
  // nothing, ask older layers. Values view into the arena (valid while the
  // memtable lives).
  Found get(int db, std::string_view key, uint64_t visible) const {
    return get(hash(db, key), db, key, visible);
  }
  // The same, with `h` = hash(db, key): a reader asking several layers
  // hashes the key once.
  Found get(uint64_t h, int db, std::string_view key, uint64_t visible) const;
  // Starts loading the Bloom filter words get(h, ...) reads first: a reader
  // asks for every layer's at once, so their misses overlap.
  void prefetch_filter(uint64_t h) const;

  // The newest clear marker seq of db that is <= visible, or 0 if none.
  uint64_t cleared_at(int db, uint64_t visible) const;

  // Applies this memtable's swap markers with seq <= visible, oldest first,
  // to a logical -> physical database map. Whether it has any.
  void apply_swaps(uint64_t visible, std::vector<uint8_t>* map) const;
  bool has_swaps() const { return swaps_.load(std::memory_order_acquire) != nullptr; }

  // Bytes handed out by the arena (nodes, keys, values, markers) plus the
  // insertion log's used slots, for the freeze threshold; the memory held is
  // at most one block and half the log more.
  size_t bytes() const { return used_bytes_.load(std::memory_order_relaxed); }
  // What the write buffer's and max-unapplied-bytes' bounds count (the
  // freeze threshold, the throttle, INFO's lmkv_unapplied_bytes): bytes(),
  // or entries() at kMinEntryWeight each if that is more. Those bounds stand
  // for a restart's replay, whose time is per entry as much as per byte: a
  // 100-byte SET's entry takes 187 bytes, and the 100 ms restart target was
  // measured with those. Entries of 10-byte values take ~110, and a backlog
  // of them replayed ~1.7x slower per byte: 28.7 MB in 104 ms (BENCHMARKS.md,
  // "Stop 25"). Counted at 187 each, a full backlog replays no more entries
  // than a 100-byte one.
  static constexpr size_t kMinEntryWeight = 187;
  size_t weight() const { return std::max(bytes(), entries() * kMinEntryWeight); }
  // Memory held by arena blocks.
  size_t memory_bytes() const { return block_bytes_.load(std::memory_order_relaxed); }
  size_t entries() const { return entries_.load(std::memory_order_relaxed); }
  // Puts that surely fit before the hash index doubles (a copy into fresh,
  // unfaulted memory): one per new key. Writer thread only.
  size_t index_room() const;
  uint64_t max_seq() const { return max_seq_.load(std::memory_order_relaxed); }

  // The insertion log: every put/del entry in insertion order, so DBSIZE
  // (store/read_view.h) can count a layer incrementally, looking only at
  // the entries added since its last call. Appended by the writer in
  // insert() (one store, and now and then a new segment block);
  // readers load log_size() with acquire and may read any entry below it.
  struct LogEntry {
    uint64_t seq;
    int db;
    std::string_view key;  // views into the arena
    bool value;            // a put (else a tombstone)
    bool deadline;         // a put with a deadline
    // The key's state just before this entry in this layer: 1 value,
    // 0 tombstone, -1 none (the key's first entry here: the state below).
    int before;
    bool before_deadline;  // before is a value with a deadline
  };
  size_t log_size() const { return log_size_.load(std::memory_order_acquire); }
  // Entry i < log_size(). `before` is exact only while seqs_in_order().
  LogEntry log_entry(size_t i) const;
  // Whether every entry was inserted with a seq >= all earlier ones (the
  // engine's case). Read after log_size(), it covers the entries below it.
  bool seqs_in_order() const { return !out_of_order_.load(std::memory_order_relaxed); }
  // Whether the log holds an entry of physical `db`. Read after log_size(),
  // it covers the entries below it.
  bool logs_db(int db) const {
    const uint64_t bit = uint64_t{1} << (db & 63);
    return (log_dbs_[static_cast<size_t>(db) >> 6].load(std::memory_order_relaxed) & bit) != 0;
  }

  // DBSIZE's progress on physical `db`: the first `scanned` log entries
  // change db's counts by `delta` over the state the layer was written
  // on. The same for every reader (each entry's change is fixed), so it is
  // kept in the layer and advanced by whichever reader gets further.
  struct CountProgress {
    size_t scanned = 0;
    KeyCounts delta;
  };
  CountProgress count_progress(int db) const;
  // Ignored unless at least kCountStep entries further: each step keeps a
  // node (40 bytes) until the MemTable goes, so a DBSIZE after every write
  // must not keep one per write; it sums the few entries again instead.
  void advance_count(int db, CountProgress p) const;
  static constexpr size_t kCountStep = 64;

  struct Node;  // defined in memtable.cc

  // Ordered iteration over the distinct keys of one db. For each key it
  // yields the newest entry with seq <= visible (skipping keys whose only
  // entries are newer than visible); entries hidden by a clear marker of db
  // visible at construction are skipped. Tombstones ARE yielded (kind
  // kTombstone) so a merging reader can hide older layers' versions.
  // Stepping over keys hidden by a clear costs one search each.
  class Iterator {
   public:
    Iterator(const MemTable& m, int db, uint64_t visible);
    bool valid() const { return node_ != nullptr; }
    std::string_view key() const;
    const Found& entry() const { return found_; }  // kind kValue or kTombstone
    void seek(std::string_view key);               // first key >= key
    void seek_after(std::string_view key);         // first key > key
    void seek_to_first();
    void seek_for_prev(std::string_view key);  // last key <= key
    void seek_before(std::string_view key);    // last key < key
    void seek_to_last();
    void next();  // to the next distinct key
    void prev();  // to the previous distinct key (one search)

   private:
    // Position on the newest visible, unhidden entry at or after `n` (the
    // first node of its key), or at or before `n` (the last node of its key).
    void settle_forward(const Node* n);
    void settle_backward(const Node* n);
    const Node* after_key(const Node* n) const;
    // Whether the db's clear marker came after `n` in log order.
    bool hidden(const Node* n) const;

    const MemTable* m_;
    int db_;
    uint64_t visible_;
    uint64_t clear_seq_ = 0;
    uint32_t clear_ord_ = 0;
    bool has_clear_ = false;
    const Node* node_ = nullptr;
    Found found_;
  };

 private:
  struct ClearMark;
  struct SwapMark;
  static constexpr int kMaxHeight = 12;

  char* block(size_t n);
  char* allocate(size_t n);
  // The Bloom filter over (db, key): most GETs ask for keys a layer does not
  // hold, and it answers them without a skiplist search. The writer sets a
  // key's bits before the entry can become visible (the node's release
  // publication and durable_seq's both come after), so a reader never gets
  // a false "absent" for an entry it may see (hash() above is its hash).
  // Probe i of h's kBloomProbes, by double hashing (Kirsch and Mitzenmacher).
  static constexpr int kBloomProbes = 3;
  uint64_t bloom_bit(uint64_t h, int i) const {
    return (h + static_cast<uint64_t>(i) * ((h >> 32) | 1)) & bloom_bits_mask_;
  }
  void bloom_add(uint64_t h);
  bool may_contain(uint64_t h) const;
  int random_height();

  // The hash index: open addressing, linear probing, at most half full.
  // A slot holds the key's newest node with the hash's top 16 bits in the
  // pointer's unused top bits, so a probe rejects other keys without
  // touching their nodes. Writer-only inserts; a full table is copied into
  // one twice its size and kept (readers may still hold it: they only miss
  // entries added after the copy, which are newer than what they may see).
  struct HashIndex;
  void grow_index();
  // Makes n the newest entry of its key, linking the previous newest as
  // n->older. Writer only.
  void index_put(uint64_t h, Node* n);
  // The newest entry of (db, key), or nullptr.
  const Node* newest(uint64_t h, int db, std::string_view key) const;

  // Links the log's entries not yet in the skiplist, sorted, so every entry
  // in the log when it is called can be iterated. Any thread.
  void ensure_indexed() const;
  const Node* log_node(size_t i) const;
  void insert(uint64_t seq, int db, std::string_view key, uint64_t h, uint8_t kind,
              const ValueView* value, bool borrow);
  // The newest clear marker of db with seq <= visible, or nullptr.
  const ClearMark* visible_clear(int db, uint64_t visible) const;

  // Searches; see memtable.cc for the exact predicates.
  template <class Before>
  std::pair<const Node*, const Node*> bracket(Before before) const;
  template <class Before>
  const Node* first_not_before(Before before) const {
    return bracket(before).second;
  }
  template <class Before>
  const Node* last_before(Before before) const {
    return bracket(before).first;
  }
  const Node* lower_bound(int db, std::string_view key, uint64_t visible) const;
  void log_append(const Node* n);
  void log_grow();

  Node* head_;
  std::atomic<const HashIndex*> index_{nullptr};
  std::vector<std::unique_ptr<HashIndex>> indexes_;  // writer only: current last
  size_t index_keys_ = 0;                            // writer only: distinct keys
  // The log entries below indexed_ are linked into the skiplist; linking is
  // serialized by index_mu_ (the release store of indexed_ publishes it).
  mutable std::mutex index_mu_;
  mutable std::atomic<size_t> indexed_{0};
  // The first linking's sorted entries (node->rank is the place), written
  // once under index_mu_ before indexed_ publishes it; only a prefetch hint.
  mutable std::vector<const Node*> run_;
  Pages bloom_pages_;
  std::atomic<uint64_t>* bloom_ = nullptr;
  uint64_t bloom_bits_mask_ = 0;
  mutable std::atomic<int> height_{1};  // raised by ensure_indexed
  std::array<std::atomic<ClearMark*>, kDbCount> clears_{};
  // Swap markers, oldest first (appended at swaps_tail_ by the writer).
  std::atomic<SwapMark*> swaps_{nullptr};
  SwapMark* swaps_tail_ = nullptr;

  // Writer-only state.
  const std::shared_ptr<PagePool> pool_;
  std::vector<Pages> blocks_;  // the arena's, large items', the log's
  std::vector<std::shared_ptr<const void>> held_;  // owners of borrowed bytes
  char* block_ptr_ = nullptr;
  size_t block_left_ = 0;
  uint64_t rng_ = 0x9e3779b97f4a7c15ull;
  uint32_t next_ord_ = 1;

  std::atomic<size_t> used_bytes_{0};
  std::atomic<size_t> block_bytes_{0};
  std::atomic<size_t> entries_{0};
  std::atomic<uint64_t> max_seq_{0};
  // The insertion log: segment s holds log_first() << s entries, so entry i
  // has a fixed place and a segment never moves. Segments are blocks freed
  // with the arena, written by the writer before log_size_'s release store
  // publishes them. The first holds 256 entries, or a whole pool block's
  // worth in a buffer whose log is expected to fill half of one (see the
  // constructor).
  static constexpr int kLogFirstBits = 8;
  const int log_first_bits_;
  size_t log_first() const { return size_t{1} << log_first_bits_; }
  std::array<const Node**, 48> log_{};
  std::atomic<size_t> log_size_{0};
  const Node** log_next_ = nullptr;  // writer only: the next free slot,
  size_t log_room_ = 0;              // how many are left in its segment,
  size_t log_segments_ = 0;          // and how many segments exist
  std::atomic<bool> out_of_order_{false};
  std::array<std::atomic<uint64_t>, kDbCount / 64> log_dbs_{};  // logs_db's bits

  // DBSIZE's progress per db: the newest of a chain of immutable nodes,
  // published by compare-and-swap and freed with the MemTable. No lock: the
  // background counter runs at SCHED_IDLE, and a lock it held when
  // preempted stalled a loop's DBSIZE for tens of ms.
  struct ProgressNode {
    CountProgress progress;
    const ProgressNode* older;
  };
  mutable std::array<std::atomic<const ProgressNode*>, kDbCount> counts_{};
};

}  // namespace lmkv::store
