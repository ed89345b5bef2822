// Activation quantization for the integer matmul kernels (blocks of 32 int8
// with an f32 scale). The SIMD versions reproduce the scalar one bit for bit:
// same scale d = amax / 127, same reciprocal, round-to-nearest-even.
#include "kernels/cpu/intrin.h"  // first: see intrin.h
#include <algorithm>
#include <cmath>

#include "kernels/cpu/matmul_kernels.h"

#define DSI_AVX2 __attribute__((target("avx2,fma,f16c")))
#define DSI_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))

namespace dsinfer::kernels::cpu {

void QuantAct::resize(int64_t n_tokens, int64_t k_values) {
  n = n_tokens;
  k = k_values;
  const int64_t blocks = k / kActBlock;
  nb = blocks + (blocks & 1);
  const auto sz = [](int64_t v) { return static_cast<size_t>(v); };
  q.resize(sz(n * nb * kActBlock));
  d.resize(sz(n * nb));
  s.resize(sz(n * nb));
  fs.resize(sz(n * nb));
  dx.resize(sz(n * nb * 8));
  nsx.resize(sz(n * nb * 8));
  if (nb == blocks) return;
  for (int64_t t = 0; t < n; ++t) {  // the padding block: quantize_act writes all others
    const int64_t b = t * nb + blocks;
    std::fill_n(q.begin() + b * kActBlock, kActBlock, int8_t{0});
    d[sz(b)] = fs[sz(b)] = 0.0f;
    s[sz(b)] = 0;
    std::fill_n(dx.begin() + b * 8, 8, 0.0f);
    std::fill_n(nsx.begin() + b * 8, 8, 0);
  }
}

namespace {
float scale_inverse(float d) { return d != 0.0f ? 1.0f / d : 0.0f; }
}  // namespace

void quantize_act_block_scalar(const float* x, int8_t* q, float* d, int32_t* s) {
  float amax = 0;
  for (int i = 0; i < kActBlock; ++i) amax = std::max(amax, std::fabs(x[i]));
  *d = amax / 127.0f;
  const float id = scale_inverse(*d);
  int32_t sum = 0;
  for (int i = 0; i < kActBlock; ++i) {
    const int v = static_cast<int>(std::fmax(-127.0f, std::fmin(127.0f, std::nearbyint(x[i] * id))));  // NaN: 127
    q[i] = static_cast<int8_t>(v);
    sum += v;
  }
  *s = sum;
}

DSI_AVX2 void quantize_act_block_avx2(const float* x, int8_t* q, float* d, int32_t* s) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 v[4];
  __m256 m = _mm256_setzero_ps();
  for (int i = 0; i < 4; ++i) {
    v[i] = _mm256_loadu_ps(x + 8 * i);
    m = _mm256_max_ps(m, _mm256_andnot_ps(sign, v[i]));
  }
  __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
  m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
  m4 = _mm_max_ss(m4, _mm_shuffle_ps(m4, m4, 1));
  *d = _mm_cvtss_f32(m4) / 127.0f;
  const __m256 id = _mm256_set1_ps(scale_inverse(*d));
  __m256i qi[4];
  for (int i = 0; i < 4; ++i) qi[i] = _mm256_cvtps_epi32(_mm256_mul_ps(v[i], id));
  __m256i sum = _mm256_add_epi32(_mm256_add_epi32(qi[0], qi[1]), _mm256_add_epi32(qi[2], qi[3]));
  __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
  s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(1, 0, 3, 2)));
  s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(2, 3, 0, 1)));
  *s = _mm_cvtsi128_si32(s4);
  // packs work per 128-bit lane: the bytes come out as lanes [0,2,4,6 | 1,3,5,7] of 4.
  const __m256i w16 = _mm256_packs_epi32(qi[0], qi[1]);
  const __m256i w16b = _mm256_packs_epi32(qi[2], qi[3]);
  const __m256i b8 = _mm256_packs_epi16(w16, w16b);
  const __m256i fixed = _mm256_permutevar8x32_epi32(b8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(q), fixed);
}

DSI_AVX512 void quantize_act_block_avx512(const float* x, int8_t* q, float* d, int32_t* s) {
  const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
  const __m512 m = _mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1));
  *d = _mm512_reduce_max_ps(m) / 127.0f;
  const __m512 id = _mm512_set1_ps(scale_inverse(*d));
  const __m512i q0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, id));
  const __m512i q1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, id));
  *s = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(q), _mm512_cvtsepi32_epi8(q0));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(q + 16), _mm512_cvtsepi32_epi8(q1));
}

void quantize_act(Isa isa, const float* x, int64_t x_stride, int64_t t0, int64_t t1, QuantAct& act) {
  auto* block = isa == Isa::Avx512 ? quantize_act_block_avx512
                : isa == Isa::Avx2 ? quantize_act_block_avx2
                                   : quantize_act_block_scalar;
  const int64_t blocks = act.k / kActBlock;
  for (int64_t t = t0; t < t1; ++t) {
    const float* xr = x + t * x_stride;
    const int64_t o = t * act.nb;
    for (int64_t b = 0; b < blocks; ++b) {
      const auto i = static_cast<size_t>(o + b);
      block(xr + b * kActBlock, act.q.data() + i * kActBlock, &act.d[i], &act.s[i]);
      act.fs[i] = act.d[i] * static_cast<float>(act.s[i]);
      for (size_t l = 0; l < 8; ++l) {
        act.dx[i * 8 + l] = act.d[i];
        act.nsx[i * 8 + l] = -act.s[i];
      }
    }
  }
}

}  // namespace dsinfer::kernels::cpu
