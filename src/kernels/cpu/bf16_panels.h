// The machinery shared by the AVX-512 kernels for bf16 weights
// (matmul_bf16_dots.cpp: vdpbf16ps on bf16 activations; matmul_bf16_fma.cpp:
// f32 FMA on f32 activations): each vector lane holds a row, so each output
// is one sum over the columns in order, whatever the tile, and a token's
// result does not depend on how many tokens share the call.
//
// Calls of more than kDirectTokens tokens (prefill) repack a panel of up to
// 64 rows x 2048 columns pair-major (for each column pair, 16 rows' pairs per
// vector: a 16 x 16 transpose of 32-bit pairs) and run tiles of 64 rows x a
// few tokens over it, each token's values broadcast; the panel serves every
// token of the call from L2. Up to kDirectTokens tokens (decode, batched
// decode) transpose each 16 rows' step in registers and use it at once.
// Included by those two files only.
#pragma once

#include "kernels/cpu/intrin.h"  // first: see intrin.h
#include <algorithm>

#include "kernels/cpu/simd_common.h"

#define DSI_PANEL_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx2")))
#define DSI_PANEL_INLINE DSI_PANEL_TARGET inline __attribute__((always_inline))
#define DSI_PANEL_UNROLL _Pragma("GCC unroll 16")

namespace dsinfer::kernels::cpu::panels {

constexpr int64_t kStep = Bf16Act::kStepValues;  // columns per step (16 pairs)

constexpr int kLanes = 16;                // rows per vector
constexpr int kPanelVecs = 4;             // vectors of rows per panel
// Columns per panel: 64 x 2048 bf16 = 256 KiB, a quarter of L2 (1024 and
// 4096 ran the same: matmul_bench PrefillBf16Dots, 512 tokens).
constexpr int64_t kPanelCols = 2048;
static_assert(kPanelCols % kStep == 0);

// Rows [r, r + rows) x columns [c0, c1) of the weight, pair-major:
// w[(p * vecs + i) * 32 ..] holds pair p of rows r + 16 i .. r + 16 i + 15.
struct Panel {
  const uint16_t* w = nullptr;
  int64_t r = 0, rows = 0;
  int vecs = 0;
  int64_t p0 = 0, pairs = 0;  // first pair (c0 / 2) and pairs (whole steps)
  int64_t cols = 0;           // c1 - c0
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

DSI_PANEL_INLINE __mmask16 lane_mask(int64_t n) {
  return n >= kLanes ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << n) - 1);
}

// In: v[i] = 16 pairs of row i. Out: v[p] = pair p of rows 0..15.
DSI_PANEL_INLINE void transpose16(__m512i (&v)[16]) {
  __m512i t[16];
  DSI_PANEL_UNROLL
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_epi32(v[2 * i], v[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_epi32(v[2 * i], v[2 * i + 1]);
  }
  DSI_PANEL_UNROLL
  for (int i = 0; i < 4; ++i) {  // v[4 i + q], 128-bit lane L: pair 4 L + q of rows 4 i .. 4 i + 3
    v[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
    v[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
    v[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
    v[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
  }
  DSI_PANEL_UNROLL
  for (int i = 0; i < 2; ++i)
    DSI_PANEL_UNROLL
    for (int q = 0; q < 4; ++q) {
      t[8 * i + q] = _mm512_shuffle_i32x4(v[8 * i + q], v[8 * i + 4 + q], 0x88);
      t[8 * i + 4 + q] = _mm512_shuffle_i32x4(v[8 * i + q], v[8 * i + 4 + q], 0xdd);
    }
  DSI_PANEL_UNROLL
  for (int q = 0; q < 8; ++q) {
    v[q] = _mm512_shuffle_i32x4(t[q], t[8 + q], 0x88);
    v[8 + q] = _mm512_shuffle_i32x4(t[q], t[8 + q], 0xdd);
  }
}

// Rows r .. r + 15 (zeros from `rows` on; lanes past them are not stored) of
// a step's columns.
struct StepRows {
  int64_t r = 0, rows = 0;
  size_t ahead = 0;  // each line read asks for the line this many bytes on
};

// Columns [col, col + 32) of s's rows (zeros past k), transposed: v[p] holds
// pair p of the 16 rows.
template <auto Hint>
DSI_PANEL_INLINE void load_pairs(const simd::RowsCtx& c, const StepRows& s, int64_t col, __m512i (&v)[16]) {
  const __mmask32 m = c.k - col >= kStep ? ~__mmask32{0} : static_cast<__mmask32>((uint64_t{1} << (c.k - col)) - 1);
  DSI_PANEL_UNROLL
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
DSI_PANEL_TARGET inline void pack(const simd::RowsCtx& c, const Panel& pn, uint16_t* out) {
  const int64_t c0 = 2 * pn.p0, steps = pn.pairs / kLanes;
  for (int b = 0; b < pn.vecs; ++b) {
    const StepRows rows{pn.r + kLanes * b, pn.rows - kLanes * b, 256};
    for (int64_t s = 0; s < steps; ++s) {
      __m512i v[16];
      load_pairs<_MM_HINT_T0>(c, rows, c0 + s * kStep, v);
      DSI_PANEL_UNROLL
      for (int q = 0; q < 16; ++q) _mm512_store_si512(out + ((s * kLanes + q) * pn.vecs + b) * 32, v[q]);
    }
  }
}

// The panel after pn (rows up to end): the same rows' next columns, or the next rows' first.
inline void set_next(const simd::RowsCtx& c, int64_t end, Panel& pn) {
  const int64_t c0 = 2 * pn.p0, panel_rows = kLanes * kPanelVecs;
  const int64_t next_col = pn.last ? 0 : c0 + kPanelCols, next_row = pn.last ? pn.r + panel_rows : pn.r;
  pn.next_rows = std::max<int64_t>(0, std::min(end - next_row, panel_rows));
  pn.next = pn.next_rows ? c.row(next_row) + 2 * next_col : nullptr;
  pn.next_lines = (2 * std::min(kPanelCols, c.k - next_col) + 63) / 64;
}

// Decode and batched decode (up to kDirectTokens tokens): no panel. Through
// one, the pack's stores and reloads (and its prefetches, too late for one
// short tile) made the 1.5B's decode ~1.7x slower with bf16 dot products,
// and a batch of 8 ~1.5x.
constexpr int64_t kDirectTokens = 8;

// The next panel's lines a tile asks for as it walks its pairs (PfShare).
struct PfWalk {
  const uint8_t* next;
  size_t row_bytes;
  int64_t row, row_end, per_pair, lines, line = 0;
  PfWalk(const simd::RowsCtx& c, const Panel& pn, const PfShare& pf)
      : next(pn.next + pf.row * static_cast<int64_t>(c.row_bytes)), row_bytes(c.row_bytes), row(pf.row),
        row_end(pf.row_end), per_pair(pf.per_pair), lines(pn.next_lines) {}
  DSI_PANEL_INLINE void pair() {
    for (int64_t q = 0; q < per_pair && row < row_end; ++q) {
      _mm_prefetch(reinterpret_cast<const char*>(next + 64 * line), kStreamHint);
      if (++line == lines) {
        line = 0;
        ++row;
        next += row_bytes;
      }
    }
  }
};

// The sums of a tile: acc[i][j] lane l is row pn.r + 16 i + l for token
// t + j. start_sums: from zero at the first panel, else from those in y;
// store_sums: into y, with the bias at the last panel.
template <int V>
DSI_PANEL_INLINE __mmask16 vec_mask(const Panel& pn, int i) {
  return i == V - 1 ? lane_mask(pn.rows - kLanes * (V - 1)) : static_cast<__mmask16>(0xffff);
}

template <int V, int T>
DSI_PANEL_INLINE void start_sums(const simd::RowsCtx& c, const Panel& pn, int64_t t, __m512 (&acc)[V][T]) {
  const MatmulArgs& a = *c.a;
  DSI_PANEL_UNROLL
  for (int i = 0; i < V; ++i)
    DSI_PANEL_UNROLL
    for (int j = 0; j < T; ++j)
      acc[i][j] = pn.first ? _mm512_setzero_ps()
                           : _mm512_maskz_loadu_ps(vec_mask<V>(pn, i), a.y + (t + j) * a.y_stride + pn.r + kLanes * i);
}

template <int V, int T>
DSI_PANEL_INLINE void store_sums(const simd::RowsCtx& c, const Panel& pn, int64_t t, const __m512 (&acc)[V][T]) {
  const MatmulArgs& a = *c.a;
  const bool bias = pn.last && a.bias;
  DSI_PANEL_UNROLL
  for (int i = 0; i < V; ++i) {
    const __mmask16 m = vec_mask<V>(pn, i);
    const __m512 b = bias ? _mm512_maskz_loadu_ps(m, a.bias + pn.r + kLanes * i) : _mm512_setzero_ps();
    DSI_PANEL_UNROLL
    for (int j = 0; j < T; ++j)
      _mm512_mask_storeu_ps(a.y + (t + j) * a.y_stride + pn.r + kLanes * i, m, bias ? _mm512_add_ps(acc[i][j], b) : acc[i][j]);
  }
}

// A direct call's sums (acc[j]: s's rows for token t + j) into y, with the bias.
template <int T>
DSI_PANEL_INLINE void store_direct(const simd::RowsCtx& c, const StepRows& s, int64_t t, const __m512 (&acc)[T]) {
  const MatmulArgs& a = *c.a;
  const __mmask16 m = lane_mask(s.rows);
  const __m512 b = a.bias ? _mm512_maskz_loadu_ps(m, a.bias + s.r) : _mm512_setzero_ps();
  DSI_PANEL_UNROLL
  for (int j = 0; j < T; ++j) _mm512_mask_storeu_ps(a.y + (t + j) * a.y_stride + s.r, m, a.bias ? _mm512_add_ps(acc[j], b) : acc[j]);
}

// A kernel K has kTileTokens (6) and static member templates
// tile<V, T>(c, panel, t, pf) (V vectors of rows, T tokens) and
// direct<T>(c, rows, t) (up to kDirectTokens tokens).
using TileFn = void (*)(const simd::RowsCtx&, const Panel&, int64_t, const PfShare&);
using DirectFn = void (*)(const simd::RowsCtx&, const StepRows&, int64_t);

template <class K, int V>
TileFn tile_for(int64_t tokens) {
  static_assert(K::kTileTokens == 6);
  switch (tokens) {
    case 1: return K::template tile<V, 1>;
    case 2: return K::template tile<V, 2>;
    case 3: return K::template tile<V, 3>;
    case 4: return K::template tile<V, 4>;
    case 5: return K::template tile<V, 5>;
    default: return K::template tile<V, 6>;
  }
}

template <class K>
TileFn tile_fn(int vecs, int64_t tokens) {
  switch (vecs) {
    case 1: return tile_for<K, 1>(tokens);
    case 2: return tile_for<K, 2>(tokens);
    case 3: return tile_for<K, 3>(tokens);
    default: return tile_for<K, kPanelVecs>(tokens);
  }
}

template <class K>
DirectFn direct_fn(int64_t tokens) {
  static_assert(kDirectTokens == 8);
  switch (tokens) {
    case 1: return K::template direct<1>;
    case 2: return K::template direct<2>;
    case 3: return K::template direct<3>;
    case 4: return K::template direct<4>;
    case 5: return K::template direct<5>;
    case 6: return K::template direct<6>;
    case 7: return K::template direct<7>;
    default: return K::template direct<8>;
  }
}

// Per thread and kept between calls (256 KiB: fresh ones would fault their
// pages in on every call); both kernels share it.
inline uint16_t* panel_store() {
  thread_local LineVector<uint16_t> store(static_cast<size_t>(kLanes * kPanelVecs * kPanelCols));
  return store.data();
}

// y[:, r] for rows r in [begin, end) by kernel K: its direct calls for up
// to kDirectTokens tokens, else panels and its tiles of K::kTileTokens.
template <class K>
void run(const MatmulJob& job, int64_t begin, int64_t end) {
  const simd::RowsCtx c = simd::make_ctx(job);
  const int64_t n = job.a->n, panel_rows = kLanes * kPanelVecs;
  if (n <= kDirectTokens) {
    const DirectFn f = direct_fn<K>(n);
    for (int64_t r = begin; r < end; r += kLanes) f(c, StepRows{r, std::min<int64_t>(kLanes, end - r), c.row_bytes * kLanes}, 0);
    return;
  }
  uint16_t* store = panel_store();
  for (int64_t r = begin; r < end; r += panel_rows) {
    Panel pn;
    pn.w = store;
    pn.r = r;
    pn.rows = std::min(panel_rows, end - r);
    pn.vecs = static_cast<int>((pn.rows + kLanes - 1) / kLanes);
    for (int64_t c0 = 0; c0 < c.k; c0 += kPanelCols) {
      const int64_t c1 = std::min(c.k, c0 + kPanelCols);
      pn.p0 = c0 / 2;
      pn.pairs = (c1 - c0 + kStep - 1) / kStep * kLanes;
      pn.cols = c1 - c0;
      pn.first = c0 == 0;
      pn.last = c1 == c.k;
      pack(c, pn, store);
      set_next(c, end, pn);
      const int64_t tiles = (n + K::kTileTokens - 1) / K::kTileTokens, sharing = std::min<int64_t>(kPfTiles, tiles);
      for (int64_t j = 0; j < tiles; ++j) {
        PfShare pf;
        if (const int64_t i = j - (tiles - sharing); i >= 0) {
          pf.row = pn.next_rows * i / sharing;
          pf.row_end = pn.next_rows * (i + 1) / sharing;
          pf.per_pair = ((pf.row_end - pf.row) * pn.next_lines + pn.pairs - 1) / pn.pairs;
        }
        const int64_t t = j * K::kTileTokens;
        tile_fn<K>(pn.vecs, std::min<int64_t>(K::kTileTokens, n - t))(c, pn, t, pf);
      }
    }
  }
}

}  // namespace dsinfer::kernels::cpu::panels
