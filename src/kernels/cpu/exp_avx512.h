// e^x for 16 floats at once: the AVX-512 twin of exp_approx (exp_consts.h),
// with the same operations, so the two agree bit for bit.
#pragma once

#include "kernels/cpu/intrin.h"  // first: see intrin.h
#include "kernels/cpu/exp_consts.h"

namespace dsinfer::kernels::cpu {

__attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma"))) inline __m512 exp16(__m512 x) {
  using namespace exp_consts;
  x = _mm512_max_ps(_mm512_set1_ps(kMinArg), x);  // NaN (second operand) passes through
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(kLog2e)), _MM_FROUND_TO_NEAREST_INT);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Hi), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Lo), r);
  __m512 p = _mm512_set1_ps(kP0);
  for (float c : {kP1, kP2, kP3, kP4, kP5}) p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(c));
  const __m512 e = _mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(e, n);
}

}  // namespace dsinfer::kernels::cpu
