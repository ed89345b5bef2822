#include "model/gqa_attention.h"

#include <array>
#include <cmath>

#include "model/mlp.h"

namespace dsinfer::model {

GqaAttention::GqaAttention(const WeightLoader& w, const io::ModelConfig& cfg, const std::string& prefix,
                           const RopeTable& rope)
    : n_heads_(cfg.num_attention_heads),
      n_kv_heads_(cfg.num_key_value_heads),
      head_dim_(cfg.head_dim),
      rope_(rope),
      q_proj_(w.matrix(prefix + ".q_proj.weight", n_heads_ * head_dim_, cfg.hidden_size)),
      k_proj_(w.matrix(prefix + ".k_proj.weight", n_kv_heads_ * head_dim_, cfg.hidden_size)),
      v_proj_(w.matrix(prefix + ".v_proj.weight", n_kv_heads_ * head_dim_, cfg.hidden_size)),
      o_proj_(w.matrix(prefix + ".o_proj.weight", cfg.hidden_size, n_heads_ * head_dim_)) {
  const bool qkv_bias = cfg.model_type == "qwen2" || cfg.attention_bias;
  if (qkv_bias) {
    q_bias_ = w.vector(prefix + ".q_proj.bias", n_heads_ * head_dim_);
    k_bias_ = w.vector(prefix + ".k_proj.bias", n_kv_heads_ * head_dim_);
    v_bias_ = w.vector(prefix + ".v_proj.bias", n_kv_heads_ * head_dim_);
  }
  if (cfg.model_type == "llama" && cfg.attention_bias) o_bias_ = w.vector(prefix + ".o_proj.bias", cfg.hidden_size);
}

void GqaAttention::forward(ForwardContext& ctx, KVCache& cache, int64_t layer, const float* x, float* out) {
  kernels::Backend& b = ctx.backend;
  const int64_t n = ctx.n_tokens;
  const int64_t q_dim = n_heads_ * head_dim_;
  const int64_t kv_dim = n_kv_heads_ * head_dim_;
  kernels::Buffer q = ctx.output(n * q_dim);   // [n, n_heads, head_dim]
  kernels::Buffer k = ctx.output(n * kv_dim);  // [n, n_kv_heads, head_dim]
  kernels::Buffer v = ctx.output(n * kv_dim);  // [n, n_kv_heads, head_dim]
  // One pass over the three projections: x quantized once, one fork/join, and
  // k and v (a few row groups each) share the threads with q.
  const std::array<kernels::MatmulArgs, 3> qkv{linear_args(x, n, q_proj_, q.f32(), q_bias_.f32()),
                                               linear_args(x, n, k_proj_, k.f32(), k_bias_.f32()),
                                               linear_args(x, n, v_proj_, v.f32(), v_bias_.f32())};
  b.matmul_batch(qkv.data(), qkv.size());

  kernels::RopeArgs r{q.f32(), n, n_heads_, q_dim, head_dim_, 0, head_dim_, ctx.positions.i32(),
                      rope_.inv_freq.data(), rope_.mscale, kernels::RopeStyle::NeoX};
  b.rope(r);
  r.x = k.f32();
  r.n_heads = n_kv_heads_;
  r.token_stride = kv_dim;
  b.rope(r);

  const int64_t* slots = ctx.slots.i64();
  b.copy_rows({k.f32(), kv_dim, cache.k(layer), kv_dim, n, kv_dim, nullptr, slots, DType::F32, cache.dtype()});
  b.copy_rows({v.f32(), kv_dim, cache.v(layer), kv_dim, n, kv_dim, nullptr, slots, DType::F32, cache.dtype()});

  kernels::Buffer attn = ctx.output(n * q_dim);  // [n, n_heads, head_dim]
  kernels::AttentionArgs a = ctx.paged_attention();
  a.q = q.f32();
  a.q_token_stride = q_dim;
  a.q_head_stride = head_dim_;
  a.n_heads = n_heads_;
  a.n_kv_heads = n_kv_heads_;
  a.qk_dim = head_dim_;
  a.v_dim = head_dim_;
  a.k_cache = cache.k(layer);
  a.v_cache = cache.v(layer);
  a.cache_dtype = cache.dtype();
  a.k_token_stride = kv_dim;
  a.v_token_stride = kv_dim;
  a.k_head_stride = head_dim_;
  a.v_head_stride = head_dim_;
  a.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(head_dim_)));
  a.out = attn.f32();
  a.out_token_stride = q_dim;
  b.attention(a);
  linear(b, attn.f32(), n, o_proj_, out, o_bias_.f32());
}

}  // namespace dsinfer::model
