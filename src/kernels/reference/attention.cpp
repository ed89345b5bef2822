#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/reference/ops.h"

namespace dsinfer::kernels::ref {

namespace {
const float* cache_row(const AttentionArgs& a, const float* cache, int64_t stride, int64_t seq, int64_t pos) {
  const int64_t block = a.block_tables[seq * a.max_blocks + pos / a.block_size];
  const int64_t slot = block * a.block_size + pos % a.block_size;
  return cache + slot * stride;
}
}  // namespace

void attention(const AttentionArgs& a, int64_t begin, int64_t end) {
  const int64_t group = a.n_heads / a.n_kv_heads;
  std::vector<double> scores;
  std::vector<double> acc(static_cast<size_t>(a.v_dim));
  for (int64_t th = begin; th < end; ++th) {
    const int64_t t = th / a.n_heads;
    const int64_t h = th % a.n_heads;
    const int64_t g = h / group;
    const int64_t seq = a.tok_seq[t];
    const int64_t n_ctx = a.positions[t] + 1;
    const float* q = a.q + t * a.q_token_stride + h * a.q_head_stride;
    scores.assign(static_cast<size_t>(n_ctx), 0.0);
    double mx = -INFINITY;
    for (int64_t p = 0; p < n_ctx; ++p) {
      const float* k = cache_row(a, a.k_cache, a.k_token_stride, seq, p) + g * a.k_head_stride;
      double s = 0;
      for (int64_t i = 0; i < a.qk_dim; ++i) s += static_cast<double>(q[i]) * k[i];
      scores[static_cast<size_t>(p)] = s * a.scale;
      mx = std::max(mx, scores[static_cast<size_t>(p)]);
    }
    double sum = 0;
    for (auto& s : scores) sum += (s = std::exp(s - mx));
    std::fill(acc.begin(), acc.end(), 0.0);
    for (int64_t p = 0; p < n_ctx; ++p) {
      const float* v = cache_row(a, a.v_cache, a.v_token_stride, seq, p) + g * a.v_head_stride;
      const double w = scores[static_cast<size_t>(p)] / sum;
      for (int64_t i = 0; i < a.v_dim; ++i) acc[static_cast<size_t>(i)] += w * v[i];
    }
    float* o = a.out + t * a.out_token_stride + h * a.v_dim;
    for (int64_t i = 0; i < a.v_dim; ++i) o[i] = static_cast<float>(acc[static_cast<size_t>(i)]);
  }
}

}  // namespace dsinfer::kernels::ref
