// y = x W^T for bf16 weights against activations rounded to bf16
// (BackendOptions::Activations::BF16): the AVX-512 kernel by vdpbf16ps, which
// does 32 multiply-adds where an f32 FMA does 16, on bf16_panels.h, and its
// scalar twin. Each output is one f32 sum over the column pairs in order
// (vdpbf16ps per pair: the odd column's product, then the even one's).
#include "kernels/cpu/bf16_panels.h"  // first: includes intrin.h
#include <cstring>

#include "core/dtype.h"

#define DSI_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,avx2,fma")))
#define DSI_ROUND_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx2")))

namespace dsinfer::kernels::cpu {

namespace {

// ---- scalar twin -----------------------------------------------------------

// Token t against one row: the kernel's pairs in its order, the padding up
// to whole steps included (its products are zeros, as in the kernel).
float dot_scalar(const uint16_t* w, const Bf16Act& x, int64_t t) {
  const uint16_t* xs = x.at(t, 0);  // zero past k
  const auto wv = [&](int64_t c) { return c < x.k ? bf16_to_f32(w[c]) : 0.0f; };
  float acc = 0.0f;
  for (int64_t c = 0; c < x.steps * panels::kStep; c += 2) {
    const float odd = wv(c + 1) * bf16_to_f32(xs[c + 1]), even = wv(c) * bf16_to_f32(xs[c]);
    acc = (acc + odd) + even;
  }
  return acc;
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

struct Dots {
  static constexpr int64_t kTileTokens = 6;  // 4 x 6 accumulators, 4 weight vectors: 28 of 32 registers

  // Tokens t .. t + T - 1 against the panel's rows (panels::start_sums).
  template <int V, int T>
  DSI_TARGET static void tile(const simd::RowsCtx& c, const panels::Panel& pn, int64_t t, const panels::PfShare& pf) {
    __m512 acc[V][T];
    panels::start_sums(c, pn, t, acc);
    const uint16_t* xs[T];
    DSI_PANEL_UNROLL
    for (int j = 0; j < T; ++j) xs[j] = c.xb->at(t + j, 0) + 2 * pn.p0;
    const uint16_t* wp = pn.w;
    panels::PfWalk walk(c, pn, pf);
    for (int64_t p = 0; p < pn.pairs; ++p, wp += V * 32) {
      walk.pair();
      __m512bh w[V];
      DSI_PANEL_UNROLL
      for (int i = 0; i < V; ++i) w[i] = reinterpret_cast<__m512bh>(_mm512_load_si512(wp + 32 * i));
      DSI_PANEL_UNROLL
      for (int j = 0; j < T; ++j) {
        const __m512bh x = reinterpret_cast<__m512bh>(_mm512_broadcastd_epi32(_mm_loadu_si32(xs[j] + 2 * p)));
        DSI_PANEL_UNROLL
        for (int i = 0; i < V; ++i) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], w[i], x);
      }
    }
    panels::store_sums(c, pn, t, acc);
  }

  // Tokens t .. t + T - 1 against s's 16 rows, step by step.
  template <int T>
  DSI_TARGET static void direct(const simd::RowsCtx& c, const panels::StepRows& s, int64_t t) {
    __m512 acc[T];
    DSI_PANEL_UNROLL
    for (int j = 0; j < T; ++j) acc[j] = _mm512_setzero_ps();
    const uint16_t* xs[T];
    DSI_PANEL_UNROLL
    for (int j = 0; j < T; ++j) xs[j] = c.xb->at(t + j, 0);
    for (int64_t col = 0; col < c.k; col += panels::kStep) {
      __m512i v[16];
      panels::load_pairs<kStreamHint>(c, s, col, v);
      DSI_PANEL_UNROLL
      for (int q = 0; q < 16; ++q)
        DSI_PANEL_UNROLL
        for (int j = 0; j < T; ++j) {
          const __m512bh x = reinterpret_cast<__m512bh>(_mm512_broadcastd_epi32(_mm_loadu_si32(xs[j] + col + 2 * q)));
          acc[j] = _mm512_dpbf16_ps(acc[j], reinterpret_cast<__m512bh>(v[q]), x);
        }
    }
    panels::store_direct(c, s, t, acc);
  }
};

void rows_avx512(const MatmulJob& job, int64_t begin, int64_t end) { panels::run<Dots>(job, begin, end); }

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
  v.resize(static_cast<size_t>(n * steps * kStepValues));
}

void round_act_bf16(Isa isa, const float* x, int64_t x_stride, int64_t t0, int64_t t1, Bf16Act& act) {
  for (int64_t t = t0; t < t1; ++t) {
    const float* xr = x + t * x_stride;
    for (int64_t s = 0; s < act.steps; ++s) {
      uint16_t* out = act.at(t, s);
      const int64_t c0 = s * panels::kStep, m = std::min(panels::kStep, act.k - c0);
      if (isa >= Isa::Avx512) {
        round_bf16_avx512(xr + c0, m, out);
      } else {
        for (int64_t c = 0; c < m; ++c) out[c] = f32_to_bf16(xr[c0 + c]);
      }
      std::fill(out + m, out + panels::kStep, uint16_t{0});
    }
  }
}

RowsFn bf16_dots_rows_fn(Isa isa) {
  if (isa == Isa::Scalar) return rows_scalar;
  if (isa >= Isa::Avx512 && has_bf16_dots()) return rows_avx512;
  return nullptr;
}

}  // namespace dsinfer::kernels::cpu
