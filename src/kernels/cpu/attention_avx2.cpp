// AVX2 instance of the tiled attention (attention_tiled.inc): 8 floats per
// vector, tails through maskload/maskstore with a lane mask.
#include "kernels/cpu/intrin.h"  // first: see intrin.h
#include <algorithm>
#include <cmath>
#include <type_traits>
#include <utility>
#include <vector>

#include "kernels/cpu/attention.h"
#include "kernels/cpu/exp_avx2.h"

#define DSI_TARGET __attribute__((target("avx2,fma")))
#define DSI_UNROLL _Pragma("GCC unroll 16")

namespace dsinfer::kernels::cpu {

namespace avx2_attention {

struct V256 {
  static constexpr int64_t kWidth = 8;
  static constexpr int kScoreHeads = 1;  // 8 score sums + a query + a key of 16 registers
  static constexpr int64_t kValueCols = 64;  // 8 registers of output per pass
  static constexpr int kValueHeads = 1;
  static constexpr bool kBf16Dots = false;
  using vec = __m256;
  using mask = __m256i;  // all ones in the lanes in use
  DSI_TARGET static mask tail(int64_t left) {
    const int n = left >= 8 ? 8 : static_cast<int>(left);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  DSI_TARGET static vec zero() { return _mm256_setzero_ps(); }
  DSI_TARGET static vec set1(float x) { return _mm256_set1_ps(x); }
  DSI_TARGET static vec load(mask m, const float* p) { return _mm256_maskload_ps(p, m); }
  DSI_TARGET static vec loadu(const float* p) { return _mm256_loadu_ps(p); }
  // bf16 cache values, widened exactly (the high half of a float32).
  DSI_TARGET static vec loadu(const uint16_t* p) {
    const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
  }
  // AVX2 has no 16-bit masked load: a tail (rows not a multiple of 8 long) goes through a copy.
  DSI_TARGET static vec load(mask m, const uint16_t* p) {
    const int n = __builtin_popcount(static_cast<unsigned>(_mm256_movemask_ps(_mm256_castsi256_ps(m))));
    if (n == 8) return loadu(p);
    alignas(16) uint16_t t[8] = {};
    std::copy_n(p, n, t);
    return loadu(t);
  }
  DSI_TARGET static vec load_or(mask m, const float* p, vec other) {
    return _mm256_blendv_ps(other, _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m));
  }
  DSI_TARGET static void store(mask m, float* p, vec v) { _mm256_maskstore_ps(p, m, v); }
  DSI_TARGET static vec keep(mask m, vec v) { return _mm256_and_ps(_mm256_castsi256_ps(m), v); }
  DSI_TARGET static vec fmadd(vec a, vec b, vec c) { return _mm256_fmadd_ps(a, b, c); }
  DSI_TARGET static vec add(vec a, vec b) { return _mm256_add_ps(a, b); }
  DSI_TARGET static vec mul(vec a, vec b) { return _mm256_mul_ps(a, b); }
  DSI_TARGET static vec sub(vec a, vec b) { return _mm256_sub_ps(a, b); }
  DSI_TARGET static vec div(vec a, vec b) { return _mm256_div_ps(a, b); }
  DSI_TARGET static vec max(vec a, vec b) { return _mm256_max_ps(a, b); }
  DSI_TARGET static float reduce_add(vec v) {
    const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(t, _mm_movehdup_ps(t)));
  }
  DSI_TARGET static void reduce_add8(const vec* a, float scale, float* out) {
    for (int j = 0; j < 8; ++j) out[j] = reduce_add(a[j]) * scale;
  }
  DSI_TARGET static float reduce_max(vec v) {
    const __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 t = _mm_max_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_max_ss(t, _mm_movehdup_ps(t)));
  }
  DSI_TARGET static vec exp(vec x) { return exp8(x); }
  // x to bf16 precision, as f32_to_bf16 rounds (nearest even; NaN stays NaN).
  DSI_TARGET static vec round_bf16(vec x) {
    const __m256i b = _mm256_castps_si256(x);
    const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(b, 16), _mm256_set1_epi32(1));
    const __m256i r = _mm256_and_si256(_mm256_add_epi32(b, _mm256_add_epi32(odd, _mm256_set1_epi32(0x7fff))),
                                       _mm256_set1_epi32(static_cast<int>(0xffff0000u)));
    return _mm256_blendv_ps(_mm256_castsi256_ps(r), x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
  }
  // Queries rounded for a bf16 cache: once per tile, a few thousand values.
  static void to_bf16(const float* x, int64_t n, uint16_t* out) {
    for (int64_t i = 0; i < n; ++i) out[i] = f32_to_bf16(x[i]);
  }
};

#include "kernels/cpu/attention_tiled.inc"

}  // namespace avx2_attention

void attention_avx2(const AttentionArgs& a, const AttentionTile& tile, const AttentionPartials* part) {
  if (a.cache_dtype == DType::BF16) {
    avx2_attention::attention_tile<avx2_attention::V256, uint16_t>(a, tile, part);
  } else {
    avx2_attention::attention_tile<avx2_attention::V256, float>(a, tile, part);
  }
}

void attention_fold_avx2(float* run, const float* chunk, int64_t n, ChunkMerge f) {
  avx2_attention::fold_values<avx2_attention::V256>(run, chunk, n, f);
}

}  // namespace dsinfer::kernels::cpu
