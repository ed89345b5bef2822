// y = x W^T for the 32-value block types repacked into groups of 16 rows
// (packed.h), Q8_0, Q4_0 and Q5_0: the AVX-512 VNNI kernel and its scalar
// twin. The packed bytes are VNNI's unsigned operand: Q8_0 stores q + 128,
// Q4_0 its nibbles q (value q - 8), Q5_0 the nibbles with a byte mask of the
// fifth bits (value q - 16, 16 added under the mask), so sum(u a) - bias sum(a) is the exact integer
// block dot, the accumulator starting at -bias sum(a). Per block, row and
// token both compute one fused multiply-add of that integer times d * d_a, in
// block order, so they agree bit for bit whatever the tile shape (batch
// invariance).
#include "kernels/cpu/intrin.h"  // first: see intrin.h
#include <cmath>
#include <cstring>

#include "core/quant.h"
#include "kernels/cpu/group_tiles.h"
#include "kernels/cpu/matmul_block32_amx.h"
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

// Where a block's 32 values are: kLoads 64-byte loads of 16 rows x 4 bytes,
// each giving kPer vectors of unsigned values; vector p of load h pairs with
// the 4 activations at act_offset(h, p). value(): row l's byte i of that vector.
struct Q8Format {
  static constexpr auto amx_group = q8_0_amx_group;
  static constexpr int64_t kBlockBytes = packed::q8::kBlockBytes;
  static constexpr int64_t kQsOffset = packed::q8::kQsOffset;
  static constexpr int kLoads = 8, kPer = 1, kBias = 128;
  static constexpr int act_offset(int h, int) { return 4 * h; }
  static int value(const uint8_t* blk, int h, int, int l, int i) { return blk[kQsOffset + 64 * h + 4 * l + i]; }
  // -kBias s of block b for token tt, by a broadcast load (QuantAct::ns128):
  // 6-8% faster Q8_0 prefill tiles than from a register (matmul_bench Prefill).
  template <int T>
  DSI_TARGET static __m512i bias(const TileActs<T>& x, int tt, int64_t b) { return _mm512_set1_epi32(x.ns128[tt][b]); }
  DSI_TARGET static void vectors(const uint8_t* blk, int h, __m512i (&out)[kPer]) {
    out[0] = _mm512_loadu_si512(blk + kQsOffset + 64 * h);
  }
};

// Q4_0, or with Five Q5_0.
template <bool Five>
struct NibbleFormat {
  static constexpr auto amx_group = Five ? q5_0_amx_group : q4_0_amx_group;
  static constexpr int64_t kBlockBytes = Five ? packed::q5::kBlockBytes : packed::q4::kBlockBytes;
  static constexpr int64_t kQsOffset = packed::q4::kQsOffset;
  static constexpr int kLoads = 4, kPer = 2, kBias = Five ? 16 : 8;
  static constexpr int act_offset(int h, int p) { return 16 * p + 4 * h; }
  static int value(const uint8_t* blk, int h, int p, int l, int i) {
    const uint8_t byte = blk[kQsOffset + 64 * h + 4 * l + i];
    const int q = p ? byte >> 4 : byte & 0xf;
    if constexpr (!Five) return q;
    return q | ((blk[packed::q5::mask_at(h, p) + (4 * l + i) / 8] >> ((4 * l + i) % 8)) & 1) << 4;
  }
  // Here from a register: a shift of ns128 (-8 s = -128 s / 16) measured 2-4% slower.
  template <int T>
  DSI_TARGET static __m512i bias(const TileActs<T>& x, int tt, int64_t b) { return _mm512_set1_epi32(-kBias * x.s[tt][b]); }
  DSI_TARGET static void vectors(const uint8_t* blk, int h, __m512i (&out)[kPer]) {
    const __m512i low4 = _mm512_set1_epi8(0x0f), v = _mm512_loadu_si512(blk + kQsOffset + 64 * h);
    out[0] = _mm512_and_si512(v, low4);
    out[1] = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
    if constexpr (Five) {
      uint64_t m[2];
      std::memcpy(m, blk + packed::q5::mask_at(h, 0), sizeof m);
      const __m512i sixteen = _mm512_set1_epi8(16);
      out[0] = _mm512_mask_add_epi8(out[0], m[0], out[0], sixteen);
      out[1] = _mm512_mask_add_epi8(out[1], m[1], out[1], sixteen);
    }
  }
};
using Q4Format = NibbleFormat<false>;
using Q5Format = NibbleFormat<true>;

template <class F>
float row_dot_scalar(const GroupCtx& c, const TileAt& at, const Lane& r, float acc) {
  const int8_t* aq = c.act->q_row(r.t);
  const float* ad = c.act->d_row(r.t);
  const int32_t* as = c.act->s_row(r.t);
  const int l = r.l;
  for (int64_t b = at.k0; b < at.k1; ++b) {
    const uint8_t* blk = r.grp + b * F::kBlockBytes;
    uint16_t h16;
    std::memcpy(&h16, blk + 2 * l, 2);
    const int8_t* a = aq + b * kActBlock;
    int32_t dot = -F::kBias * as[b];
    for (int h = 0; h < F::kLoads; ++h)
      for (int p = 0; p < F::kPer; ++p)
        for (int i = 0; i < 4; ++i) dot += F::value(blk, h, p, l, i) * a[F::act_offset(h, p) + i];
    acc = std::fma(static_cast<float>(dot), half_to_float(h16) * ad[b], acc);
  }
  return acc;
}

template <class F>
struct Avx512 {
  static constexpr int64_t kAhead = 2048 / F::kBlockBytes;  // blocks of prefetch distance per stream (~2 KB)
  static constexpr int kLines = static_cast<int>((F::kBlockBytes + 63) / 64);

  // Block b for G groups x T tokens.
  template <int G, int T>
  DSI_TARGET static void block(const uint8_t* const* blk, const TileActs<T>& x, int64_t b, __m512 (&acc)[G][T]) {
    // Integer sums are exact, so independent chains (latency-bound in small
    // tiles) change no result bit.
    constexpr int C = G * T == 1 ? 4 : G * T <= 3 ? 2 : 1;
    __m512i dot[C][G][T];
    __m512i bias[T];
    DSI_UNROLL
    for (int tt = 0; tt < T; ++tt) bias[tt] = F::bias(x, tt, b);
    DSI_UNROLL
    for (int g = 0; g < G; ++g)
      DSI_UNROLL
      for (int tt = 0; tt < T; ++tt) {
        dot[0][g][tt] = bias[tt];
        DSI_UNROLL
        for (int k = 1; k < C; ++k) dot[k][g][tt] = _mm512_setzero_si512();
      }
    DSI_UNROLL
    for (int h = 0; h < F::kLoads; ++h) {
      __m512i w[G][F::kPer];
      DSI_UNROLL
      for (int g = 0; g < G; ++g) F::vectors(blk[g], h, w[g]);
      DSI_UNROLL
      for (int p = 0; p < F::kPer; ++p)
        DSI_UNROLL
        for (int tt = 0; tt < T; ++tt) {
          const __m512i a = bcast4(x.q[tt] + b * kActBlock + F::act_offset(h, p));
          DSI_UNROLL
          for (int g = 0; g < G; ++g) {
            __m512i& s = dot[(h * F::kPer + p) % C][g][tt];
            s = _mm512_dpbusd_epi32(s, w[g][p], a);
          }
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

  // Part: over blocks [at.k0, at.k1) from the sums in out, prefetching at.pf
  // (group_tiles.h); otherwise whole rows from zero. Stream: the tile reads
  // its weights from memory once (decode, batched decode).
  template <int G, int T, bool Part, bool Stream = (T <= 2)>
  DSI_TARGET static void tile(const GroupCtx& c, const TileAt& at, float (*out)[kRows]) {
    const int64_t k0 = Part ? at.k0 : 0, k1 = Part ? at.k1 : c.nblk;
    const TileActs<T> x(*c.act, at.t);
    const groups::PartPrefetch pf(c, at, k1 - k0);
    __m512 acc[G][T];
    DSI_UNROLL
    for (int g = 0; g < G; ++g)
      DSI_UNROLL
      for (int tt = 0; tt < T; ++tt) acc[g][tt] = Part && k0 > 0 ? _mm512_loadu_ps(out[g * T + tt]) : _mm512_setzero_ps();
    for (int64_t b = k0; b < k1; ++b) {
      const uint8_t* blk[G];
      DSI_UNROLL
      for (int g = 0; g < G; ++g) blk[g] = groups::tile_group(c, at, g) + b * F::kBlockBytes;
      if constexpr (Part) {
        DSI_UNROLL
        for (int g = 0; g < G; ++g) pf.fetch(g, b - k0);
      } else if constexpr (Stream) {  // pull each stream kAhead blocks ahead
        // Past a group's end comes the next tile's group (past_row;
        // prefetching past the matrix is harmless: prefetches never fault).
        // A batched tile's one stream runs faster than each of decode's eight:
        // it asks for lines further ahead.
        constexpr int64_t kDist = T <= 2 ? kAhead : 8 * kAhead;
        const int64_t ahead = kDist * F::kBlockBytes + (b + kDist < c.nblk ? 0 : groups::past_row(c, at, G));
        DSI_UNROLL
        for (int g = 0; g < G; ++g)
          DSI_UNROLL
          for (int l = 0; l < kLines; ++l) _mm_prefetch(reinterpret_cast<const char*>(blk[g] + ahead + 64 * l), kStreamHint);
      }
      block<G, T>(blk, x, b, acc);
    }
    DSI_UNROLL
    for (int g = 0; g < G; ++g)
      DSI_UNROLL
      for (int tt = 0; tt < T; ++tt) _mm512_storeu_ps(out[g * T + tt], acc[g][tt]);
  }
};

// Calls of 17+ tokens: their whole 16-token tiles (matmul_block32_amx.cpp).
template <class F>
struct Amx : groups::AmxCpu {
  static void group(const GroupCtx& c, const groups::AmxAt& at, float (*acc)[kRows]) { F::amx_group(c, at, acc); }
};

template <class F>
RowsFn rows_fn(Isa isa) {
  if (isa == Isa::Amx) return groups::group_rows<groups::tile_any<Avx512<F>>, Amx<F>>;
  if (isa >= Isa::Avx512) return groups::group_rows<groups::tile_any<Avx512<F>>, groups::Streamed>;
  return groups::group_rows<groups::tile_scalar<row_dot_scalar<F>>>;
}

}  // namespace

RowsFn block32x16_rows_fn(Isa isa, DType t) {
  if (t == DType::Q4_0) return rows_fn<Q4Format>(isa);
  return t == DType::Q5_0 ? rows_fn<Q5Format>(isa) : rows_fn<Q8Format>(isa);
}

}  // namespace dsinfer::kernels::cpu
