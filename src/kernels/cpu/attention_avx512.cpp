// AVX-512 instance of the tiled attention (attention_tiled.inc).
#include "kernels/cpu/intrin.h"  // first: see intrin.h
#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <utility>
#include <vector>

#include "kernels/cpu/attention.h"
#include "kernels/cpu/matmul_kernels.h"  // round_bf16_avx512
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
  static constexpr bool kBf16Dots = false;
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
  // x to bf16 precision, as f32_to_bf16 rounds (nearest even; NaN stays NaN).
  DSI_TARGET static vec round_bf16(vec x) {
    const __m512i b = _mm512_castps_si512(x);
    const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(b, 16), _mm512_set1_epi32(1));
    const __m512i r = _mm512_and_si512(_mm512_add_epi32(b, _mm512_add_epi32(odd, _mm512_set1_epi32(0x7fff))),
                                       _mm512_set1_epi32(static_cast<int>(0xffff0000u)));
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), _mm512_castsi512_ps(r), x);
  }
  // n floats rounded to bf16 as f32_to_bf16 (nearest even, NaN kept quiet).
  static void to_bf16(const float* x, int64_t n, uint16_t* out) { round_bf16_avx512(x, n, out); }
};

#include "kernels/cpu/attention_tiled.inc"

}  // namespace avx512_attention

// The same kernel with the scores of a bf16 cache by vdpbf16ps: its own
// instance, as only CPUs with AVX512_BF16 may run it.
#undef DSI_TARGET
#define DSI_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,avx512bf16")))

namespace avx512_dots_attention {

struct V512Dots : avx512_attention::V512 {
  static constexpr bool kBf16Dots = true;
  using pairs = __m512bh;  // 32 bf16 values: 16 pairs
  using pair_mask = __mmask32;
  DSI_TARGET static pair_mask pair_tail(int64_t left) {
    return left >= 32 ? ~pair_mask{0} : static_cast<pair_mask>((1u << left) - 1);
  }
  DSI_TARGET static pairs load_pairs(pair_mask m, const uint16_t* p) {
    return reinterpret_cast<pairs>(_mm512_maskz_loadu_epi16(m, p));
  }
  DSI_TARGET static vec dot_pairs(pairs a, pairs b, vec acc) { return _mm512_dpbf16_ps(acc, a, b); }
  // The value pass over two keys at a time: their V rows' values interleaved
  // as (p, p + 1) pairs (vpunpck[lh]wd: float lane 4k + j of lo is column
  // 8k + j of the 32, of hi column 8k + 4 + j) against each head's weights
  // (w_p, w_p+1) broadcast as one pair.
  DSI_TARGET static pairs pairs_lo(pairs a, pairs b) {
    return reinterpret_cast<pairs>(_mm512_unpacklo_epi16(reinterpret_cast<__m512i>(a), reinterpret_cast<__m512i>(b)));
  }
  DSI_TARGET static pairs pairs_hi(pairs a, pairs b) {
    return reinterpret_cast<pairs>(_mm512_unpackhi_epi16(reinterpret_cast<__m512i>(a), reinterpret_cast<__m512i>(b)));
  }
  DSI_TARGET static pairs bcast_pair(const uint16_t* w) {
    uint32_t x;
    std::memcpy(&x, w, 4);
    return reinterpret_cast<pairs>(_mm512_set1_epi32(static_cast<int>(x)));
  }
  // Sums of lo and hi lanes back in column order: columns 0..15 and 16..31.
  DSI_TARGET static void unpair(vec lo, vec hi, vec& first, vec& second) {
    const __m512i i0 = _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
    const __m512i i1 = _mm512_setr_epi32(8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
    first = _mm512_permutex2var_ps(lo, i0, hi);
    second = _mm512_permutex2var_ps(lo, i1, hi);
  }
};

#include "kernels/cpu/attention_tiled.inc"

}  // namespace avx512_dots_attention

void attention_avx512_widening(const AttentionArgs& a, const AttentionTile& tile, const AttentionPartials* part) {
  if (a.cache_dtype == DType::BF16) {
    avx512_attention::attention_tile<avx512_attention::V512, uint16_t>(a, tile, part);
  } else {
    avx512_attention::attention_tile<avx512_attention::V512, float>(a, tile, part);
  }
}

void attention_avx512_dots(const AttentionArgs& a, const AttentionTile& tile, const AttentionPartials* part) {
  if (a.cache_dtype != DType::BF16) return attention_avx512_widening(a, tile, part);
  avx512_dots_attention::attention_tile<avx512_dots_attention::V512Dots, uint16_t>(a, tile, part);
}

void attention_avx512(const AttentionArgs& a, const AttentionTile& tile, const AttentionPartials* part) {
  if (a.cache_dtype == DType::BF16 && has_bf16_dots()) return attention_avx512_dots(a, tile, part);
  attention_avx512_widening(a, tile, part);
}

void attention_fold_avx512(float* run, const float* chunk, int64_t n, ChunkMerge f) {
  avx512_attention::fold_values<avx512_attention::V512>(run, chunk, n, f);
}

}  // namespace dsinfer::kernels::cpu
