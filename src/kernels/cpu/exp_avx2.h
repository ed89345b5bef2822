// e^x for 8 floats at once: the AVX2 twin of exp_approx (exp_consts.h), with
// the same operations, so the two agree bit for bit. AVX2 has no scalef: 2^n
// is applied as two exact powers of two, 2^(n/2) then 2^(n - n/2), so the
// only rounding is the last multiply's, as in ldexp (n is at least -150 for
// arguments at or above -104, each half at least -75: normal numbers).
#pragma once

#include "kernels/cpu/intrin.h"  // first: see intrin.h
#include "kernels/cpu/exp_consts.h"

namespace dsinfer::kernels::cpu {

// 2^k for integer k in the normal range [-126, 127].
__attribute__((target("avx2,fma"))) inline __m256 pow2_8(__m256i k) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k, _mm256_set1_epi32(127)), 23));
}

__attribute__((target("avx2,fma"))) inline __m256 exp8(__m256 x) {
  using namespace exp_consts;
  x = _mm256_max_ps(_mm256_set1_ps(kMinArg), x);  // NaN (second operand) passes through
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Hi), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Lo), r);
  __m256 p = _mm256_set1_ps(kP0);
  for (float c : {kP1, kP2, kP3, kP4, kP5}) p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(c));
  const __m256 e = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0f));
  const __m256i ni = _mm256_cvtps_epi32(n), n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
  return _mm256_mul_ps(_mm256_mul_ps(e, pow2_8(n1)), pow2_8(n2));
}

}  // namespace dsinfer::kernels::cpu
