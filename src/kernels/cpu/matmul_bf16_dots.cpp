// y = x W^T for bf16 weights against activations rounded to bf16
// (BackendOptions::bf16_activations): the AVX-512 kernel by vdpbf16ps, which
// does 32 multiply-adds where an f32 FMA does 16, and its scalar twin.
//
// Each output is one f32 sum over the column pairs in order (vdpbf16ps per
// pair: the odd column's product, then the even one's), whatever the tile:
// a token's result does not depend on how many tokens share the call. The
// AVX-512 kernel gets that order without horizontal sums by giving each
// vector lane a row: it repacks a panel of up to 64 rows x 2048 columns
// pair-major (for each column pair, 16 rows' pairs per vector; a 16 x 16
// transpose of 32-bit pairs) and multiplies it by each token's pairs
// broadcast. The panel then serves every token of the call from L2. Up to 8
// tokens skip the panel (direct).
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

constexpr int64_t kStep = Bf16Act::kStepValues;  // columns per step (16 pairs)

// ---- scalar twin -----------------------------------------------------------

// Token t against one row: the kernel's pairs in its order, the padding up
// to whole steps included (its products are zeros, as in the kernel).
float dot_scalar(const uint16_t* w, const Bf16Act& x, int64_t t) {
  const uint16_t* xs = x.at(t, 0);  // zero past k
  const auto wv = [&](int64_t c) { return c < x.k ? bf16_to_f32(w[c]) : 0.0f; };
  float acc = 0.0f;
  for (int64_t c = 0; c < x.steps * kStep; c += 2) {
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

constexpr int kLanes = 16;                // rows per vector
constexpr int kPanelVecs = 4;             // vectors of rows per panel
// Columns per panel: 64 x 2048 bf16 = 256 KiB, a quarter of L2 (1024 and
// 4096 ran the same: matmul_bench PrefillBf16Dots, 512 tokens).
constexpr int64_t kPanelCols = 2048;
constexpr int kTileTokens = 6;            // 4 x 6 accumulators, 4 weight vectors: 28 of 32 registers
static_assert(kPanelCols % kStep == 0);

// Rows [r, r + rows) x columns [c0, c1) of the weight, pair-major:
// w[(p * vecs + i) * 32 ..] holds pair p of rows r + 16 i .. r + 16 i + 15.
struct Panel {
  const uint16_t* w = nullptr;
  int64_t r = 0, rows = 0;
  int vecs = 0;
  int64_t p0 = 0, pairs = 0;  // first pair (c0 / 2) and pairs (whole steps)
  bool first = false, last = false;  // starts the sums (else goes on from those in y) / ends them (adds the bias)
  // The next panel's weight lines (rows from next_row on; 0 rows: none),
  // which the panel's last kPfTiles token tiles ask for, into L2. (Asked for
  // by the first tiles, the lines were gone by the next pack: the tokens'
  // activations stream through L2 in between.)
  const uint8_t* next = nullptr;  // next_row's first line
  int64_t next_rows = 0, next_lines = 0;  // lines per row
};

// Asking for the next panel's lines in pack stalled it (perf: most of its
// samples on the prefetches, 64 streams at once); spread over the token
// tiles, each tile asks for a share of the rows, a few lines per pair.
constexpr int kPfTiles = 8;  // 16 ran the same

// The next-panel rows [row, row_end) a tile asks for, and how many lines per pair.
struct PfShare {
  int64_t row = 0, row_end = 0, per_pair = 0;
};

DSI_INLINE __mmask16 lane_mask(int64_t n) {
  return n >= kLanes ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << n) - 1);
}

// In: v[i] = 16 pairs of row i. Out: v[p] = pair p of rows 0..15.
DSI_INLINE void transpose16(__m512i (&v)[16]) {
  __m512i t[16];
  DSI_UNROLL
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_epi32(v[2 * i], v[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_epi32(v[2 * i], v[2 * i + 1]);
  }
  DSI_UNROLL
  for (int i = 0; i < 4; ++i) {  // v[4 i + q], 128-bit lane L: pair 4 L + q of rows 4 i .. 4 i + 3
    v[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
    v[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
    v[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
    v[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
  }
  DSI_UNROLL
  for (int i = 0; i < 2; ++i)
    DSI_UNROLL
    for (int q = 0; q < 4; ++q) {
      t[8 * i + q] = _mm512_shuffle_i32x4(v[8 * i + q], v[8 * i + 4 + q], 0x88);
      t[8 * i + 4 + q] = _mm512_shuffle_i32x4(v[8 * i + q], v[8 * i + 4 + q], 0xdd);
    }
  DSI_UNROLL
  for (int q = 0; q < 8; ++q) {
    v[q] = _mm512_shuffle_i32x4(t[q], t[8 + q], 0x88);
    v[8 + q] = _mm512_shuffle_i32x4(t[q], t[8 + q], 0xdd);
  }
}

// Rows r .. r + 15 (zeros from `rows` on) of a step's columns.
struct StepRows {
  int64_t r = 0, rows = 0;
  size_t ahead = 0;  // each line read asks for the line this many bytes on
};

// Columns [col, col + 32) of s's rows (zeros past k), transposed: v[p] holds
// pair p of the 16 rows.
template <auto Hint>
DSI_INLINE void load_pairs(const simd::RowsCtx& c, const StepRows& s, int64_t col, __m512i (&v)[16]) {
  const __mmask32 m = c.k - col >= kStep ? ~__mmask32{0} : static_cast<__mmask32>((uint64_t{1} << (c.k - col)) - 1);
  DSI_UNROLL
  for (int i = 0; i < 16; ++i) {
    if (i >= s.rows) {
      v[i] = _mm512_setzero_si512();
      continue;
    }
    const uint8_t* w = c.row(s.r + i) + 2 * col;
    _mm_prefetch(reinterpret_cast<const char*>(w + s.ahead), Hint);
    v[i] = _mm512_maskz_loadu_epi16(m, w);
  }
  transpose16(v);
}

// Fills pn's storage; rows past pn.rows and columns past k are zeros. The
// next panel's lines are in L2 by now (Panel::next); each row asks for its
// lines 4 on into L1 (a few % of a 512-token prefill).
DSI_TARGET void pack(const simd::RowsCtx& c, const Panel& pn, uint16_t* out) {
  const int64_t c0 = 2 * pn.p0, steps = pn.pairs / kLanes;
  for (int b = 0; b < pn.vecs; ++b) {
    const StepRows rows{pn.r + kLanes * b, pn.rows - kLanes * b, 256};
    for (int64_t s = 0; s < steps; ++s) {
      __m512i v[16];
      load_pairs<_MM_HINT_T0>(c, rows, c0 + s * kStep, v);
      DSI_UNROLL
      for (int q = 0; q < 16; ++q) _mm512_store_si512(out + ((s * kLanes + q) * pn.vecs + b) * 32, v[q]);
    }
  }
}

// Tokens t .. t + T - 1 against the panel's rows: acc[i][j] lane l is row
// r + 16 i + l for token t + j.
template <int V, int T>
DSI_TARGET void tile(const simd::RowsCtx& c, const Panel& pn, int64_t t, const PfShare& pf) {
  const MatmulArgs& a = *c.a;
  const __mmask16 last_mask = lane_mask(pn.rows - kLanes * (V - 1));
  const auto mask = [&](int i) { return i == V - 1 ? last_mask : static_cast<__mmask16>(0xffff); };
  __m512 acc[V][T];
  DSI_UNROLL
  for (int j = 0; j < T; ++j)
    DSI_UNROLL
    for (int i = 0; i < V; ++i)
      acc[i][j] = pn.first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(mask(i), a.y + (t + j) * a.y_stride + pn.r + kLanes * i);
  const uint16_t* xs[T];
  DSI_UNROLL
  for (int j = 0; j < T; ++j) xs[j] = c.xb->at(t + j, 0) + 2 * pn.p0;
  const uint16_t* wp = pn.w;
  const uint8_t* next = pn.next + pf.row * static_cast<int64_t>(c.row_bytes);
  int64_t pf_row = pf.row, pf_line = 0;
  for (int64_t p = 0; p < pn.pairs; ++p, wp += V * 32) {
    for (int64_t q = 0; q < pf.per_pair && pf_row < pf.row_end; ++q) {
      _mm_prefetch(reinterpret_cast<const char*>(next + 64 * pf_line), kStreamHint);
      if (++pf_line == pn.next_lines) {
        pf_line = 0;
        ++pf_row;
        next += c.row_bytes;
      }
    }
    __m512bh w[V];
    DSI_UNROLL
    for (int i = 0; i < V; ++i) w[i] = reinterpret_cast<__m512bh>(_mm512_load_si512(wp + 32 * i));
    DSI_UNROLL
    for (int j = 0; j < T; ++j) {
      const __m512bh x = reinterpret_cast<__m512bh>(_mm512_broadcastd_epi32(_mm_loadu_si32(xs[j] + 2 * p)));
      DSI_UNROLL
      for (int i = 0; i < V; ++i) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], w[i], x);
    }
  }
  DSI_UNROLL
  for (int i = 0; i < V; ++i) {
    const __m512 bias = pn.last && a.bias ? _mm512_maskz_loadu_ps(mask(i), a.bias + pn.r + kLanes * i) : _mm512_setzero_ps();
    DSI_UNROLL
    for (int j = 0; j < T; ++j) {
      const __m512 v = pn.last && a.bias ? _mm512_add_ps(acc[i][j], bias) : acc[i][j];
      _mm512_mask_storeu_ps(a.y + (t + j) * a.y_stride + pn.r + kLanes * i, mask(i), v);
    }
  }
}

// Decode and batched decode (up to kDirectTokens tokens): no panel. Each 16
// rows' step is transposed in registers and used at once, the sums in the
// panel tiles' order (so the same bits). Through a panel, the pack's stores
// and reloads (and its prefetches, too late for one short tile) made the
// 1.5B's decode ~1.7x slower, and a batch of 8 ~1.5x.
constexpr int64_t kDirectTokens = 8;

template <int T>
DSI_TARGET void direct(const simd::RowsCtx& c, int64_t r, int64_t rows, int64_t t) {
  const MatmulArgs& a = *c.a;
  const __mmask16 rm = lane_mask(rows);
  const StepRows step_rows{r, rows, c.row_bytes * kLanes};  // prefetch: the same line of the next 16 rows
  __m512 acc[T];
  DSI_UNROLL
  for (int j = 0; j < T; ++j) acc[j] = _mm512_setzero_ps();
  const uint16_t* xs[T];
  DSI_UNROLL
  for (int j = 0; j < T; ++j) xs[j] = c.xb->at(t + j, 0);
  for (int64_t col = 0; col < c.k; col += kStep) {
    __m512i v[16];
    load_pairs<kStreamHint>(c, step_rows, col, v);
    DSI_UNROLL
    for (int q = 0; q < 16; ++q)
      DSI_UNROLL
      for (int j = 0; j < T; ++j) {
        const __m512bh x = reinterpret_cast<__m512bh>(_mm512_broadcastd_epi32(_mm_loadu_si32(xs[j] + col + 2 * q)));
        acc[j] = _mm512_dpbf16_ps(acc[j], reinterpret_cast<__m512bh>(v[q]), x);
      }
  }
  const __m512 bias = a.bias ? _mm512_maskz_loadu_ps(rm, a.bias + r) : _mm512_setzero_ps();
  DSI_UNROLL
  for (int j = 0; j < T; ++j) _mm512_mask_storeu_ps(a.y + (t + j) * a.y_stride + r, rm, a.bias ? _mm512_add_ps(acc[j], bias) : acc[j]);
}

using DirectFn = void (*)(const simd::RowsCtx&, int64_t, int64_t, int64_t);

DirectFn direct_fn(int64_t tokens) {
  switch (tokens) {
    case 1: return direct<1>;
    case 2: return direct<2>;
    case 3: return direct<3>;
    case 4: return direct<4>;
    case 5: return direct<5>;
    case 6: return direct<6>;
    case 7: return direct<7>;
    default: return direct<kDirectTokens>;
  }
}

using TileFn = void (*)(const simd::RowsCtx&, const Panel&, int64_t, const PfShare&);

template <int V>
TileFn tile_for(int64_t tokens) {
  switch (tokens) {
    case 1: return tile<V, 1>;
    case 2: return tile<V, 2>;
    case 3: return tile<V, 3>;
    case 4: return tile<V, 4>;
    case 5: return tile<V, 5>;
    default: return tile<V, kTileTokens>;
  }
}

TileFn tile_fn(int vecs, int64_t tokens) {
  switch (vecs) {
    case 1: return tile_for<1>(tokens);
    case 2: return tile_for<2>(tokens);
    case 3: return tile_for<3>(tokens);
    default: return tile_for<kPanelVecs>(tokens);
  }
}

// The panel after pn (rows up to end): the same rows' next columns, or the next rows' first.
void set_next(const simd::RowsCtx& c, int64_t end, Panel& pn) {
  const int64_t c0 = 2 * pn.p0, panel_rows = kLanes * kPanelVecs;
  const int64_t next_col = pn.last ? 0 : c0 + kPanelCols, next_row = pn.last ? pn.r + panel_rows : pn.r;
  pn.next_rows = std::max<int64_t>(0, std::min(end - next_row, panel_rows));
  pn.next = pn.next_rows ? c.row(next_row) + 2 * next_col : nullptr;
  pn.next_lines = (2 * std::min(kPanelCols, c.k - next_col) + 63) / 64;
}

void rows_avx512(const MatmulJob& job, int64_t begin, int64_t end) {
  const simd::RowsCtx c = simd::make_ctx(job);
  const int64_t n = job.a->n, panel_rows = kLanes * kPanelVecs;
  if (n <= kDirectTokens) {
    const DirectFn f = direct_fn(n);
    for (int64_t r = begin; r < end; r += kLanes) f(c, r, std::min<int64_t>(kLanes, end - r), 0);
    return;
  }
  // Per thread and kept between calls (256 KiB: fresh ones would fault their pages in on every call).
  thread_local LineVector<uint16_t> store(static_cast<size_t>(panel_rows * kPanelCols));
  for (int64_t r = begin; r < end; r += panel_rows) {
    Panel pn;
    pn.w = store.data();
    pn.r = r;
    pn.rows = std::min(panel_rows, end - r);
    pn.vecs = static_cast<int>((pn.rows + kLanes - 1) / kLanes);
    for (int64_t c0 = 0; c0 < c.k; c0 += kPanelCols) {
      const int64_t c1 = std::min(c.k, c0 + kPanelCols);
      pn.p0 = c0 / 2;
      pn.pairs = (c1 - c0 + kStep - 1) / kStep * kLanes;
      pn.first = c0 == 0;
      pn.last = c1 == c.k;
      pack(c, pn, store.data());
      set_next(c, end, pn);
      const int64_t tiles = (n + kTileTokens - 1) / kTileTokens, sharing = std::min<int64_t>(kPfTiles, tiles);
      for (int64_t j = 0; j < tiles; ++j) {
        PfShare pf;
        if (const int64_t i = j - (tiles - sharing); i >= 0) {
          pf.row = pn.next_rows * i / sharing;
          pf.row_end = pn.next_rows * (i + 1) / sharing;
          pf.per_pair = ((pf.row_end - pf.row) * pn.next_lines + pn.pairs - 1) / pn.pairs;
        }
        const int64_t t = j * kTileTokens;
        tile_fn(pn.vecs, std::min<int64_t>(kTileTokens, n - t))(c, pn, t, pf);
      }
    }
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
  v.resize(static_cast<size_t>(n * steps * kStepValues));
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
