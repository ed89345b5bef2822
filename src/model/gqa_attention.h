// Grouped-query attention (Qwen2, Llama): q/k/v projections (optional
// biases), NeoX RoPE on whole heads, K and V rows cached per KV head.
#pragma once

#include <string>

#include "io/hf_config.h"
#include "model/layer.h"
#include "model/rope.h"
#include "model/weight_loader.h"

namespace dsinfer::model {

class GqaAttention final : public AttentionLayer {
 public:
  GqaAttention(const WeightLoader& w, const io::ModelConfig& cfg, const std::string& prefix, const RopeTable& rope);
  void forward(ForwardContext& ctx, KVCache& cache, int64_t layer, const float* x, float* out) override;

 private:
  int64_t n_heads_;
  int64_t n_kv_heads_;
  int64_t head_dim_;
  const RopeTable& rope_;
  kernels::Weight q_proj_;  // [n_heads * head_dim, hidden]
  kernels::Weight k_proj_;  // [n_kv_heads * head_dim, hidden]
  kernels::Weight v_proj_;  // [n_kv_heads * head_dim, hidden]
  kernels::Weight o_proj_;  // [hidden, n_heads * head_dim]
  kernels::Buffer q_bias_, k_bias_, v_bias_, o_bias_;  // empty when the family has none
};

}  // namespace dsinfer::model
