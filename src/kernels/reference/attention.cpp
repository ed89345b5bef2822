#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"

#include "kernels/reference/ops.h"

namespace dsinfer::kernels::ref {

namespace {
// The float32 values of a cache row's `n` elements from `at` on (head offset
// included): the key or value of position pos of sequence seq.
struct CacheRow {
  const AttentionArgs& a;
  const void* cache;
  int64_t stride;

  void read(int64_t seq, int64_t pos, int64_t at, int64_t n, double* out) const {
    const int64_t block = a.block_tables[seq * a.max_blocks + pos / a.block_size];
    const int64_t i0 = (block * a.block_size + pos % a.block_size) * stride + at;
    if (a.cache_dtype == DType::BF16) {
      for (int64_t i = 0; i < n; ++i) out[i] = bf16_to_f32(static_cast<const uint16_t*>(cache)[i0 + i]);
    } else {
      for (int64_t i = 0; i < n; ++i) out[i] = static_cast<const float*>(cache)[i0 + i];
    }
  }
};

// A query element as the scores take it: rounded to bf16 over a bf16 cache.
double query_value(const AttentionArgs& a, float q) {
  return a.cache_dtype == DType::BF16 ? bf16_to_f32(f32_to_bf16(q)) : q;
}
}  // namespace

void check_attention(const AttentionArgs& a) {
  if (a.cache_dtype != DType::F32 && a.cache_dtype != DType::BF16)
    fail("attention: the KV cache is F32 or BF16, not ", dtype_name(a.cache_dtype));
}

void attention(const AttentionArgs& a, int64_t begin, int64_t end) {
  const int64_t group = a.n_heads / a.n_kv_heads;
  std::vector<double> scores;
  std::vector<double> acc(static_cast<size_t>(a.v_dim));
  std::vector<double> row(static_cast<size_t>(std::max(a.qk_dim, a.v_dim)));
  const CacheRow keys{a, a.k_cache, a.k_token_stride}, values{a, a.v_cache, a.v_token_stride};
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
      keys.read(seq, p, g * a.k_head_stride, a.qk_dim, row.data());
      double s = 0;
      for (int64_t i = 0; i < a.qk_dim; ++i) s += query_value(a, q[i]) * row[static_cast<size_t>(i)];
      scores[static_cast<size_t>(p)] = s * a.scale;
      mx = std::max(mx, scores[static_cast<size_t>(p)]);
    }
    double sum = 0;
    for (auto& s : scores) sum += (s = std::exp(s - mx));
    std::fill(acc.begin(), acc.end(), 0.0);
    for (int64_t p = 0; p < n_ctx; ++p) {
      values.read(seq, p, g * a.v_head_stride, a.v_dim, row.data());
      const double w = scores[static_cast<size_t>(p)] / sum;
      for (int64_t i = 0; i < a.v_dim; ++i) acc[static_cast<size_t>(i)] += w * row[static_cast<size_t>(i)];
    }
    float* o = a.out + t * a.out_token_stride + h * a.v_dim;
    for (int64_t i = 0; i < a.v_dim; ++i) o[i] = static_cast<float>(acc[static_cast<size_t>(i)]);
  }
}

}  // namespace dsinfer::kernels::ref
