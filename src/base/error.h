// base/error.h: the one error type (Error{Code, message}) and Result<T>.
// Knows nothing of RESP or LMDB: resp/errors.cc maps each Code to its wire
// prefix, store/ turns LMDB codes into Errors at its boundary.
// Safe from any thread.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace lmkv {

// The class of an error; each maps to one Redis error prefix (resp/errors.cc).
enum class Code {
  kErr,         // -ERR
  kWrongType,   // -WRONGTYPE
  kNoAuth,      // -NOAUTH
  kWrongPass,   // -WRONGPASS
  kNoPerm,      // -NOPERM
  kReadOnly,    // -READONLY
  kLoading,     // -LOADING
  kMasterDown,  // -MASTERDOWN
  kExecAbort,   // -EXECABORT
  kOom,         // -OOM
  kNoReplicas,  // -NOREPLICAS
  kBusyKey,     // -BUSYKEY
  kNoProto,     // -NOPROTO (HELLO with an unsupported protocol version)
};

// An error with its message, without the prefix: {kErr, "syntax error"}
// is sent as "-ERR syntax error".
struct Error {
  Code code = Code::kErr;
  std::string message;
};

inline Error err(std::string message) { return Error{Code::kErr, std::move(message)}; }

// Result<T> holds a T or an Error (std::expected arrives only in C++23).
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& operator*() { assert(ok()); return std::get<0>(v_); }
  const T& operator*() const { assert(ok()); return std::get<0>(v_); }
  T* operator->() { return &**this; }
  const T* operator->() const { return &**this; }
  const Error& error() const { assert(!ok()); return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Result<void>: success or an Error.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { assert(!ok_); return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace lmkv
