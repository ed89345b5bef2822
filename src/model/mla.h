// Multi-head Latent Attention (DeepSeek-V2/V3). The cache holds one row per
// token: the normalised latent c_kv [kv_lora_rank] and the roped shared key
// k_pe [qk_rope_head_dim]. Two equivalent ways to attend:
//  - plain: up-project the context's latents through kv_b_proj into per-head
//    K [nope + rope] and V [v_head_dim] (used for prefill);
//  - absorbed: fold kv_b_proj's key half into the query (q_nope W_uk) and its
//    value half after attention, so attention runs over latent rows directly
//    as multi-query attention with qk_dim = kv_lora_rank + rope (decode).
#pragma once

#include <string>
#include <vector>

#include "io/hf_config.h"
#include "model/layer.h"
#include "model/rope.h"
#include "model/weight_loader.h"

namespace dsinfer::model {

class MlaAttention final : public AttentionLayer {
 public:
  MlaAttention(const WeightLoader& w, const io::ModelConfig& cfg, const std::string& prefix, const RopeTable& rope);
  void forward(ForwardContext& ctx, KVCache& cache, int64_t layer, const float* x, float* out) override;

  size_t weight_bytes() const;
  int64_t decode_bytes_delta() const override;

 private:
  // q [n, n_heads, nope + rope] and the latent kv [n, kv_lora_rank + rope] (not yet normed) from x.
  void project(ForwardContext& ctx, const float* x, float* q, float* kv);
  void up_project(ForwardContext& ctx, const float* lat, int64_t n_ctx, float* k, float* v);
  // latent: one layer's cache rows [slots, kv_lora_rank + rope] (cache.dtype()).
  struct Latent {
    const void* rows;
    DType dtype;
  };
  void attend_plain_seq(ForwardContext& ctx, Latent latent, int64_t s, const float* q, float* attn);
  void attend_absorbed(ForwardContext& ctx, Latent latent, const float* q, float* attn,
                       const std::vector<int64_t>& rows);

  int64_t hidden_, n_heads_, q_lora_rank_, kv_lora_rank_, nope_, rope_dim_, v_dim_;
  float softmax_scale_;
  float norm_eps_ = 1e-6f;  // q_a_layernorm and kv_a_layernorm use 1e-6 whatever rms_norm_eps says
  const RopeTable& rope_;
  kernels::Weight q_proj_;            // [n_heads * (nope + rope), hidden] when q_lora_rank == 0
  kernels::Weight q_a_proj_;          // [q_lora_rank, hidden]
  kernels::Buffer q_a_layernorm_;     // [q_lora_rank]
  kernels::Weight q_b_proj_;          // [n_heads * (nope + rope), q_lora_rank]
  kernels::Weight kv_a_proj_with_mqa_;  // [kv_lora_rank + rope, hidden]
  kernels::Buffer kv_a_layernorm_;    // [kv_lora_rank]
  kernels::Weight kv_b_proj_;         // [n_heads * (nope + v_head_dim), kv_lora_rank]
  WeightLoader::Derived w_uk_t_;      // [n_heads * kv_lora_rank, nope]: kv_b_proj's key rows, transposed per head
  kernels::Weight o_proj_;            // [hidden, n_heads * v_head_dim]
};

}  // namespace dsinfer::model
