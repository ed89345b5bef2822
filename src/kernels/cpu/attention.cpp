#include "kernels/cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

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

void attention_scalar(const AttentionArgs& a, int64_t begin, int64_t end) {
  const int64_t group = a.n_heads / a.n_kv_heads;
  std::vector<float> scores, acc(static_cast<size_t>(a.v_dim));
  for (int64_t th = begin; th < end; ++th) {
    const int64_t t = th / a.n_heads, h = th % a.n_heads, g = h / group;
    const int64_t seq = a.tok_seq[t], n_ctx = a.positions[t] + 1;
    const float* q = a.q + t * a.q_token_stride + h * a.q_head_stride;
    scores.resize(static_cast<size_t>(n_ctx));
    float mx = -INFINITY;
    for (int64_t p = 0; p < n_ctx; ++p) {
      const float* k = cache_row(a, a.k_cache, a.k_token_stride, seq, p) + g * a.k_head_stride;
      float s = 0.0f;
      for (int64_t i = 0; i < a.qk_dim; ++i) s = std::fma(q[i], k[i], s);
      scores[static_cast<size_t>(p)] = s * a.scale;
      mx = std::max(mx, s * a.scale);
    }
    float sum = 0.0f;
    for (float& s : scores) sum += (s = exp_approx(s - mx));
    std::fill(acc.begin(), acc.end(), 0.0f);
    for (int64_t p = 0; p < n_ctx; ++p) {
      const float* v = cache_row(a, a.v_cache, a.v_token_stride, seq, p) + g * a.v_head_stride;
      for (int64_t i = 0; i < a.v_dim; ++i) acc[static_cast<size_t>(i)] = std::fma(scores[static_cast<size_t>(p)], v[i], acc[static_cast<size_t>(i)]);
    }
    float* o = a.out + t * a.out_token_stride + h * a.v_dim;
    for (int64_t i = 0; i < a.v_dim; ++i) o[i] = acc[static_cast<size_t>(i)] / sum;
  }
}

void attention(const AttentionArgs& a, Isa isa, int64_t begin, int64_t end) {
  if (isa == Isa::Avx512) return attention_avx512(a, begin, end);
  attention_scalar(a, begin, end);
}

}  // namespace dsinfer::kernels::cpu
