// AVX-512 instance of the tiled attention (attention_tiled.inc).
#include "kernels/cpu/intrin.h"  // first: see intrin.h
#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "kernels/cpu/attention.h"
#include "kernels/cpu/exp_avx512.h"
#include "kernels/cpu/reduce_avx512.h"

#define DSI_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma")))
#define DSI_UNROLL _Pragma("GCC unroll 16")

namespace dsinfer::kernels::cpu {

namespace avx512_attention {

struct V512 {
  static constexpr int64_t kWidth = 16;
  static constexpr int kScoreHeads = 3;  // 3 x 8 score sums + 3 queries + a key: 28 of 32 registers
  static constexpr int64_t kValueCols = 64;  // 4 registers of output per head and pass
  static constexpr int kValueHeads = 4;       // 4 x 4 sums + 4 weights + 4 V vectors: 24 registers
  using vec = __m512;
  using mask = __mmask16;
  DSI_TARGET static mask tail(int64_t left) {
    return left >= 16 ? static_cast<mask>(0xffff) : static_cast<mask>((1u << left) - 1);
  }
  DSI_TARGET static vec zero() { return _mm512_setzero_ps(); }
  DSI_TARGET static vec set1(float x) { return _mm512_set1_ps(x); }
  DSI_TARGET static vec load(mask m, const float* p) { return _mm512_maskz_loadu_ps(m, p); }
  DSI_TARGET static vec loadu(const float* p) { return _mm512_loadu_ps(p); }
  // bf16 cache values, widened exactly (the high half of a float32).
  DSI_TARGET static vec widen(__m256i h) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)); }
  DSI_TARGET static vec load(mask m, const uint16_t* p) { return widen(_mm256_maskz_loadu_epi16(m, p)); }
  DSI_TARGET static vec loadu(const uint16_t* p) { return widen(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
  DSI_TARGET static vec load_or(mask m, const float* p, vec other) { return _mm512_mask_loadu_ps(other, m, p); }
  DSI_TARGET static void store(mask m, float* p, vec v) { _mm512_mask_storeu_ps(p, m, v); }
  DSI_TARGET static vec keep(mask m, vec v) { return _mm512_maskz_mov_ps(m, v); }
  DSI_TARGET static vec fmadd(vec a, vec b, vec c) { return _mm512_fmadd_ps(a, b, c); }
  DSI_TARGET static vec add(vec a, vec b) { return _mm512_add_ps(a, b); }
  DSI_TARGET static vec mul(vec a, vec b) { return _mm512_mul_ps(a, b); }
  DSI_TARGET static vec sub(vec a, vec b) { return _mm512_sub_ps(a, b); }
  DSI_TARGET static vec div(vec a, vec b) { return _mm512_div_ps(a, b); }
  DSI_TARGET static vec max(vec a, vec b) { return _mm512_max_ps(a, b); }
  DSI_TARGET static float reduce_add(vec v) { return _mm512_reduce_add_ps(v); }
  DSI_TARGET static void reduce_add8(const vec* a, float scale, float* out) { reduce8_scaled(a, scale, out); }
  DSI_TARGET static float reduce_max(vec v) { return _mm512_reduce_max_ps(v); }
  DSI_TARGET static vec exp(vec x) { return exp16(x); }
};

#include "kernels/cpu/attention_tiled.inc"

}  // namespace avx512_attention

void attention_avx512(const AttentionArgs& a, const AttentionTile& tile, const AttentionPartials* part) {
  if (a.cache_dtype == DType::BF16) {
    avx512_attention::attention_tile<avx512_attention::V512, uint16_t>(a, tile, part);
  } else {
    avx512_attention::attention_tile<avx512_attention::V512, float>(a, tile, part);
  }
}

void attention_fold_avx512(float* run, const float* chunk, int64_t n, ChunkMerge f) {
  avx512_attention::fold_values<avx512_attention::V512>(run, chunk, n, f);
}

}  // namespace dsinfer::kernels::cpu
