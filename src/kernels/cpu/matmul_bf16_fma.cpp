// y = x W^T for bf16 weights against float32 activations (the default; with
// BackendOptions::Activations::BF16, matmul_bf16_dots.cpp): the AVX-512 kernel
// on bf16_panels.h, f32 FMA on the weights widened exactly, and its scalar
// twin. Each output is one fused multiply-add per column in column order
// (std::fma), the bias last, so the kernel and the twin agree bit for bit.
#include "kernels/cpu/bf16_panels.h"  // first: includes intrin.h
#include <cmath>

#include "core/dtype.h"

#define DSI_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma")))
#define DSI_INLINE DSI_TARGET inline __attribute__((always_inline))

namespace dsinfer::kernels::cpu {

namespace {

using panels::kStep;
using panels::Panel;
using panels::PfShare;

// ---- scalar twin -----------------------------------------------------------

void rows_scalar(const MatmulJob& job, int64_t begin, int64_t end) {
  const simd::RowsCtx c = simd::make_ctx(job);
  const MatmulArgs& a = *job.a;
  for (int64_t t = 0; t < a.n; ++t)
    for (int64_t r = begin; r < end; ++r) {
      const auto* w = reinterpret_cast<const uint16_t*>(c.row(r));
      const float* x = a.x + t * a.x_stride;
      float acc = 0.0f;
      for (int64_t col = 0; col < c.k; ++col) acc = std::fma(bf16_to_f32(w[col]), x[col], acc);
      if (a.bias) acc += a.bias[r];
      a.y[t * a.y_stride + r] = acc;
    }
}

// ---- AVX-512 ---------------------------------------------------------------

// A vector of 16 rows' column pairs (the even column in each lane's low half)
// as the two columns' f32 values.
DSI_INLINE __m512 even_f32(__m512i v) { return _mm512_castsi512_ps(_mm512_slli_epi32(v, 16)); }
DSI_INLINE __m512 odd_f32(__m512i v) {
  return _mm512_castsi512_ps(_mm512_and_si512(v, _mm512_set1_epi32(static_cast<int>(0xffff0000u))));
}

// acc[j] (rows' lanes, token j) += the pair's two columns times token j's
// values at col, col + 1; Odd: false where col + 1 is past k.
template <int T, bool Odd = true>
DSI_INLINE void fma_pair(__m512i v, const float* const (&xs)[T], int64_t col, __m512 (&acc)[T]) {
  const __m512 e = even_f32(v), o = odd_f32(v);
  DSI_PANEL_UNROLL
  for (int j = 0; j < T; ++j) {
    acc[j] = _mm512_fmadd_ps(e, _mm512_set1_ps(xs[j][col]), acc[j]);
    if constexpr (Odd) acc[j] = _mm512_fmadd_ps(o, _mm512_set1_ps(xs[j][col + 1]), acc[j]);
  }
}

struct Fma {
  static constexpr int64_t kTileTokens = 6;  // 4 x 6 accumulators

  // Tokens t .. t + T - 1 against the panel's rows (panels::start_sums).
  template <int V, int T>
  DSI_TARGET static void tile(const simd::RowsCtx& c, const Panel& pn, int64_t t, const PfShare& pf) {
    const MatmulArgs& a = *c.a;
    __m512 acc[V][T];
    panels::start_sums(c, pn, t, acc);
    const float* xs[T];
    DSI_PANEL_UNROLL
    for (int j = 0; j < T; ++j) xs[j] = a.x + (t + j) * a.x_stride + 2 * pn.p0;
    const uint16_t* wp = pn.w;
    panels::PfWalk walk(c, pn, pf);
    const int64_t full = pn.cols / 2;  // pairs with both columns (the last panel may end on an even one)
    for (int64_t p = 0; p < full; ++p, wp += V * 32) {
      walk.pair();
      DSI_PANEL_UNROLL
      for (int i = 0; i < V; ++i) fma_pair<T>(_mm512_load_si512(wp + 32 * i), xs, 2 * p, acc[i]);
    }
    if (pn.cols % 2)
      DSI_PANEL_UNROLL
      for (int i = 0; i < V; ++i) fma_pair<T, false>(_mm512_load_si512(wp + 32 * i), xs, 2 * full, acc[i]);
    panels::store_sums(c, pn, t, acc);
  }

  // Tokens t .. t + T - 1 against s's 16 rows, step by step.
  template <int T>
  DSI_TARGET static void direct(const simd::RowsCtx& c, const panels::StepRows& s, int64_t t) {
    const MatmulArgs& a = *c.a;
    __m512 acc[T];
    DSI_PANEL_UNROLL
    for (int j = 0; j < T; ++j) acc[j] = _mm512_setzero_ps();
    const float* xs[T];
    DSI_PANEL_UNROLL
    for (int j = 0; j < T; ++j) xs[j] = a.x + (t + j) * a.x_stride;
    int64_t col = 0;
    __m512i v[16];
    for (; col + kStep <= c.k; col += kStep) {
      panels::load_pairs<kStreamHint>(c, s, col, v);
      DSI_PANEL_UNROLL
      for (int q = 0; q < 16; ++q) fma_pair<T>(v[q], xs, col + 2 * q, acc);
    }
    if (col < c.k) {
      panels::load_pairs<kStreamHint>(c, s, col, v);
      for (int q = 0; col + 2 * q < c.k; ++q) {
        if (col + 2 * q + 1 < c.k)
          fma_pair<T>(v[q], xs, col + 2 * q, acc);
        else
          fma_pair<T, false>(v[q], xs, col + 2 * q, acc);
      }
    }
    panels::store_direct(c, s, t, acc);
  }
};

void rows_avx512(const MatmulJob& job, int64_t begin, int64_t end) { panels::run<Fma>(job, begin, end); }

}  // namespace

RowsFn bf16_fma_rows_fn(Isa isa) {
  if (isa == Isa::Scalar) return rows_scalar;
  if (isa >= Isa::Avx512) return rows_avx512;
  return nullptr;
}

}  // namespace dsinfer::kernels::cpu
