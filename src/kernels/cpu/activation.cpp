#include "kernels/cpu/intrin.h"  // first: see intrin.h
#include "kernels/cpu/activation.h"

#include <cmath>

#include "kernels/cpu/exp_avx512.h"
#include "kernels/cpu/exp_consts.h"

namespace dsinfer::kernels::cpu {

float exp_approx(float x) {
  using namespace exp_consts;
  if (!(x >= kMinArg)) return x != x ? x : 0.0f;  // NaN propagates
  const float n = std::nearbyint(x * kLog2e);
  const float r = std::fma(-n, kLn2Lo, std::fma(-n, kLn2Hi, x));
  float p = kP0;
  for (float c : {kP1, kP2, kP3, kP4, kP5}) p = std::fma(p, r, c);
  const float e = std::fma(p, r * r, r) + 1.0f;
  return std::ldexp(e, static_cast<int>(n));
}

void silu_mul_scalar(const SiluMulArgs& a, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    const float g = a.gate[i];
    a.out[i] = g / (1.0f + exp_approx(-g)) * a.up[i];
  }
}

__attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma"))) void silu_mul_avx512(const SiluMulArgs& a, int64_t begin,
                                                                                    int64_t end) {
  for (int64_t i = begin; i < end; i += 16) {
    const __mmask16 k = end - i >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << (end - i)) - 1);
    const __m512 g = _mm512_maskz_loadu_ps(k, a.gate + i);
    const __m512 e = exp16(_mm512_sub_ps(_mm512_setzero_ps(), g));
    const __m512 s = _mm512_div_ps(g, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
    _mm512_mask_storeu_ps(a.out + i, k, _mm512_mul_ps(s, _mm512_maskz_loadu_ps(k, a.up + i)));
  }
}

void silu_mul(const SiluMulArgs& a, Isa isa, int64_t begin, int64_t end) {
  if (isa >= Isa::Avx512) return silu_mul_avx512(a, begin, end);
  silu_mul_scalar(a, begin, end);
}

}  // namespace dsinfer::kernels::cpu
