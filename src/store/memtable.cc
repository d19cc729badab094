#include "store/memtable.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstring>
#include <functional>
#include <new>
#include <utility>

namespace lmkv::store {

// ---------------------------------------------------------------------------
// Layout
// ---------------------------------------------------------------------------
// A node is one arena allocation: this header, then `height` link slots,
// then the key bytes, then the value bytes -- or, for a borrowed entry
// (put_borrowed), two pointers to bytes held elsewhere. Lower nodes carry
// fewer links, as in LevelDB, so the average node has 4/3 links. The height
// is drawn at put; the links are written when the node is linked
// (ensure_indexed).

namespace {

constexpr uint8_t kPut = 0;
constexpr uint8_t kDel = 1;
constexpr size_t kBlockSize = PagePool::kBlock;
// Items above this get a block of their own, so a big value neither wastes
// the rest of the current block nor forces a new one.
constexpr size_t kLargeItem = kBlockSize / 4;
constexpr uint32_t kNoRank = UINT32_MAX;
// How far ahead in run_ an iterator's next() prefetches: a node is a cache
// miss (~100 ns) and the applier spends microseconds per key.
constexpr size_t kPrefetchAhead = 8;

}  // namespace

struct MemTable::Node {
  uint64_t seq;
  int64_t deadline_ms;
  const Node* older;  // the same key's previous entry, in insertion order
  uint32_t key_len;
  uint32_t data_len;
  uint32_t ord;   // insertion ordinal: breaks ties with clear markers of the same seq
  uint32_t rank;  // the node's place in run_, or kNoRank (see ensure_indexed)
  uint8_t db;
  uint8_t kind;
  uint8_t type;
  uint8_t height;
  bool borrowed;  // the bytes are elsewhere: see Borrowed

  // A borrowed entry's bytes, where an owned entry's are.
  struct Borrowed {
    const char* key;
    const char* data;
  };

  std::atomic<Node*>* links() { return reinterpret_cast<std::atomic<Node*>*>(this + 1); }
  const std::atomic<Node*>* links() const {
    return reinterpret_cast<const std::atomic<Node*>*>(this + 1);
  }
  char* bytes() { return reinterpret_cast<char*>(links() + height); }
  const char* bytes() const { return reinterpret_cast<const char*>(links() + height); }
  const Borrowed& borrowed_bytes() const { return *reinterpret_cast<const Borrowed*>(bytes()); }
  const char* key_data() const { return borrowed ? borrowed_bytes().key : bytes(); }
  std::string_view key() const { return {key_data(), key_len}; }
  std::string_view data() const {
    return {borrowed ? borrowed_bytes().data : bytes() + key_len, data_len};
  }
  const Node* next(int level) const { return links()[level].load(std::memory_order_acquire); }

  static size_t size_for(int height, size_t key_len, size_t data_len) {
    return sizeof(Node) + sizeof(std::atomic<Node*>) * height + key_len + data_len;
  }
  static size_t borrowed_size_for(int height) {
    return sizeof(Node) + sizeof(std::atomic<Node*>) * height + sizeof(Borrowed);
  }
};
static_assert(sizeof(MemTable::Node) == 48);  // `borrowed` fits in the padding
static_assert(sizeof(MemTable::Node) % alignof(std::atomic<MemTable::Node*>) == 0);
static_assert(std::atomic<MemTable::Node*>::is_always_lock_free);

// Clear markers of one db form a list sorted newest first by (seq, ord), so
// a reader stops at the first marker it may see.
struct MemTable::ClearMark {
  uint64_t seq;
  uint32_t ord;
  std::atomic<ClearMark*> older;
};

// Swap markers form a list oldest first; seqs never decrease along it.
struct MemTable::SwapMark {
  uint64_t seq;
  uint8_t a, b;
  std::atomic<SwapMark*> newer;
};

namespace {

using Node = MemTable::Node;

// memcmp's sign for short strings, inline: a search makes ~30 of these
// compares on keys of a few dozen bytes, where the call into libc's memcmp
// costs more than the comparison (a quarter of a pipelined GET's
// instructions). Eight bytes at a time, as big-endian words.
int compare_bytes(const char* a, const char* b, size_t len) {
  while (len >= 8) {
    uint64_t x, y;
    std::memcpy(&x, a, 8);
    std::memcpy(&y, b, 8);
    if (x != y) {
      if constexpr (std::endian::native == std::endian::little) {
        x = __builtin_bswap64(x);
        y = __builtin_bswap64(y);
      }
      return x < y ? -1 : 1;
    }
    a += 8;
    b += 8;
    len -= 8;
  }
  for (; len != 0; ++a, ++b, --len) {
    if (*a != *b) return static_cast<unsigned char>(*a) < static_cast<unsigned char>(*b) ? -1 : 1;
  }
  return 0;
}

// Orders a node's (db, key) against (db, key): bytewise, then shorter first.
int compare(const Node* n, int db, std::string_view key) {
  if (n->db != db) return n->db < db ? -1 : 1;
  const size_t len = n->key_len < key.size() ? n->key_len : key.size();
  if (int c = compare_bytes(n->key_data(), key.data(), len); c != 0) return c;
  if (n->key_len == key.size()) return 0;
  return n->key_len < key.size() ? -1 : 1;
}

bool same_key(const Node* a, const Node* b) {
  return a->db == b->db && a->key_len == b->key_len &&
         std::memcmp(a->key_data(), b->key_data(), a->key_len) == 0;
}

// The list's whole order: (db, key) ascending, then seq descending, then
// insertion descending.
bool sorts_before(const Node* a, const Node* b) {
  if (int c = compare(a, b->db, b->key()); c != 0) return c < 0;
  if (a->seq != b->seq) return a->seq > b->seq;
  return a->ord > b->ord;
}

uint64_t load_be64(const char* p) {
  uint64_t x;
  std::memcpy(&x, p, 8);
  if constexpr (std::endian::native == std::endian::little) x = __builtin_bswap64(x);
  return x;
}

// A node and its db byte plus the first 23 bytes of its key as three words
// that compare like the bytes (zero padded, so a tie is settled by the node
// itself): sorting these touches each node once instead of at every
// comparison. 23 bytes, not 15: keys like redis-benchmark's (16 bytes,
// "key:" and 12 digits) shared 15-byte prefixes in tens of thousands of
// pairs per buffer, each tie two cache misses (BENCHMARKS.md's stop 23).
struct SortKey {
  uint64_t w[3];
  const Node* node;

  explicit SortKey(const Node* n) : node(n) {
    char buf[24] = {};
    buf[0] = static_cast<char>(n->db);
    std::memcpy(buf + 1, n->key_data(), std::min<size_t>(n->key_len, 23));
    for (int i = 0; i < 3; ++i) w[i] = load_be64(buf + 8 * i);
  }
  bool operator<(const SortKey& o) const {
    if (w[0] != o.w[0]) return w[0] < o.w[0];
    if (w[1] != o.w[1]) return w[1] < o.w[1];
    if (w[2] != o.w[2]) return w[2] < o.w[2];
    return sorts_before(node, o.node);
  }
};

// Hash index slots: a node pointer with the hash's top bits as a tag.
constexpr int kTagShift = 48;
constexpr uintptr_t kPointerMask = (uintptr_t{1} << kTagShift) - 1;

uintptr_t tagged(const Node* n, uint64_t h) {
  const auto p = reinterpret_cast<uintptr_t>(n);
  assert((p & ~kPointerMask) == 0);  // user space addresses fit in 48 bits
  return p | (h >> kTagShift << kTagShift);
}
bool tag_matches(uintptr_t slot, uint64_t h) { return (slot >> kTagShift) == (h >> kTagShift); }
const Node* untagged(uintptr_t slot) { return reinterpret_cast<const Node*>(slot & kPointerMask); }

void fill(MemTable::Found* f, const Node* n) {
  f->seq = n->seq;
  if (n->kind == kDel) {
    f->kind = MemTable::Kind::kTombstone;
    f->value = ValueView{};
  } else {
    f->kind = MemTable::Kind::kValue;
    f->value = ValueView{static_cast<Type>(n->type), n->deadline_ms, n->data()};
  }
}

}  // namespace

struct MemTable::HashIndex {
  HashIndex(size_t capacity, PagePool* pool)
      : mask(capacity - 1), slots(construct_array<std::atomic<uintptr_t>>(pages, capacity, pool)) {}
  Pages pages;
  size_t mask;
  std::atomic<uintptr_t>* slots;
};

// ---------------------------------------------------------------------------
// Construction and the arena
// ---------------------------------------------------------------------------

// The log's first segment is a pool block when the buffer's log (a slot per
// entry, ~128 bytes each) is expected to fill half of one: a block the pool
// faulted in on another core, where segments doubling from 2 KiB are fresh
// pages the writer faults in itself, ~512 of them per buffer (a crash replay
// fills several buffers on its critical path; BENCHMARKS.md's stop 23).
MemTable::MemTable(size_t expected_bytes, std::shared_ptr<PagePool> pool)
    : pool_(std::move(pool)),
      log_first_bits_(pool_ != nullptr &&
                              expected_bytes / 128 * sizeof(Node*) >= PagePool::kBlock / 2
                          ? std::bit_width(PagePool::kBlock / sizeof(Node*)) - 1
                          : kLogFirstBits) {
  size_t bits = size_t{1} << 16;
  while (bits < expected_bytes / 8) bits <<= 1;
  bloom_ = construct_array<std::atomic<uint64_t>>(bloom_pages_, bits / 64);
  bloom_bits_mask_ = bits - 1;
  block_bytes_.fetch_add(bloom_pages_.get_deleter().size, std::memory_order_relaxed);
  // Room for expected_bytes / 128 keys at half load: a buffer of small
  // entries (~150 bytes each with the log slot) never grows it.
  size_t slots = 1024;
  while (slots < expected_bytes / 64) slots <<= 1;
  indexes_.push_back(std::make_unique<HashIndex>(slots, pool_.get()));
  index_.store(indexes_.back().get(), std::memory_order_release);
  block_bytes_.fetch_add(indexes_.back()->pages.get_deleter().size, std::memory_order_relaxed);
  const size_t size = Node::size_for(kMaxHeight, 0, 0);
  head_ = new (block(size)) Node{};
  head_->height = kMaxHeight;
  for (int i = 0; i < kMaxHeight; ++i) new (&head_->links()[i]) std::atomic<Node*>(nullptr);
  for (auto& c : clears_) c.store(nullptr, std::memory_order_relaxed);
}

MemTable::~MemTable() {
  if (pool_ != nullptr) {
    for (auto& b : blocks_) pool_->give(std::move(b));
    for (auto& index : indexes_) pool_->give(std::move(index->pages));
  }
  for (auto& head : counts_) {
    for (const ProgressNode* n = head.load(std::memory_order_relaxed); n != nullptr;) {
      const ProgressNode* older = n->older;
      delete n;
      n = older;
    }
  }
}

uint64_t MemTable::hash(int db, std::string_view key) {
  return std::hash<std::string_view>{}(key) ^ (static_cast<uint64_t>(db) * 0x9E3779B97F4A7C15ull);
}

void MemTable::bloom_add(uint64_t h) {
  for (int i = 0; i < kBloomProbes; ++i) {
    const uint64_t b = bloom_bit(h, i);
    bloom_[b >> 6].fetch_or(uint64_t{1} << (b & 63), std::memory_order_relaxed);
  }
}

void MemTable::prefetch(uint64_t h) const {
  const HashIndex& t = *indexes_.back();
  __builtin_prefetch(&t.slots[h & t.mask], 1);
  for (int i = 0; i < kBloomProbes; ++i) __builtin_prefetch(&bloom_[bloom_bit(h, i) >> 6], 1);
}

void MemTable::prefetch_filter(uint64_t h) const {
  for (int i = 0; i < kBloomProbes; ++i) __builtin_prefetch(&bloom_[bloom_bit(h, i) >> 6]);
}

bool MemTable::may_contain(uint64_t h) const {
  for (int i = 0; i < kBloomProbes; ++i) {
    const uint64_t b = bloom_bit(h, i);
    if (!(bloom_[b >> 6].load(std::memory_order_relaxed) & (uint64_t{1} << (b & 63))))
      return false;
  }
  return true;
}

// A block of its own, counted in memory_bytes(). Writer thread only.
char* MemTable::block(size_t n) {
  blocks_.push_back(pool_ != nullptr && n == PagePool::kBlock ? pool_->take() : map_pages(n));
  const size_t size = blocks_.back().get_deleter().size;
  block_bytes_.store(block_bytes_.load(std::memory_order_relaxed) + size,
                     std::memory_order_relaxed);
  return blocks_.back().get();
}

// Bump allocation, 8-byte aligned. Writer thread only.
char* MemTable::allocate(size_t n) {
  n = (n + 7) & ~size_t{7};
  used_bytes_.store(used_bytes_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  if (n > block_left_) {
    if (n > kLargeItem) return block(n);
    block_ptr_ = block(kBlockSize);
    block_left_ = kBlockSize;
  }
  char* p = block_ptr_;
  block_ptr_ += n;
  block_left_ -= n;
  return p;
}

// Height h with probability 4^-(h-1) (xorshift64; quality barely matters).
int MemTable::random_height() {
  int h = 1;
  while (h < kMaxHeight) {
    rng_ ^= rng_ << 13;
    rng_ ^= rng_ >> 7;
    rng_ ^= rng_ << 17;
    if ((rng_ & 3) != 0) break;
    ++h;
  }
  return h;
}

// ---------------------------------------------------------------------------
// Searches
// ---------------------------------------------------------------------------
// `before(n)` must be monotone along the list (true, then false).

// Both ends of the split: the last node for which before() is true (or
// head_), and the first for which it is false (or nullptr). The second is
// the link already tested, not last->next(0) read again: re-reading could
// return a node a concurrent insert just put there, which was never tested
// with before() (the concurrent-reader test catches this).
template <class Before>
std::pair<const Node*, const Node*> MemTable::bracket(Before before) const {
  const Node* x = head_;
  const Node* known_after = nullptr;  // already found not before: skip its compare
  int level = height_.load(std::memory_order_relaxed) - 1;
  while (true) {
    const Node* nx = x->next(level);
    if (nx != nullptr && nx != known_after && before(nx)) {
      x = nx;
    } else if (level == 0) {
      return {x, nx};
    } else {
      known_after = nx;
      --level;
    }
  }
}

// The first entry at or after (db, key, visible): the newest entry of the
// key with seq <= visible if there is one, else the first of a later key.
const Node* MemTable::lower_bound(int db, std::string_view key, uint64_t visible) const {
  return first_not_before([&](const Node* n) {
    const int c = compare(n, db, key);
    return c < 0 || (c == 0 && n->seq > visible);
  });
}

const MemTable::ClearMark* MemTable::visible_clear(int db, uint64_t visible) const {
  const ClearMark* c = clears_[db].load(std::memory_order_acquire);
  while (c != nullptr && c->seq > visible) c = c->older.load(std::memory_order_acquire);
  return c;
}

// ---------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------

// The hash index's chain, then the log: the node is fully built, its
// `older` link set, before the release store that makes it reachable by
// get(); the skiplist links come later (ensure_indexed).
void MemTable::insert(uint64_t seq, int db, std::string_view key, uint64_t h, uint8_t kind,
                      const ValueView* value, bool borrow) {
  assert(db >= 0 && db < kDbCount);
  const std::string_view data = value != nullptr ? value->data : std::string_view();
  assert(key.size() <= UINT32_MAX && data.size() <= UINT32_MAX);
  assert(h == hash(db, key));

  bloom_add(h);
  const int height = random_height();
  char* mem = allocate(borrow ? Node::borrowed_size_for(height)
                              : Node::size_for(height, key.size(), data.size()));
  Node* n = new (mem) Node{};
  n->seq = seq;
  n->deadline_ms = value != nullptr ? value->deadline_ms : 0;
  n->key_len = static_cast<uint32_t>(key.size());
  n->data_len = static_cast<uint32_t>(data.size());
  n->ord = next_ord_++;
  n->rank = kNoRank;
  n->db = static_cast<uint8_t>(db);
  n->kind = kind;
  n->type = value != nullptr ? static_cast<uint8_t>(value->type) : 0;
  n->height = static_cast<uint8_t>(height);
  n->borrowed = borrow;
  if (borrow) {
    new (n->bytes()) Node::Borrowed{key.data(), data.data()};
  } else {
    if (!key.empty()) std::memcpy(n->bytes(), key.data(), key.size());
    if (!data.empty()) std::memcpy(n->bytes() + key.size(), data.data(), data.size());
  }

  entries_.store(entries_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  const uint64_t max_seq = max_seq_.load(std::memory_order_relaxed);
  if (seq > max_seq) {
    max_seq_.store(seq, std::memory_order_relaxed);
  } else if (seq < max_seq && !out_of_order_.load(std::memory_order_relaxed)) {
    // Before index_put's release: get() trusts a chain's order without it.
    out_of_order_.store(true, std::memory_order_relaxed);
  }
  index_put(h, n);
  log_append(n);
}

void MemTable::index_put(uint64_t h, Node* n) {
  if ((index_keys_ + 1) * 2 > indexes_.back()->mask + 1) grow_index();
  HashIndex& t = *indexes_.back();
  for (size_t i = h & t.mask;; i = (i + 1) & t.mask) {
    const uintptr_t slot = t.slots[i].load(std::memory_order_relaxed);
    if (slot == 0) {
      n->older = nullptr;
      ++index_keys_;
    } else if (tag_matches(slot, h) && same_key(untagged(slot), n)) {
      n->older = untagged(slot);
    } else {
      continue;
    }
    t.slots[i].store(tagged(n, h), std::memory_order_release);
    return;
  }
}

size_t MemTable::index_room() const {
  const size_t half = (indexes_.back()->mask + 1) / 2;
  return index_keys_ < half ? half - index_keys_ : 0;
}

void MemTable::grow_index() {
  const HashIndex& old = *indexes_.back();
  auto t = std::make_unique<HashIndex>((old.mask + 1) * 2, pool_.get());
  for (size_t i = 0; i <= old.mask; ++i) {
    const uintptr_t slot = old.slots[i].load(std::memory_order_relaxed);
    if (slot == 0) continue;
    const Node* n = untagged(slot);
    const uint64_t h = hash(n->db, n->key());
    size_t j = h & t->mask;
    while (t->slots[j].load(std::memory_order_relaxed) != 0) j = (j + 1) & t->mask;
    t->slots[j].store(slot, std::memory_order_relaxed);
  }
  block_bytes_.store(block_bytes_.load(std::memory_order_relaxed) + t->pages.get_deleter().size,
                     std::memory_order_relaxed);
  indexes_.push_back(std::move(t));
  index_.store(indexes_.back().get(), std::memory_order_release);
}

const Node* MemTable::newest(uint64_t h, int db, std::string_view key) const {
  const HashIndex& t = *index_.load(std::memory_order_acquire);
  for (size_t i = h & t.mask;; i = (i + 1) & t.mask) {
    const uintptr_t slot = t.slots[i].load(std::memory_order_acquire);
    if (slot == 0) return nullptr;
    if (tag_matches(slot, h) && compare(untagged(slot), db, key) == 0) return untagged(slot);
  }
}

// Links the entries [indexed_, log_size) in sorted order. Each search
// starts, level by level, from the furthest of the node the level above
// reached and the previous entry's place at that level (`finger`): an
// entry sorting after everything linked costs a few cached compares, one
// landing among linked nodes a search from there.
void MemTable::ensure_indexed() const {
  const size_t size = log_size();
  if (indexed_.load(std::memory_order_acquire) >= size) return;
  std::lock_guard lock(index_mu_);
  const size_t from = indexed_.load(std::memory_order_relaxed);
  if (from >= size) return;
  std::vector<SortKey> batch;
  batch.reserve(size - from);
  for (size_t i = from; i < size; ++i) batch.emplace_back(log_node(i));
  std::sort(batch.begin(), batch.end());
  // The first linking (a frozen buffer's, when nobody iterated it while it
  // took writes) also keeps the order as an array, so a walk can prefetch
  // the nodes ahead of it: a list walk alone would miss on every node.
  // A node gets its rank just before it is linked, after run_ is whole: a
  // reader that reaches a ranked node through the list sees all of run_.
  const bool ranked = from == 0 && size < kNoRank;
  if (ranked) {
    run_.reserve(batch.size());
    for (const SortKey& k : batch) run_.push_back(k.node);
  }

  Node* finger[kMaxHeight];
  for (auto& f : finger) f = head_;
  for (size_t b = 0; b < batch.size(); ++b) {
    if (b + 8 < batch.size()) __builtin_prefetch(batch[b + 8].node);
    Node* n = const_cast<Node*>(batch[b].node);  // the links are the index's to write
    const int top = height_.load(std::memory_order_relaxed);
    Node* prev[kMaxHeight];
    if (from == 0) {
      // The first linking fills an empty list in order: each node goes
      // after the last one linked at each of its levels, with no
      // comparison (each would read two nodes' keys).
      std::copy(finger, finger + top, prev);
    } else {
      Node* x = head_;
      for (int level = top - 1; level >= 0; --level) {
        Node* f = finger[level];
        if (f != head_ && f != x && (x == head_ || sorts_before(x, f))) x = f;
        while (true) {
          Node* nx = x->links()[level].load(std::memory_order_relaxed);
          if (nx == nullptr || !sorts_before(nx, n)) break;
          x = nx;
        }
        prev[level] = x;
      }
    }
    const int height = n->height;
    if (height > top) {
      for (int i = top; i < height; ++i) prev[i] = head_;
      // Readers that see the new height before the node find null or the
      // new node at the head's upper levels; both are correct.
      height_.store(height, std::memory_order_relaxed);
    }
    if (ranked) n->rank = static_cast<uint32_t>(b);
    for (int i = 0; i < height; ++i) {
      new (&n->links()[i]) std::atomic<Node*>(prev[i]->links()[i].load(std::memory_order_relaxed));
    }
    for (int i = 0; i < height; ++i) prev[i]->links()[i].store(n, std::memory_order_release);
    for (int i = 0; i < std::max(top, height); ++i) finger[i] = i < height ? n : prev[i];
  }
  indexed_.store(size, std::memory_order_release);
}

// Entry i lives in segment s = bit_width(i + F) - 1 - log2(F), at
// i + F - (F << s), F = log_first() (log_node); the writer just fills
// the current segment, and starts the next one, a block of its own, when it
// is full. bytes() grows by the slot, not by the segment, so the freeze
// threshold moves smoothly. The release store publishes the slot, the
// segment and the out-of-order flag.
void MemTable::log_append(const Node* n) {
  if (log_room_ == 0) log_grow();
  *log_next_++ = n;
  --log_room_;
  used_bytes_.store(used_bytes_.load(std::memory_order_relaxed) + sizeof(Node*),
                    std::memory_order_relaxed);
  std::atomic<uint64_t>& dbs = log_dbs_[n->db >> 6];
  const uint64_t bits = dbs.load(std::memory_order_relaxed);
  const uint64_t bit = uint64_t{1} << (n->db & 63);
  if ((bits & bit) == 0) dbs.store(bits | bit, std::memory_order_relaxed);
  log_size_.store(log_size_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
}

void MemTable::log_grow() {
  const size_t s = log_segments_++;
  assert(s < log_.size());
  const size_t entries = log_first() << s;
  log_[s] = reinterpret_cast<const Node**>(block(sizeof(Node*) * entries));
  log_next_ = log_[s];
  log_room_ = entries;
}

void MemTable::put(uint64_t seq, int db, std::string_view key, const ValueView& value) {
  insert(seq, db, key, hash(db, key), kPut, &value, false);
}

void MemTable::put_borrowed(uint64_t seq, int db, std::string_view key, const ValueView& value) {
  insert(seq, db, key, hash(db, key), kPut, &value, true);
}

void MemTable::put_borrowed(uint64_t seq, int db, std::string_view key, const ValueView& value,
                            uint64_t h) {
  insert(seq, db, key, h, kPut, &value, true);
}

void MemTable::hold(std::shared_ptr<const void> owner) {
  if (held_.empty() || held_.back() != owner) held_.push_back(std::move(owner));
}

void MemTable::del(uint64_t seq, int db, std::string_view key) {
  insert(seq, db, key, hash(db, key), kDel, nullptr, false);
}

// Inserts the marker at its place in the newest-first list; with
// non-decreasing seqs that is the front.
void MemTable::clear(uint64_t seq, int db) {
  assert(db >= 0 && db < kDbCount);
  auto* c = new (allocate(sizeof(ClearMark))) ClearMark{seq, next_ord_++, {nullptr}};
  std::atomic<ClearMark*>* link = &clears_[db];
  ClearMark* at = link->load(std::memory_order_relaxed);
  while (at != nullptr && at->seq > seq) {
    link = &at->older;
    at = link->load(std::memory_order_relaxed);
  }
  c->older.store(at, std::memory_order_relaxed);
  link->store(c, std::memory_order_release);
  if (seq > max_seq_.load(std::memory_order_relaxed)) {
    max_seq_.store(seq, std::memory_order_relaxed);
  }
}

void MemTable::clear_all(uint64_t seq) {
  for (int db = 0; db < kDbCount; ++db) clear(seq, db);
}

// Appends the marker, fully built, with a release store; counted as an
// entry so a memtable holding only a swap still freezes by age.
void MemTable::swap(uint64_t seq, int a, int b) {
  assert(a >= 0 && a < kDbCount && b >= 0 && b < kDbCount);
  auto* m = new (allocate(sizeof(SwapMark)))
      SwapMark{seq, static_cast<uint8_t>(a), static_cast<uint8_t>(b), {nullptr}};
  if (swaps_tail_ == nullptr) {
    swaps_.store(m, std::memory_order_release);
  } else {
    swaps_tail_->newer.store(m, std::memory_order_release);
  }
  swaps_tail_ = m;
  entries_.store(entries_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  if (seq > max_seq_.load(std::memory_order_relaxed)) {
    max_seq_.store(seq, std::memory_order_relaxed);
  }
}

void MemTable::apply_swaps(uint64_t visible, std::vector<uint8_t>* map) const {
  for (const SwapMark* m = swaps_.load(std::memory_order_acquire); m != nullptr;
       m = m->newer.load(std::memory_order_acquire)) {
    if (m->seq > visible) break;
    std::swap((*map)[m->a], (*map)[m->b]);
  }
}

// ---------------------------------------------------------------------------
// Readers
// ---------------------------------------------------------------------------

MemTable::Found MemTable::get(uint64_t h, int db, std::string_view key, uint64_t visible) const {
  assert(db >= 0 && db < kDbCount);
  assert(h == hash(db, key));
  Found f;
  const Node* n = may_contain(h) ? newest(h, db, key) : nullptr;
  // The chain runs newest insertion first: with seqs in order its first
  // visible entry is the newest visible; otherwise the highest visible seq
  // wins, the newest insertion on a tie.
  if (!out_of_order_.load(std::memory_order_relaxed)) {
    while (n != nullptr && n->seq > visible) n = n->older;
  } else {
    const Node* best = nullptr;
    for (; n != nullptr; n = n->older) {
      if (n->seq <= visible && (best == nullptr || n->seq > best->seq)) best = n;
    }
    n = best;
  }
  // The entry before the marker: a clear is inserted before the entries
  // that follow it, so seeing an entry implies seeing its clear.
  const ClearMark* c = visible_clear(db, visible);
  // A marker hides an entry that came before it in log order: by seq, then
  // by insertion within one group.
  const bool hidden =
      c != nullptr && n != nullptr && (n->seq < c->seq || (n->seq == c->seq && n->ord < c->ord));
  if (n != nullptr && !hidden) {
    fill(&f, n);
  } else if (c != nullptr) {
    f.kind = Kind::kCleared;
    f.seq = c->seq;
  }
  return f;
}

const Node* MemTable::log_node(size_t i) const {
  const size_t j = i + log_first();
  const int s = std::bit_width(j) - 1 - log_first_bits_;
  return log_[s][j - (log_first() << s)];
}

// With seqs in insertion order, the chain's next entry is the version this
// entry replaced.
MemTable::LogEntry MemTable::log_entry(size_t i) const {
  const Node* n = log_node(i);
  const Node* older = n->older;
  const int before = older == nullptr ? -1 : older->kind == kPut ? 1 : 0;
  return {n->seq,
          n->db,
          n->key(),
          n->kind == kPut,
          n->kind == kPut && n->deadline_ms != 0,
          before,
          before == 1 && older->deadline_ms != 0};
}

MemTable::CountProgress MemTable::count_progress(int db) const {
  const ProgressNode* n = counts_[static_cast<size_t>(db)].load(std::memory_order_acquire);
  return n != nullptr ? n->progress : CountProgress{};
}

void MemTable::advance_count(int db, CountProgress p) const {
  std::atomic<const ProgressNode*>& head = counts_[static_cast<size_t>(db)];
  const ProgressNode* cur = head.load(std::memory_order_acquire);
  auto far_enough = [&] { return p.scanned >= (cur ? cur->progress.scanned : 0) + kCountStep; };
  if (!far_enough()) return;
  auto* n = new ProgressNode{p, cur};
  while (
      !head.compare_exchange_weak(cur, n, std::memory_order_acq_rel, std::memory_order_acquire)) {
    if (!far_enough()) {
      delete n;
      return;
    }
    n->older = cur;
  }
}

uint64_t MemTable::cleared_at(int db, uint64_t visible) const {
  assert(db >= 0 && db < kDbCount);
  const ClearMark* c = visible_clear(db, visible);
  return c != nullptr ? c->seq : 0;
}

// ---------------------------------------------------------------------------
// Iterator
// ---------------------------------------------------------------------------
// The position is always the newest visible, unhidden entry of a key. Moving
// on steps linearly over a few older versions, then searches, so a hot key
// with many versions costs O(log n), not O(versions).

namespace {

constexpr int kLinearSteps = 4;

}  // namespace

MemTable::Iterator::Iterator(const MemTable& m, int db, uint64_t visible)
    : m_(&m), db_(db), visible_(visible) {
  assert(db >= 0 && db < kDbCount);
  m.ensure_indexed();
  if (const ClearMark* c = m.visible_clear(db, visible)) {
    has_clear_ = true;
    clear_seq_ = c->seq;
    clear_ord_ = c->ord;
  }
}

std::string_view MemTable::Iterator::key() const {
  assert(valid());
  return node_->key();
}

bool MemTable::Iterator::hidden(const Node* n) const {
  return has_clear_ && (n->seq < clear_seq_ || (n->seq == clear_seq_ && n->ord < clear_ord_));
}

// The first node of the key after n's.
const Node* MemTable::Iterator::after_key(const Node* n) const {
  const Node* x = n->next(0);
  for (int steps = 0; x != nullptr && same_key(x, n); ++steps) {
    if (steps < kLinearSteps) {
      x = x->next(0);
    } else {
      const std::string_view k = n->key();
      x = m_->first_not_before([&](const Node* y) { return compare(y, db_, k) <= 0; });
    }
  }
  return x;
}

// `n` is the first node of some key (or null, or another db's).
void MemTable::Iterator::settle_forward(const Node* n) {
  while (n != nullptr && n->db == db_) {
    const Node* first = n;
    const Node* m = n;
    for (int steps = 0; m != nullptr && m->seq > visible_ && same_key(m, first); ++steps) {
      m = steps < kLinearSteps ? m->next(0) : m_->lower_bound(db_, first->key(), visible_);
    }
    if (m == nullptr || !same_key(m, first)) {
      n = m;  // no visible version: m is the next key's first node
      continue;
    }
    if (!hidden(m)) {
      node_ = m;
      fill(&found_, m);
      return;
    }
    n = after_key(m);  // older versions are hidden too
  }
  node_ = nullptr;
}

// `p` is the last (oldest) node of some key, or head_, or another db's.
void MemTable::Iterator::settle_backward(const Node* p) {
  while (p != m_->head_ && p->db == db_) {
    const std::string_view k = p->key();
    if (p->seq <= visible_) {
      const Node* m = m_->lower_bound(db_, k, visible_);  // a node of k: p qualifies
      if (!hidden(m)) {
        node_ = m;
        fill(&found_, m);
        return;
      }
    }
    p = m_->last_before([&](const Node* x) { return compare(x, db_, k) < 0; });
  }
  node_ = nullptr;
}

void MemTable::Iterator::seek(std::string_view key) {
  settle_forward(m_->first_not_before([&](const Node* x) { return compare(x, db_, key) < 0; }));
}

void MemTable::Iterator::seek_after(std::string_view key) {
  settle_forward(m_->first_not_before([&](const Node* x) { return compare(x, db_, key) <= 0; }));
}

void MemTable::Iterator::seek_to_first() {
  settle_forward(m_->first_not_before([&](const Node* x) { return x->db < db_; }));
}

void MemTable::Iterator::seek_for_prev(std::string_view key) {
  settle_backward(m_->last_before([&](const Node* x) { return compare(x, db_, key) <= 0; }));
}

void MemTable::Iterator::seek_before(std::string_view key) {
  settle_backward(m_->last_before([&](const Node* x) { return compare(x, db_, key) < 0; }));
}

void MemTable::Iterator::seek_to_last() {
  settle_backward(m_->last_before([&](const Node* x) { return x->db <= db_; }));
}

void MemTable::Iterator::next() {
  assert(valid());
  if (node_->rank != kNoRank && node_->rank + kPrefetchAhead < m_->run_.size()) {
    const char* ahead = reinterpret_cast<const char*>(m_->run_[node_->rank + kPrefetchAhead]);
    __builtin_prefetch(ahead);
    __builtin_prefetch(ahead + 64);  // the key, past the links
  }
  settle_forward(after_key(node_));
}

void MemTable::Iterator::prev() {
  assert(valid());
  const std::string_view k = node_->key();
  settle_backward(m_->last_before([&](const Node* x) { return compare(x, db_, k) < 0; }));
}

}  // namespace lmkv::store
