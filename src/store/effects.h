// store/effects.h: the log's payload format (DESIGN.md "Writes").
//
// A writer group's effects are blind, idempotent commands written as RESP
// arrays, exactly the bytes a replica will receive:
//   SELECT db | SET key value [PXAT ms] | DEL key | FLUSHDB | FLUSHALL | SWAPDB a b
// Replaying any suffix of the log twice gives the same state. The encoder
// is here, not in resp/, because this is the store's on-disk format (store
// may not depend on resp); it writes only arrays of bulk strings.
// Pure functions, any thread.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace lmkv::store {

// Appends one effect, "*N\r\n$len\r\narg\r\n...", to *out.
void append_effect(std::string* out, std::initializer_list<std::string_view> args);

// The effects a replay acts on; kOther is a stream-only record (PING,
// REPLCONF) that changes no data.
enum class EffectOp : uint8_t { kSet, kDel, kSelect, kFlushDb, kFlushAll, kSwapDb, kOther };
// An effect's name, in any case (the log holds upper case).
EffectOp effect_op(std::string_view name);

// One parsed effect: what it does, and where its arguments (its name first)
// are in the list parse_effects appended them to.
struct EffectRef {
  EffectOp op;
  uint32_t first;  // its name's index in that list
  uint32_t count;  // its arguments, the name included
};

// Appends each effect of a payload, in order, to *effects, and its arguments
// to *args, in one pass (a replay parses every logged byte: no call per
// effect, no argument copied twice). A payload that is not a sequence of
// whole arrays of bulk strings is an error, after which both lists hold a
// part: the frame's CRC matched, so this is a bug or a foreign file, never a
// torn write.
Status parse_effects(std::string_view payload, std::vector<std::string_view>* args,
                     std::vector<EffectRef>* effects);

}  // namespace lmkv::store
