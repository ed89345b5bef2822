#include "model/checkpoint_layout.h"

namespace dsinfer::model {

namespace {

void add_mlp(std::vector<TensorSpec>& s, const std::string& p, int64_t h, int64_t i) {
  s.push_back({p + ".gate_proj.weight", {i, h}, TensorRole::Projection});
  s.push_back({p + ".up_proj.weight", {i, h}, TensorRole::Projection});
  s.push_back({p + ".down_proj.weight", {h, i}, TensorRole::Projection});
}

void add_mla(const io::ModelConfig& c, const std::string& p, std::vector<TensorSpec>& s) {
  const int64_t h = c.hidden_size, heads = c.num_attention_heads, qk = c.qk_head_dim();
  if (c.q_lora_rank > 0) {
    s.push_back({p + ".q_a_proj.weight", {c.q_lora_rank, h}, TensorRole::Projection});
    s.push_back({p + ".q_a_layernorm.weight", {c.q_lora_rank}, TensorRole::Norm});
    s.push_back({p + ".q_b_proj.weight", {heads * qk, c.q_lora_rank}, TensorRole::Projection});
  } else {
    s.push_back({p + ".q_proj.weight", {heads * qk, h}, TensorRole::Projection});
  }
  s.push_back({p + ".kv_a_proj_with_mqa.weight", {c.kv_lora_rank + c.qk_rope_head_dim, h}, TensorRole::Projection});
  s.push_back({p + ".kv_a_layernorm.weight", {c.kv_lora_rank}, TensorRole::Norm});
  s.push_back({p + ".kv_b_proj.weight", {heads * (c.qk_nope_head_dim + c.v_head_dim), c.kv_lora_rank},
               TensorRole::Projection});
  s.push_back({p + ".o_proj.weight", {h, heads * c.v_head_dim}, TensorRole::Projection});
}

void add_gqa(const io::ModelConfig& c, const std::string& p, std::vector<TensorSpec>& s) {
  const int64_t h = c.hidden_size, q = c.num_attention_heads * c.head_dim, kv = c.num_key_value_heads * c.head_dim;
  const bool bias = c.model_type == "qwen2" || c.attention_bias;
  for (auto [n, rows] : {std::pair<const char*, int64_t>{"q", q}, {"k", kv}, {"v", kv}}) {
    s.push_back({p + "." + n + "_proj.weight", {rows, h}, TensorRole::Projection});
    if (bias) s.push_back({p + "." + n + "_proj.bias", {rows}, TensorRole::Bias});
  }
  s.push_back({p + ".o_proj.weight", {h, q}, TensorRole::Projection});
  if (c.model_type == "llama" && c.attention_bias) s.push_back({p + ".o_proj.bias", {h}, TensorRole::Bias});
}

void add_moe(const io::ModelConfig& c, const std::string& p, std::vector<TensorSpec>& s) {
  s.push_back({p + ".gate.weight", {c.n_routed_experts, c.hidden_size}, TensorRole::Router});
  if (c.topk_method == "noaux_tc") s.push_back({p + ".gate.e_score_correction_bias", {c.n_routed_experts}, TensorRole::Bias});
  for (int64_t e = 0; e < c.n_routed_experts; ++e)
    add_mlp(s, p + ".experts." + std::to_string(e), c.hidden_size, c.moe_intermediate_size);
  if (c.n_shared_experts > 0)
    add_mlp(s, p + ".shared_experts", c.hidden_size, c.moe_intermediate_size * c.n_shared_experts);
}

}  // namespace

void append_layer_layout(const io::ModelConfig& c, int64_t layer, std::vector<TensorSpec>& out) {
  const std::string p = "model.layers." + std::to_string(layer);
  out.push_back({p + ".input_layernorm.weight", {c.hidden_size}, TensorRole::Norm});
  out.push_back({p + ".post_attention_layernorm.weight", {c.hidden_size}, TensorRole::Norm});
  if (c.is_deepseek())
    add_mla(c, p + ".self_attn", out);
  else
    add_gqa(c, p + ".self_attn", out);
  if (c.is_moe_layer(layer))
    add_moe(c, p + ".mlp", out);
  else
    add_mlp(out, p + ".mlp", c.hidden_size, c.intermediate_size);
}

std::vector<TensorSpec> checkpoint_layout(const io::ModelConfig& c) {
  std::vector<TensorSpec> s{{"model.embed_tokens.weight", {c.vocab_size, c.hidden_size}, TensorRole::Embedding}};
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) append_layer_layout(c, l, s);
  s.push_back({"model.norm.weight", {c.hidden_size}, TensorRole::Norm});
  if (!c.tie_word_embeddings) s.push_back({"lm_head.weight", {c.vocab_size, c.hidden_size}, TensorRole::LmHead});
  return s;
}

}  // namespace dsinfer::model
