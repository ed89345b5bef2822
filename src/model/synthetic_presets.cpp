// Shapes of the released checkpoints (from their config.json), for synthetic models.
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "model/synthetic.h"

namespace dsinfer::model {

namespace {

using nlohmann::json;

json qwen2(int64_t hidden, int64_t inter, int64_t layers, int64_t heads, int64_t kv, int64_t vocab) {
  return {{"model_type", "qwen2"}, {"hidden_size", hidden}, {"intermediate_size", inter},
          {"num_hidden_layers", layers}, {"num_attention_heads", heads}, {"num_key_value_heads", kv},
          {"vocab_size", vocab}, {"rms_norm_eps", 1e-6}, {"rope_theta", 10000.0},
          {"max_position_embeddings", 131072}, {"tie_word_embeddings", false}};
}

json yarn(double mscale) {
  return {{"type", "yarn"}, {"factor", 40}, {"original_max_position_embeddings", 4096}, {"beta_fast", 32},
          {"beta_slow", 1}, {"mscale", mscale}, {"mscale_all_dim", mscale}};
}

json v2_lite() {
  return {{"model_type", "deepseek_v2"}, {"hidden_size", 2048}, {"intermediate_size", 10944},
          {"moe_intermediate_size", 1408}, {"num_hidden_layers", 27}, {"num_attention_heads", 16},
          {"num_key_value_heads", 16}, {"q_lora_rank", nullptr}, {"kv_lora_rank", 512}, {"qk_nope_head_dim", 128},
          {"qk_rope_head_dim", 64}, {"v_head_dim", 128}, {"n_routed_experts", 64}, {"n_shared_experts", 2},
          {"num_experts_per_tok", 6}, {"n_group", 1}, {"topk_group", 1}, {"topk_method", "greedy"},
          {"scoring_func", "softmax"}, {"norm_topk_prob", false}, {"routed_scaling_factor", 1.0},
          {"first_k_dense_replace", 1}, {"moe_layer_freq", 1}, {"vocab_size", 102400}, {"rms_norm_eps", 1e-6},
          {"rope_theta", 10000.0}, {"max_position_embeddings", 163840}, {"rope_scaling", yarn(0.707)}};
}

// DeepSeek-V3's real layer shapes with 1 dense + 1 MoE layer, to fit one machine.
json v3_slice() {
  return {{"model_type", "deepseek_v3"}, {"hidden_size", 7168}, {"intermediate_size", 18432},
          {"moe_intermediate_size", 2048}, {"num_hidden_layers", 2}, {"num_attention_heads", 128},
          {"num_key_value_heads", 128}, {"q_lora_rank", 1536}, {"kv_lora_rank", 512}, {"qk_nope_head_dim", 128},
          {"qk_rope_head_dim", 64}, {"v_head_dim", 128}, {"n_routed_experts", 256}, {"n_shared_experts", 1},
          {"num_experts_per_tok", 8}, {"n_group", 8}, {"topk_group", 4}, {"topk_method", "noaux_tc"},
          {"scoring_func", "sigmoid"}, {"norm_topk_prob", true}, {"routed_scaling_factor", 2.5},
          {"first_k_dense_replace", 1}, {"moe_layer_freq", 1}, {"vocab_size", 129280}, {"rms_norm_eps", 1e-6},
          {"rope_theta", 10000.0}, {"max_position_embeddings", 163840}, {"rope_scaling", yarn(1.0)}};
}

json preset_json(const std::string& name) {
  if (name == "tiny") return qwen2(64, 128, 2, 4, 2, 512);
  if (name == "r1-distill-qwen-1.5b") return qwen2(1536, 8960, 28, 12, 2, 151936);
  if (name == "r1-distill-qwen-7b") return qwen2(3584, 18944, 28, 28, 4, 152064);
  if (name == "r1-distill-llama-8b") {
    json j = qwen2(4096, 14336, 32, 32, 8, 128256);
    j["model_type"] = "llama";
    j["rms_norm_eps"] = 1e-5;
    j["rope_theta"] = 500000.0;
    j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                         {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 8192}};
    return j;
  }
  if (name == "deepseek-v2-lite") return v2_lite();
  if (name == "deepseek-v3-slice") return v3_slice();
  std::string list;
  for (const auto& p : synthetic_presets()) list += (list.empty() ? "" : ", ") + p;
  fail("unknown synthetic preset \"", name, "\" (available: ", list, ")");
}

}  // namespace

std::vector<std::string> synthetic_presets() {
  return {"tiny", "r1-distill-qwen-1.5b", "r1-distill-qwen-7b", "r1-distill-llama-8b", "deepseek-v2-lite",
          "deepseek-v3-slice"};
}

io::ModelConfig synthetic_config(const std::string& preset, int64_t vocab_size) {
  return io::parse_config(json::parse(synthetic_config_json(preset, vocab_size)), "synthetic:" + preset);
}

std::string synthetic_config_json(const std::string& preset, int64_t vocab_size) {
  json j = preset_json(preset);
  if (vocab_size > 0) j["vocab_size"] = vocab_size;
  return j.dump(2);
}

}  // namespace dsinfer::model
