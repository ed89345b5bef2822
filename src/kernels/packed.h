// Block-quantized weights repacked for the CPU GEMM kernels: rows in groups of
// 16, each group stored as its blocks one after another, and inside a block
// the quantized values of the 16 rows interleaved 4 at a time, so one 64-byte
// load holds 4 consecutive values of 16 rows. A VNNI dot product against 4
// activation bytes broadcast to all lanes then accumulates a block for 16 rows
// in one register: 8 dot products per 32-value block and token, then one float
// conversion and scale, instead of a conversion per dot product in the row
// layout. Rows past the matrix's last row (the last group's padding) are zero.
//
// Q4_K x16, per group and super-block (2304 bytes, as 16 x 144 in GGUF, so
// decode reads no more than the checkpoint's bytes):
//   d[16], dmin[16]       f16                                      64 bytes
//   sl[64], ml[64]        low 4 bits of the 6-bit scales, mins:   128 bytes
//                         value v = 16 j + r (sub-block j, row r) in
//                         byte v % 64, low nibble if v < 64
//   hb[64]                their high 2 bits: byte v % 64, bits
//                         2 (v / 64) (scales) and 4 + 2 (v / 64) (mins)  64 bytes
//   qs[8][4][16][4]       sub-block j, load h, row r, byte i:    2048 bytes
//                         low nibble  = value 32j + 8h + i,
//                         high nibble = value 32j + 8h + 4 + i
// The kernels widen the scales and mins to bytes once per super-block
// (scales(): sc[8][16] then m[8][16], the order of v).
// Q5_K x16, per group and super-block (2816 bytes, as 16 x 176 in GGUF): Q4_K
// x16's 2304 bytes for the scales, mins and low 4 bits, then
//   qh[8][4][2]           sub-block j, load h, nibble e: a 64-bit   512 bytes
//                         mask (little-endian), bit 4 r + i = the fifth bit of
//                         row r's value 32j + 8h + 4e + i (the byte of qs that
//                         holds its low 4 bits, as an AVX-512 byte mask)
// Q6_K x16, per group and super-block (3360 bytes, as 16 x 210 in GGUF;
// value = d sc (q - 32), q in [0, 63]):
//   qs[8][4][16][4]       the low 4 bits, placed as Q4_K x16's     2048 bytes
//   qh[8][2][16][4]       sub-block j, half p, row r, byte i:      1024 bytes
//                         bits 2m, 2m + 1 = the high 2 bits of row r's value
//                         32j + 16p + 4m + i (the 16 values of GGUF's
//                         sub-block 2j + p; m = 2 (h % 2) + nibble for the
//                         qs byte of load h = 2p + m / 2 that holds its low bits)
//   d[16]                 f16                                        32 bytes
//   sc[16][16]            int8 scale of sub-block k (values 16k ..  256 bytes
//                         16k + 15), row r
// Q8_0 x16, per group and block (544 bytes, as 16 x 34 in GGUF):
//   d[16]                 f16                                    32 bytes
//   qs[8][16][4]          u8 = q + 128 (VNNI's unsigned operand): 512 bytes
//                         quad h, row r, byte i = value 4h + i
// Q4_0 x16, per group and block (288 bytes, as 16 x 18 in GGUF):
//   d[16]                 f16                                    32 bytes
//   qs[4][16][4]          GGUF's bytes, load h, row r, byte i = qs[4h + i]:
//                         low nibble = value 4h + i, high = 16 + 4h + i
//                         (value = d (q - 8))                    256 bytes
// Q5_0 x16, per group and block (352 bytes, as 16 x 22 in GGUF): Q4_0 x16's
// 288 bytes for d and the low 4 bits (value = d (q - 16)), then
//   qh[4][2]              load h, nibble p: a 64-bit mask, bit   64 bytes
//                         4 r + i = the fifth bit of row r's value 16p + 4h + i
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/dtype.h"
#include "kernels/weight.h"

namespace dsinfer::kernels::packed {

inline constexpr int kGroupRows = 16;

namespace q4k {
inline constexpr int64_t kBlockBytes = 64 + 192 + 2048;
inline constexpr int64_t kScalesOffset = 64;  // sl[64], ml[64], hb[64]
inline constexpr int64_t kQsOffset = 256;     // qs[8][4][64]
inline constexpr int kScales = 128;           // 6-bit scales (and as many mins) per block
// Word indices that pair lane l's mins of two consecutive sub-blocks (bytes l
// and 16 + l of 32 mins, widened to words) in 32-bit lane l, for vpdpwssd
// against two activation block sums.
alignas(64) inline constexpr uint16_t kMinPairs[32] = {0, 16, 1, 17, 2,  18, 3,  19, 4,  20, 5,  21, 6,  22, 7,  23,
                                                       8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
// Scale (mins: false) or min (true) v = 16 j + r of a packed block.
inline uint8_t scale_min(const uint8_t* blk, int v, bool mins) {
  const int k = v % 64, half = v / 64;
  const int low = (blk[kScalesOffset + (mins ? 64 : 0) + k] >> (4 * half)) & 0xf;
  const int high = (blk[kScalesOffset + 128 + k] >> ((mins ? 4 : 0) + 2 * half)) & 3;
  return static_cast<uint8_t>(low | high << 4);
}
// All of a block's scales then mins as bytes: out[v], out[kScales + v].
inline void scales(const uint8_t* blk, uint8_t* out) {
  for (int v = 0; v < kScales; ++v) {
    out[v] = scale_min(blk, v, false);
    out[kScales + v] = scale_min(blk, v, true);
  }
}
}  // namespace q4k

namespace q5k {
inline constexpr int64_t kQhOffset = q4k::kBlockBytes;  // qh[8][4][2] 64-bit masks
inline constexpr int64_t kBlockBytes = q4k::kBlockBytes + 512;
// Byte offset of the mask for sub-block j, load h, nibble e (0: low).
constexpr int64_t mask_at(int j, int h, int e) { return kQhOffset + 16 * (4 * j + h) + 8 * e; }
}  // namespace q5k

namespace q6k {
inline constexpr int64_t kQsOffset = 0;      // qs[8][4][64]
inline constexpr int64_t kQhOffset = 2048;   // qh[8][2][64]
inline constexpr int64_t kDOffset = 3072;    // d[16]
inline constexpr int64_t kScOffset = 3104;   // sc[16][16]
inline constexpr int64_t kBlockBytes = 3360;
// The 64 bytes of high bits for sub-block j, half p.
constexpr int64_t qh_at(int j, int p) { return kQhOffset + 64 * (2 * j + p); }
}  // namespace q6k

namespace q5 {
inline constexpr int64_t kQhOffset = 32 + 256;  // qh[4][2] 64-bit masks
inline constexpr int64_t kBlockBytes = kQhOffset + 64;
constexpr int64_t mask_at(int h, int p) { return kQhOffset + 16 * h + 8 * p; }
}  // namespace q5

namespace q8 {
inline constexpr int64_t kBlockBytes = 32 + 512;
inline constexpr int64_t kQsOffset = 32;  // qs[8][64]
}  // namespace q8

namespace q4 {
inline constexpr int64_t kBlockBytes = 32 + 256;
inline constexpr int64_t kQsOffset = 32;  // qs[4][64]
}  // namespace q4

// True for the types with a packed layout (Q4_K, Q5_K, Q6_K, Q8_0, Q4_0, Q5_0).
bool has_layout(DType t);
inline int64_t groups(int64_t rows) { return (rows + kGroupRows - 1) / kGroupRows; }
int64_t group_bytes(DType t, int64_t cols);
inline size_t packed_bytes(DType t, int64_t rows, int64_t cols) {
  return static_cast<size_t>(groups(rows) * group_bytes(t, cols));
}

// Where group g of a packed matrix starts, and its stripe's origin: the
// address o with o + g' * group_bytes at group g' for every g' of g's stripe
// (Weight::stripe_groups; the matrix's data for an unstriped one).
inline const uint8_t* group_origin(const Weight& w, int64_t g, int64_t gbytes) {
  const auto* d = static_cast<const uint8_t*>(w.data);
  if (!w.stripe_groups) return d;
  const int64_t k = g / w.stripe_groups;
  return d + k * (w.stripe_bytes - w.stripe_groups * gbytes);
}
inline const uint8_t* group_ptr(const Weight& w, int64_t g, int64_t gbytes) { return group_origin(w, g, gbytes) + g * gbytes; }

// Repacks groups [g0, g1) of a whole stored matrix (row0 == 0) into `out`,
// which holds packed_bytes(w.dtype, w.rows, w.cols) bytes.
void pack_groups(const Weight& w, int64_t g0, int64_t g1, uint8_t* out);

// The inverse: groups [g0, g1) of a whole packed matrix back into GGUF's row
// layout in `out` (row_bytes(w.dtype, w.cols) per row, w.rows rows). Exact:
// unpacking a packed matrix gives back the bytes it was packed from.
void unpack_groups(const Weight& w, int64_t g0, int64_t g1, uint8_t* out);

// The packed weight's view: same dtype and shape, data = the packed bytes.
Weight packed_view(const Weight& w, const uint8_t* packed);

// Row r of a packed view (0-based within the view) as floats.
void dequant_row(const Weight& w, int64_t r, float* out);

}  // namespace dsinfer::kernels::packed
