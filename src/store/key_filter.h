// store/key_filter.h: a Bloom filter over the keys LMDB holds (every
// database), so a point read of a key LMDB does not have skips the B+tree
// descent: in a 1M-key tree that descent is ~1 µs of cache misses, most of
// a GET's cost, and past RAM it is a disk read.
//
// Blocked: a key's bits all fall in one 64-byte block, so a check is one
// cache miss. ~10 bits per key of capacity, 7 bits per key: ~1% false
// positives at capacity. Bits are only ever set (a deleted key's stay), so
// the filter answers "maybe" for every key ever added and "no" only for
// keys never added. Store/engine.h keeps it whole: the applier adds each
// key it writes before its commit, and a background scan of LMDB (fill)
// builds a new one when this one fills up.
//
// Any thread may call add() and may_contain() at once (atomic words).
// The bits are pages the kernel zeroes as they are first touched: building
// a filter sized for millions of keys costs the caller nothing up front.
// Knows nothing of MemTables or Versions.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "base/error.h"
#include "base/pages.h"
#include "store/env.h"

namespace lmkv::store {

class KeyFilter {
 public:
  // Room for `keys` keys at about 1% false positives.
  explicit KeyFilter(uint64_t keys);
  KeyFilter(const KeyFilter&) = delete;
  KeyFilter& operator=(const KeyFilter&) = delete;

  // `raw_key` is the key as LMDB stores it (store/value.h encode_key).
  static uint64_t hash(int db, std::string_view raw_key);
  void add(uint64_t h);
  // The same for many keys, each block's load started well ahead: an
  // apply's keys fall in random blocks, each a cache miss when added one at
  // a time (the applier's largest cost under INCR -P 16 in perf).
  void add(std::span<const uint64_t> hashes);
  bool may_contain(uint64_t h) const;
  // Starts loading the block may_contain(h) reads (one cache line).
  void prefetch(uint64_t h) const { __builtin_prefetch(block(h)); }

  // Adds every key of every database in `env`, reading in short read
  // transactions (a long one would pin pages the applier wants to reuse).
  // Keys committed after it starts must be add()ed by their writer. Stops
  // early, with an error, once `stop` is set.
  Status fill(const Env& env, const std::atomic<bool>& stop);

  uint64_t capacity() const { return capacity_; }
  size_t memory_bytes() const { return blocks_ * kBlockWords * sizeof(uint64_t); }
  // Share of bits set, 0..1; past 1/2 the filter holds more keys than it
  // was sized for and false positives climb (0.5^7 at 1/2, 0.9^7 at 0.9).
  double fill_ratio() const;
  bool full() const { return fill_ratio() > 0.5; }

 private:
  // A block is 64 bytes, one cache line: page-aligned memory keeps each
  // within one.
  static constexpr size_t kBlockWords = 8;
  // The block's first word, read and written through std::atomic_ref.
  uint64_t* block(uint64_t h) const;
  // Sets h's bits; returns how many were clear.
  uint64_t set_bits(uint64_t h);

  uint64_t capacity_;
  uint64_t blocks_;
  Pages pages_;
  uint64_t* words_;
  std::atomic<uint64_t> set_{0};  // bits set
};

}  // namespace lmkv::store
