// store/read_view.h: the read side of the store, one per loop.
//
// A ReadView wraps a short LMDB read transaction that is begun lazily on the
// first read and reset (not aborted) by end() after each batch of commands,
// then renewed on the next read: nothing pins a snapshot across a client's
// think time. Reads never wait for the writer. Expired keys are invisible.
//
// It is the seam for the write path issue: it will grow buffer layers and a
// visible_seq, and every reader goes through it, so commands do not change.
// Used by one thread at a time (the owning loop); values it returns view
// into LMDB pages and are valid until end().
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"
#include "store/env.h"
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
  explicit ReadView(Env& env) : env_(env) {}
  ~ReadView();
  ReadView(const ReadView&) = delete;
  ReadView& operator=(const ReadView&) = delete;

  // Resets the transaction; the next read renews it. Call after each batch.
  void end();

  // The live value of `key` in database `db`, or nullopt if absent, expired
  // or too long to exist.
  Result<std::optional<ValueView>> get(int db, std::string_view key, int64_t now_ms);

  // Keys in `db`, counting expired keys not yet deleted (as Redis's DBSIZE).
  Result<uint64_t> dbsize(int db);

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
  Env& env_;
  MDB_txn* txn_ = nullptr;
  bool active_ = false;
  std::string keybuf_;
};

}  // namespace lmkv::store
