// AVX-512 twin of attention_scalar (attention.h): scores eight keys at a time
// (eight independent FMA chains), the softmax over the score row 16 at a time
// with a polynomial exp, and V rows accumulated into up to 128 output values
// held in registers per pass. A tile's (token, head) pairs take turns on each
// block of keys, so K/V rows are read from memory once per tile.
#include "kernels/cpu/intrin.h"  // first: see intrin.h
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/attention.h"
#include "kernels/cpu/exp_avx512.h"

#define DSI_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma")))
#define DSI_UNROLL _Pragma("GCC unroll 16")

namespace dsinfer::kernels::cpu {

namespace {

DSI_TARGET inline __mmask16 tail_mask(int64_t left) {
  return left >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << left) - 1);
}

struct Head {
  const AttentionArgs* a;
  const float* q;
  int64_t seq, g, n_ctx;
};

// scores[p0 .. p0 + K) = scale * q . k_p
template <int K>
DSI_TARGET void score_keys(const Head& hd, int64_t p0, float* scores) {
  const AttentionArgs& a = *hd.a;
  const float* k[K];
  __m512 acc[K];
  DSI_UNROLL
  for (int j = 0; j < K; ++j) {
    k[j] = cache_row(a, a.k_cache, a.k_token_stride, hd.seq, p0 + j) + hd.g * a.k_head_stride;
    acc[j] = _mm512_setzero_ps();
  }
  for (int64_t i = 0; i < a.qk_dim; i += 16) {
    const __mmask16 m = tail_mask(a.qk_dim - i);
    const __m512 qv = _mm512_maskz_loadu_ps(m, hd.q + i);
    DSI_UNROLL
    for (int j = 0; j < K; ++j) acc[j] = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, k[j] + i), acc[j]);
  }
  DSI_UNROLL
  for (int j = 0; j < K; ++j) scores[p0 + j] = _mm512_reduce_add_ps(acc[j]) * a.scale;
}

// Softmax numerators in place; returns their sum.
DSI_TARGET float softmax_row(float* s, int64_t n) {
  __m512 mx = _mm512_set1_ps(-INFINITY);
  for (int64_t p = 0; p < n; p += 16) mx = _mm512_max_ps(mx, _mm512_mask_loadu_ps(mx, tail_mask(n - p), s + p));
  const __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
  __m512 sum = _mm512_setzero_ps();
  for (int64_t p = 0; p < n; p += 16) {
    const __mmask16 k = tail_mask(n - p);
    const __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, s + p), m));
    _mm512_mask_storeu_ps(s + p, k, e);
    sum = _mm512_add_ps(sum, _mm512_maskz_mov_ps(k, e));
  }
  return _mm512_reduce_add_ps(sum);
}

// acc[0 .. 128) (or to v_dim - c0) += sum over p in [p0, p1) of w_p v_p[c0 ..],
// in order of p; acc holds the running sums between key blocks (stored and
// reloaded exactly, so the blocks do not change the result).
DSI_TARGET void weighted_values(const Head& hd, const float* w, int64_t p0, int64_t p1, int64_t c0, float* acc_mem) {
  const AttentionArgs& a = *hd.a;
  const int64_t left = a.v_dim - c0;
  __m512 acc[8];
  DSI_UNROLL
  for (int c = 0; c < 8; ++c) acc[c] = 16 * c < left ? _mm512_maskz_loadu_ps(tail_mask(left - 16 * c), acc_mem + 16 * c) : _mm512_setzero_ps();
  for (int64_t p = p0; p < p1; ++p) {
    const float* v = cache_row(a, a.v_cache, a.v_token_stride, hd.seq, p) + hd.g * a.v_head_stride + c0;
    const __m512 wp = _mm512_set1_ps(w[p]);
    DSI_UNROLL
    for (int c = 0; c < 8; ++c)
      if (16 * c < left) acc[c] = _mm512_fmadd_ps(wp, _mm512_maskz_loadu_ps(tail_mask(left - 16 * c), v + 16 * c), acc[c]);
  }
  DSI_UNROLL
  for (int c = 0; c < 8; ++c)
    if (16 * c < left) _mm512_mask_storeu_ps(acc_mem + 16 * c, tail_mask(left - 16 * c), acc[c]);
}

// Keys per V pass of a tile: 64 rows of 128 values (32 KB) stay in L1 while
// every (token, head) of the tile adds them.
constexpr int64_t kValueKeys = 64;

struct TileScratch {
  std::vector<Head> heads;
  std::vector<float> scores, sums, acc;
};

DSI_TARGET void tile_scores(TileScratch& s, int64_t max_ctx) {
  // Key block outside, (token, head) inside: the block's 8 K rows are read
  // from memory once and from L1 by the rest of the tile.
  for (int64_t p0 = 0; p0 < max_ctx; p0 += 8) {
    for (size_t i = 0; i < s.heads.size(); ++i) {
      const Head& hd = s.heads[i];
      float* row = s.scores.data() + static_cast<int64_t>(i) * max_ctx;
      if (p0 + 8 <= hd.n_ctx) {
        score_keys<8>(hd, p0, row);
      } else {
        for (int64_t p = p0; p < hd.n_ctx; ++p) score_keys<1>(hd, p, row);
      }
    }
  }
}

DSI_TARGET void tile_values(const AttentionArgs& a, TileScratch& s, int64_t max_ctx, const AttentionTile& u) {
  const int64_t nh = u.h1 - u.h0;
  for (int64_t c0 = 0; c0 < a.v_dim; c0 += 128) {
    s.acc.assign(s.heads.size() * 128, 0.0f);
    for (int64_t p0 = 0; p0 < max_ctx; p0 += kValueKeys)
      for (size_t i = 0; i < s.heads.size(); ++i) {
        const Head& hd = s.heads[i];
        const int64_t p1 = std::min(hd.n_ctx, p0 + kValueKeys);
        if (p1 > p0) weighted_values(hd, s.scores.data() + static_cast<int64_t>(i) * max_ctx, p0, p1, c0, &s.acc[i * 128]);
      }
    const int64_t left = std::min<int64_t>(128, a.v_dim - c0);
    for (size_t i = 0; i < s.heads.size(); ++i) {
      const int64_t t = u.t0 + static_cast<int64_t>(i) / nh, h = u.h0 + static_cast<int64_t>(i) % nh;
      float* o = a.out + t * a.out_token_stride + h * a.v_dim + c0;
      const __m512 l = _mm512_set1_ps(s.sums[i]);
      for (int64_t c = 0; c < left; c += 16) {
        const __mmask16 m = tail_mask(left - c);
        _mm512_mask_storeu_ps(o + c, m, _mm512_div_ps(_mm512_maskz_loadu_ps(m, &s.acc[i * 128 + static_cast<size_t>(c)]), l));
      }
    }
  }
}

}  // namespace

DSI_TARGET void attention_avx512(const AttentionArgs& a, const AttentionTile& u) {
  const int64_t group = a.n_heads / a.n_kv_heads;
  thread_local TileScratch s;
  s.heads.clear();
  int64_t max_ctx = 0;
  for (int64_t t = u.t0; t < u.t1; ++t)
    for (int64_t h = u.h0; h < u.h1; ++h) {
      s.heads.push_back({&a, a.q + t * a.q_token_stride + h * a.q_head_stride, a.tok_seq[t], h / group, a.positions[t] + 1});
      max_ctx = std::max(max_ctx, a.positions[t] + int64_t{1});
    }
  s.scores.resize(s.heads.size() * static_cast<size_t>(max_ctx));
  tile_scores(s, max_ctx);
  s.sums.resize(s.heads.size());
  for (size_t i = 0; i < s.heads.size(); ++i)
    s.sums[i] = softmax_row(s.scores.data() + static_cast<int64_t>(i) * max_ctx, s.heads[i].n_ctx);
  tile_values(a, s, max_ctx, u);
}

}  // namespace dsinfer::kernels::cpu
