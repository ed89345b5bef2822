// y = x W^T for Q4_K weights repacked into groups of 16 rows (packed_q4k.h):
// the AVX-512 VNNI kernel and its scalar twin. Both compute, per row and token,
// the same sequence of float operations (sub-blocks in order: one fused
// multiply-add of the exact integer dot product, one for the min term), so
// they agree bit for bit and a token's result does not depend on how many
// tokens share the call (the engine's batch invariance).
#include "kernels/cpu/intrin.h"  // first: see intrin.h
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/quant.h"
#include "kernels/cpu/matmul_kernels.h"
#include "kernels/packed_q4k.h"

#define DSI_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
#define DSI_UNROLL _Pragma("GCC unroll 16")

namespace dsinfer::kernels::cpu {

namespace {

using q4kx16::kMinOffset;
using q4kx16::kQsOffset;
using q4kx16::kRows;
using q4kx16::kScOffset;
using q4kx16::kSuperBytes;

constexpr int kTokens = 8;  // tokens per prefill tile: 8 int32 + 8 f32 accumulators
// Groups per tile with 1 or 2 tokens: one memory stream each (a core reading a
// single stream gets well under its share of the bandwidth).
constexpr int kStreams1 = 8, kStreams2 = 4;

struct GroupCtx {
  const MatmulArgs* a = nullptr;
  const QuantAct* act = nullptr;
  int64_t nsb = 0;     // super-blocks per row
  int64_t gbytes = 0;  // bytes per group
};

// A tile: groups grp, grp + gbytes, ... (ng of them) for tokens t .. t + nt - 1;
// out[g * nt + tt][l] is row l of group g for token t + tt.
using TileFn = void (*)(const GroupCtx& c, const uint8_t* grp, int ng, int64_t t, int nt, float (*out)[kRows]);

float half_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return half_to_float(h);
}

float row_dot_scalar(const GroupCtx& c, const uint8_t* grp, int l, int64_t t) {
  const int8_t* aq = c.act->q_row(t);
  const float* ad = c.act->d_row(t);
  const float* afs = c.act->fs_row(t);
  float acc = 0.0f;
  for (int64_t sb = 0; sb < c.nsb; ++sb) {
    const uint8_t* sup = grp + sb * kSuperBytes;
    const float d = half_at(sup + 2 * l), dmin = half_at(sup + 32 + 2 * l);
    for (int j = 0; j < 8; ++j) {
      const int64_t b = sb * 8 + j;
      const float ws = static_cast<float>(sup[kScOffset + 16 * j + l]) * d;
      const float wm = static_cast<float>(sup[kMinOffset + 16 * j + l]) * dmin;
      const int8_t* a = aq + b * kActBlock;
      int32_t dot = 0;
      for (int h = 0; h < 4; ++h)
        for (int i = 0; i < 4; ++i) {
          const uint8_t byte = sup[kQsOffset + 256 * j + 64 * h + 4 * l + i];
          dot += (byte & 0xf) * a[8 * h + i] + (byte >> 4) * a[8 * h + 4 + i];
        }
      acc = std::fma(static_cast<float>(dot), ws * ad[b], acc);
      acc = std::fma(-wm, afs[b], acc);
    }
  }
  return acc;
}

void tile_scalar(const GroupCtx& c, const uint8_t* grp, int ng, int64_t t, int nt, float (*out)[kRows]) {
  for (int g = 0; g < ng; ++g)
    for (int tt = 0; tt < nt; ++tt)
      for (int l = 0; l < kRows; ++l) out[g * nt + tt][l] = row_dot_scalar(c, grp + g * c.gbytes, l, t + tt);
}

DSI_TARGET inline __m512 lane_scales(const uint8_t* p, __m512 mult) {
  const __m128i u8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(u8)), mult);
}

DSI_TARGET inline __m512i bcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

// Pointers into the quantized activations of the tile's tokens.
template <int T>
struct TileActs {
  const int8_t* q[T];
  const float* d[T];
  const float* fs[T];
};

// Sub-block j of super-block sb (activation block b) for G groups x T tokens.
template <int G, int T>
DSI_TARGET inline void sub_block(const uint8_t* const* sup, const __m512* d, const __m512* dmin, const TileActs<T>& x,
                                 int64_t b, int j, __m512 (&acc)[G][T]) {
  const __m512i low4 = _mm512_set1_epi8(0x0f);
  // Integer sums are exact, so splitting them into independent chains
  // (latency-bound in small tiles) changes no result bit.
  constexpr int C = G * T == 1 ? 4 : G * T <= 3 ? 2 : 1;
  __m512i dot[C][G][T];
  DSI_UNROLL
  for (int k = 0; k < C; ++k)
    DSI_UNROLL
    for (int g = 0; g < G; ++g)
      DSI_UNROLL
      for (int tt = 0; tt < T; ++tt) dot[k][g][tt] = _mm512_setzero_si512();
  DSI_UNROLL
  for (int h = 0; h < 4; ++h) {
    __m512i lo[G], hi[G];
    DSI_UNROLL
    for (int g = 0; g < G; ++g) {
      const __m512i v = _mm512_loadu_si512(sup[g] + kQsOffset + 256 * j + 64 * h);
      lo[g] = _mm512_and_si512(v, low4);
      hi[g] = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
    }
    DSI_UNROLL
    for (int tt = 0; tt < T; ++tt) {
      const int8_t* a = x.q[tt] + b * kActBlock + 8 * h;
      const __m512i a0 = bcast4(a), a1 = bcast4(a + 4);
      DSI_UNROLL
      for (int g = 0; g < G; ++g) {
        __m512i& s = dot[h % C][g][tt];
        s = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(s, lo[g], a0), hi[g], a1);
      }
    }
  }
  DSI_UNROLL
  for (int g = 0; g < G; ++g) {
    const __m512 ws = lane_scales(sup[g] + kScOffset + 16 * j, d[g]);
    const __m512 wm = lane_scales(sup[g] + kMinOffset + 16 * j, dmin[g]);
    DSI_UNROLL
    for (int tt = 0; tt < T; ++tt) {
      __m512i s = dot[0][g][tt];
      DSI_UNROLL
      for (int k = 1; k < C; ++k) s = _mm512_add_epi32(s, dot[k][g][tt]);
      const __m512 f = _mm512_mul_ps(ws, _mm512_set1_ps(x.d[tt][b]));
      acc[g][tt] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), f, acc[g][tt]);
      acc[g][tt] = _mm512_fnmadd_ps(wm, _mm512_set1_ps(x.fs[tt][b]), acc[g][tt]);
    }
  }
}

template <int G, int T>
DSI_TARGET void tile_avx512(const GroupCtx& c, const uint8_t* grp, int64_t t, float (*out)[kRows]) {
  TileActs<T> x;
  DSI_UNROLL
  for (int tt = 0; tt < T; ++tt) {
    x.q[tt] = c.act->q_row(t + tt);
    x.d[tt] = c.act->d_row(t + tt);
    x.fs[tt] = c.act->fs_row(t + tt);
  }
  __m512 acc[G][T];
  DSI_UNROLL
  for (int g = 0; g < G; ++g)
    DSI_UNROLL
    for (int tt = 0; tt < T; ++tt) acc[g][tt] = _mm512_setzero_ps();
  for (int64_t sb = 0; sb < c.nsb; ++sb) {
    const uint8_t* sup[G];
    __m512 d[G], dmin[G];
    DSI_UNROLL
    for (int g = 0; g < G; ++g) {
      sup[g] = grp + g * c.gbytes + sb * kSuperBytes;
      d[g] = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(sup[g])));
      dmin[g] = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(sup[g] + 32)));
    }
    for (int j = 0; j < 8; ++j) sub_block<G, T>(sup, d, dmin, x, sb * 8 + j, j, acc);
  }
  DSI_UNROLL
  for (int g = 0; g < G; ++g)
    DSI_UNROLL
    for (int tt = 0; tt < T; ++tt) _mm512_storeu_ps(out[g * T + tt], acc[g][tt]);
}

void tile_avx512_any(const GroupCtx& c, const uint8_t* grp, int ng, int64_t t, int nt, float (*out)[kRows]) {
  if (ng == kStreams1 && nt == 1) return tile_avx512<kStreams1, 1>(c, grp, t, out);
  if (ng == kStreams2 && nt == 2) return tile_avx512<kStreams2, 2>(c, grp, t, out);
  switch (nt) {
    case 8: return tile_avx512<1, 8>(c, grp, t, out);
    case 7: return tile_avx512<1, 7>(c, grp, t, out);
    case 6: return tile_avx512<1, 6>(c, grp, t, out);
    case 5: return tile_avx512<1, 5>(c, grp, t, out);
    case 4: return tile_avx512<1, 4>(c, grp, t, out);
    case 3: return tile_avx512<1, 3>(c, grp, t, out);
    case 2: return tile_avx512<1, 2>(c, grp, t, out);
    default: return tile_avx512<1, 1>(c, grp, t, out);
  }
}

// Rows [begin, end) of the view. With 1-2 tokens (decode), several groups
// per tile so that each thread reads several memory streams; otherwise token
// chunks (activations in L2), then each group covering the rows, then token
// tiles of kTokens.
template <TileFn Tile>
void group_rows(const MatmulJob& job, int64_t begin, int64_t end) {
  const MatmulArgs& a = *job.a;
  const Weight& w = *a.w;
  const GroupCtx c{&a, job.act, w.cols / 256, q4kx16::group_bytes(w.cols)};
  const auto* base = static_cast<const uint8_t*>(w.data);
  const int64_t g0 = (w.row0 + begin) / kRows, g1 = (w.row0 + end + kRows - 1) / kRows;
  const auto store = [&](int64_t g, int64_t t, const float* v) {
    const int64_t first = g * kRows - w.row0;  // view row of lane 0 (may be negative)
    float* y = a.y + t * a.y_stride + first;
    const int64_t l1 = std::min<int64_t>(kRows, end - first);
    for (int64_t l = std::max<int64_t>(0, begin - first); l < l1; ++l) y[l] = v[l] + (a.bias ? a.bias[first + l] : 0.0f);
  };
  float out[kStreams1][kRows];  // kStreams1 >= kTokens and >= 2 * kStreams2
  if (a.n <= 2) {
    const int nt = static_cast<int>(a.n), streams = nt == 1 ? kStreams1 : kStreams2;
    for (int64_t g = g0; g < g1;) {
      const int ng = g + streams <= g1 ? streams : 1;
      Tile(c, base + g * c.gbytes, ng, 0, nt, out);
      for (int k = 0; k < ng * nt; ++k) store(g + k / nt, k % nt, out[k]);
      g += ng;
    }
    return;
  }
  const int64_t chunk = std::max<int64_t>(kTokens, token_chunk(w.cols * 3) / kTokens * kTokens);
  for (int64_t t0 = 0; t0 < a.n; t0 += chunk) {
    const int64_t t1 = std::min(a.n, t0 + chunk);
    for (int64_t g = g0; g < g1; ++g)
      for (int64_t t = t0; t < t1; t += kTokens) {
        const int nt = static_cast<int>(std::min<int64_t>(kTokens, t1 - t));
        Tile(c, base + g * c.gbytes, 1, t, nt, out);
        for (int tt = 0; tt < nt; ++tt) store(g, t + tt, out[tt]);
      }
  }
}

}  // namespace

RowsFn q4kx16_rows_fn(Isa isa) {
  return isa == Isa::Avx512 ? group_rows<tile_avx512_any> : group_rows<tile_scalar>;
}

}  // namespace dsinfer::kernels::cpu
