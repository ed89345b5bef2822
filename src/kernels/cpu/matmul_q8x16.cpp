// y = x W^T for Q8_0 weights repacked into groups of 16 rows (packed.h): the
// AVX-512 VNNI kernel and its scalar twin. The packed bytes are q + 128, VNNI's
// unsigned operand, so sum (q + 128) a - 128 sum(a) is the exact integer block
// dot; the accumulator starts at -128 sum(a). Per block, row and token both
// compute one fused multiply-add of that integer times d * d_a, in block order,
// so they agree bit for bit whatever the tile shape (batch invariance).
#include "kernels/cpu/intrin.h"  // first: see intrin.h
#include <cmath>
#include <cstring>

#include "core/quant.h"
#include "kernels/cpu/group_tiles.h"
#include "kernels/packed.h"

#define DSI_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
#define DSI_UNROLL _Pragma("GCC unroll 16")

namespace dsinfer::kernels::cpu {

namespace {

using groups::GroupCtx;
using groups::kRows;
using groups::TileActs;
using packed::q8::kQsOffset;
constexpr int64_t kBlockBytes = packed::q8::kBlockBytes;

float row_dot_scalar(const GroupCtx& c, const uint8_t* grp, int l, int64_t t) {
  const int8_t* aq = c.act->q_row(t);
  const float* ad = c.act->d_row(t);
  const int32_t* as = c.act->s_row(t);
  float acc = 0.0f;
  for (int64_t b = 0; b < c.nblk; ++b) {
    const uint8_t* blk = grp + b * kBlockBytes;
    uint16_t h16;
    std::memcpy(&h16, blk + 2 * l, 2);
    const int8_t* a = aq + b * kActBlock;
    int32_t dot = -128 * as[b];
    for (int h = 0; h < 8; ++h)
      for (int i = 0; i < 4; ++i) dot += blk[kQsOffset + 64 * h + 4 * l + i] * a[4 * h + i];
    acc = std::fma(static_cast<float>(dot), half_to_float(h16) * ad[b], acc);
  }
  return acc;
}

void tile_scalar(const GroupCtx& c, const uint8_t* grp, int ng, int64_t t, int nt, float (*out)[kRows]) {
  for (int g = 0; g < ng; ++g)
    for (int tt = 0; tt < nt; ++tt)
      for (int l = 0; l < kRows; ++l) out[g * nt + tt][l] = row_dot_scalar(c, grp + g * c.gbytes, l, t + tt);
}

DSI_TARGET inline __m512i bcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

struct Avx512 {
  // Block b for G groups x T tokens.
  template <int G, int T>
  DSI_TARGET static void block(const uint8_t* const* blk, const TileActs<T>& x, int64_t b, __m512 (&acc)[G][T]) {
    // Integer sums are exact, so independent chains (latency-bound in small
    // tiles) change no result bit.
    constexpr int C = G * T == 1 ? 4 : G * T <= 3 ? 2 : 1;
    __m512i dot[C][G][T];
    DSI_UNROLL
    for (int g = 0; g < G; ++g)
      DSI_UNROLL
      for (int tt = 0; tt < T; ++tt) {
        dot[0][g][tt] = _mm512_set1_epi32(-128 * x.s[tt][b]);
        DSI_UNROLL
        for (int k = 1; k < C; ++k) dot[k][g][tt] = _mm512_setzero_si512();
      }
    DSI_UNROLL
    for (int h = 0; h < 8; ++h) {
      __m512i w[G];
      DSI_UNROLL
      for (int g = 0; g < G; ++g) w[g] = _mm512_loadu_si512(blk[g] + kQsOffset + 64 * h);
      DSI_UNROLL
      for (int tt = 0; tt < T; ++tt) {
        const __m512i a = bcast4(x.q[tt] + b * kActBlock + 4 * h);
        DSI_UNROLL
        for (int g = 0; g < G; ++g) dot[h % C][g][tt] = _mm512_dpbusd_epi32(dot[h % C][g][tt], w[g], a);
      }
    }
    DSI_UNROLL
    for (int g = 0; g < G; ++g) {
      const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk[g])));
      DSI_UNROLL
      for (int tt = 0; tt < T; ++tt) {
        __m512i s = dot[0][g][tt];
        DSI_UNROLL
        for (int k = 1; k < C; ++k) s = _mm512_add_epi32(s, dot[k][g][tt]);
        const __m512 f = _mm512_mul_ps(d, _mm512_set1_ps(x.d[tt][b]));
        acc[g][tt] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), f, acc[g][tt]);
      }
    }
  }

  template <int G, int T>
  DSI_TARGET static void tile(const GroupCtx& c, const uint8_t* grp, int64_t t, float (*out)[kRows]) {
    const TileActs<T> x(*c.act, t);
    __m512 acc[G][T];
    DSI_UNROLL
    for (int g = 0; g < G; ++g)
      DSI_UNROLL
      for (int tt = 0; tt < T; ++tt) acc[g][tt] = _mm512_setzero_ps();
    for (int64_t b = 0; b < c.nblk; ++b) {
      const uint8_t* blk[G];
      DSI_UNROLL
      for (int g = 0; g < G; ++g) blk[g] = grp + g * c.gbytes + b * kBlockBytes;
      block<G, T>(blk, x, b, acc);
    }
    DSI_UNROLL
    for (int g = 0; g < G; ++g)
      DSI_UNROLL
      for (int tt = 0; tt < T; ++tt) _mm512_storeu_ps(out[g * T + tt], acc[g][tt]);
  }
};

}  // namespace

RowsFn q8x16_rows_fn(Isa isa) {
  return isa == Isa::Avx512 ? groups::group_rows<groups::tile_any<Avx512>> : groups::group_rows<tile_scalar>;
}

}  // namespace dsinfer::kernels::cpu
