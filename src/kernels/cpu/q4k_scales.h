// The 6-bit scales and mins of a packed Q4_K block (packed.h) widened to
// bytes once per super-block, for the VNNI and AMX kernels: the AVX-512 twin
// of packed::q4k::scales (tested against it), out[v] the scale and
// out[kScales + v] the min of v = 16 j + r.
#pragma once

#include "kernels/cpu/intrin.h"  // first: see intrin.h
#include <cstdint>

#include "kernels/packed.h"

namespace dsinfer::kernels::cpu {

#define DSI_SCALES_TARGET __attribute__((target("avx512f,avx512bw")))

// (lo & 0x0f) | (hi & 0x30): the nibble in place, the 2 high bits already
// shifted to bits 4-5 (16-bit shifts: what crosses into the next byte is
// masked off).
DSI_SCALES_TARGET inline __m512i q4k_join(__m512i lo, __m512i hi) {
  constexpr int kA = 0xf0, kB = 0xcc, kC = 0xaa;  // ternary logic's operand truth tables
  return _mm512_ternarylogic_epi32(lo, _mm512_and_si512(hi, _mm512_set1_epi8(0x30)), _mm512_set1_epi8(0x0f), (kA & kC) | kB);
}

DSI_SCALES_TARGET inline void q4k_scales_avx512(const uint8_t* blk, uint8_t* out) {
  const uint8_t* s = blk + packed::q4k::kScalesOffset;
  const __m512i sl = _mm512_loadu_si512(s), ml = _mm512_loadu_si512(s + 64), hb = _mm512_loadu_si512(s + 128);
  _mm512_storeu_si512(out, q4k_join(sl, _mm512_slli_epi16(hb, 4)));
  _mm512_storeu_si512(out + 64, q4k_join(_mm512_srli_epi16(sl, 4), _mm512_slli_epi16(hb, 2)));
  _mm512_storeu_si512(out + 128, q4k_join(ml, hb));
  _mm512_storeu_si512(out + 192, q4k_join(_mm512_srli_epi16(ml, 4), _mm512_srli_epi16(hb, 2)));
}

#undef DSI_SCALES_TARGET

}  // namespace dsinfer::kernels::cpu
