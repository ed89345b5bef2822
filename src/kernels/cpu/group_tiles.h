// The driver shared by the kernels over weights repacked into groups of 16
// rows (packed.h): which tiles of groups x tokens to run, and where their
// results go. A kernel K provides `template <int G, int T> static void
// tile(const GroupCtx&, const uint8_t* grp, int64_t t, float (*out)[kRows])`
// for G groups (consecutive, gbytes apart) and T tokens, writing
// out[g * T + tt][lane]. Tile shapes differ only in how many rows and tokens
// share a pass; each (row, token) sees the same operations in every shape.
#pragma once

#include <algorithm>
#include <cstdint>

#include "core/quant.h"
#include "kernels/cpu/matmul_kernels.h"
#include "kernels/packed.h"

namespace dsinfer::kernels::cpu::groups {

inline constexpr int kRows = packed::kGroupRows;
// Prefill tiles: up to kPrefillGroups groups x kPrefillTokens tokens, so each
// weight vector serves 4 tokens and each broadcast activation 3 groups (24
// accumulators, the most that fit the 32 registers). Measured on Zen 5 against
// 1 x 8: ~20% faster for Q8_0/Q4_0, the same for Q4_K (matmul_bench Prefill).
inline constexpr int kPrefillGroups = 3, kPrefillTokens = 4;
// Groups per tile with 1 or 2 tokens: one memory stream each (a core reading a
// single stream gets well under its share of the bandwidth).
inline constexpr int kStreams1 = 8, kStreams2 = 4;  // powers of two (tile_any)

struct GroupCtx {
  const MatmulArgs* a = nullptr;
  const QuantAct* act = nullptr;
  int64_t nblk = 0;    // weight blocks per row
  int64_t gbytes = 0;  // bytes per group
};

// A tile: groups grp, grp + gbytes, ... (ng of them) for tokens t .. t + nt - 1.
using TileFn = void (*)(const GroupCtx& c, const uint8_t* grp, int ng, int64_t t, int nt, float (*out)[kRows]);

// Pointers into the quantized activations of a tile's tokens.
template <int T>
struct TileActs {
  const int8_t* q[T];
  const float* d[T];
  const int32_t* s[T];
  const float* fs[T];
  TileActs(const QuantAct& act, int64_t t) {
    for (int tt = 0; tt < T; ++tt) {
      q[tt] = act.q_row(t + tt);
      d[tt] = act.d_row(t + tt);
      s[tt] = act.s_row(t + tt);
      fs[tt] = act.fs_row(t + tt);
    }
  }
};

// The tile shapes group_rows asks for, as template instances of K::tile.
template <class K, int G>
void tile_tokens(const GroupCtx& c, const uint8_t* grp, int64_t t, int nt, float (*out)[kRows]) {
  switch (nt) {
    case 4: return K::template tile<G, 4>(c, grp, t, out);
    case 3: return K::template tile<G, 3>(c, grp, t, out);
    case 2: return K::template tile<G, 2>(c, grp, t, out);
    default: return K::template tile<G, 1>(c, grp, t, out);
  }
}

template <class K>
void tile_any(const GroupCtx& c, const uint8_t* grp, int ng, int64_t t, int nt, float (*out)[kRows]) {
  if (nt == 1 && ng > 3) return ng == 8 ? K::template tile<8, 1>(c, grp, t, out) : K::template tile<4, 1>(c, grp, t, out);
  if (nt == 2 && ng == 4) return K::template tile<4, 2>(c, grp, t, out);
  switch (ng) {
    case 3: return tile_tokens<K, 3>(c, grp, t, nt, out);
    case 2: return tile_tokens<K, 2>(c, grp, t, nt, out);
    default: return tile_tokens<K, 1>(c, grp, t, nt, out);
  }
}

// Rows [begin, end) of the view. With 1-2 tokens (decode), several groups
// per tile so that each thread reads several memory streams; otherwise token
// chunks (activations in L2), then prefill tiles over the groups covering the
// rows.
template <TileFn Tile>
void group_rows(const MatmulJob& job, int64_t begin, int64_t end) {
  const MatmulArgs& a = *job.a;
  const Weight& w = *a.w;
  const GroupCtx c{&a, job.act, w.cols / block_elems(w.dtype), packed::group_bytes(w.dtype, w.cols)};
  const auto* base = static_cast<const uint8_t*>(w.data);
  const int64_t g0 = (w.row0 + begin) / kRows, g1 = (w.row0 + end + kRows - 1) / kRows;
  const auto store = [&](int64_t g, int64_t t, const float* v) {
    const int64_t first = g * kRows - w.row0;  // view row of lane 0 (may be negative)
    float* y = a.y + t * a.y_stride + first;
    const int64_t l1 = std::min<int64_t>(kRows, end - first);
    for (int64_t l = std::max<int64_t>(0, begin - first); l < l1; ++l) y[l] = v[l] + (a.bias ? a.bias[first + l] : 0.0f);
  };
  constexpr int kOut = 16;
  static_assert(kOut >= kStreams1 && kOut >= 2 * kStreams2 && kOut >= kPrefillGroups * kPrefillTokens);
  float out[kOut][kRows];  // one row of 16 results per (group, token) of a tile
  if (a.n <= 2) {
    const int nt = static_cast<int>(a.n), streams = nt == 1 ? kStreams1 : kStreams2;
    for (int64_t g = g0; g < g1;) {
      int ng = streams;  // the widest tile shape that fits the groups left
      while (ng > 1 && g + ng > g1) ng /= 2;
      Tile(c, base + g * c.gbytes, ng, 0, nt, out);
      for (int k = 0; k < ng * nt; ++k) store(g + k / nt, k % nt, out[k]);
      g += ng;
    }
    return;
  }
  const int64_t chunk = std::max<int64_t>(kPrefillTokens, token_chunk(w.cols * 3) / kPrefillTokens * kPrefillTokens);
  for (int64_t t0 = 0; t0 < a.n; t0 += chunk) {
    const int64_t t1 = std::min(a.n, t0 + chunk);
    for (int64_t g = g0; g < g1; g += kPrefillGroups) {
      const int ng = static_cast<int>(std::min<int64_t>(kPrefillGroups, g1 - g));
      for (int64_t t = t0; t < t1; t += kPrefillTokens) {
        const int nt = static_cast<int>(std::min<int64_t>(kPrefillTokens, t1 - t));
        Tile(c, base + g * c.gbytes, ng, t, nt, out);
        for (int k = 0; k < ng * nt; ++k) store(g + k / nt, t + k % nt, out[k]);
      }
    }
  }
}

}  // namespace dsinfer::kernels::cpu::groups
