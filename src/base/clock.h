// base/clock.h: wall-clock and monotonic time in the units Redis uses.
#pragma once

#include <cstdint>

namespace lmkv {

// Unix time in milliseconds (deadlines, TIME).
int64_t unix_ms();
// Unix time in microseconds (TIME).
int64_t unix_us();
// Monotonic milliseconds (uptime, idle times).
int64_t mono_ms();
// Monotonic microseconds (the engine's pacing and timings).
int64_t mono_us();

}  // namespace lmkv
