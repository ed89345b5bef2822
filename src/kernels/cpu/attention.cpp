#include "kernels/cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <vector>
#include <utility>

#include "kernels/cpu/exp_consts.h"

namespace dsinfer::kernels::cpu {

namespace {

void scalar_pair(const AttentionArgs& a, int64_t t, int64_t h, std::vector<float>& scores, std::vector<float>& acc) {
  const int64_t g = h / (a.n_heads / a.n_kv_heads);
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
  acc.assign(static_cast<size_t>(a.v_dim), 0.0f);
  for (int64_t p = 0; p < n_ctx; ++p) {
    const float* v = cache_row(a, a.v_cache, a.v_token_stride, seq, p) + g * a.v_head_stride;
    for (int64_t i = 0; i < a.v_dim; ++i) acc[static_cast<size_t>(i)] = std::fma(scores[static_cast<size_t>(p)], v[i], acc[static_cast<size_t>(i)]);
  }
  float* o = a.out + t * a.out_token_stride + h * a.v_dim;
  for (int64_t i = 0; i < a.v_dim; ++i) o[i] = acc[static_cast<size_t>(i)] / sum;
}

int64_t ceil_div(int64_t x, int64_t y) { return (x + y - 1) / y; }

// (token, head) pairs per tile that read the same K/V rows: each K/V block
// loaded serves them all. With one query head per KV head (MHA, MLA's
// up-projected prefill) that takes 64 tokens; 8 left each block read from
// memory once per 8 queries, and the attention memory-bound.
constexpr int64_t kTilePairs = 64;

}  // namespace

void attention_scalar(const AttentionArgs& a, const AttentionTile& tile) {
  std::vector<float> scores, acc;
  for (int64_t t = tile.t0; t < tile.t1; ++t)
    for (int64_t h = tile.h0; h < tile.h1; ++h) scalar_pair(a, t, h, scores, acc);
}

std::vector<AttentionTile> attention_tiles(const AttentionArgs& a, int64_t min_tiles) {
  const int64_t group = a.n_heads / a.n_kv_heads;
  std::vector<std::pair<int64_t, int64_t>> runs;  // [t0, t1) of one sequence
  for (int64_t t = 0; t < a.n_tokens; ++t) {
    if (t == 0 || a.tok_seq[t] != a.tok_seq[t - 1]) runs.emplace_back(t, t);
    runs.back().second = t + 1;
  }
  int64_t heads = std::min<int64_t>(group, 16), tokens = std::max<int64_t>(8, kTilePairs / heads);
  auto count = [&] {
    int64_t n = 0;
    for (const auto& [t0, t1] : runs) n += ceil_div(t1 - t0, tokens) * a.n_kv_heads * ceil_div(group, heads);
    return n;
  };
  while (count() < min_tiles && (heads > 1 || tokens > 1)) {
    if (heads > 1) {
      heads = ceil_div(heads, 2);
    } else {
      tokens = ceil_div(tokens, 2);
    }
  }
  std::vector<AttentionTile> tiles;
  for (const auto& [r0, r1] : runs)
    for (int64_t t0 = r0; t0 < r1; t0 += tokens)
      for (int64_t kv = 0; kv < a.n_kv_heads; ++kv)
        for (int64_t h0 = kv * group; h0 < (kv + 1) * group; h0 += heads)
          tiles.push_back({t0, std::min(t0 + tokens, r1), h0, std::min(h0 + heads, (kv + 1) * group)});
  return tiles;
}

void attention(const AttentionArgs& a, Isa isa, const AttentionTile* tiles, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    if (isa >= Isa::Avx512) {
      attention_avx512(a, tiles[i]);
    } else if (isa == Isa::Avx2) {
      attention_avx2(a, tiles[i]);
    } else {
      attention_scalar(a, tiles[i]);
    }
  }
}

}  // namespace dsinfer::kernels::cpu
