#include "kernels/cpu/intrin.h"  // first: see intrin.h
#include "kernels/cpu/norm.h"

#include <cmath>

#include "kernels/reference/ops.h"

#define DSI_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma")))

namespace dsinfer::kernels::cpu {

namespace {

// The sum of x[i]^2 in double: four chains of eight lanes (a dependent chain
// of double adds per element made the scalar loop latency-bound).
DSI_TARGET double sum_squares(const float* x, int64_t n) {
  __m512d acc[4] = {_mm512_setzero_pd(), _mm512_setzero_pd(), _mm512_setzero_pd(), _mm512_setzero_pd()};
  int64_t i = 0;
  for (; i + 32 <= n; i += 32)
    for (int k = 0; k < 4; ++k) {
      const __m512d v = _mm512_cvtps_pd(_mm256_loadu_ps(x + i + 8 * k));
      acc[k] = _mm512_fmadd_pd(v, v, acc[k]);
    }
  for (; i < n; i += 8) {
    const __mmask8 m = n - i >= 8 ? static_cast<__mmask8>(0xff) : static_cast<__mmask8>((1u << (n - i)) - 1);
    const __m512d v = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(m, x + i));
    acc[0] = _mm512_fmadd_pd(v, v, acc[0]);
  }
  return _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(acc[0], acc[1]), _mm512_add_pd(acc[2], acc[3])));
}

}  // namespace

DSI_TARGET void rms_norm_avx512(const NormArgs& a, int64_t begin, int64_t end) {
  for (int64_t t = begin; t < end; ++t) {
    const float* x = a.x + t * a.x_stride;
    float* y = a.y + t * a.y_stride;
    const double ss = sum_squares(x, a.dim);
    const __m512 inv = _mm512_set1_ps(1.0f / std::sqrt(static_cast<float>(ss / static_cast<double>(a.dim)) + a.eps));
    for (int64_t i = 0; i < a.dim; i += 16) {
      const __mmask16 m = a.dim - i >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << (a.dim - i)) - 1);
      const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), inv);
      _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, a.weight + i), v));
    }
  }
}

void rms_norm(const NormArgs& a, Isa isa, int64_t begin, int64_t end) {
  if (isa >= Isa::Avx512) return rms_norm_avx512(a, begin, end);
  ref::rms_norm(a, begin, end);
}

}  // namespace dsinfer::kernels::cpu
