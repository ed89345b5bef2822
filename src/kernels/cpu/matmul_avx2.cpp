// AVX2 kernels (with FMA and F16C). Float weights: converted to f32 in
// registers, f32 FMA against f32 activations. Integer weights: one 32-value
// block per register, _mm256_maddubs_epi16 (u8 x s8 pairs, which cannot
// saturate here: |w| <= 128 or 15 against |a| <= 127) then _mm256_madd_epi16
// to int32, scaled by (weight scale * activation scale) into f32 accumulators.
#include "kernels/cpu/intrin.h"  // first: see intrin.h
#include <cmath>
#include <cstddef>
#include <cstring>
#include <type_traits>

#include "kernels/cpu/simd_common.h"

#define DSI_TARGET __attribute__((target("avx2,fma,f16c")))
#define DSI_UNROLL _Pragma("GCC unroll 16")
#define DSI_INLINE DSI_TARGET inline __attribute__((always_inline))

namespace dsinfer::kernels::cpu {

namespace {

using simd::half_at;
using simd::prefetch;
using simd::RowsCtx;


DSI_INLINE float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

template <int R, int T>
DSI_INLINE void zero_acc(__m256 (&acc)[R][T]) {
  DSI_UNROLL
  for (int i = 0; i < R; ++i)
    DSI_UNROLL
    for (int j = 0; j < T; ++j) acc[i][j] = _mm256_setzero_ps();
}

// tail: what the scalar column tail added per (row, token).
template <int R, int T>
DSI_INLINE void store_acc(const RowsCtx& c, int64_t r, int64_t t, __m256 (&acc)[R][T], const float (&tail)[R][T]) {
  const MatmulArgs& a = *c.a;
  DSI_UNROLL
  for (int i = 0; i < R; ++i)
    DSI_UNROLL
    for (int j = 0; j < T; ++j) {
      float v = hsum(acc[i][j]) + tail[i][j];
      if (a.bias) v += a.bias[r + i];
      a.y[(t + j) * a.y_stride + r + i] = v;
    }
}

// ---- float weights -------------------------------------------------------

// Loaders: 8 weights from column c of a row as f32; `one` is the scalar tail.
struct LoadF32 {
  static constexpr bool kScaled = false;
  static constexpr int kSize = 4;
  DSI_INLINE static __m256 load(const uint8_t* p, int64_t c) {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(p) + c);
  }
  static float one(const uint8_t* p, int64_t c) {
    float v;
    std::memcpy(&v, p + 4 * c, 4);
    return v;
  }
};

struct LoadBF16 {
  static constexpr bool kScaled = false;
  static constexpr int kSize = 2;
  DSI_INLINE static __m256 load(const uint8_t* p, int64_t c) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2 * c));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  static float one(const uint8_t* p, int64_t c) {
    uint16_t h;
    std::memcpy(&h, p + 2 * c, 2);
    return bf16_to_f32(h);
  }
};

struct LoadF16 {
  static constexpr bool kScaled = false;
  static constexpr int kSize = 2;
  DSI_INLINE static __m256 load(const uint8_t* p, int64_t c) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2 * c)));
  }
  static float one(const uint8_t* p, int64_t c) {
    uint16_t h;
    std::memcpy(&h, p + 2 * c, 2);
    return half_to_float(h);
  }
};

// E4M3 -> f32 by moving the bits, as at AVX-512 (matmul_avx512.cpp): the f32
// reads the code's value times 2^-120 exactly, and the scale multiplied into
// each weight carries the 2^120 (kUnit). 4 operations per 8 weights against
// 10 through f16 with a NaN blend. NaN codes read as finite numbers here;
// FloatKernel marks their rows afterwards.
struct LoadF8 {
  static constexpr bool kScaled = true;
  static constexpr int kSize = 1;
  static constexpr float kUnit = 0x1p120f;
  DSI_INLINE static __m256 load(const uint8_t* p, int64_t c) {
    long long bits;
    std::memcpy(&bits, p + c, 8);
    const __m256i v = _mm256_cvtepi8_epi32(_mm_cvtsi64_si128(bits));
    return _mm256_castsi256_ps(_mm256_and_si256(_mm256_slli_epi32(v, 20), _mm256_set1_epi32(static_cast<int>(0x87F00000u))));
  }
  static float one(const uint8_t* p, int64_t c) { return fp8_e4m3_to_f32(p[c]) * 0x1p-120f; }
};

// Whether n bytes of E4M3 codes from each of the R rows at p hold a NaN
// (0x7f or 0xff): a running maximum of the 7-bit magnitudes reaches 0x7f.
template <int R>
DSI_INLINE bool has_nan_code(const uint8_t* const* p, int64_t n) {
  const __m256i mag = _mm256_set1_epi8(0x7f);
  __m256i most = _mm256_setzero_si256();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32)
    DSI_UNROLL
    for (int r = 0; r < R; ++r)
      most = _mm256_max_epu8(most, _mm256_and_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p[r] + i)), mag));
  bool nan = _mm256_movemask_epi8(_mm256_cmpeq_epi8(most, mag)) != 0;
  for (; i < n; ++i)
    for (int r = 0; r < R; ++r) nan |= (p[r][i] & 0x7f) == 0x7f;
  return nan;
}

// Wide: a block scale of 2^8 or more (or not finite), whose product with
// L::kUnit would overflow: the weights take the unit first (exact), then the scale.
template <class L, int R, int T, bool Wide = false>
DSI_INLINE void float_step(const uint8_t* const* wp, const float* const* xp, const float* sv, int64_t c, size_t ahead,
                           __m256 (&acc)[R][T]) {
  __m256 w[R];
  DSI_UNROLL
  for (int i = 0; i < R; ++i) {
    prefetch<T>(wp[i] + c * L::kSize + ahead);
    w[i] = L::load(wp[i], c);
    if constexpr (L::kScaled && Wide) w[i] = _mm256_mul_ps(w[i], _mm256_set1_ps(L::kUnit));
    if constexpr (L::kScaled) w[i] = _mm256_mul_ps(w[i], _mm256_set1_ps(sv[i]));
  }
  DSI_UNROLL
  for (int j = 0; j < T; ++j) {
    const __m256 x = _mm256_loadu_ps(xp[j] + c);
    DSI_UNROLL
    for (int i = 0; i < R; ++i) acc[i][j] = _mm256_fmadd_ps(w[i], x, acc[i][j]);
  }
}

template <class L>
struct FloatKernel {
  static constexpr int kR = 4, kT = 2;
  // The scaled loader's unit (LoadF8::kUnit); 1 for the others.
  static constexpr float kUnit = [] {
    if constexpr (L::kScaled) return L::kUnit;
    return 1.0f;
  }();

  // Columns in segments sharing one FP8 block scale (the whole row otherwise);
  // the last < 8 columns of a segment go through the scalar tail.
  template <int R, int T>
  DSI_TARGET static void tile(const RowsCtx& c, int64_t r, int64_t t) {
    const MatmulArgs& a = *c.a;
    __m256 acc[R][T];
    zero_acc(acc);
    float tail[R][T] = {};
    const uint8_t* wp[R];
    DSI_UNROLL
    for (int i = 0; i < R; ++i) wp[i] = c.row(r + i);
    const float* xp[T];
    DSI_UNROLL
    for (int j = 0; j < T; ++j) xp[j] = a.x + (t + j) * a.x_stride;
    const int64_t seg = L::kScaled ? c.block_cols : c.k;
    const size_t ahead = c.row_bytes * kR;
    const float* srow[R] = {};  // found once: in the loop, GCC divided per row and segment
    if constexpr (L::kScaled)
      DSI_UNROLL
      for (int i = 0; i < R; ++i) srow[i] = c.scale_row(r + i);
    for (int64_t s0 = 0, b = 0; s0 < c.k; s0 += seg, ++b) {
      const int64_t s1 = std::min(c.k, s0 + seg);
      float sv[R] = {};
      bool wide = false;
      if constexpr (L::kScaled)
        DSI_UNROLL
        for (int i = 0; i < R; ++i) {
          sv[i] = srow[i][b];
          wide |= !(std::fabs(sv[i]) < 0x1p8f);
        }
      if (!wide)
        DSI_UNROLL
        for (int i = 0; i < R; ++i) sv[i] *= kUnit;
      int64_t col = s0;
      if (wide)
        for (; col + 8 <= s1; col += 8) float_step<L, R, T, true>(wp, xp, sv, col, ahead, acc);
      else
        for (; col + 8 <= s1; col += 8) float_step<L, R, T>(wp, xp, sv, col, ahead, acc);
      for (; col < s1; ++col)
        DSI_UNROLL
        for (int i = 0; i < R; ++i) {
          const float w = L::kScaled ? L::one(wp[i], col) * (wide ? kUnit : 1.0f) * sv[i] : L::one(wp[i], col);
          DSI_UNROLL
          for (int j = 0; j < T; ++j) tail[i][j] += w * xp[j][col];
        }
    }
    if constexpr (L::kScaled)
      if (has_nan_code<R>(wp, c.k))
        DSI_UNROLL
        for (int i = 0; i < R; ++i)
          if (has_nan_code<1>(wp + i, c.k))
            DSI_UNROLL
            for (int j = 0; j < T; ++j) tail[i][j] = NAN;
    store_acc(c, r, t, acc, tail);
  }
};

// ---- integer weights -----------------------------------------------------

// int32 lanes of sum(u * s) over byte pairs then quads.
DSI_INLINE __m256i dot_u8s8(__m256i u, __m256i s) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

template <int T>
struct ActRows {
  const int8_t* q[T];
  const float* d[T];
  const int32_t* s[T];
  const float* fs[T];
  __attribute__((always_inline)) ActRows(const QuantAct& act, int64_t t) {
    DSI_UNROLL
    for (int j = 0; j < T; ++j) {
      q[j] = act.q_row(t + j);
      d[j] = act.d_row(t + j);
      s[j] = act.s_row(t + j);
      fs[j] = act.fs_row(t + j);
    }
  }
};

template <int R, int T>
using TileIn = simd::TileIn<R, ActRows<T>>;

// The tile of the block kernels: one block at a time through K::block (32
// values in a register for Q8_0 / Q4_0, a super-block of 256 for the K-quants).
template <class K, int Rows = 4, int Tokens = 2>
struct BlockTiles {
  static constexpr int kR = Rows, kT = Tokens;

  template <int R, int T>
  DSI_TARGET static void tile(const RowsCtx& c, int64_t r, int64_t t) {
    __m256 acc[R][T];
    zero_acc(acc);
    const float tail[R][T] = {};
    const TileIn<R, T> in(c, r, t, kR);
    for (int64_t b = 0; b < c.blocks; ++b) K::template block<R, T>(in, b, acc);
    store_acc(c, r, t, acc, tail);
  }
};

// Q8_0: sum(w * a) = sum(|w| * sign(a, w)).
struct Q8_0Kernel : BlockTiles<Q8_0Kernel> {
  static constexpr int64_t kBytes = sizeof(BlockQ8_0);

  template <int R, int T>
  DSI_INLINE static void block(const TileIn<R, T>& in, int64_t b, __m256 (&acc)[R][T]) {
    __m256i w[R], wabs[R];
    float wd[R];
    DSI_UNROLL
    for (int i = 0; i < R; ++i) {
      const uint8_t* p = in.template fetch<T>(i, b * kBytes, kBytes);
      w[i] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 2));
      wabs[i] = _mm256_abs_epi8(w[i]);
      wd[i] = half_at(p);
    }
    DSI_UNROLL
    for (int j = 0; j < T; ++j) {
      const __m256i av = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(in.ar.q[j] + b * kActBlock));
      const float da = in.ar.d[j][b];
      DSI_UNROLL
      for (int i = 0; i < R; ++i) {
        const __m256i dot = dot_u8s8(wabs[i], _mm256_sign_epi8(av, w[i]));
        acc[i][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(wd[i] * da), acc[i][j]);
      }
    }
  }
};

// Q4_0 (value d (q - 8)) and Q5_0 (Five: d (q - 16), plus 16 where the
// block's 32-bit qh has the element's bit, spread to bytes: byte k takes qh's
// byte k / 8, tested against bit k % 8). The offset -8 s (-16 s) is added as
// -s (-2 s) to each of the 8 lanes.
template <bool Five>
struct Block32Kernel : BlockTiles<Block32Kernel<Five>> {
  using Block = std::conditional_t<Five, BlockQ5_0, BlockQ4_0>;
  static constexpr int64_t kBytes = sizeof(Block);
  static constexpr int64_t kQs = offsetof(Block, qs);

  DSI_INLINE static __m256i fifth_bits(const uint8_t* p) {
    uint32_t qh;
    std::memcpy(&qh, p + 2, 4);
    const __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(qh)),
                                               _mm256_setr_epi64x(0, 0x0101010101010101, 0x0202020202020202, 0x0303030303030303));
    const __m256i bit = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ull));
    return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit), _mm256_set1_epi8(16));
  }

  template <int R, int T>
  DSI_INLINE static void block(const TileIn<R, T>& in, int64_t b, __m256 (&acc)[R][T]) {
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    __m256i w[R];
    float wd[R];
    DSI_UNROLL
    for (int i = 0; i < R; ++i) {
      const uint8_t* p = in.template fetch<T>(i, b * kBytes, kBytes);
      const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + kQs));
      w[i] = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(x, 4), x), low4);
      if constexpr (Five) w[i] = _mm256_or_si256(w[i], fifth_bits(p));
      wd[i] = half_at(p);
    }
    DSI_UNROLL
    for (int j = 0; j < T; ++j) {
      const __m256i av = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(in.ar.q[j] + b * kActBlock));
      const __m256i off = _mm256_set1_epi32((Five ? -2 : -1) * in.ar.s[j][b]);
      const float da = in.ar.d[j][b];
      DSI_UNROLL
      for (int i = 0; i < R; ++i) {
        const __m256i dot = _mm256_add_epi32(dot_u8s8(w[i], av), off);
        acc[i][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(wd[i] * da), acc[i][j]);
      }
    }
  }
};
using Q4_0Kernel = Block32Kernel<false>;
using Q5_0Kernel = Block32Kernel<true>;

// Q4_K: chunk j's 32 bytes hold sub-blocks 2j (low nibbles) and 2j + 1 (high).
// Q5_K (Five): the same, plus 16 where bit 2j (2j + 1) of qh[l] is set.
template <bool Five>
struct KQuantKernel : BlockTiles<KQuantKernel<Five>> {
  using Block = std::conditional_t<Five, BlockQ5_K, BlockQ4_K>;
  static constexpr int64_t kBytes = sizeof(Block);
  static constexpr int64_t kQs = offsetof(Block, qs);

  // 16 in each byte of h whose bit `bit` is set (16-bit shifts: for bit <= 7 no
  // byte takes a neighbour's bit into position 4).
  DSI_INLINE static __m256i fifth(__m256i h, int bit) {
    const __m256i x = bit <= 4 ? _mm256_sll_epi16(h, _mm_cvtsi32_si128(4 - bit)) : _mm256_srl_epi16(h, _mm_cvtsi32_si128(bit - 4));
    return _mm256_and_si256(x, _mm256_set1_epi8(0x10));
  }

  // d * sc_j into dsc and dmin * m_j into dm (GGUF's 6-bit packing, four at a time).
  DSI_INLINE static void scales(const uint8_t* blk, __m256& dsc, __m256& dm) {
    uint32_t u[3];
    std::memcpy(u, blk + 4, 12);
    const uint32_t sc_lo = u[0] & 0x3f3f3f3fu, m_lo = u[1] & 0x3f3f3f3fu;
    const uint32_t sc_hi = (u[2] & 0x0f0f0f0fu) | ((u[0] >> 2) & 0x30303030u);
    const uint32_t m_hi = ((u[2] >> 4) & 0x0f0f0f0fu) | ((u[1] >> 2) & 0x30303030u);
    const __m128i sc = _mm_cvtsi64_si128(static_cast<long long>(sc_lo | (static_cast<uint64_t>(sc_hi) << 32)));
    const __m128i m = _mm_cvtsi64_si128(static_cast<long long>(m_lo | (static_cast<uint64_t>(m_hi) << 32)));
    dsc = _mm256_mul_ps(_mm256_set1_ps(half_at(blk)), _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(sc)));
    dm = _mm256_mul_ps(_mm256_set1_ps(half_at(blk + 2)), _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(m)));
  }

  template <int R, int T>
  DSI_INLINE static void chunk(const uint8_t* const* blk, const __m256* dsc, const ActRows<T>& ar, int64_t sb, int cj,
                               __m256 (&acc)[R][T]) {
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    __m256i lo[R], hi[R];
    __m256 s0[R], s1[R];
    DSI_UNROLL
    for (int i = 0; i < R; ++i) {
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk[i] + kQs + 32 * cj));
      lo[i] = _mm256_and_si256(q, low4);
      hi[i] = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
      if constexpr (Five) {
        const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk[i] + 16));
        lo[i] = _mm256_or_si256(lo[i], fifth(h, 2 * cj));
        hi[i] = _mm256_or_si256(hi[i], fifth(h, 2 * cj + 1));
      }
      s0[i] = _mm256_permutevar8x32_ps(dsc[i], _mm256_set1_epi32(2 * cj));
      s1[i] = _mm256_permutevar8x32_ps(dsc[i], _mm256_set1_epi32(2 * cj + 1));
    }
    const int64_t ab = sb * 8 + 2 * cj;
    DSI_UNROLL
    for (int j = 0; j < T; ++j) {
      const __m256i a0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ar.q[j] + ab * kActBlock));
      const __m256i a1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ar.q[j] + (ab + 1) * kActBlock));
      const __m256 d0 = _mm256_broadcast_ss(ar.d[j] + ab), d1 = _mm256_broadcast_ss(ar.d[j] + ab + 1);
      DSI_UNROLL
      for (int i = 0; i < R; ++i) {
        acc[i][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_u8s8(lo[i], a0)), _mm256_mul_ps(s0[i], d0), acc[i][j]);
        acc[i][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_u8s8(hi[i], a1)), _mm256_mul_ps(s1[i], d1), acc[i][j]);
      }
    }
  }

  template <int R, int T>
  DSI_INLINE static void block(const TileIn<R, T>& in, int64_t sb, __m256 (&acc)[R][T]) {
    const ActRows<T>& ar = in.ar;
    const uint8_t* blk[R];
    __m256 dsc[R], dm[R];
    DSI_UNROLL
    for (int i = 0; i < R; ++i) {
      blk[i] = in.wp[i] + sb * kBytes;
      prefetch<T>(blk[i] + in.ahead);
      prefetch<T>(blk[i] + in.ahead + 64);
      if constexpr (Five) prefetch<T>(blk[i] + in.ahead + 128);
      prefetch<T>(blk[i] + in.ahead + kBytes - 1);
      scales(blk[i], dsc[i], dm[i]);
    }
    DSI_UNROLL
    for (int cj = 0; cj < 4; ++cj) chunk<R, T>(blk, dsc, ar, sb, cj, acc);
    DSI_UNROLL
    for (int j = 0; j < T; ++j) {
      const __m256 fs = _mm256_loadu_ps(ar.fs[j] + sb * 8);
      DSI_UNROLL
      for (int i = 0; i < R; ++i) acc[i][j] = _mm256_fnmadd_ps(dm[i], fs, acc[i][j]);
    }
  }
};
using Q4_KKernel = KQuantKernel<false>;
using Q5_KKernel = KQuantKernel<true>;

// Q6_K: a half of a super-block (128 values) is 64 bytes of low nibbles and
// 32 of high bits; its k-th 32 values (two sub-blocks) take the low (k = 0, 1)
// or high (k = 2, 3) nibbles of ql bytes 32 (k % 2) .. + 31 and bits 2k, 2k + 1
// of qh. The codes q in [0, 63] go through maddubs (pairs <= 2 * 63 * 127, no
// saturation), less the pairs of 32 * a (one maddubs per token, shared by the
// rows), then madd by the sub-blocks' int8 scales into exact int32 sums over
// the super-block; one float multiply-add per super-block scales them by
// d * d_a (span-8 activations), as the scalar twin does.
struct Q6_KKernel : BlockTiles<Q6_KKernel, 2, 2> {
  static constexpr int64_t kBytes = sizeof(BlockQ6_K);

  // Codes of values 32k .. 32k + 31 of half h of the block at p.
  DSI_INLINE static __m256i codes(const uint8_t* p, int h, int k) {
    const __m256i ql = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 64 * h + 32 * (k % 2)));
    const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 128 + 32 * h));
    const __m256i low4 = _mm256_set1_epi8(0x0f), top2 = _mm256_set1_epi8(0x30);
    const __m256i lo = k < 2 ? ql : _mm256_srli_epi16(ql, 4);
    const __m256i hi = k == 0 ? _mm256_slli_epi16(qh, 4) : k == 1 ? _mm256_slli_epi16(qh, 2) : k == 2 ? qh : _mm256_srli_epi16(qh, 2);
    return _mm256_or_si256(_mm256_and_si256(lo, low4), _mm256_and_si256(hi, top2));
  }

  // Scales of sub-blocks 2p (16-bit lanes 0..7) and 2p + 1 (lanes 8..15), from
  // the 16 scales widened to int16.
  DSI_INLINE static __m256i pair_scales(__m256i sc, int p) {
    const __m256i both = _mm256_permutevar8x32_epi32(sc, _mm256_set1_epi32(p));
    const __m256i pick = _mm256_setr_epi8(0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1,  //
                                          2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3);
    return _mm256_shuffle_epi8(both, pick);
  }

  template <int R, int T>
  DSI_INLINE static void part(const uint8_t* const* blk, const __m256i* sc, const ActRows<T>& ar, int64_t sb, int p,
                              __m256i (&isum)[R][T]) {
    __m256i q[R], s[R];
    DSI_UNROLL
    for (int i = 0; i < R; ++i) {
      q[i] = codes(blk[i], p / 4, p % 4);
      s[i] = pair_scales(sc[i], p);
    }
    DSI_UNROLL
    for (int j = 0; j < T; ++j) {
      const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ar.q[j] + sb * kQ6_KElems + 32 * p));
      const __m256i a32 = _mm256_maddubs_epi16(_mm256_set1_epi8(32), a);
      DSI_UNROLL
      for (int i = 0; i < R; ++i) {
        const __m256i pairs = _mm256_sub_epi16(_mm256_maddubs_epi16(q[i], a), a32);
        isum[i][j] = _mm256_add_epi32(isum[i][j], _mm256_madd_epi16(pairs, s[i]));
      }
    }
  }

  template <int R, int T>
  DSI_INLINE static void block(const TileIn<R, T>& in, int64_t sb, __m256 (&acc)[R][T]) {
    const uint8_t* blk[R];
    __m256i sc[R];
    float d[R];
    DSI_UNROLL
    for (int i = 0; i < R; ++i) {
      blk[i] = in.template fetch_all<T>(i, sb * kBytes, kBytes);
      sc[i] = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk[i] + 192)));
      d[i] = half_at(blk[i] + 208);
    }
    __m256i isum[R][T];
    DSI_UNROLL
    for (int i = 0; i < R; ++i)
      DSI_UNROLL
      for (int j = 0; j < T; ++j) isum[i][j] = _mm256_setzero_si256();
    DSI_UNROLL
    for (int p = 0; p < 8; ++p) part<R, T>(blk, sc, in.ar, sb, p, isum);
    DSI_UNROLL
    for (int j = 0; j < T; ++j) {
      const float da = in.ar.d[j][sb * kSuperSpan];
      DSI_UNROLL
      for (int i = 0; i < R; ++i)
        acc[i][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[i][j]), _mm256_set1_ps(d[i] * da), acc[i][j]);
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

RowsFn avx2_rows_fn(const Weight& w) { return simd::rows_fn<Kernels>(w); }

}  // namespace dsinfer::kernels::cpu
