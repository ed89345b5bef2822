#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "kernels/reference/ops.h"

namespace dsinfer::kernels::ref {

namespace {

void score(const MoeRouteArgs& a, const float* logits, std::vector<float>& s) {
  const size_t e = static_cast<size_t>(a.n_experts);
  if (a.scoring == ScoringFunc::Sigmoid) {
    for (size_t i = 0; i < e; ++i) s[i] = 1.0f / (1.0f + std::exp(-logits[i]));
    return;
  }
  const float mx = *std::max_element(logits, logits + e);
  float sum = 0;
  for (size_t i = 0; i < e; ++i) sum += (s[i] = std::exp(logits[i] - mx));
  for (size_t i = 0; i < e; ++i) s[i] /= sum;
}

// Indices of the k largest values, descending; ties go to the lower index (as torch.topk on CPU).
std::vector<int64_t> top_indices(const std::vector<float>& v, int64_t k) {
  std::vector<int64_t> idx(v.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int64_t x, int64_t y) {
    const float vx = v[static_cast<size_t>(x)];
    const float vy = v[static_cast<size_t>(y)];
    return vx > vy || (vx == vy && x < y);
  });
  idx.resize(static_cast<size_t>(k));
  return idx;
}

// Masks (to -inf) the experts of every group not among the topk_group best groups.
void limit_groups(const MoeRouteArgs& a, std::vector<float>& choice) {
  const int64_t per = a.n_experts / a.n_group;
  std::vector<float> group_score(static_cast<size_t>(a.n_group));
  for (int64_t g = 0; g < a.n_group; ++g) {
    std::vector<float> members(choice.begin() + g * per, choice.begin() + (g + 1) * per);
    std::sort(members.begin(), members.end(), std::greater<float>());
    group_score[static_cast<size_t>(g)] =
        a.method == TopkMethod::NoauxTc ? members[0] + (per > 1 ? members[1] : 0.0f) : members[0];
  }
  const auto keep = top_indices(group_score, a.topk_group);
  for (int64_t g = 0; g < a.n_group; ++g) {
    if (std::find(keep.begin(), keep.end(), g) != keep.end()) continue;
    std::fill(choice.begin() + g * per, choice.begin() + (g + 1) * per, -INFINITY);
  }
}

}  // namespace

void moe_route(const MoeRouteArgs& a, int64_t begin, int64_t end) {
  std::vector<float> s(static_cast<size_t>(a.n_experts));
  std::vector<float> choice(s.size());
  for (int64_t t = begin; t < end; ++t) {
    score(a, a.logits + t * a.n_experts, s);
    for (size_t i = 0; i < s.size(); ++i) choice[i] = s[i] + (a.bias ? a.bias[i] : 0.0f);
    if (a.method != TopkMethod::Greedy && a.n_group > 1) limit_groups(a, choice);
    const auto sel = top_indices(choice, a.top_k);
    float sum = 0;
    for (int64_t k = 0; k < a.top_k; ++k) sum += s[static_cast<size_t>(sel[static_cast<size_t>(k)])];
    const bool norm = a.norm_topk_prob && a.top_k > 1;
    const bool scale = a.always_scale || !norm;
    for (int64_t k = 0; k < a.top_k; ++k) {
      float w = s[static_cast<size_t>(sel[static_cast<size_t>(k)])];
      if (norm) w /= (sum + 1e-20f);
      if (scale) w *= a.routed_scaling_factor;
      a.out_ids[t * a.top_k + k] = static_cast<int32_t>(sel[static_cast<size_t>(k)]);
      a.out_weights[t * a.top_k + k] = w;
    }
  }
}

}  // namespace dsinfer::kernels::ref
