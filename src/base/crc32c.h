// base/crc32c.h: CRC-32C (Castagnoli), the checksum of log frames. Uses the
// SSE4.2 instruction when the CPU has it, a table otherwise. Any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace lmkv {

// Extends `crc` (0 to start) over data.
uint32_t crc32c(uint32_t crc, const void* data, size_t len);
inline uint32_t crc32c(std::string_view s) { return crc32c(0, s.data(), s.size()); }

}  // namespace lmkv
