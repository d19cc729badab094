// store/read_view.cc: lazily begun, reset-and-renewed read transactions,
// point reads and ordered range scans.
#include "store/read_view.h"

#include <cassert>

namespace lmkv::store {
namespace {

std::string_view as_view(const MDB_val& v) {
  return {static_cast<const char*>(v.mv_data), v.mv_size};
}

MDB_val as_val(const std::string& s) { return {s.size(), const_cast<char*>(s.data())}; }

// A cursor closed on every path out of scan(); read-only cursors are not
// freed by the transaction.
struct Cursor {
  MDB_cursor* c = nullptr;
  ~Cursor() {
    if (c) mdb_cursor_close(c);
  }
};

// Replaces a bound longer than any key by a key-sized one that selects the
// same keys. With T the first kMaxKeySize bytes of B, every key k that fits
// satisfies k < B exactly when k <= T (k == T is a proper prefix of B, and a
// key greater than T must differ from T within T's length, so it is also
// greater than B), and no key equals B. So "k >= B" and "k > B" both become
// "k > T", and "k <= B" and "k < B" both become "k <= T".
Bound clamp(Bound b, bool is_lo) {
  if (b.infinite || b.key.size() <= kMaxKeySize) return b;
  b.key = b.key.substr(0, kMaxKeySize);
  b.inclusive = !is_lo;
  return b;
}

bool above_lo(std::string_view k, const Bound& lo) {
  return lo.infinite || (lo.inclusive ? k >= lo.key : k > lo.key);
}

bool below_hi(std::string_view k, const Bound& hi) {
  return hi.infinite || (hi.inclusive ? k <= hi.key : k < hi.key);
}

}  // namespace

// Aborting (rather than resetting) releases the reader slot the handle
// keeps under MDB_NOTLS.
ReadView::~ReadView() {
  if (txn_) mdb_txn_abort(txn_);
}

void ReadView::end() {
  if (!active_) return;
  mdb_txn_reset(txn_);
  active_ = false;
}

// The first read after construction begins a transaction; later ones renew
// the reset handle, which reuses its reader slot and costs no allocation.
// A handle whose renewal failed is dropped, so the next read starts afresh.
Status ReadView::begin() {
  if (active_) return {};
  if (txn_) {
    if (int rc = mdb_txn_renew(txn_)) {
      mdb_txn_abort(txn_);
      txn_ = nullptr;
      return lmdb_error(rc, "txn_renew");
    }
  } else if (int rc = mdb_txn_begin(env_.raw(), nullptr, MDB_RDONLY, &txn_)) {
    txn_ = nullptr;
    return lmdb_error(rc, "txn_begin");
  }
  active_ = true;
  return {};
}

Result<std::optional<ValueView>> ReadView::get(int db, std::string_view key, int64_t now_ms) {
  assert(db >= 0 && db < env_.databases());
  if (!key_fits(key)) return std::optional<ValueView>{};
  if (auto s = begin(); !s) return s.error();
  encode_key(key, &keybuf_);
  MDB_val k = as_val(keybuf_), v;
  const int rc = mdb_get(txn_, env_.dbi(db), &k, &v);
  if (rc == MDB_NOTFOUND) return std::optional<ValueView>{};
  if (rc) return lmdb_error(rc, "get");
  auto value = decode_value(as_view(v));
  if (!value) return err("LMDB get: corrupt value");
  if (value->expired(now_ms)) return std::optional<ValueView>{};
  return value;
}

Result<uint64_t> ReadView::dbsize(int db) {
  assert(db >= 0 && db < env_.databases());
  if (auto s = begin(); !s) return s.error();
  MDB_stat st;
  if (int rc = mdb_stat(txn_, env_.dbi(db), &st)) return lmdb_error(rc, "stat");
  return static_cast<uint64_t>(st.ms_entries);
}

// Positions a cursor at the first key of the range in the scan's direction
// with one MDB_SET_RANGE (plus at most one step), then walks until the far
// bound or the end of the user namespace. Keys outside the user namespace
// sort after every user key (their first byte is above 0x00), so reaching
// one ends a forward scan, and a reverse scan starts below them.
// The visitor must not call end() on this view.
Result<uint64_t> ReadView::scan(int db, const Bound& lo_in, const Bound& hi_in, bool reverse,
                                int64_t now_ms, const Visitor& visit) {
  assert(db >= 0 && db < env_.databases());
  if (auto s = begin(); !s) return s.error();
  const Bound lo = clamp(lo_in, true);
  const Bound hi = clamp(hi_in, false);

  Cursor cur;
  if (int rc = mdb_cursor_open(txn_, env_.dbi(db), &cur.c)) return lmdb_error(rc, "cursor_open");

  MDB_val k, v;
  int rc;
  if (!reverse) {
    encode_key(lo.infinite ? std::string_view() : lo.key, &keybuf_);
    k = as_val(keybuf_);
    rc = mdb_cursor_get(cur.c, &k, &v, MDB_SET_RANGE);
  } else {
    // "\x01" is just past every user key.
    if (hi.infinite) {
      keybuf_.assign(1, '\x01');
    } else {
      encode_key(hi.key, &keybuf_);
    }
    k = as_val(keybuf_);
    rc = mdb_cursor_get(cur.c, &k, &v, MDB_SET_RANGE);
    if (rc == MDB_NOTFOUND) {
      rc = mdb_cursor_get(cur.c, &k, &v, MDB_LAST);
    } else if (rc == 0) {
      auto user = decode_key(as_view(k));
      if (!user || !below_hi(*user, hi)) rc = mdb_cursor_get(cur.c, &k, &v, MDB_PREV);
    }
  }

  const MDB_cursor_op step = reverse ? MDB_PREV : MDB_NEXT;
  uint64_t stepped = 0;
  for (; rc == 0; rc = mdb_cursor_get(cur.c, &k, &v, step)) {
    auto user = decode_key(as_view(k));
    if (!user) break;
    // The start bound can only fail on the first key (an exclusive bound
    // that exists); the far bound ends the scan.
    if (reverse ? !below_hi(*user, hi) : !above_lo(*user, lo)) continue;
    if (reverse ? !above_lo(*user, lo) : !below_hi(*user, hi)) break;
    ++stepped;
    auto value = decode_value(as_view(v));
    if (!value) return err("LMDB scan: corrupt value");
    if (value->expired(now_ms)) continue;
    if (!visit(*user, *value)) break;
  }
  if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_error(rc, "cursor_get");
  return stepped;
}

}  // namespace lmkv::store
