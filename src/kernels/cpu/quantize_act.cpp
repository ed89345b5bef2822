// Activation quantization for the integer matmul kernels (blocks of 32 int8
// with an f32 scale). The SIMD versions reproduce the scalar one bit for bit:
// same scale d = amax / 127, same reciprocal, round-to-nearest-even.
#include "kernels/cpu/intrin.h"  // first: see intrin.h
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "kernels/cpu/matmul_kernels.h"

#define DSI_AVX2 __attribute__((target("avx2,fma,f16c")))
#define DSI_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))

namespace dsinfer::kernels::cpu {

void QuantAct::resize(int64_t n_tokens, int64_t k_values, int64_t blocks_per_scale) {
  if ((blocks_per_scale != 1 && blocks_per_scale != kSuperSpan) || k_values % (kActBlock * blocks_per_scale) != 0)
    throw std::invalid_argument("QuantAct: " + std::to_string(k_values) + " values do not split into spans of " +
                                std::to_string(blocks_per_scale) + " blocks of 32");
  n = n_tokens;
  k = k_values;
  span = blocks_per_scale;
  const int64_t blocks = k / kActBlock;
  nb = blocks + (blocks & 1);
  const auto sz = [](int64_t v) { return static_cast<size_t>(v); };
  const int64_t rows = (n + kPadRows - 1) / kPadRows * kPadRows;
  q.resize(sz(rows * nb * kActBlock));
  d.resize(sz(rows * nb));
  s.resize(sz(rows * nb));
  fs.resize(sz(rows * nb));
  const bool blockwise = span == 1;
  dx.resize(blockwise ? sz(rows * nb * 8) : 0);
  nsx.resize(blockwise ? sz(rows * nb * 8) : 0);
  ns128.resize(blockwise ? sz(rows * nb) : 0);
  sp.resize(blockwise ? 0 : sz(rows * nb / 2));
  hp.resize(blockwise ? 0 : sz(rows * nb));
  if (nb == blocks) return;
  for (int64_t t = 0; t < n; ++t) {  // the padding block: quantize_act writes all others
    const int64_t b = t * nb + blocks;
    std::fill_n(q.begin() + b * kActBlock, kActBlock, int8_t{0});
    d[sz(b)] = fs[sz(b)] = 0.0f;
    s[sz(b)] = 0;
    if (!blockwise) {
      hp[sz(b)] = 0;
      continue;
    }
    ns128[sz(b)] = 0;
    std::fill_n(dx.begin() + b * 8, 8, 0.0f);
    std::fill_n(nsx.begin() + b * 8, 8, 0);
  }
}

namespace {

float scale_inverse(float d) { return d != 0.0f ? 1.0f / d : 0.0f; }

// Per ISA: max |x| over a block of 32, and the block quantized with the
// inverse scale id (returns the sum of its q).
struct BlockOps {
  float (*amax)(const float* x);
  int32_t (*quant)(const float* x, float id, int8_t* q);
};

float amax_scalar(const float* x) {
  float amax = 0;
  for (int i = 0; i < kActBlock; ++i) amax = std::max(amax, std::fabs(x[i]));
  return amax;
}

int32_t quant_scalar(const float* x, float id, int8_t* q) {
  int32_t sum = 0;
  for (int i = 0; i < kActBlock; ++i) {
    const int v = static_cast<int>(std::fmax(-127.0f, std::fmin(127.0f, std::nearbyint(x[i] * id))));  // NaN: 127
    q[i] = static_cast<int8_t>(v);
    sum += v;
  }
  return sum;
}

DSI_AVX2 float amax_avx2(const float* x) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 m = _mm256_setzero_ps();
  // |x| first: a NaN lane keeps m, as std::max(amax, NaN) does in amax_scalar.
  for (int i = 0; i < 4; ++i) m = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + 8 * i)), m);
  __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
  m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
  m4 = _mm_max_ss(m4, _mm_shuffle_ps(m4, m4, 1));
  return _mm_cvtss_f32(m4);
}

DSI_AVX2 int32_t quant_avx2(const float* x, float inv, int8_t* q) {
  const __m256 id = _mm256_set1_ps(inv);
  __m256i qi[4];
  // min before max, the product first: NaN becomes 127 as in quant_scalar (the
  // clamp changes nothing else: |x| id <= 127 up to rounding).
  const __m256 lo = _mm256_set1_ps(-127.0f), hi = _mm256_set1_ps(127.0f);
  for (int i = 0; i < 4; ++i)
    qi[i] = _mm256_cvtps_epi32(_mm256_max_ps(_mm256_min_ps(_mm256_mul_ps(_mm256_loadu_ps(x + 8 * i), id), hi), lo));
  __m256i sum = _mm256_add_epi32(_mm256_add_epi32(qi[0], qi[1]), _mm256_add_epi32(qi[2], qi[3]));
  __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
  s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(1, 0, 3, 2)));
  s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(2, 3, 0, 1)));
  // packs work per 128-bit lane: the bytes come out as lanes [0,2,4,6 | 1,3,5,7] of 4.
  const __m256i w16 = _mm256_packs_epi32(qi[0], qi[1]);
  const __m256i w16b = _mm256_packs_epi32(qi[2], qi[3]);
  const __m256i b8 = _mm256_packs_epi16(w16, w16b);
  const __m256i fixed = _mm256_permutevar8x32_epi32(b8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(q), fixed);
  return _mm_cvtsi128_si32(s4);
}

DSI_AVX512 int32_t quant_avx512(const float* x, float inv, int8_t* q) {
  const __m512 id = _mm512_set1_ps(inv), lo = _mm512_set1_ps(-127.0f), hi = _mm512_set1_ps(127.0f);
  // As quant_avx2: NaN becomes 127.
  const __m512i q0 = _mm512_cvtps_epi32(_mm512_max_ps(_mm512_min_ps(_mm512_mul_ps(_mm512_loadu_ps(x), id), hi), lo));
  const __m512i q1 = _mm512_cvtps_epi32(_mm512_max_ps(_mm512_min_ps(_mm512_mul_ps(_mm512_loadu_ps(x + 16), id), hi), lo));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(q), _mm512_cvtsepi32_epi8(q0));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(q + 16), _mm512_cvtsepi32_epi8(q1));
  return _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
}

// Below AVX-512 (which has quantize_row_avx512).
BlockOps block_ops(Isa isa) {
  if (isa == Isa::Avx2) return {amax_avx2, quant_avx2};
  return {amax_scalar, quant_scalar};
}

// One span of blocks [i, i + act.span) (indices into act's arrays) from x.
void quantize_span(const BlockOps& ops, const float* x, size_t i, QuantAct& act) {
  const auto span = static_cast<size_t>(act.span);
  float amax = 0;
  for (size_t j = 0; j < span; ++j) amax = std::max(amax, ops.amax(x + j * kActBlock));
  const float d = amax / 127.0f, id = scale_inverse(d);
  for (size_t b = i; b < i + span; ++b) {
    act.d[b] = d;
    act.s[b] = ops.quant(x + (b - i) * kActBlock, id, act.q.data() + b * kActBlock);
    act.fs[b] = d * static_cast<float>(act.s[b]);
    if (span > 1) continue;
    act.ns128[b] = -128 * act.s[b];
    for (size_t l = 0; l < 8; ++l) {
      act.dx[b * 8 + l] = d;
      act.nsx[b * 8 + l] = -act.s[b];
    }
  }
}

// The AVX-512 level's whole row in one function (the per-block operations
// inlined, the repeated scale and sums stored as vectors): the values of
// quantize_span with quant_avx512, in a third of its time. The span's amax is
// the maximum of its blocks' (max is exact in any order).
DSI_AVX512 void quantize_row_avx512(const float* xr, size_t o, QuantAct& act) {
  const auto blocks = static_cast<size_t>(act.k / kActBlock), span = static_cast<size_t>(act.span);
  // The row's outputs through local pointers: stored through act's members,
  // each int8 store (which may alias anything) made the compiler reload every
  // member pointer, and the row took ~4 cycles a value.
  int8_t* q = act.q.data() + o * kActBlock;
  float *d = act.d.data() + o, *fs = act.fs.data() + o, *dx = act.dx.data() + (span == 1 ? o * 8 : 0);
  int32_t *s = act.s.data() + o, *ns128 = act.ns128.data() + (span == 1 ? o : 0), *nsx = act.nsx.data() + (span == 1 ? o * 8 : 0);
  for (size_t i = 0; i < blocks; i += span) {
    const float* x = xr + i * kActBlock;
    __m512 m = _mm512_setzero_ps();
    // |x| first: a NaN lane keeps m, as std::max(amax, NaN) does in amax_scalar.
    for (size_t j = 0; j < 2 * span; ++j) m = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x + 16 * j)), m);
    const float di = _mm512_reduce_max_ps(m) / 127.0f, id = scale_inverse(di);
    for (size_t b = i; b < i + span; ++b) {
      const int32_t sb = quant_avx512(xr + b * kActBlock, id, q + b * kActBlock);
      d[b] = di;
      s[b] = sb;
      fs[b] = di * static_cast<float>(sb);
      if (span > 1) continue;
      ns128[b] = -128 * sb;
      _mm256_storeu_ps(dx + b * 8, _mm256_set1_ps(di));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(nsx + b * 8), _mm256_set1_epi32(-sb));
    }
  }
}

int32_t int16_pair(int32_t lo, int32_t hi) {
  return static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint16_t>(lo)) | static_cast<uint32_t>(static_cast<uint16_t>(hi)) << 16);
}

// Span 8: the sums of blocks 2i, 2i + 1 as an int16 pair (s in [-32 * 127,
// 32 * 127]), and of each block's halves (in [-16 * 127, 16 * 127]).
void pair_sums(int64_t o, QuantAct& act) {
  const int64_t blocks = act.k / kActBlock;
  for (int64_t b = 0; b < blocks; b += 2) {
    const auto i = static_cast<size_t>(o + b);
    act.sp[i / 2] = int16_pair(act.s[i], act.s[i + 1]);
  }
  const int8_t* q = act.q.data() + o * kActBlock;
  for (int64_t b = 0; b < blocks; ++b, q += kActBlock) {
    int32_t lo = 0, hi = 0;
    for (int i = 0; i < kActBlock / 2; ++i) {
      lo += q[i];
      hi += q[kActBlock / 2 + i];
    }
    act.hp[static_cast<size_t>(o + b)] = int16_pair(lo, hi);
  }
}

}  // namespace

void quantize_act(Isa isa, const float* x, int64_t x_stride, int64_t t0, int64_t t1, QuantAct& act) {
  const BlockOps ops = block_ops(isa);
  const int64_t blocks = act.k / kActBlock;
  for (int64_t t = t0; t < t1; ++t) {
    const float* xr = x + t * x_stride;
    const int64_t o = t * act.nb;
    if (isa >= Isa::Avx512) {
      quantize_row_avx512(xr, static_cast<size_t>(o), act);
    } else {
      for (int64_t b = 0; b < blocks; b += act.span) quantize_span(ops, xr + b * kActBlock, static_cast<size_t>(o + b), act);
    }
    if (act.span > 1) pair_sums(o, act);
  }
}

}  // namespace dsinfer::kernels::cpu
