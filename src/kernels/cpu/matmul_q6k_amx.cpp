// Q6_K x16 on the AMX unit. The codes become signed bytes x = q - 32 in
// [-32, 31], and each sub-block's int8 scale is written in base 8 with digits
// in [-3, 4] (sc = f0 + 8 f1 + 64 f2, every value in [-128, 127] has one such
// form), so x f fits a signed byte: three planes of weights x f0, x f1, x f2,
// each a B tile against the signed activation bytes (tdpbssd), give
// C0 + 8 C1 + 64 C2 = sum_k sc_k (q_k - 32) . a_k, the VNNI kernel's exact
// super-block sum (it takes the offset from half-block sums instead). The
// float scaling is its super_end's, operation for operation, so the results
// agree bit for bit with it and with the scalar twin (matmul_q6kx16.cpp).
// A group's super-block is unpacked into the planes once (12 KiB, in L1) and
// used by every token tile of the chunk.
#include "kernels/cpu/intrin.h"  // first: see intrin.h

#include "kernels/cpu/matmul_q6k_amx.h"

#include "kernels/cpu/amx.h"
#include "kernels/packed.h"

#define DSI_UNROLL _Pragma("GCC unroll 16")

namespace dsinfer::kernels::cpu {

namespace {

namespace q6k = packed::q6k;
using groups::AmxAt;
using groups::GroupCtx;
using groups::kRows;
constexpr int kT = amx::kTokens;
constexpr int kPlanes = 3;

// One super-block of a group, ready for the tiles: planes[p] holds 4 B tiles
// (64 values each) of 16 tile rows x 64 bytes; tile row r of step s pairs
// with activation bytes 64 s + 4 r .. + 3, the packed layout's order (load h
// of 32-value block j: low nibbles values 32j + 8h + 0..3, high nibbles + 4..7).
struct alignas(64) Super {
  int8_t planes[kPlanes][4 * 16 * 64];
  __m512 d;
};

// The base-8 digits of 16 int32 scales, each digit in both 16-bit words of its lane.
DSI_AMX_TARGET inline void digits(__m512i sc, __m512i (&f)[kPlanes]) {
  const __m512i three = _mm512_set1_epi32(3), seven = _mm512_set1_epi32(7), word = _mm512_set1_epi32(0xffff);
  __m512i rest = sc;
  DSI_UNROLL
  for (int i = 0; i < kPlanes; ++i) {
    const __m512i digit = _mm512_sub_epi32(_mm512_and_si512(_mm512_add_epi32(rest, three), seven), three);
    rest = _mm512_srai_epi32(_mm512_sub_epi32(rest, digit), 3);  // exact: rest - digit is a multiple of 8
    f[i] = _mm512_or_si512(_mm512_and_si512(digit, word), _mm512_slli_epi32(digit, 16));
  }
}

// Signed bytes x times per-word factors f, exact where each |x f| < 128: the
// low bytes' products from one 16-bit multiply, the high bytes' from another
// with the low bytes cleared (so no carry crosses into them).
DSI_AMX_TARGET inline __m512i times(__m512i x, __m512i f) {
  constexpr int kLowOrB = 0xec;  // ternary logic: (A & C) | B
  const __m512i lo = _mm512_mullo_epi16(x, f);
  const __m512i hi = _mm512_mullo_epi16(_mm512_and_si512(x, _mm512_set1_epi16(static_cast<int16_t>(0xff00))), f);
  return _mm512_ternarylogic_epi32(lo, hi, _mm512_set1_epi16(0x00ff), kLowOrB);
}

DSI_AMX_TARGET void unpack(const uint8_t* sup, Super& s) {
  constexpr int kOr = 0xf8;  // ternary logic: A | (B & C)
  const __m512i low4 = _mm512_set1_epi8(0x0f), top2 = _mm512_set1_epi8(0x30), offset = _mm512_set1_epi8(32);
  DSI_UNROLL
  for (int k = 0; k < 16; ++k) {  // sub-block k: half p of block j
    const int j = k / 2, p = k % 2;
    __m512i f[kPlanes];
    digits(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sup + q6k::kScOffset + 16 * k))), f);
    const __m512i q = _mm512_loadu_si512(sup + q6k::qh_at(j, p));
    DSI_UNROLL
    for (int u = 0; u < 2; ++u) {  // as the VNNI kernel's sub_dots
      const int h = 2 * p + u;
      const __m512i v = _mm512_loadu_si512(sup + q6k::kQsOffset + 256 * j + 64 * h);
      const __m512i qlo = u == 0 ? _mm512_slli_epi16(q, 4) : q;
      const __m512i qhi = u == 0 ? _mm512_slli_epi16(q, 2) : _mm512_srli_epi16(q, 2);
      const __m512i lo = _mm512_sub_epi8(_mm512_ternarylogic_epi32(_mm512_and_si512(v, low4), qlo, top2, kOr), offset);
      const __m512i hi =
          _mm512_sub_epi8(_mm512_ternarylogic_epi32(_mm512_and_si512(_mm512_srli_epi16(v, 4), low4), qhi, top2, kOr), offset);
      const int64_t row = 64 * (8 * j + 2 * h);
      DSI_UNROLL
      for (int i = 0; i < kPlanes; ++i) {
        _mm512_store_si512(s.planes[i] + row, times(lo, f[i]));
        _mm512_store_si512(s.planes[i] + row + 64, times(hi, f[i]));
      }
    }
  }
  s.d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(sup + q6k::kDOffset)));
}

// Token tile i (from the chunk's first token t) over super-block sb, finished
// into the running float sums as the VNNI kernel's super_end does.
struct Pass {
  const QuantAct* act;
  int64_t sb;
  int64_t t;
  int64_t stride;
};

DSI_AMX_TARGET void tile(const Pass& p, const Super& s, int64_t i, float (*acc)[kRows]) {
  const int8_t* a = p.act->q_row(p.t + i) + p.sb * 256;
  amx::zero<4>();
  amx::zero<5>();
  amx::zero<6>();
  DSI_UNROLL
  for (int step = 0; step < 4; ++step) {
    amx::load<0>(a + 64 * step, p.stride);
    amx::load<1>(s.planes[0] + 1024 * step, 64);
    amx::load<2>(s.planes[1] + 1024 * step, 64);
    amx::load<3>(s.planes[2] + 1024 * step, 64);
    amx::dpbssd<4, 0, 1>();
    amx::dpbssd<5, 0, 2>();
    amx::dpbssd<6, 0, 3>();
  }
  alignas(64) int32_t dots[kPlanes][kT][kRows];  // [plane][token][lane]
  amx::store<4>(dots[0], 64);
  amx::store<5>(dots[1], 64);
  amx::store<6>(dots[2], 64);
  DSI_UNROLL
  for (int tt = 0; tt < kT; ++tt) {
    const int64_t tok = p.t + i + tt;
    const __m512i total = _mm512_add_epi32(
        _mm512_add_epi32(_mm512_load_si512(dots[0][tt]), _mm512_slli_epi32(_mm512_load_si512(dots[1][tt]), 3)),
        _mm512_slli_epi32(_mm512_load_si512(dots[2][tt]), 6));
    const __m512 part = _mm512_mul_ps(_mm512_cvtepi32_ps(total), s.d);
    float* o = acc[i + tt];
    const __m512 prev = p.sb == 0 ? _mm512_setzero_ps() : _mm512_load_ps(o);
    _mm512_store_ps(o, _mm512_fmadd_ps(part, _mm512_set1_ps(p.act->d_row(tok)[p.sb * 8]), prev));
  }
}

}  // namespace

DSI_AMX_TARGET void q6k_amx_group(const GroupCtx& c, const AmxAt& at, float (*acc)[kRows]) {
  amx::configure();
  Super s;
  for (int64_t sb = 0; sb < c.nblk; ++sb) {
    unpack(at.grp + sb * q6k::kBlockBytes, s);
    const Pass p{c.act, sb, at.t, c.act->nb * kActBlock};
    for (int64_t i = 0; i < at.n; i += kT) tile(p, s, i, acc);
  }
  _tile_release();
}

}  // namespace dsinfer::kernels::cpu
