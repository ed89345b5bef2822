// y = x W^T for Q6_K weights repacked into groups of 16 rows (packed.h): the
// AVX-512 VNNI kernel and its scalar twin. A value's 6-bit code q is its low
// nibble (placed as Q4_K x16's) with its two high bits shifted in from qh by
// one ternary-logic op; q in [0, 63] goes through vpdpbusd as an unsigned
// byte, and the offset -32 comes back per sub-block of 16 values as 32 sc
// times the activations' half-block sums (QuantAct::hp), two sub-blocks per
// vpdpwssd at the super-block's end. With span-8 activations a super-block's
// sum_k sc_k (q_k - 32) . a_k is exact in int32 (|.| < 2^29), then scaled by
// one float multiply and one multiply-add: the same operations per row,
// token and super-block in every tile shape and in the twin, so they agree
// bit for bit and a token's result does not depend on the batch.
#include "kernels/cpu/intrin.h"  // first: see intrin.h
#include <cmath>
#include <cstring>

#include "core/quant.h"
#include "kernels/cpu/group_tiles.h"
#include "kernels/cpu/matmul_q6k_amx.h"
#include "kernels/packed.h"

#define DSI_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
#define DSI_UNROLL _Pragma("GCC unroll 16")

namespace dsinfer::kernels::cpu {

namespace {

namespace q6k = packed::q6k;
using groups::bcast4;
using groups::GroupCtx;
using groups::half_at;
using groups::kRows;
using groups::Lane;
using groups::TileActs;
using groups::TileAt;

int low16(int32_t pair) { return static_cast<int16_t>(static_cast<uint32_t>(pair) & 0xffff); }
int high16(int32_t pair) { return static_cast<int16_t>(static_cast<uint32_t>(pair) >> 16); }

float row_dot_scalar(const GroupCtx& c, const TileAt& at, const Lane& r, float acc) {
  const int8_t* aq = c.act->q_row(r.t);
  const float* ad = c.act->d_row(r.t);
  const int32_t* hp = c.act->hp_row(r.t);
  const int l = r.l;
  for (int64_t sb = at.k0; sb < at.k1; ++sb) {
    const uint8_t* sup = r.grp + sb * q6k::kBlockBytes;
    const auto* sc = reinterpret_cast<const int8_t*>(sup + q6k::kScOffset + l);  // sub-block k's: sc[16 k]
    int32_t isum = 0, osum = 0;  // the codes' products by scale; the scales times the half-block sums
    for (int j = 0; j < 8; ++j) {
      const int8_t* a = aq + (sb * 8 + j) * kActBlock;
      for (int p = 0; p < 2; ++p) {
        int32_t dot = 0;
        for (int m = 0; m < 4; ++m)  // values 16 p + 4 m + i: load 2 p + m / 2, nibble m % 2
          for (int i = 0; i < 4; ++i) {
            const int low = sup[q6k::kQsOffset + 256 * j + 64 * (2 * p + m / 2) + 4 * l + i] >> (4 * (m % 2)) & 0xf;
            const int high = sup[q6k::qh_at(j, p) + 4 * l + i] >> (2 * m) & 3;
            dot += (low | high << 4) * a[16 * p + 4 * m + i];
          }
        isum += dot * sc[16 * (2 * j + p)];
      }
      const int32_t halves = hp[sb * 8 + j];
      osum += sc[32 * j] * low16(halves) + sc[32 * j + 16] * high16(halves);
    }
    const float part = static_cast<float>(isum - 32 * osum) * half_at(sup + q6k::kDOffset + 2 * l);
    acc = std::fma(part, ad[sb * 8], acc);
  }
  return acc;
}

// One super-block of G groups: where each group's data is, what to prefetch
// (decode: the same group's next super-block), and the rows' d.
template <int G>
struct Super {
  const uint8_t* sup[G];
  const uint8_t* pf[G];
  __m512 d[G];
};

// Sub-block 2j + p's code dot products (activation block b) for G groups x T
// tokens into s. Load h = 2p + u holds values 16p + 8u .. + 7 of the block:
// low nibbles the first 4 (high bits 2(2u) in qh), high nibbles the next 4
// (bits 2(2u + 1)), each pair moved to bits 4-5 by a 16-bit shift (what
// crosses from the neighbouring byte is masked off).
template <int G, int T>
DSI_TARGET inline void sub_dots(const Super<G>& x, const TileActs<T>& act, int64_t b, int j, int p, __m512i (&s)[G][T]) {
  constexpr int C = G * T <= 3 ? 2 : 1;  // independent chains per sum (small tiles are latency-bound)
  constexpr int kOr = 0xf8;              // ternary logic: A | (B & C)
  const __m512i low4 = _mm512_set1_epi8(0x0f), top2 = _mm512_set1_epi8(0x30);
  __m512i dot[C][G][T];
  DSI_UNROLL
  for (int k = 0; k < C; ++k)
    DSI_UNROLL
    for (int g = 0; g < G; ++g)
      DSI_UNROLL
      for (int tt = 0; tt < T; ++tt) dot[k][g][tt] = _mm512_setzero_si512();
  DSI_UNROLL
  for (int u = 0; u < 2; ++u) {
    const int h = 2 * p + u;
    __m512i lo[G], hi[G];
    DSI_UNROLL
    for (int g = 0; g < G; ++g) {
      const __m512i v = _mm512_loadu_si512(x.sup[g] + q6k::kQsOffset + 256 * j + 64 * h);
      const __m512i q = _mm512_loadu_si512(x.sup[g] + q6k::qh_at(j, p));
      const __m512i qlo = u == 0 ? _mm512_slli_epi16(q, 4) : q;
      const __m512i qhi = u == 0 ? _mm512_slli_epi16(q, 2) : _mm512_srli_epi16(q, 2);
      lo[g] = _mm512_ternarylogic_epi32(_mm512_and_si512(v, low4), qlo, top2, kOr);
      hi[g] = _mm512_ternarylogic_epi32(_mm512_and_si512(_mm512_srli_epi16(v, 4), low4), qhi, top2, kOr);
    }
    DSI_UNROLL
    for (int tt = 0; tt < T; ++tt) {
      const int8_t* a = act.q[tt] + b * kActBlock + 8 * h;
      const __m512i a0 = bcast4(a), a1 = bcast4(a + 4);
      DSI_UNROLL
      for (int g = 0; g < G; ++g) {
        __m512i& d = dot[u % C][g][tt];
        d = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(d, lo[g], a0), hi[g], a1);
      }
    }
  }
  DSI_UNROLL
  for (int g = 0; g < G; ++g)
    DSI_UNROLL
    for (int tt = 0; tt < T; ++tt) s[g][tt] = C == 2 ? _mm512_add_epi32(dot[0][g][tt], dot[C - 1][g][tt]) : dot[0][g][tt];
}

// A super-block's 53 lines (3360 bytes from any 32-byte boundary) in 16
// steps of 3-4: step k of the super-block at p.
DSI_TARGET inline void prefetch_step(const uint8_t* p, int k) {
  constexpr int kLines = 53;
  const auto* base = reinterpret_cast<const char*>(reinterpret_cast<uintptr_t>(p) & ~uintptr_t{63});
  for (int i = kLines * k / 16; i < kLines * (k + 1) / 16; ++i) _mm_prefetch(base + 64 * i, kStreamHint);
}

// Sub-block 2j + p of super-block sb (activation block b) for G groups x T
// tokens, times its scales, added to the super-block's integer sums. Stream:
// the tile reads its weights from memory once (decode, batched decode), each
// sub-block pulling in a sixteenth of the next super-block.
template <int G, int T, bool Stream>
DSI_TARGET inline void sub_block(const Super<G>& x, const TileActs<T>& act, int64_t b, int j, int p, __m512i (&isum)[G][T]) {
  if constexpr (Stream)
    DSI_UNROLL
    for (int g = 0; g < G; ++g) prefetch_step(x.pf[g], 2 * j + p);
  __m512i s[G][T];
  sub_dots<G, T>(x, act, b, j, p, s);
  DSI_UNROLL
  for (int g = 0; g < G; ++g) {
    const auto* sc = reinterpret_cast<const __m128i*>(x.sup[g] + q6k::kScOffset + 16 * (2 * j + p));
    const __m512i scale = _mm512_cvtepi8_epi32(_mm_loadu_si128(sc));
    DSI_UNROLL
    for (int tt = 0; tt < T; ++tt) isum[g][tt] = _mm512_add_epi32(isum[g][tt], _mm512_mullo_epi32(s[g][tt], scale));
  }
}

// The end of super-block sb: the offset term (scales times half-block sums,
// two sub-blocks per vpdpwssd), then one float scaling into the running sums
// in out (which start from zero at the first super-block).
template <int G, int T>
DSI_TARGET inline void super_end(const Super<G>& x, const TileActs<T>& act, int64_t sb, const __m512i (&isum)[G][T],
                                 float (*out)[kRows]) {
  const __m512i pairs = _mm512_load_si512(packed::q4k::kMinPairs);
  DSI_UNROLL
  for (int g = 0; g < G; ++g) {
    __m512i osum[T];
    DSI_UNROLL
    for (int tt = 0; tt < T; ++tt) osum[tt] = _mm512_setzero_si512();
    DSI_UNROLL
    for (int j = 0; j < 8; ++j) {
      const auto* sc = reinterpret_cast<const __m256i*>(x.sup[g] + q6k::kScOffset + 32 * j);
      const __m512i m = _mm512_permutexvar_epi16(pairs, _mm512_cvtepi8_epi16(_mm256_loadu_si256(sc)));
      DSI_UNROLL
      for (int tt = 0; tt < T; ++tt) osum[tt] = _mm512_dpwssd_epi32(osum[tt], m, _mm512_set1_epi32(act.hp[tt][sb * 8 + j]));
    }
    DSI_UNROLL
    for (int tt = 0; tt < T; ++tt) {
      const __m512i total = _mm512_sub_epi32(isum[g][tt], _mm512_slli_epi32(osum[tt], 5));
      const __m512 part = _mm512_mul_ps(_mm512_cvtepi32_ps(total), x.d[g]);
      float* o = out[g * T + tt];
      const __m512 acc = sb == 0 ? _mm512_setzero_ps() : _mm512_loadu_ps(o);
      _mm512_storeu_ps(o, _mm512_fmadd_ps(part, _mm512_set1_ps(act.d[tt][sb * 8]), acc));
    }
  }
}

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
      const int64_t next = groups::super_ahead<G, T>(c, at, sb, q6k::kBlockBytes);
      DSI_UNROLL
      for (int g = 0; g < G; ++g) {
        s.sup[g] = groups::tile_group(c, at, g) + sb * q6k::kBlockBytes;
        s.pf[g] = s.sup[g] + next;
        s.d[g] = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(s.sup[g] + q6k::kDOffset)));
      }
      __m512i isum[G][T];
      DSI_UNROLL
      for (int g = 0; g < G; ++g)
        DSI_UNROLL
        for (int tt = 0; tt < T; ++tt) isum[g][tt] = _mm512_setzero_si512();
      for (int j = 0; j < 8; ++j) {
        if constexpr (Part)
          for (int g = 0; g < G; ++g) pf.fetch(g, (sb - k0) * 8 + j);
        sub_block<G, T, Stream>(s, x, sb * 8 + j, j, 0, isum);
        sub_block<G, T, Stream>(s, x, sb * 8 + j, j, 1, isum);
      }
      super_end<G, T>(s, x, sb, isum, out);
    }
  }
};

struct Amx : groups::AmxCpu {
  static void group(const GroupCtx& c, const groups::AmxAt& at, float (*acc)[kRows]) { q6k_amx_group(c, at, acc); }
};

}  // namespace

RowsFn q6kx16_rows_fn(Isa isa) {
  if (isa == Isa::Amx) return groups::group_rows<groups::tile_any<Avx512>, Amx>;
  if (isa >= Isa::Avx512) return groups::group_rows<groups::tile_any<Avx512>, groups::Streamed>;
  return groups::group_rows<groups::tile_scalar<row_dot_scalar>>;
}

}  // namespace dsinfer::kernels::cpu
