// AVX-512 kernels (F/BW/VL/VNNI). Float weights: converted to f32 in
// registers, f32 FMA against f32 activations. Integer weights: VNNI dot
// products (u8 x s8) against activations quantized to int8 blocks of 32; a
// 512-bit register holds two 32-value blocks, each block's 8 int32 lanes are
// scaled by (weight scale * activation scale) and accumulated in f32.
#include "kernels/cpu/intrin.h"  // first: see intrin.h
#include <cmath>
#include <cstddef>
#include <cstring>
#include <type_traits>

#include "kernels/cpu/simd_common.h"

#define DSI_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
#define DSI_UNROLL _Pragma("GCC unroll 16")
#define DSI_INLINE DSI_TARGET inline __attribute__((always_inline))

namespace dsinfer::kernels::cpu {

namespace {

using simd::half_at;
using simd::prefetch;
using simd::RowsCtx;


template <int R, int T>
DSI_INLINE void zero_acc(__m512 (&acc)[R][T]) {
  DSI_UNROLL
  for (int i = 0; i < R; ++i)
    DSI_UNROLL
    for (int j = 0; j < T; ++j) acc[i][j] = _mm512_setzero_ps();
}

template <int R, int T>
DSI_INLINE void store_acc(const RowsCtx& c, int64_t r, int64_t t, __m512 (&acc)[R][T]) {
  const MatmulArgs& a = *c.a;
  DSI_UNROLL
  for (int i = 0; i < R; ++i)
    DSI_UNROLL
    for (int j = 0; j < T; ++j) {
      float v = _mm512_reduce_add_ps(acc[i][j]);
      if (a.bias) v += a.bias[r + i];
      a.y[(t + j) * a.y_stride + r + i] = v;
    }
}

// ---- float weights -------------------------------------------------------

// Loaders: 16 weights from column c of a row (all 16, or those in `m`) as f32.
struct LoadF32 {
  static constexpr bool kScaled = false;
  static constexpr int kSize = 4;
  DSI_INLINE static __m512 load(const uint8_t* p, int64_t c, __mmask16 m) {
    return _mm512_maskz_loadu_ps(m, reinterpret_cast<const float*>(p) + c);
  }
};

struct LoadBF16 {
  static constexpr bool kScaled = false;
  static constexpr int kSize = 2;
  DSI_INLINE static __m512 load(const uint8_t* p, int64_t c, __mmask16 m) {
    const __m256i h = _mm256_maskz_loadu_epi16(m, p + 2 * c);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
};

struct LoadF16 {
  static constexpr bool kScaled = false;
  static constexpr int kSize = 2;
  DSI_INLINE static __m512 load(const uint8_t* p, int64_t c, __mmask16 m) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p + 2 * c));
  }
};

// E4M3 -> f32 by moving the bits: the sign to bit 31, exponent and mantissa
// to bits 20..26, so the f32 reads the code's value times 2^-120 exactly
// (subnormal codes become f32 subnormals, zero stays zero). FloatKernel sums
// these against the activations over a block and multiplies the sum by the
// block scale times 2^120 (kUnit): per 16 weights one shuffle, two logic
// operations and the FMA. Through f16 with a NaN blend and a scale multiply
// per weight, FP8 decode was bound by the conversion (~12 cycles per 64
// weights of a 4-row tile against ~9). Products too small for an f32 lose
// nothing that matters: the sums' rounding is ~2^17 times coarser. NaN codes
// (0x7f, 0xff) read as finite numbers here; FloatKernel marks their rows
// afterwards (nan_rows).
struct LoadF8 {
  static constexpr bool kScaled = true;
  static constexpr int kSize = 1;
  static constexpr float kUnit = 0x1p120f;
  DSI_INLINE static __m512 load(const uint8_t* p, int64_t c, __mmask16 m) {
    const __m512i v = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, p + c));
    return _mm512_castsi512_ps(_mm512_and_si512(_mm512_slli_epi32(v, 20), _mm512_set1_epi32(static_cast<int>(0x87F00000u))));
  }
};

// Whether n bytes of E4M3 codes from each of the R rows at p hold a NaN
// (0x7f or 0xff): 0x7f is the largest 7-bit magnitude, so a running maximum
// of the magnitudes tells (two operations per 64 codes, no mask moves).
template <int R>
DSI_INLINE bool has_nan_code(const uint8_t* const* p, int64_t n) {
  const __m512i mag = _mm512_set1_epi8(0x7f);
  __m512i most = _mm512_setzero_si512();
  int64_t i = 0;
  for (; i + 64 <= n; i += 64)
    DSI_UNROLL
    for (int r = 0; r < R; ++r) most = _mm512_max_epu8(most, _mm512_and_si512(_mm512_loadu_si512(p[r] + i), mag));
  const __mmask64 m = i < n ? ~__mmask64{0} >> (64 - (n - i)) : 0;
  DSI_UNROLL
  for (int r = 0; r < R; ++r) most = _mm512_max_epu8(most, _mm512_and_si512(_mm512_maskz_loadu_epi8(m, p[r] + i), mag));
  return _mm512_cmpeq_epi8_mask(most, mag) != 0;
}

template <class L, int R, int T>
DSI_INLINE void float_step(const uint8_t* const* wp, const float* const* xp, int64_t c, __mmask16 m, size_t ahead,
                           __m512 (&acc)[R][T]) {
  __m512 w[R];
  DSI_UNROLL
  for (int i = 0; i < R; ++i) {
    prefetch<T>(wp[i] + c * L::kSize + ahead);
    w[i] = L::load(wp[i], c, m);
  }
  DSI_UNROLL
  for (int j = 0; j < T; ++j) {
    const __m512 x = _mm512_maskz_loadu_ps(m, xp[j] + c);
    DSI_UNROLL
    for (int i = 0; i < R; ++i) acc[i][j] = _mm512_fmadd_ps(w[i], x, acc[i][j]);
  }
}

template <class L>
struct FloatKernel {
  // 6 rows: 24 accumulators + 6 weights + 1 activation registers (bf16 1.5B
  // prefill 0.397-0.404 of the bf16 peak against 0.378-0.389 with 4 rows;
  // decode 0.86-0.92 of the roofline against 0.85-0.87). Block-scaled FP8
  // keeps a block's sums apart from the running ones: 4 x 3 of each (FP8
  // V3-slice prefill of 128 tokens 43-48 tokens/s against 26-38 with 4 x 2).
  static constexpr int kR = L::kScaled ? 4 : 6, kT = L::kScaled ? 3 : 4;

  template <int R, int T>
  DSI_TARGET static void tile(const RowsCtx& c, int64_t r, int64_t t) {
    const MatmulArgs& a = *c.a;
    __m512 acc[R][T];
    zero_acc(acc);
    StepsAt<R, T> at{{}, {}, 0, c.k, c.row_bytes * kR};
    DSI_UNROLL
    for (int i = 0; i < R; ++i) at.wp[i] = c.row(r + i);
    DSI_UNROLL
    for (int j = 0; j < T; ++j) at.xp[j] = a.x + (t + j) * a.x_stride;
    if constexpr (L::kScaled) {
      blocks(c, r, at, acc);
      nan_rows(c, at.wp, acc);
    } else {
      steps(at, acc);
    }
    store_acc(c, r, t, acc);
  }

 private:
  template <int R, int T>
  struct StepsAt {
    const uint8_t* wp[R];
    const float* xp[T];
    int64_t c0, c1;  // columns
    size_t ahead;    // prefetch distance, bytes
  };
  // Columns [c0, c1) of the tile into acc: whole steps of 16, then a masked one.
  template <int R, int T>
  DSI_INLINE static void steps(const StepsAt<R, T>& at, __m512 (&acc)[R][T]) {
    int64_t col = at.c0;
    for (; col + 16 <= at.c1; col += 16) float_step<L, R, T>(at.wp, at.xp, col, 0xffff, at.ahead, acc);
    if (col < at.c1) float_step<L, R, T>(at.wp, at.xp, col, static_cast<__mmask16>((1u << (at.c1 - col)) - 1), at.ahead, acc);
  }
  // The columns in blocks sharing a scale: each block's sums, then times its
  // scale into acc. A scale of 2^8 or more (or not finite) would overflow
  // times kUnit: the sums take kUnit first (exact), then the scale.
  template <int R, int T>
  DSI_INLINE static void blocks(const RowsCtx& c, int64_t r, StepsAt<R, T> at, __m512 (&acc)[R][T]) {
    const float* srow[R];  // found once: in the loop, GCC divided per row and block (most of FP8 decode's time)
    DSI_UNROLL
    for (int i = 0; i < R; ++i) srow[i] = c.scale_row(r + i);
    for (int64_t b = 0; b * c.block_cols < c.k; ++b) {
      at.c0 = b * c.block_cols;
      at.c1 = std::min(c.k, at.c0 + c.block_cols);
      __m512 blk[R][T];
      zero_acc(blk);
      steps(at, blk);
      DSI_UNROLL
      for (int i = 0; i < R; ++i) {
        const float s = srow[i][b];
        const bool wide = !(std::fabs(s) < 0x1p8f);
        const __m512 sv = _mm512_set1_ps(wide ? s : s * L::kUnit);
        DSI_UNROLL
        for (int j = 0; j < T; ++j) {
          const __m512 sum = wide ? _mm512_mul_ps(blk[i][j], _mm512_set1_ps(L::kUnit)) : blk[i][j];
          acc[i][j] = _mm512_fmadd_ps(sum, sv, acc[i][j]);
        }
      }
    }
  }
  // Rows holding a NaN code give NaN, as the f32 reference does (the rows
  // one by one only where the tile has one).
  template <int R, int T>
  DSI_INLINE static void nan_rows(const RowsCtx& c, const uint8_t* const* wp, __m512 (&acc)[R][T]) {
    if (!has_nan_code<R>(wp, c.k)) return;
    DSI_UNROLL
    for (int i = 0; i < R; ++i)
      if (has_nan_code<1>(wp + i, c.k))
        DSI_UNROLL
        for (int j = 0; j < T; ++j) acc[i][j] = _mm512_set1_ps(NAN);
  }
};

// ---- integer weights -----------------------------------------------------

// [d0 x 8, d1 x 8]: the scales of the two blocks a register holds.
DSI_INLINE __m512 pair_scale(float d0, float d1) {
  return _mm512_mask_mov_ps(_mm512_set1_ps(d0), 0xff00, _mm512_set1_ps(d1));
}

// Per-tile pointers into the quantized activations of tokens t .. t + T - 1.
template <int T>
struct ActRows {
  const int8_t* q[T];
  const float* dx[T];
  const int32_t* nsx[T];
  const float* fs[T];
  const float* d[T];
  __attribute__((always_inline)) ActRows(const QuantAct& act, int64_t t) {
    DSI_UNROLL
    for (int j = 0; j < T; ++j) {
      q[j] = act.q_row(t + j);
      dx[j] = act.dx_row(t + j);
      nsx[j] = act.nsx_row(t + j);
      fs[j] = act.fs_row(t + j);
      d[j] = act.d_row(t + j);
    }
  }
};

template <int R, int T>
using TileIn = simd::TileIn<R, ActRows<T>>;

// The tile of the K-quant kernels: one super-block of 256 values at a time through K::super_block.
template <class K, int Rows, int Tokens>
struct SuperBlockTiles {
  static constexpr int kR = Rows, kT = Tokens;

  template <int R, int T>
  DSI_TARGET static void tile(const RowsCtx& c, int64_t r, int64_t t) {
    __m512 acc[R][T];
    zero_acc(acc);
    const TileIn<R, T> in(c, r, t, kR);
    for (int64_t sb = 0; sb < c.blocks; ++sb) K::template super_block<R, T>(in, sb, acc);
    store_acc(c, r, t, acc);
  }
};

// The tile of the 32-value block kernels: pairs of blocks through K::pair (one
// 512-bit register holds two), then a last single block where a row has an odd
// count (the activations' padding block is zero).
template <class K>
struct PairTiles {
  static constexpr int kR = 4, kT = 4;

  template <int R, int T>
  DSI_TARGET static void tile(const RowsCtx& c, int64_t r, int64_t t) {
    __m512 acc[R][T];
    zero_acc(acc);
    const TileIn<R, T> in(c, r, t, kR);
    int64_t b = 0;
    for (; b + 2 <= c.blocks; b += 2) K::template pair<R, T, true>(in, b, acc);
    if (b < c.blocks) K::template pair<R, T, false>(in, b, acc);
    store_acc(c, r, t, acc);
  }
};

// Q8_0: sum(w * a) = sum(|w| * (a with w's sign)), u8 x s8 for VNNI.
struct Q8_0Kernel : PairTiles<Q8_0Kernel> {
  static constexpr int64_t kBytes = sizeof(BlockQ8_0);

  template <int R, int T, bool Two>
  DSI_INLINE static void pair(const TileIn<R, T>& in, int64_t b, __m512 (&acc)[R][T]) {
    const ActRows<T>& ar = in.ar;
    __m512i wabs[R];
    __mmask64 neg[R];
    __m512 wd[R];
    DSI_UNROLL
    for (int i = 0; i < R; ++i) {
      const uint8_t* p = in.template fetch<T>(i, b * kBytes, 2 * kBytes);
      const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 2));
      const __m512i w = Two ? _mm512_inserti64x4(_mm512_castsi256_si512(w0),
                                                 _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + kBytes + 2)), 1)
                            : _mm512_zextsi256_si512(w0);
      neg[i] = _mm512_movepi8_mask(w);
      wabs[i] = _mm512_abs_epi8(w);
      wd[i] = pair_scale(half_at(p), Two ? half_at(p + kBytes) : 0.0f);
    }
    DSI_UNROLL
    for (int j = 0; j < T; ++j) {
      const __m512i av = _mm512_loadu_si512(ar.q[j] + b * kActBlock);
      const __m512 da = _mm512_loadu_ps(ar.dx[j] + b * 8);
      DSI_UNROLL
      for (int i = 0; i < R; ++i) {
        const __m512i sa = _mm512_mask_sub_epi8(av, neg[i], _mm512_setzero_si512(), av);
        const __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), wabs[i], sa);
        acc[i][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(wd[i], da), acc[i][j]);
      }
    }
  }
};

// Q4_0 (value d (q - 8)) and Q5_0 (Five: d (q - 16), a fifth bit per value
// in a 32-bit qh before the nibbles). Nibbles q are VNNI's unsigned operand;
// two blocks' nibbles become one register in block order, and for Q5_0 the two
// qh words are one 64-bit byte mask under which one masked add puts in the
// 16s. The offset enters as the accumulator's start: -s (-2 s) in each of a
// block's 8 lanes, -8 s (-16 s) in all.
template <bool Five>
struct Block32Kernel : PairTiles<Block32Kernel<Five>> {
  using Block = std::conditional_t<Five, BlockQ5_0, BlockQ4_0>;
  static constexpr int64_t kBytes = sizeof(Block);
  static constexpr int64_t kQs = offsetof(Block, qs);

  template <bool Two>
  DSI_INLINE static __m512i unpack(const uint8_t* p) {
    const __m512i low4 = _mm512_set1_epi8(0x0f);
    __m512i w;
    if constexpr (Two) {
      const __m256i x = _mm256_set_m128i(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + kBytes + kQs)),
                                         _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + kQs)));
      const __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(x), _mm256_srli_epi16(x, 4), 1);
      // 128-bit lanes [lo0, lo1, hi0, hi1] -> [lo0, hi0, lo1, hi1]: block order.
      w = _mm512_and_si512(_mm512_shuffle_i64x2(v, v, _MM_SHUFFLE(3, 1, 2, 0)), low4);
    } else {
      const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + kQs));
      w = _mm512_and_si512(_mm512_zextsi256_si512(_mm256_set_m128i(_mm_srli_epi16(x, 4), x)), low4);
    }
    if constexpr (Five) {
      uint32_t h0, h1 = 0;
      std::memcpy(&h0, p + 2, 4);
      if constexpr (Two) std::memcpy(&h1, p + kBytes + 2, 4);
      w = _mm512_mask_add_epi8(w, _cvtu64_mask64(h0 | (static_cast<uint64_t>(h1) << 32)), w, _mm512_set1_epi8(16));
    }
    return w;
  }

  template <int R, int T, bool Two>
  DSI_INLINE static void pair(const TileIn<R, T>& in, int64_t b, __m512 (&acc)[R][T]) {
    const ActRows<T>& ar = in.ar;
    __m512i w[R];
    __m512 wd[R];
    DSI_UNROLL
    for (int i = 0; i < R; ++i) {
      const uint8_t* p = in.template fetch<T>(i, b * kBytes, 2 * kBytes);
      w[i] = unpack<Two>(p);
      wd[i] = pair_scale(half_at(p), Two ? half_at(p + kBytes) : 0.0f);
    }
    DSI_UNROLL
    for (int j = 0; j < T; ++j) {
      const __m512i av = _mm512_loadu_si512(ar.q[j] + b * kActBlock);
      const __m512i nsx = _mm512_loadu_si512(ar.nsx[j] + b * 8);
      const __m512i start = Five ? _mm512_add_epi32(nsx, nsx) : nsx;
      const __m512 da = _mm512_loadu_ps(ar.dx[j] + b * 8);
      DSI_UNROLL
      for (int i = 0; i < R; ++i) {
        const __m512i dot = _mm512_dpbusd_epi32(start, w[i], av);
        acc[i][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(wd[i], da), acc[i][j]);
      }
    }
  }
};
using Q4_0Kernel = Block32Kernel<false>;
using Q5_0Kernel = Block32Kernel<true>;

// Q4_K: a 64-byte half p of a super-block's nibbles holds sub-blocks 4p and
// 4p + 2 in its low nibbles (bytes 0..31, 32..63) and 4p + 1, 4p + 3 in its
// high nibbles, so each 64-byte load feeds two dot products whose lanes 0..7
// and 8..15 belong to one sub-block each. The activations are gathered into the
// same arrangement once per token (shared by the tile's rows). The per
// sub-block factor d * sc_j * d_a is one multiply per super-block, picked into
// lanes by a permute; the min term -dmin * m_j * d_a * sum(a) goes in once per
// super-block as an 8-lane FMA. Every (row, token) sees the same sequence of
// operations whatever the tile shape, so results do not depend on batching.
// Q5_K (Five) is the same with a fifth bit per code from qh: bit s of byte l
// belongs to value l of sub-block s, so one 32-byte load broadcast to both
// halves and tested against 1 << s per half adds 16 where it is set.
template <bool Five>
struct KQuantKernel : SuperBlockTiles<KQuantKernel<Five>, 4, 3> {
  using Block = std::conditional_t<Five, BlockQ5_K, BlockQ4_K>;
  static constexpr int64_t kBytes = sizeof(Block);
  static constexpr int64_t kQs = offsetof(Block, qs);

  // Lanes 0..7: dmin * m_j; lanes 8..15: d * sc_j (GGUF's 6-bit packing, four at a time).
  DSI_INLINE static __m512 scales(const uint8_t* blk) {
    uint32_t u[3], dd;
    std::memcpy(u, blk + 4, 12);
    std::memcpy(&dd, blk, 4);
    const uint32_t sc_lo = u[0] & 0x3f3f3f3fu, m_lo = u[1] & 0x3f3f3f3fu;
    const uint32_t sc_hi = (u[2] & 0x0f0f0f0fu) | ((u[0] >> 2) & 0x30303030u);
    const uint32_t m_hi = ((u[2] >> 4) & 0x0f0f0f0fu) | ((u[1] >> 2) & 0x30303030u);
    const __m128i bytes = _mm_setr_epi32(static_cast<int>(m_lo), static_cast<int>(m_hi), static_cast<int>(sc_lo),
                                         static_cast<int>(sc_hi));
    const __m512 v = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(bytes));
    const __m512 half2 = _mm512_zextps128_ps512(_mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(dd))));  // d, dmin
    const __m512i pick = _mm512_mask_mov_epi32(_mm512_set1_epi32(1), 0xff00, _mm512_setzero_si512());
    return _mm512_mul_ps(v, _mm512_permutexvar_ps(pick, half2));
  }

  // Activation blocks a (lanes 0..15 bytes 0..31) and b (bytes 32..63) of one token.
  DSI_INLINE static __m512i two_blocks(const int8_t* q, int a, int b) {
    const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + kActBlock * a));
    const __m256i hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + kActBlock * b));
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
  }

  // Lane pattern picking f's lanes 8 + a (lanes 0..7) and 8 + b (lanes 8..15).
  DSI_INLINE static __m512i pattern(int a, int b) {
    return _mm512_mask_mov_epi32(_mm512_set1_epi32(8 + a), 0xff00, _mm512_set1_epi32(8 + b));
  }

  // Bytes 0..31: 1 << a; bytes 32..63: 1 << b.
  DSI_INLINE static __m512i bit_pair(int a, int b) {
    return _mm512_mask_blend_epi64(0xf0, _mm512_set1_epi8(static_cast<char>(1 << a)),
                                   _mm512_set1_epi8(static_cast<char>(1 << b)));
  }

  template <int R, int T>
  DSI_INLINE static void half(const uint8_t* const* blk, const __m512* f, const ActRows<T>& ar, int64_t sb, int p,
                              __m512 (&acc)[R][T]) {
    const __m512i low4 = _mm512_set1_epi8(0x0f);
    const __m512i pat_lo = pattern(4 * p, 4 * p + 2), pat_hi = pattern(4 * p + 1, 4 * p + 3);
    __m512i wl[R], wh[R];
    DSI_UNROLL
    for (int i = 0; i < R; ++i) {
      const __m512i v = _mm512_loadu_si512(blk[i] + kQs + 64 * p);
      wl[i] = _mm512_and_si512(v, low4);
      wh[i] = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
      if constexpr (Five) {
        const __m512i h = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk[i] + 16)));
        const __m512i sixteen = _mm512_set1_epi8(16);
        wl[i] = _mm512_mask_add_epi8(wl[i], _mm512_test_epi8_mask(h, bit_pair(4 * p, 4 * p + 2)), wl[i], sixteen);
        wh[i] = _mm512_mask_add_epi8(wh[i], _mm512_test_epi8_mask(h, bit_pair(4 * p + 1, 4 * p + 3)), wh[i], sixteen);
      }
    }
    DSI_UNROLL
    for (int j = 0; j < T; ++j) {
      const int8_t* q = ar.q[j] + sb * 8 * kActBlock;
      const __m512i alo = two_blocks(q, 4 * p, 4 * p + 2), ahi = two_blocks(q, 4 * p + 1, 4 * p + 3);
      DSI_UNROLL
      for (int i = 0; i < R; ++i) {
        const __m512 fij = f[i * T + j];
        const __m512i dlo = _mm512_dpbusd_epi32(_mm512_setzero_si512(), wl[i], alo);
        const __m512i dhi = _mm512_dpbusd_epi32(_mm512_setzero_si512(), wh[i], ahi);
        acc[i][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dlo), _mm512_permutexvar_ps(pat_lo, fij), acc[i][j]);
        acc[i][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dhi), _mm512_permutexvar_ps(pat_hi, fij), acc[i][j]);
      }
    }
  }

  template <int R, int T>
  DSI_INLINE static void super_block(const TileIn<R, T>& in, int64_t sb, __m512 (&acc)[R][T]) {
    const ActRows<T>& ar = in.ar;
    const uint8_t* blk[R];
    __m512 scm[R];
    DSI_UNROLL
    for (int i = 0; i < R; ++i) {
      blk[i] = in.wp[i] + sb * kBytes;
      prefetch<T>(blk[i] + in.ahead);
      prefetch<T>(blk[i] + in.ahead + 64);
      if constexpr (Five) prefetch<T>(blk[i] + in.ahead + 128);
      prefetch<T>(blk[i] + in.ahead + kBytes - 1);
      scm[i] = scales(blk[i]);
    }
    __m512 f[R * T];  // lanes 8 + s: d * sc_s * d_a of sub-block s (lanes 0..7 are not used)
    DSI_UNROLL
    for (int j = 0; j < T; ++j) {
      const __m256i d8 = _mm256_castps_si256(_mm256_loadu_ps(ar.d[j] + sb * 8));
      const __m512 da = _mm512_castsi512_ps(_mm512_inserti64x4(_mm512_setzero_si512(), d8, 1));
      DSI_UNROLL
      for (int i = 0; i < R; ++i) f[i * T + j] = _mm512_mul_ps(scm[i], da);
    }
    half<R, T>(blk, f, ar, sb, 0, acc);
    half<R, T>(blk, f, ar, sb, 1, acc);
    DSI_UNROLL
    for (int j = 0; j < T; ++j) {  // lanes 8..15 of fs are zero, so only the mins count
      const __m512 fs = _mm512_maskz_loadu_ps(0xff, ar.fs[j] + sb * 8);
      DSI_UNROLL
      for (int i = 0; i < R; ++i) acc[i][j] = _mm512_fnmadd_ps(scm[i], fs, acc[i][j]);
    }
  }
};
using Q4_KKernel = KQuantKernel<false>;
using Q5_KKernel = KQuantKernel<true>;

// Q6_K: a half of a super-block (128 values) is one 64-byte load of low
// nibbles (low nibbles: quarter 2h, values 128h .. 128h + 63; high nibbles:
// quarter 2h + 1) and 32 bytes of high bits, broadcast to both 256-bit halves
// and shifted by 16-bit lanes into bits 4, 5 (bits 2k, 2k + 1 belong to the
// half's k-th 32 values). Codes q in [0, 63] go through maddubs (pairs <=
// 2 * 63 * 127, no saturation), less the pairs of 32 * a (one maddubs per token
// and quarter, shared by the tile's rows), then vpdpwssd by the sub-blocks'
// int8 scales (as int16 pairs) adds them into exact int32 lanes of the
// super-block, in place. One float multiply-add per super-block scales those
// by d * d_a (span-8 activations, one d_a per super-block), as the scalar twin
// does. (VNNI's vpdpbusd with the offset as its start value needed a copy of
// the start and a vpmulld per row and token: ~30 cycles per 210 bytes of a
// 4-row tile, 24 GB/s a core from cache, against memory's ~20.)
struct Q6_KKernel : SuperBlockTiles<Q6_KKernel, 4, 2> {
  static constexpr int64_t kBytes = sizeof(BlockQ6_K);

  // Codes of quarter z (values 64z .. 64z + 63) of the block at p.
  DSI_INLINE static __m512i codes(const uint8_t* p, int z) {
    const __m512i ql = _mm512_loadu_si512(p + 64 * (z / 2));
    const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 128 + 32 * (z / 2))));
    const __m512i low4 = _mm512_set1_epi8(0x0f), top2 = _mm512_set1_epi8(0x30);
    constexpr __mmask32 kUpper = 0xffff0000u;  // 16-bit lanes of bytes 32..63
    // A | (B & C): low nibble | high bits.
    if (z % 2 == 0) {
      const __m512i up = _mm512_sllv_epi16(qh, _mm512_mask_mov_epi16(_mm512_set1_epi16(4), kUpper, _mm512_set1_epi16(2)));
      return _mm512_ternarylogic_epi32(_mm512_and_si512(ql, low4), up, top2, 0xf8);
    }
    const __m512i down = _mm512_srlv_epi16(qh, _mm512_maskz_mov_epi16(kUpper, _mm512_set1_epi16(2)));
    return _mm512_ternarylogic_epi32(_mm512_and_si512(_mm512_srli_epi16(ql, 4), low4), down, top2, 0xf8);
  }

  // The 16 scales, scale k in both int16 halves of int32 lane k.
  DSI_INLINE static __m512i scale_pairs(const uint8_t* p) {
    const __m512i w = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 192)));
    return _mm512_ternarylogic_epi32(_mm512_slli_epi32(w, 16), w, _mm512_set1_epi32(0xffff), 0xf8);
  }

  // Lanes 4m .. 4m + 3 of quarter z: sub-block 4z + m's scale pair.
  DSI_INLINE static __m512i quarter_scales(__m512i sc, int z) {
    const __m512i lanes = _mm512_add_epi32(_mm512_set1_epi32(4 * z),
                                           _mm512_srli_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), 2));
    return _mm512_permutexvar_epi32(lanes, sc);
  }

  template <int R, int T>
  DSI_INLINE static void quarter(const uint8_t* const* blk, const __m512i* sc, const ActRows<T>& ar, int64_t sb, int z,
                                 __m512i (&isum)[R][T]) {
    __m512i q[R], s[R];
    DSI_UNROLL
    for (int i = 0; i < R; ++i) {
      q[i] = codes(blk[i], z);
      s[i] = quarter_scales(sc[i], z);
    }
    DSI_UNROLL
    for (int j = 0; j < T; ++j) {
      const __m512i a = _mm512_loadu_si512(ar.q[j] + sb * kQ6_KElems + 64 * z);
      const __m512i a32 = _mm512_maddubs_epi16(_mm512_set1_epi8(32), a);
      DSI_UNROLL
      for (int i = 0; i < R; ++i)
        isum[i][j] = _mm512_dpwssd_epi32(isum[i][j], _mm512_sub_epi16(_mm512_maddubs_epi16(q[i], a), a32), s[i]);
    }
  }

  template <int R, int T>
  DSI_INLINE static void super_block(const TileIn<R, T>& in, int64_t sb, __m512 (&acc)[R][T]) {
    const uint8_t* blk[R];
    __m512i sc[R];
    float d[R];
    DSI_UNROLL
    for (int i = 0; i < R; ++i) {
      blk[i] = in.template fetch_all<T>(i, sb * kBytes, kBytes);
      sc[i] = scale_pairs(blk[i]);
      d[i] = half_at(blk[i] + 208);
    }
    __m512i isum[R][T];
    DSI_UNROLL
    for (int i = 0; i < R; ++i)
      DSI_UNROLL
      for (int j = 0; j < T; ++j) isum[i][j] = _mm512_setzero_si512();
    DSI_UNROLL
    for (int z = 0; z < 4; ++z) quarter<R, T>(blk, sc, in.ar, sb, z, isum);
    DSI_UNROLL
    for (int j = 0; j < T; ++j) {
      const float da = in.ar.d[j][sb * kSuperSpan];
      DSI_UNROLL
      for (int i = 0; i < R; ++i)
        acc[i][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[i][j]), _mm512_set1_ps(d[i] * da), acc[i][j]);
    }
  }
};

struct Kernels {  // for simd::rows_fn
  template <class Load> using Float = FloatKernel<Load>;
  using F32 = LoadF32; using BF16 = LoadBF16; using F16 = LoadF16; using F8 = LoadF8;
  using Q8_0 = Q8_0Kernel; using Q4_0 = Q4_0Kernel; using Q4_K = Q4_KKernel; using Q6_K = Q6_KKernel;
  using Q5_K = Q5_KKernel; using Q5_0 = Q5_0Kernel;
};

}  // namespace

RowsFn avx512_rows_fn(const Weight& w) { return simd::rows_fn<Kernels>(w); }

}  // namespace dsinfer::kernels::cpu
