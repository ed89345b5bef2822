// config.json of a Hugging Face checkpoint, parsed into one typed struct whose
// field names mirror the JSON keys exactly. Supported model_type values:
// qwen2, llama (dense, GQA) and deepseek_v2, deepseek_v3 (MLA + MoE).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace dsinfer::io {

struct RopeScaling {
  std::string type;  // "" (none), "llama3", "yarn", "linear"
  double factor = 1.0;
  int64_t original_max_position_embeddings = 0;
  // llama3
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  // yarn
  double beta_fast = 32.0;
  double beta_slow = 1.0;
  double mscale = 1.0;
  double mscale_all_dim = 0.0;
  // Not in config.json: GGUF's rope_freqs tensor, llama.cpp's form of llama3
  // scaling (type "" then): inverse frequency i is divided by freq_factors[i].
  std::vector<double> freq_factors;
};

struct QuantizationConfig {
  std::string quant_method;  // "" when config.json has none, "fp8", or "dsinfer" (block-quantized by dsinfer quantize)
  std::string weight_type;   // dsinfer: "q8_0", "q4_0" or "q4_k" (the type asked for; each tensor records its own)
  std::string fmt;           // "e4m3"
  std::string activation_scheme;
  std::vector<int64_t> weight_block_size;  // [128, 128]
};

struct ModelConfig {
  std::string model_type;
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;
  int64_t head_dim = 0;  // llama may set it; else hidden_size / num_attention_heads
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // llama: q/k/v/o biases; qwen2 always has q/k/v biases
  bool mlp_bias = false;
  int64_t bos_token_id = -1;
  std::vector<int64_t> eos_token_id;
  RopeScaling rope_scaling;

  // deepseek_v2 / deepseek_v3
  int64_t q_lora_rank = 0;  // 0: no low-rank query (config null)
  int64_t kv_lora_rank = 0;
  int64_t qk_nope_head_dim = 0;
  int64_t qk_rope_head_dim = 0;
  int64_t v_head_dim = 0;
  int64_t n_routed_experts = 0;
  int64_t n_shared_experts = 0;
  int64_t num_experts_per_tok = 0;
  int64_t moe_intermediate_size = 0;
  int64_t n_group = 1;
  int64_t topk_group = 1;
  std::string topk_method = "greedy";  // greedy | group_limited_greedy | noaux_tc
  std::string scoring_func = "softmax";  // softmax | sigmoid
  bool norm_topk_prob = false;
  double routed_scaling_factor = 1.0;
  int64_t first_k_dense_replace = 0;
  int64_t moe_layer_freq = 1;
  int64_t num_nextn_predict_layers = 0;
  QuantizationConfig quantization_config;

  bool is_deepseek() const { return model_type == "deepseek_v2" || model_type == "deepseek_v3"; }
  bool is_moe_layer(int64_t layer) const;
  int64_t qk_head_dim() const { return qk_nope_head_dim + qk_rope_head_dim; }
  // Values cached per token per layer: MLA latent + rope key, or K and V of every KV head.
  int64_t kv_values_per_token_per_layer() const;
};

// Throws dsinfer::Error naming `source` and the key for missing/invalid keys;
// an unknown model_type lists the supported ones.
ModelConfig parse_config(const nlohmann::json& j, const std::string& source);
ModelConfig load_config(const std::string& model_dir);

}  // namespace dsinfer::io
