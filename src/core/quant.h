// Block-quantized weight types, bit-compatible with GGUF's Q8_0, Q4_0, Q5_0,
// Q4_K, Q5_K and Q6_K, so GGUF tensors can be used in place. A row of `cols` values is
// cols / block_elems consecutive blocks; blocks are packed (no padding) and
// need not be aligned.
//
//   Q8_0: 32 values, f16 d, int8 q[32];                value = d * q
//   Q4_0: 32 values, f16 d, 16 bytes of nibbles;       value = d * (q - 8)
//         element i < 16 is the low nibble of qs[i], element i >= 16 the high nibble of qs[i - 16]
//   Q5_0: 32 values, f16 d, qh (32 bits, bit i: the fifth bit of element i),
//         16 bytes of nibbles as Q4_0's;              value = d * (q - 16)
//         (llama.cpp's Q4_K_M holds rows that are not whole super-blocks in
//         it, e.g. DeepSeek-V2-Lite's expert down projections)
//   Q4_K: 256 values in 8 sub-blocks of 32, f16 d, f16 dmin, 12 bytes holding a
//         6-bit scale sc and 6-bit min m per sub-block, 128 bytes of nibbles;
//         value = d * sc * q - dmin * m. Chunk j (0..3) of 64 values uses
//         qs[32j .. 32j + 31]: low nibbles are sub-block 2j, high nibbles 2j + 1.
//   Q5_K: Q4_K with a fifth bit: f16 d, f16 dmin, the same 12 bytes of scales
//         and mins, qh[32] (bit j of qh[i]: the fifth bit of value i of
//         sub-block j), then 128 bytes of low nibbles laid out as Q4_K's;
//         value = d * sc * q - dmin * m with q in [0, 31]. (The bulk of
//         llama.cpp's Q5_K_M files.)
//   Q6_K: 256 values in 16 sub-blocks of 16, 128 bytes of low nibbles ql, 64 bytes
//         of 2-bit high parts qh, int8 scale sc per sub-block, f16 d (last);
//         value = d * sc[v / 16] * (q - 32) with q in [0, 63]; see q6k_code.
//         (llama.cpp's Q4_K_M / Q5_K_M files hold their output and some
//         attention-value and down projections in it.)
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/dtype.h"

namespace dsinfer {

inline constexpr int kQ8_0Elems = 32;
inline constexpr int kQ4_0Elems = 32;
inline constexpr int kQ5_0Elems = 32;
inline constexpr int kQ4_KElems = 256;
inline constexpr int kQ6_KElems = 256;
inline constexpr int kQ5_KElems = 256;

struct BlockQ8_0 {
  uint16_t d;  // f16
  int8_t qs[32];
};
struct BlockQ4_0 {
  uint16_t d;  // f16
  uint8_t qs[16];
};
struct BlockQ5_0 {
  uint16_t d;      // f16
  uint8_t qh[4];   // fifth bits, little-endian
  uint8_t qs[16];  // low nibbles: element i in qs[i % 16], low half if i < 16
};
struct BlockQ4_K {
  uint16_t d;     // f16, multiplies the 6-bit scales
  uint16_t dmin;  // f16, multiplies the 6-bit mins
  uint8_t scales[12];
  uint8_t qs[128];
};
struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];  // as Q4_K's
  uint8_t qh[32];      // fifth bits, one per sub-block in each byte
  uint8_t qs[128];     // low nibbles, as Q4_K's
};
struct BlockQ6_K {
  uint8_t ql[128];    // low 4 bits of the codes
  uint8_t qh[64];     // high 2 bits of the codes
  int8_t scales[16];  // one per sub-block of 16
  uint16_t d;         // f16, multiplies the scales
};
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ6_K) == 210);
static_assert(sizeof(BlockQ5_K) == 176);

// True for Q8_0, Q4_0, Q5_0, Q4_K, Q5_K, Q6_K.
bool is_block_quant(DType t);
// Values per block: 32 or 256 for block types, 1 for every other type.
int64_t block_elems(DType t);
// The block type a row of `cols` values is stored in when `want` is asked for:
// want itself when cols is a multiple of its block, else a 32-value block of
// at least as many bits (Q4_K -> Q5_0 and Q6_K -> Q8_0, as llama.cpp's
// quantizer; Q5_K -> Q8_0 where llama.cpp takes Q5_1, which dsinfer would
// convert to Q8_0 at load), else BF16 (llama.cpp: F16).
// Non-block types are returned unchanged.
DType fit_block_type(DType want, int64_t cols);
// Bytes per block (the element size for non-block types; 0 for unknown).
size_t block_bytes(DType t);
// Bytes of one row of `cols` values. Throws when cols is not a multiple of the block.
size_t row_bytes(DType t, int64_t cols);

// Quantizes n values (n a multiple of the block) into `out`. Supports the block
// types and F32, F16, BF16; throws for the others.
void quantize_row(DType t, const float* x, int64_t n, void* out);
// Inverse of quantize_row for the block types and F32, F16, BF16, F8_E4M3 (unscaled).
void dequantize_row(DType t, const void* in, int64_t n, float* out);

// Code i (0..31) of a Q5_0 block: low nibble | fifth bit << 4.
inline int q5_0_code(const BlockQ5_0& b, int i) {
  uint32_t qh;
  std::memcpy(&qh, b.qh, 4);
  const int low = i < 16 ? b.qs[i] & 0xf : b.qs[i - 16] >> 4;
  return low | static_cast<int>(((qh >> i) & 1u) << 4);
}

// Fast exact f16 -> f32 (bit manipulation; same values as f16_to_f32).
inline float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t em = h & 0x7fffu;
  uint32_t bits;
  if (em >= 0x7c00u) {
    bits = sign | 0x7f800000u | ((em & 0x3ffu) << 13) | ((em & 0x3ffu) ? 0x400000u : 0u);
  } else if (em >= 0x0400u) {
    bits = sign | ((em + ((127u - 15u) << 10)) << 13);
  } else {
    const float f = static_cast<float>(em) * 5.9604644775390625e-8f;  // em * 2^-24, exact
    std::memcpy(&bits, &f, 4);
    bits |= sign;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Q4_K sub-block j's (scale, min) from the 12 packed bytes (GGUF's layout):
// j < 4: low 6 bits of bytes j and j + 4; j >= 4: the nibbles of byte j + 4
// plus the top two bits of bytes j - 4 (scale) and j (min).
inline void q4k_scale_min(int j, const uint8_t* s, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = s[j] & 63;
    *m = s[j + 4] & 63;
  } else {
    *sc = static_cast<uint8_t>((s[j + 4] & 0xf) | ((s[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
  }
}
// Packs 8 (scale, min) pairs, each < 64, into the 12 bytes.
void q4k_pack_scales(const uint8_t* sc, const uint8_t* m, uint8_t* out);

// Q6_K code (0..63) of value v (0..255) of a block. Each half of 128 values
// has 64 bytes of ql and 32 of qh; its quarter k (32 values, i = v % 32) takes
// the low (k = 0, 1) or high (k = 2, 3) nibble of ql[i + 32 (k % 2)] and bits
// 2k, 2k + 1 of qh[i] (GGUF's layout).
inline int q6k_code(const BlockQ6_K& b, int v) {
  const int h = v / 128, k = (v % 128) / 32, i = v % 32;
  const int lo = (b.ql[64 * h + i + 32 * (k % 2)] >> (4 * (k / 2))) & 0xf;
  const int hi = (b.qh[32 * h + i] >> (2 * k)) & 3;
  return lo | (hi << 4);
}

// The inverse of q6k_code: ORs code q (in [0, 63]) of value v into a block
// whose ql and qh start zeroed.
inline void q6k_or_code(BlockQ6_K& b, int v, int q) {
  const int h = v / 128, k = (v % 128) / 32, i = v % 32;
  b.ql[64 * h + i + 32 * (k % 2)] = static_cast<uint8_t>(b.ql[64 * h + i + 32 * (k % 2)] | (q & 0xf) << (4 * (k / 2)));
  b.qh[32 * h + i] = static_cast<uint8_t>(b.qh[32 * h + i] | (q >> 4) << (2 * k));
}

}  // namespace dsinfer
