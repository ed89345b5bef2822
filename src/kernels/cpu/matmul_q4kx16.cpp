// y = x W^T for Q4_K and Q5_K weights repacked into groups of 16 rows
// (packed.h): the AVX-512 VNNI kernels and their scalar twins (Q5_K: Q4_K's
// with each value's fifth bit added from the block's byte masks). The activations come in spans
// of 8 blocks with one scale (QuantAct::span, like GGUF's Q8_K), so each
// super-block of 256 values is summed exactly in integers (sub-block dot
// products times their 6-bit scales; the min term as 6-bit mins times the
// activation sums) and scaled in float once. Both kernels do the same float
// operations per row, token and super-block, so they agree bit for bit and a
// token's result does not depend on how many tokens share the call (the
// engine's batch invariance).
#include "kernels/cpu/intrin.h"  // first: see intrin.h
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/quant.h"
#include "kernels/cpu/group_tiles.h"
#include "kernels/cpu/matmul_q4k_amx.h"
#include "kernels/cpu/q4k_scales.h"
#include "kernels/packed.h"

#define DSI_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
#define DSI_UNROLL _Pragma("GCC unroll 16")

namespace dsinfer::kernels::cpu {

namespace {

using groups::bcast4;
using groups::GroupCtx;
using groups::half_at;
using groups::kRows;
using groups::Lane;
using groups::TileAt;
using groups::TileActs;
using packed::q4k::kMinPairs;
using packed::q4k::kQsOffset;
using packed::q4k::kScales;
using packed::q4k::scale_min;
template <bool Five>
constexpr int64_t kSuperBytes = Five ? packed::q5k::kBlockBytes : packed::q4k::kBlockBytes;

// Five: 16 where row l's value 32j + 8h + 4e + i has its fifth bit set.
template <bool Five>
int fifth(const uint8_t* sup, int j, int h, int e, int li) {
  if constexpr (!Five) return 0;
  return ((sup[packed::q5k::mask_at(j, h, e) + li / 8] >> (li % 8)) & 1) << 4;
}

template <bool Five>
float row_dot_scalar(const GroupCtx& c, const TileAt& at, const Lane& r, float acc) {
  const int8_t* aq = c.act->q_row(r.t);
  const float* ad = c.act->d_row(r.t);
  const int32_t* as = c.act->s_row(r.t);
  const int l = r.l;
  for (int64_t sb = at.k0; sb < at.k1; ++sb) {
    const uint8_t* sup = r.grp + sb * kSuperBytes<Five>;
    int32_t isum = 0, msum = 0;  // at most 8 * 63 * 32 * 31 * 127 and 8 * 63 * 32 * 127
    for (int j = 0; j < 8; ++j) {
      const int64_t b = sb * 8 + j;
      const int8_t* a = aq + b * kActBlock;
      int32_t dot = 0;
      for (int h = 0; h < 4; ++h)
        for (int i = 0; i < 4; ++i) {
          const uint8_t byte = sup[kQsOffset + 256 * j + 64 * h + 4 * l + i];
          const int lo = (byte & 0xf) | fifth<Five>(sup, j, h, 0, 4 * l + i);
          const int hi = (byte >> 4) | fifth<Five>(sup, j, h, 1, 4 * l + i);
          dot += lo * a[8 * h + i] + hi * a[8 * h + 4 + i];
        }
      isum += dot * scale_min(sup, 16 * j + l, false);
      msum += as[b] * scale_min(sup, 16 * j + l, true);
    }
    const float mins = static_cast<float>(msum) * half_at(sup + 32 + 2 * l);
    acc = std::fma(std::fma(static_cast<float>(isum), half_at(sup + 2 * l), -mins), ad[sb * 8], acc);
  }
  return acc;
}

// One super-block of G groups: where each group's data is, its scales (sm:
// the 6-bit scales and mins as bytes, q4k_scales.h), and what to prefetch
// (decode: the super-block each group reads next).
template <int G>
struct Super {
  const uint8_t* sup[G];
  const uint8_t* pf[G];
  __m512 d[G], dmin[G];
  alignas(64) uint8_t sm[G][2 * kScales];
};

// Sub-block j's dot products (activation block b) for G groups x T tokens
// into s. Integer sums are exact, so splitting them into independent chains
// (latency-bound in small tiles) changes no result bit. Decode tiles (T <= 2)
// keep the high nibbles in place (v & 0xf0 = 16 x value, one shift fewer per
// 64 bytes: decode's few registers are free, and the instructions saved pay
// for widening the scales) and divide their sums by 16 (exactly) once per
// sub-block; wider tiles have no registers for the second set of sums.
// Five: the fifth bits come as byte masks (packed.h), each adding 16 to its
// value in one masked add; the high nibbles are then shifted down (16 x a
// 5-bit value does not fit a byte).
template <int G, int T, bool Five>
DSI_TARGET inline void sub_dots(const Super<G>& x, const TileActs<T>& act, int64_t b, int j, __m512i (&s)[G][T]) {
  constexpr bool kInPlace = T <= 2 && !Five;
  constexpr int C = kInPlace ? (G * T == 1 ? 2 : 1) : (G * T <= 3 ? 2 : 1);
  constexpr int H = kInPlace ? 2 : 1;  // sets of sums: low and high nibbles apart, or together
  const __m512i low4 = _mm512_set1_epi8(0x0f), high4 = _mm512_set1_epi8(static_cast<char>(0xf0));
  __m512i dot[H][C][G][T];
  DSI_UNROLL
  for (int e = 0; e < H; ++e)
    DSI_UNROLL
    for (int k = 0; k < C; ++k)
      DSI_UNROLL
      for (int g = 0; g < G; ++g)
        DSI_UNROLL
        for (int tt = 0; tt < T; ++tt) dot[e][k][g][tt] = _mm512_setzero_si512();
  DSI_UNROLL
  for (int h = 0; h < 4; ++h) {
    __m512i lo[G], hi[G];
    DSI_UNROLL
    for (int g = 0; g < G; ++g) {
      const __m512i v = _mm512_loadu_si512(x.sup[g] + kQsOffset + 256 * j + 64 * h);
      lo[g] = _mm512_and_si512(v, low4);
      hi[g] = kInPlace ? _mm512_and_si512(v, high4) : _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
      if constexpr (Five) {
        uint64_t m[2];
        std::memcpy(m, x.sup[g] + packed::q5k::mask_at(j, h, 0), sizeof m);
        const __m512i sixteen = _mm512_set1_epi8(16);
        lo[g] = _mm512_mask_add_epi8(lo[g], m[0], lo[g], sixteen);
        hi[g] = _mm512_mask_add_epi8(hi[g], m[1], hi[g], sixteen);
      }
    }
    DSI_UNROLL
    for (int tt = 0; tt < T; ++tt) {
      const int8_t* a = act.q[tt] + b * kActBlock + 8 * h;
      const __m512i a0 = bcast4(a), a1 = bcast4(a + 4);
      DSI_UNROLL
      for (int g = 0; g < G; ++g) {
        __m512i& d0 = dot[0][h % C][g][tt];
        __m512i& d1 = dot[H - 1][h % C][g][tt];
        d0 = _mm512_dpbusd_epi32(d0, lo[g], a0);
        d1 = _mm512_dpbusd_epi32(d1, hi[g], a1);
      }
    }
  }
  DSI_UNROLL
  for (int g = 0; g < G; ++g)
    DSI_UNROLL
    for (int tt = 0; tt < T; ++tt) {
      __m512i sum[H];
      DSI_UNROLL
      for (int e = 0; e < H; ++e) {
        sum[e] = dot[e][0][g][tt];
        DSI_UNROLL
        for (int k = 1; k < C; ++k) sum[e] = _mm512_add_epi32(sum[e], dot[e][k][g][tt]);
      }
      s[g][tt] = kInPlace ? _mm512_add_epi32(sum[0], _mm512_srai_epi32(sum[H - 1], 4)) : sum[0];
    }
}

// Sub-block j of super-block sb (activation block b) for G groups x T tokens,
// added to the super-block's integer sums. Stream: the tile reads its weights
// from memory once (decode, batched decode), each sub-block pulling in 4 of
// the next super-block's 36 lines (tile() asks for the last 4).
template <int G, int T, bool Stream, bool Five>
DSI_TARGET inline void sub_block(const Super<G>& x, const TileActs<T>& act, int64_t b, int j, __m512i (&isum)[G][T]) {
  if constexpr (Stream) {
    DSI_UNROLL
    for (int g = 0; g < G; ++g) {
      DSI_UNROLL
      for (int l = 0; l < 4; ++l) _mm_prefetch(reinterpret_cast<const char*>(x.pf[g] + 256 * j + 64 * l), kStreamHint);
      if constexpr (Five)  // the masks' 8 lines, one per sub-block
        _mm_prefetch(reinterpret_cast<const char*>(x.pf[g] + packed::q5k::kQhOffset + 64 * j), kStreamHint);
    }
  }
  __m512i s[G][T];
  sub_dots<G, T, Five>(x, act, b, j, s);
  DSI_UNROLL
  for (int g = 0; g < G; ++g) {
    const __m512i sc = _mm512_cvtepu8_epi32(_mm_load_si128(reinterpret_cast<const __m128i*>(x.sm[g] + 16 * j)));
    DSI_UNROLL
    for (int tt = 0; tt < T; ++tt) isum[g][tt] = _mm512_add_epi32(isum[g][tt], _mm512_mullo_epi32(s[g][tt], sc));
  }
}

// The end of super-block sb: the min term (mins times the activation sums,
// two sub-blocks per vpdpwssd), then one float scaling into the running sums
// in out (which start from zero at the first super-block).
template <int G, int T>
DSI_TARGET inline void super_end(const Super<G>& x, const TileActs<T>& act, int64_t sb, const __m512i (&isum)[G][T],
                                 float (*out)[kRows]) {
  const __m512i pairs = _mm512_load_si512(kMinPairs);
  DSI_UNROLL
  for (int g = 0; g < G; ++g) {
    __m512i msum[T];
    DSI_UNROLL
    for (int tt = 0; tt < T; ++tt) msum[tt] = _mm512_setzero_si512();
    DSI_UNROLL
    for (int i = 0; i < 4; ++i) {
      const __m256i m8 = _mm256_load_si256(reinterpret_cast<const __m256i*>(x.sm[g] + kScales + 32 * i));
      const __m512i m = _mm512_permutexvar_epi16(pairs, _mm512_cvtepu8_epi16(m8));
      DSI_UNROLL
      for (int tt = 0; tt < T; ++tt) msum[tt] = _mm512_dpwssd_epi32(msum[tt], m, _mm512_set1_epi32(act.sp[tt][sb * 4 + i]));
    }
    DSI_UNROLL
    for (int tt = 0; tt < T; ++tt) {
      const __m512 mins = _mm512_mul_ps(_mm512_cvtepi32_ps(msum[tt]), x.dmin[g]);
      const __m512 part = _mm512_fmsub_ps(_mm512_cvtepi32_ps(isum[g][tt]), x.d[g], mins);
      float* o = out[g * T + tt];
      const __m512 acc = sb == 0 ? _mm512_setzero_ps() : _mm512_loadu_ps(o);
      _mm512_storeu_ps(o, _mm512_fmadd_ps(part, _mm512_set1_ps(act.d[tt][sb * 8]), acc));
    }
  }
}

template <bool Five>
struct Avx512 {
// Part: over blocks [at.k0, at.k1) from the sums in out, prefetching at.pf
// (group_tiles.h); otherwise whole rows from zero. Stream: see sub_block.
template <int G, int T, bool Part, bool Stream = (T <= 2)>
DSI_TARGET static void tile(const GroupCtx& c, const TileAt& at, float (*out)[kRows]) {
  const int64_t k0 = Part ? at.k0 : 0, k1 = Part ? at.k1 : c.nblk;
  const TileActs<T> x(*c.act, at.t);
  const groups::PartPrefetch pf(c, at, (k1 - k0) * 8);
  for (int64_t sb = k0; sb < k1; ++sb) {
    Super<G> s;
    const int64_t next = groups::super_ahead<G, T>(c, at, sb, kSuperBytes<Five>);
    DSI_UNROLL
    for (int g = 0; g < G; ++g) {
      s.sup[g] = groups::tile_group(c, at, g) + sb * kSuperBytes<Five>;
      s.pf[g] = s.sup[g] + next;
      s.d[g] = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(s.sup[g])));
      s.dmin[g] = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(s.sup[g] + 32)));
      q4k_scales_avx512(s.sup[g], s.sm[g]);
      if constexpr (Stream)
        DSI_UNROLL
        for (int l = 0; l < 4; ++l) _mm_prefetch(reinterpret_cast<const char*>(s.pf[g] + 2048 + 64 * l), kStreamHint);
    }
    __m512i isum[G][T];
    DSI_UNROLL
    for (int g = 0; g < G; ++g)
      DSI_UNROLL
      for (int tt = 0; tt < T; ++tt) isum[g][tt] = _mm512_setzero_si512();
    for (int j = 0; j < 8; ++j) {
      if constexpr (Part)
        for (int g = 0; g < G; ++g) pf.fetch(g, (sb - k0) * 8 + j);
      sub_block<G, T, Stream, Five>(s, x, sb * 8 + j, j, isum);
    }
    super_end<G, T>(s, x, sb, isum, out);
  }
}
};

template <bool Five>
struct Amx : groups::AmxCpu {
  static void group(const GroupCtx& c, const groups::AmxAt& at, float (*acc)[kRows]) {
    if constexpr (Five)
      q5k_amx_group(c, at, acc);
    else
      q4k_amx_group(c, at, acc);
  }
};

template <bool Five>
RowsFn rows_fn(Isa isa) {
  if (isa == Isa::Amx) return groups::group_rows<groups::tile_any<Avx512<Five>>, Amx<Five>>;
  if (isa >= Isa::Avx512) return groups::group_rows<groups::tile_any<Avx512<Five>>, groups::Streamed>;
  return groups::group_rows<groups::tile_scalar<row_dot_scalar<Five>>>;
}

}  // namespace

RowsFn q4kx16_rows_fn(Isa isa) { return rows_fn<false>(isa); }
RowsFn q5kx16_rows_fn(Isa isa) { return rows_fn<true>(isa); }

}  // namespace dsinfer::kernels::cpu
