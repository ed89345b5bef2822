// y = x W^T for bf16 weights against activations rounded to bf16
// (BackendOptions::bf16_activations): the AVX-512 kernel by vdpbf16ps, which
// does 32 multiply-adds where an f32 FMA does 16, and its scalar twin. Each
// output is 16 lane sums folded pairwise in one fixed order, whatever the
// tile, so a token's result does not depend on how many tokens share the
// call.
#include "kernels/cpu/intrin.h"  // first: see intrin.h
#include <algorithm>
#include <cstring>

#include "core/dtype.h"
#include "kernels/cpu/simd_common.h"

#define DSI_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,avx2,fma")))
#define DSI_ROUND_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx2")))
#define DSI_UNROLL _Pragma("GCC unroll 16")
#define DSI_INLINE DSI_TARGET inline __attribute__((always_inline))

namespace dsinfer::kernels::cpu {

namespace {

constexpr int64_t kStep = Bf16Act::kStepValues;  // values per vdpbf16ps

// ---- scalar twin -----------------------------------------------------------

// Lane l + l + 8, then + 4, + 2, + 1 (the AVX-512 kernel's order).
float fold16(float (&lane)[16]) {
  for (int h = 8; h >= 1; h /= 2)
    for (int l = 0; l < h; ++l) lane[l] += lane[l + h];
  return lane[0];
}

// vdpbf16ps per lane: the odd column's product first, then the even one's
// (Intel's definition; both products are exact in f32).
float dot_scalar(const uint16_t* w, const Bf16Act& x, int64_t t) {
  float lane[16] = {};
  for (int64_t s = 0; s < x.steps; ++s) {
    const uint16_t* xs = x.at(t, s);  // zero past k
    for (int l = 0; l < 16; ++l) {
      const int64_t c = kStep * s + 2 * l;
      const float odd = c + 1 < x.k ? bf16_to_f32(w[c + 1]) * bf16_to_f32(xs[2 * l + 1]) : 0.0f;
      const float even = c < x.k ? bf16_to_f32(w[c]) * bf16_to_f32(xs[2 * l]) : 0.0f;
      lane[l] = (lane[l] + odd) + even;
    }
  }
  return fold16(lane);
}

void rows_scalar(const MatmulJob& job, int64_t begin, int64_t end) {
  const simd::RowsCtx c = simd::make_ctx(job);
  const MatmulArgs& a = *job.a;
  for (int64_t t = 0; t < a.n; ++t)
    for (int64_t r = begin; r < end; ++r) {
      float v = dot_scalar(reinterpret_cast<const uint16_t*>(c.row(r)), *job.xb, t);
      if (a.bias) v += a.bias[r];
      a.y[t * a.y_stride + r] = v;
    }
}

// ---- AVX-512 ---------------------------------------------------------------

DSI_INLINE float hsum(__m512 v) {
  const __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
  const __m256 a = _mm256_add_ps(_mm512_castps512_ps256(v), hi);                      // l + l + 8
  const __m128 b = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));  // + 4
  const __m128 c = _mm_add_ps(b, _mm_movehl_ps(b, b));                                 // + 2
  return _mm_cvtss_f32(_mm_add_ss(c, _mm_movehdup_ps(c)));                              // + 1
}

// The 16 sums of acc[i][j] (i, j < 4) at once, lane 4 j + i, each folded in
// hsum's order: 15 adds for 16 outputs instead of 64.
template <int R>
DSI_INLINE __m512 hsum16(const __m512 (&acc)[R][4]) {
  __m512 b[8], q[4], d[2];
  DSI_UNROLL
  for (int p = 0; p < 8; ++p) {  // acc 2p and 2p + 1 (index 4 i + j): l + l + 8, one per 256-bit half
    const __m512 x = acc[p / 2][2 * (p % 2)], y = acc[p / 2][2 * (p % 2) + 1];
    b[p] = _mm512_add_ps(_mm512_shuffle_f32x4(x, y, _MM_SHUFFLE(1, 0, 1, 0)),
                         _mm512_shuffle_f32x4(x, y, _MM_SHUFFLE(3, 2, 3, 2)));
  }
  DSI_UNROLL
  for (int k = 0; k < 4; ++k)  // + 4: one sum per 128-bit quarter
    q[k] = _mm512_add_ps(_mm512_shuffle_f32x4(b[2 * k], b[2 * k + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm512_shuffle_f32x4(b[2 * k], b[2 * k + 1], _MM_SHUFFLE(3, 1, 3, 1)));
  DSI_UNROLL
  for (int k = 0; k < 2; ++k) {  // + 2
    const __m512d x = _mm512_castps_pd(q[2 * k]), y = _mm512_castps_pd(q[2 * k + 1]);
    d[k] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(x, y)), _mm512_castpd_ps(_mm512_unpackhi_pd(x, y)));
  }
  return _mm512_add_ps(_mm512_shuffle_ps(d[0], d[1], _MM_SHUFFLE(2, 0, 2, 0)),  // + 1
                       _mm512_shuffle_ps(d[0], d[1], _MM_SHUFFLE(3, 1, 3, 1)));
}

struct Dots {
  static constexpr int kR = 6, kT = 4;

  // One step of 32 columns; Tail: the row's last, partial one.
  // Pf: ask for the same lines of the next tile's rows, into L2 (kStreamHint).
  template <int R, int T, bool Tail, bool Pf>
  DSI_INLINE static void step(const uint8_t* const* wp, const uint16_t* const* xp, int64_t col, __mmask32 m,
                              size_t ahead, __m512 (&acc)[R][T]) {
    __m512bh w[R];
    DSI_UNROLL
    for (int i = 0; i < R; ++i) {
      const uint8_t* p = wp[i] + 2 * col;
      if constexpr (Pf) _mm_prefetch(reinterpret_cast<const char*>(p + ahead), kStreamHint);
      w[i] = reinterpret_cast<__m512bh>(Tail ? _mm512_maskz_loadu_epi16(m, p) : _mm512_loadu_si512(p));
    }
    DSI_UNROLL
    for (int j = 0; j < T; ++j) {
      // Step col / 32 of token j's tile (zero past k).
      const __m512bh x = reinterpret_cast<__m512bh>(_mm512_load_si512(xp[j] + col * Bf16Act::kTileTokens));
      DSI_UNROLL
      for (int i = 0; i < R; ++i) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], w[i], x);
    }
  }

  // Rows 0..3 of a 4-token tile through hsum16, the others one by one.
  template <int R, int T>
  DSI_INLINE static void store(const simd::RowsCtx& c, int64_t r, int64_t t, const __m512 (&acc)[R][T]) {
    const MatmulArgs& a = *c.a;
    int i0 = 0;
    if constexpr (R >= 4 && T == 4) {
      alignas(64) float s[16];  // through memory: -O1 (the sanitizer build) keeps j a variable, not an immediate
      _mm512_store_ps(s, hsum16(acc));
      const __m128 bias = a.bias ? _mm_loadu_ps(a.bias + r) : _mm_setzero_ps();
      DSI_UNROLL
      for (int j = 0; j < 4; ++j) {
        const __m128 v = _mm_load_ps(s + 4 * j);
        _mm_storeu_ps(a.y + (t + j) * a.y_stride + r, a.bias ? _mm_add_ps(v, bias) : v);
      }
      i0 = 4;
    }
    {
      DSI_UNROLL
      for (int i = i0; i < R; ++i)
        DSI_UNROLL
        for (int j = 0; j < T; ++j) {
          float v = hsum(acc[i][j]);
          if (a.bias) v += a.bias[r + i];
          a.y[(t + j) * a.y_stride + r + i] = v;
        }
    }
  }

  // Pf: decode tiles (T <= 2) stream every row once and prefetch all the way.
  // A longer call's rows serve the chunk's tokens tile after tile: its first
  // kPfPasses tiles over each rows prefetch the next rows' lines, tile `phase`
  // those of the steps s with s % kPfPasses == phase. (Every tile asking for
  // all of them cost ~15% of a 512-token bf16 prefill; with only the first
  // tile asking for all, perf counted ~5x the samples of a later tile in it,
  // and the prefill ran ~2% slower than spread over 8.)
  static constexpr int kPfPasses = 8;
  template <int R, int T, bool Pf = (T <= 2)>
  DSI_TARGET static void tile(const simd::RowsCtx& c, int64_t r, int64_t t, int phase = 0) {
    __m512 acc[R][T];
    DSI_UNROLL
    for (int i = 0; i < R; ++i)
      DSI_UNROLL
      for (int j = 0; j < T; ++j) acc[i][j] = _mm512_setzero_ps();
    const uint8_t* wp[R];
    DSI_UNROLL
    for (int i = 0; i < R; ++i) wp[i] = c.row(r + i);
    const uint16_t* xp[T];
    DSI_UNROLL
    for (int j = 0; j < T; ++j) xp[j] = c.xb->at(t + j, 0);
    const size_t ahead = c.row_bytes * kR;  // the same bytes of the next tile's rows
    int64_t col = 0;
    for (; col + kStep <= c.k; col += kStep) {
      if (Pf && (T <= 2 || (col / kStep) % kPfPasses == phase))
        step<R, T, false, Pf>(wp, xp, col, 0, ahead, acc);
      else
        step<R, T, false, false>(wp, xp, col, 0, ahead, acc);
    }
    if (col < c.k) step<R, T, true, Pf>(wp, xp, col, static_cast<__mmask32>((uint64_t{1} << (c.k - col)) - 1), ahead, acc);
    store(c, r, t, acc);
  }
};

// simd::run_rows, with the first Dots::kPfPasses token tiles of each chunk's
// pass over a tile of rows prefetching the next tile's rows (Dots::tile's Pf).
template <int R>
void dots_tokens(const simd::RowsCtx& c, int64_t r, int64_t t0, int64_t t1) {
  int64_t t = t0;
  if (t1 - t0 > 2)
    for (int phase = 0; phase < Dots::kPfPasses && t + Dots::kT <= t1; ++phase, t += Dots::kT)
      Dots::tile<R, Dots::kT, true>(c, r, t, phase);
  simd::run_tokens<Dots, R>(c, r, t, t1);
}

void rows_avx512(const MatmulJob& job, int64_t begin, int64_t end) {
  const simd::RowsCtx c = simd::make_ctx(job);
  const int64_t n = job.a->n;
  const int64_t chunk = token_chunk(simd::act_bytes_per_token(job)) / Dots::kT * Dots::kT;
  for (int64_t t0 = 0; t0 < n; t0 += chunk) {
    const int64_t t1 = std::min(n, t0 + chunk);
    int64_t r = begin;
    for (; r + Dots::kR <= end; r += Dots::kR) dots_tokens<Dots::kR>(c, r, t0, t1);
    for (; r < end; ++r) dots_tokens<1>(c, r, t0, t1);
  }
}

}  // namespace

// n values rounded as f32_to_bf16 (nearest even; a NaN stays a quiet NaN).
DSI_ROUND_TARGET void round_bf16_avx512(const float* x, int64_t n, uint16_t* out) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m512 f = _mm512_maskz_loadu_ps(m, x + i);
    const __m512i b = _mm512_castps_si512(f);
    const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(b, 16), _mm512_set1_epi32(1));
    __m512i r = _mm512_add_epi32(b, _mm512_add_epi32(odd, _mm512_set1_epi32(0x7fff)));
    r = _mm512_mask_or_epi32(r, _mm512_cmp_ps_mask(f, f, _CMP_UNORD_Q), b, _mm512_set1_epi32(0x400000));
    _mm256_mask_storeu_epi16(out + i, m, _mm512_cvtepi32_epi16(_mm512_srli_epi32(r, 16)));
  }
}

void Bf16Act::resize(int64_t n_tokens, int64_t k_values) {
  n = n_tokens;
  k = k_values;
  steps = (k_values + kStepValues - 1) / kStepValues;
  v.resize(static_cast<size_t>((n + kTileTokens - 1) / kTileTokens * steps * kTileTokens * kStepValues));
}

void round_act_bf16(Isa isa, const float* x, int64_t x_stride, int64_t t0, int64_t t1, Bf16Act& act) {
  for (int64_t t = t0; t < t1; ++t) {
    const float* xr = x + t * x_stride;
    for (int64_t s = 0; s < act.steps; ++s) {
      uint16_t* out = act.at(t, s);
      const int64_t c0 = s * kStep, m = std::min(kStep, act.k - c0);
      if (isa >= Isa::Avx512) {
        round_bf16_avx512(xr + c0, m, out);
      } else {
        for (int64_t c = 0; c < m; ++c) out[c] = f32_to_bf16(xr[c0 + c]);
      }
      std::fill(out + m, out + kStep, uint16_t{0});
    }
  }
}

RowsFn bf16_dots_rows_fn(Isa isa) {
  if (isa == Isa::Scalar) return rows_scalar;
  if (isa >= Isa::Avx512 && has_bf16_dots()) return rows_avx512;
  return nullptr;
}

}  // namespace dsinfer::kernels::cpu
