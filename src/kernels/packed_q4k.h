// Q4_K weights repacked for the CPU GEMM kernels ("Q4_K x16"): rows in groups
// of 16, each group stored as its super-blocks one after another, and inside a
// super-block the nibbles of the 16 rows interleaved 4 values at a time, so one
// 64-byte load holds 4 consecutive values of 16 rows in its low nibbles and the
// next 4 in its high nibbles. A VNNI dot product against 4 activation bytes
// broadcast to all lanes then accumulates one sub-block for 16 rows in one
// register: 8 dot products per sub-block and token, then one float conversion
// and scale, instead of a conversion per dot product in the row layout.
//
// Per group and super-block (kSuperBytes = 2368, vs 16 x 144 = 2304 in GGUF):
//   d[16], dmin[16]       f16                                    64 bytes
//   sc[8][16], m[8][16]   u8, the 6-bit scales and mins unpacked  256 bytes
//   qs[8][4][16][4]       sub-block j, load h, row r, byte i:    2048 bytes
//                         low nibble  = value 32j + 8h + i,
//                         high nibble = value 32j + 8h + 4 + i
// Rows past the matrix's last row (the last group's padding) are zero.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/weight.h"

namespace dsinfer::kernels::q4kx16 {

inline constexpr int kRows = 16;
inline constexpr int64_t kSuperBytes = 64 + 256 + 2048;
inline constexpr int64_t kScOffset = 64;    // sc[8][16]
inline constexpr int64_t kMinOffset = 192;  // m[8][16]
inline constexpr int64_t kQsOffset = 320;   // qs[8][4][64]

inline int64_t groups(int64_t rows) { return (rows + kRows - 1) / kRows; }
inline int64_t group_bytes(int64_t cols) { return cols / 256 * kSuperBytes; }
inline size_t packed_bytes(int64_t rows, int64_t cols) {
  return static_cast<size_t>(groups(rows) * group_bytes(cols));
}

// Repacks groups [g0, g1) of a Q4_K weight (a whole stored matrix: row0 == 0)
// into `out`, which holds packed_bytes(w.rows, w.cols) bytes.
void pack_groups(const Weight& w, int64_t g0, int64_t g1, uint8_t* out);

// The packed weight's view: same dtype and shape, data = the packed bytes.
Weight packed_view(const Weight& w, const uint8_t* packed);

// Row r of a packed view (0-based within the view) as floats.
void dequant_row(const Weight& w, int64_t r, float* out);

}  // namespace dsinfer::kernels::q4kx16
