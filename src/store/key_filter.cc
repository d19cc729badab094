// store/key_filter.cc: see key_filter.h.
#include "store/key_filter.h"

#include <bit>
#include <functional>
#include <string>
#include <vector>

namespace lmkv::store {
namespace {

constexpr uint64_t kBitsPerKey = 10;
constexpr int kProbes = 7;  // bits set per key, 9 bits of the hash each
// Keys read per read transaction while filling: short enough that the scan
// never holds a snapshot for long (~10 ms), long enough that beginning
// transactions costs nothing.
constexpr size_t kKeysPerTxn = 1 << 16;

// The second hash, for the bits within a block: the first one's 64 bits
// multiplied by an odd constant, high bits folded down, so they differ
// from the bits that chose the block.
uint64_t remix(uint64_t h) {
  h *= 0x9E3779B97F4A7C15ull;
  return h ^ (h >> 29);
}

}  // namespace

// Not zeroed here: map_pages' memory is zero, and faulted in by whoever
// sets its bits first (the build's thread, not the engine's opener).
KeyFilter::KeyFilter(uint64_t keys)
    : capacity_(keys),
      blocks_(std::max<uint64_t>(1, (keys * kBitsPerKey + 511) / 512)),
      pages_(map_pages(blocks_ * kBlockWords * sizeof(uint64_t))),
      words_(reinterpret_cast<uint64_t*>(pages_.get())) {}

uint64_t KeyFilter::hash(int db, std::string_view raw_key) {
  return std::hash<std::string_view>{}(raw_key) ^
         (static_cast<uint64_t>(db) * 0xC2B2AE3D27D4EB4Full);
}

// The block from the hash's high 32 bits (a multiply instead of a modulo).
uint64_t* KeyFilter::block(uint64_t h) const {
  return words_ + (((h >> 32) * blocks_) >> 32) * kBlockWords;
}

// Bits already set cost a load, not a locked read-modify-write: most keys
// an apply writes over are already in.
uint64_t KeyFilter::set_bits(uint64_t h) {
  uint64_t* b = block(h);
  uint64_t masks[kBlockWords] = {};
  uint64_t bits = remix(h);
  for (int i = 0; i < kProbes; ++i, bits >>= 9)
    masks[(bits >> 6) & 7] |= uint64_t{1} << (bits & 63);
  uint64_t added = 0;
  for (size_t w = 0; w < kBlockWords; ++w) {
    const uint64_t m = masks[w];
    std::atomic_ref<uint64_t> word(b[w]);
    if (!m || (word.load(std::memory_order_relaxed) & m) == m) continue;
    added += static_cast<uint64_t>(std::popcount(m & ~word.fetch_or(m, std::memory_order_relaxed)));
  }
  return added;
}

void KeyFilter::add(uint64_t h) {
  if (const uint64_t added = set_bits(h)) set_.fetch_add(added, std::memory_order_relaxed);
}

void KeyFilter::add(std::span<const uint64_t> hashes) {
  // Far enough ahead to cover a miss to memory, near enough to stay cached.
  constexpr size_t kAhead = 16;
  for (size_t i = 0; i < std::min(kAhead, hashes.size()); ++i)
    __builtin_prefetch(block(hashes[i]), 1);
  uint64_t added = 0;
  for (size_t i = 0; i < hashes.size(); ++i) {
    if (i + kAhead < hashes.size()) __builtin_prefetch(block(hashes[i + kAhead]), 1);
    added += set_bits(hashes[i]);
  }
  if (added) set_.fetch_add(added, std::memory_order_relaxed);
}

bool KeyFilter::may_contain(uint64_t h) const {
  uint64_t* b = block(h);
  uint64_t bits = remix(h);
  for (int i = 0; i < kProbes; ++i, bits >>= 9) {
    const std::atomic_ref<uint64_t> word(b[(bits >> 6) & 7]);
    if (!(word.load(std::memory_order_relaxed) & (uint64_t{1} << (bits & 63)))) return false;
  }
  return true;
}

double KeyFilter::fill_ratio() const {
  return static_cast<double>(set_.load(std::memory_order_relaxed)) /
         static_cast<double>(blocks_ * 512);
}

Status KeyFilter::fill(const Env& env, const std::atomic<bool>& stop) {
  std::string last;  // the last key added, to go on after it in the next transaction
  std::vector<uint64_t> hashes;  // one transaction's keys, added after it ends
  for (int db = 0; db < env.databases(); ++db) {
    bool started = false, done = false;
    while (!done) {
      if (stop.load(std::memory_order_relaxed)) return err("key filter: stopped");
      MDB_txn* txn = nullptr;
      if (int rc = mdb_txn_begin(env.raw(), nullptr, MDB_RDONLY, &txn))
        return lmdb_error(rc, "txn_begin");
      MDB_cursor* cur = nullptr;
      if (int rc = mdb_cursor_open(txn, env.dbi(db), &cur)) {
        mdb_txn_abort(txn);
        return lmdb_error(rc, "cursor_open");
      }
      MDB_val k{last.size(), last.data()}, v;
      int rc = started ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)
                       : mdb_cursor_get(cur, &k, &v, MDB_FIRST);
      if (rc == 0 && started && std::string_view(static_cast<char*>(k.mv_data), k.mv_size) == last)
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
      hashes.clear();
      for (size_t n = 0; rc == 0 && n < kKeysPerTxn; ++n) {
        const std::string_view key(static_cast<char*>(k.mv_data), k.mv_size);
        hashes.push_back(hash(db, key));
        if (n + 1 == kKeysPerTxn)
          last.assign(key);
        else
          rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
      }
      started = true;
      done = rc != 0;
      mdb_cursor_close(cur);
      mdb_txn_abort(txn);
      if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_error(rc, "cursor_get");
      add(hashes);
    }
  }
  return {};
}

}  // namespace lmkv::store
