// Horizontal sums of eight AVX-512 vectors at once (the attention kernel's
// scores of 8 keys), each by the tree of GCC's _mm512_reduce_add_ps: lanes 8,
// 4, 2, then 1 apart folded, so a score is the same bits whichever of the two
// computed it (a sequence's last keys take the one-at-a-time path).
#pragma once

#include "kernels/cpu/intrin.h"  // first: see intrin.h

namespace dsinfer::kernels::cpu {

// out[j] = _mm512_reduce_add_ps(a[j]) * scale for j < 8: the eight folded
// together by shuffles across them, 26 operations for the 8 instead of ~9
// each (a third of a prefill score pass).
__attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma"))) inline void reduce8_scaled(const __m512* a, float scale,
                                                                                        float* out) {
  __m512 t[4];  // lanes 0-7: a[2k] folded by 8; lanes 8-15: a[2k + 1]
  for (int k = 0; k < 4; ++k)
    t[k] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * k], a[2 * k + 1], _MM_SHUFFLE(3, 2, 3, 2)),
                         _mm512_shuffle_f32x4(a[2 * k], a[2 * k + 1], _MM_SHUFFLE(1, 0, 1, 0)));
  __m512 u[2];  // 128-bit chunk c of u[k]: a[4k + c] folded by 8, then 4
  for (int k = 0; k < 2; ++k)
    u[k] = _mm512_add_ps(_mm512_shuffle_f32x4(t[2 * k], t[2 * k + 1], _MM_SHUFFLE(3, 1, 3, 1)),
                         _mm512_shuffle_f32x4(t[2 * k], t[2 * k + 1], _MM_SHUFFLE(2, 0, 2, 0)));
  // Chunk c: lanes 0-1 a[c] folded by 2, lanes 2-3 a[c + 4].
  const __m512 w = _mm512_add_ps(_mm512_shuffle_ps(u[0], u[1], _MM_SHUFFLE(3, 2, 3, 2)),
                                 _mm512_shuffle_ps(u[0], u[1], _MM_SHUFFLE(1, 0, 1, 0)));
  const __m512 s = _mm512_add_ps(w, _mm512_shuffle_ps(w, w, _MM_SHUFFLE(2, 3, 0, 1)));  // sums in lanes 4c, 4c + 2
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 2, 6, 10, 14, 0, 0, 0, 0, 0, 0, 0, 0);
  _mm256_storeu_ps(out, _mm256_mul_ps(_mm512_castps512_ps256(_mm512_permutexvar_ps(order, s)), _mm256_set1_ps(scale)));
}

}  // namespace dsinfer::kernels::cpu
