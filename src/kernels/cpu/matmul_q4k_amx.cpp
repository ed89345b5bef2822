// Q4_K and Q5_K x16 on the AMX unit. Each super-block's integer sum per (row, token),
// sum_j sc_j (q_j . a_j), comes from tiles: the 6-bit scales split as
// sc = 8 sh + sl make two byte planes of weights, sh q and sl q (at most
// 7 * 15, an unsigned byte), each a B tile against the signed activation
// bytes as A; then isum = 8 C_sh + C_sl, exactly the VNNI kernel's sum. The
// min term and the float scaling are the VNNI kernel's super_end, operation
// for operation, so the results agree bit for bit with it and with the
// scalar twin (the engine's batch invariance needs this: a decode token
// sharing a step with a prompt goes through here).
//
// Against the VNNI tiles this moves the per-sub-block work (nibble unpack,
// scale multiply) out of the token loop: a group's super-block is unpacked
// into the two planes once (8 KiB, in L1) and used by every token tile of
// the chunk, and the float work is once per super-block and token. Q5_K's
// values (at most 31, their fifth bits added from the masks) times 7 still
// fit a byte.
#include "kernels/cpu/intrin.h"  // first: see intrin.h

#include "kernels/cpu/matmul_q4k_amx.h"

#include <cstring>

#include "kernels/cpu/amx.h"
#include "kernels/cpu/q4k_scales.h"
#include "kernels/packed.h"

#define DSI_UNROLL _Pragma("GCC unroll 16")

namespace dsinfer::kernels::cpu {

namespace {

using groups::AmxAt;
using groups::GroupCtx;
using groups::kRows;
using packed::q4k::kMinPairs;
using packed::q4k::kQsOffset;
using packed::q4k::kScales;
template <bool Five>
constexpr int64_t kSuperBytes = Five ? packed::q5k::kBlockBytes : packed::q4k::kBlockBytes;
constexpr int kT = amx::kTokens;

// Tile registers (literal numbers: the intrinsics are macros that paste
// them into the asm): tmm0, tmm1 the activations of two token tiles; tmm2,
// tmm3 the sh and sl weight planes of a 64-value step; tmm4, tmm5 the first
// token tile's sums per plane, tmm6, tmm7 the second's.

// One super-block of a group, ready for the tiles: planes[p] holds 4 B tiles
// (64 values each) of 16 tile rows x 64 bytes; tile row r of step s pairs
// with activation bytes 64 s + 4 r .. + 3, which is the packed layout's
// order (load h of sub-block j: low nibbles values 32j + 8h + 0..3, high
// nibbles + 4..7).
struct alignas(64) Super {
  uint8_t planes[2][4 * 16 * 64];
  __m512i m[4];  // the mins of sub-blocks 2i, 2i + 1 as int16 pairs per lane (super_end's order)
  __m512 d, dmin;
};

// Both nibbles of q (at most 15; 31 with Five's fifth bits) times a per-lane
// factor of at most 7 in place: as 16-bit words, low byte x f stays under
// 256, so it does not carry into the high byte's product.
template <bool Five>
DSI_AMX_TARGET void unpack(const uint8_t* sup, Super& s) {
  const __m512i low4 = _mm512_set1_epi8(0x0f);
  alignas(64) uint8_t sm[2 * kScales];  // the scales, then the mins, as bytes
  q4k_scales_avx512(sup, sm);
  DSI_UNROLL
  for (int j = 0; j < 8; ++j) {
    const __m512i sc = _mm512_cvtepu8_epi32(_mm_load_si128(reinterpret_cast<const __m128i*>(sm + 16 * j)));
    const __m512i sh = _mm512_srli_epi32(sc, 3), sl = _mm512_and_si512(sc, _mm512_set1_epi32(7));
    const __m512i fh = _mm512_or_si512(sh, _mm512_slli_epi32(sh, 16)), fl = _mm512_or_si512(sl, _mm512_slli_epi32(sl, 16));
    DSI_UNROLL
    for (int h = 0; h < 4; ++h) {
      const __m512i v = _mm512_loadu_si512(sup + kQsOffset + 256 * j + 64 * h);
      __m512i lo = _mm512_and_si512(v, low4), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
      if constexpr (Five) {
        uint64_t m[2];
        std::memcpy(m, sup + packed::q5k::mask_at(j, h, 0), sizeof m);
        lo = _mm512_mask_add_epi8(lo, m[0], lo, _mm512_set1_epi8(16));
        hi = _mm512_mask_add_epi8(hi, m[1], hi, _mm512_set1_epi8(16));
      }
      const int64_t row = 64 * (8 * j + 2 * h);
      _mm512_store_si512(s.planes[0] + row, _mm512_mullo_epi16(lo, fh));
      _mm512_store_si512(s.planes[0] + row + 64, _mm512_mullo_epi16(hi, fh));
      _mm512_store_si512(s.planes[1] + row, _mm512_mullo_epi16(lo, fl));
      _mm512_store_si512(s.planes[1] + row + 64, _mm512_mullo_epi16(hi, fl));
    }
  }
  const __m512i pairs = _mm512_load_si512(kMinPairs);
  DSI_UNROLL
  for (int i = 0; i < 4; ++i) {
    const __m256i m8 = _mm256_load_si256(reinterpret_cast<const __m256i*>(sm + kScales + 32 * i));
    s.m[i] = _mm512_permutexvar_epi16(pairs, _mm512_cvtepu8_epi16(m8));
  }
  s.d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(sup)));
  s.dmin = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(sup + 32)));
}

// Where one super-block's token tiles read and write.
struct Pass {
  const QuantAct* act;
  int64_t sb;
  int64_t t;  // first token of the chunk
  int64_t stride;
};

// The sums of token tile i (C tiles of 8 sh q . a and sl q . a) finished into
// the running float sums: super_end's operations per token.
DSI_AMX_TARGET void finish(const Pass& p, const Super& s, const int32_t (*dots)[kT][kRows], int64_t i,
                           float (*acc)[kRows]) {
  DSI_UNROLL
  for (int tt = 0; tt < kT; ++tt) {
    const int64_t tok = p.t + i + tt;
    const __m512i isum = _mm512_add_epi32(_mm512_slli_epi32(_mm512_load_si512(dots[0][tt]), 3), _mm512_load_si512(dots[1][tt]));
    const int32_t* sp = p.act->sp_row(tok) + p.sb * 4;
    __m512i msum = _mm512_setzero_si512();
    DSI_UNROLL
    for (int q = 0; q < 4; ++q) msum = _mm512_dpwssd_epi32(msum, s.m[q], _mm512_set1_epi32(sp[q]));
    const __m512 mins = _mm512_mul_ps(_mm512_cvtepi32_ps(msum), s.dmin);
    const __m512 part = _mm512_fmsub_ps(_mm512_cvtepi32_ps(isum), s.d, mins);
    float* o = acc[i + tt];
    const __m512 prev = p.sb == 0 ? _mm512_setzero_ps() : _mm512_load_ps(o);
    _mm512_store_ps(o, _mm512_fmadd_ps(part, _mm512_set1_ps(p.act->d_row(tok)[p.sb * 8]), prev));
  }
}

// Token tiles i and (Two) i + kT over one super-block.
template <bool Two>
DSI_AMX_TARGET void tiles(const Pass& p, const Super& s, int64_t i, float (*acc)[kRows]) {
  const int8_t* a = p.act->q_row(p.t + i) + p.sb * 256;
  _tile_zero(4);
  _tile_zero(5);
  if constexpr (Two) {
    _tile_zero(6);
    _tile_zero(7);
  }
  DSI_UNROLL
  for (int step = 0; step < 4; ++step) {
    _tile_loadd(2, s.planes[0] + 1024 * step, 64);
    _tile_loadd(3, s.planes[1] + 1024 * step, 64);
    _tile_loadd(0, a + 64 * step, p.stride);
    _tile_dpbsud(4, 0, 2);
    _tile_dpbsud(5, 0, 3);
    if constexpr (Two) {
      _tile_loadd(1, a + kT * p.stride + 64 * step, p.stride);
      _tile_dpbsud(6, 1, 2);
      _tile_dpbsud(7, 1, 3);
    }
  }
  alignas(64) int32_t dots[2][2][kT][kRows];  // [token tile][plane][token][lane]
  _tile_stored(4, dots[0][0], 64);
  _tile_stored(5, dots[0][1], 64);
  if constexpr (Two) {
    _tile_stored(6, dots[1][0], 64);
    _tile_stored(7, dots[1][1], 64);
  }
  asm volatile("" ::: "memory");  // the tile stores write dots behind the compiler's back
  finish(p, s, dots[0], i, acc);
  if constexpr (Two) finish(p, s, dots[1], i + kT, acc);
}

template <bool Five>
DSI_AMX_TARGET void group(const GroupCtx& c, const AmxAt& at, float (*acc)[kRows]) {
  amx::configure();
  Super s;
  for (int64_t sb = 0; sb < c.nblk; ++sb) {
    unpack<Five>(at.grp + sb * kSuperBytes<Five>, s);
    asm volatile("" ::: "memory");  // the tile loads read the planes behind the compiler's back
    const Pass p{c.act, sb, at.t, c.act->nb * kActBlock};
    int64_t i = 0;
    for (; i + 2 * kT <= at.n; i += 2 * kT) tiles<true>(p, s, i, acc);
    if (i < at.n) tiles<false>(p, s, i, acc);
  }
  _tile_release();
}

}  // namespace

void q4k_amx_group(const GroupCtx& c, const AmxAt& at, float (*acc)[kRows]) { group<false>(c, at, acc); }
void q5k_amx_group(const GroupCtx& c, const AmxAt& at, float (*acc)[kRows]) { group<true>(c, at, acc); }

}  // namespace dsinfer::kernels::cpu
