#include "io/hf_config.h"

#include <algorithm>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace dsinfer::io {

namespace {

using nlohmann::json;

struct Reader {
  const json& j;
  const std::string& source;

  const json* find(const char* key) const {
    auto it = j.find(key);
    return (it == j.end() || it->is_null()) ? nullptr : &*it;
  }
  [[noreturn]] void bad(const char* key, const char* what) const {
    fail(source, ": key \"", key, "\" ", what);
  }
  int64_t integer(const char* key, bool required, int64_t def = 0) const {
    const json* v = find(key);
    if (!v) {
      if (required) bad(key, "is required but missing");
      return def;
    }
    if (v->is_number_integer()) return v->get<int64_t>();
    // 4096.0 is accepted as 4096; anything fractional or beyond int64 is not (and is never cast: UB).
    const double d = v->is_number_float() ? v->get<double>() : 0.5;
    if (!(std::fabs(d) < 9.0e18) || d != std::floor(d)) bad(key, "must be an integer");
    return static_cast<int64_t>(d);
  }
  int64_t positive(const char* key, bool required, int64_t def = 0) const {
    const int64_t v = integer(key, required, def);
    if ((required || find(key)) && v <= 0) bad(key, "must be positive");
    return v;
  }
  double number(const char* key, bool required, double def = 0) const {
    const json* v = find(key);
    if (!v) {
      if (required) bad(key, "is required but missing");
      return def;
    }
    if (!v->is_number()) bad(key, "must be a number");
    return v->get<double>();
  }
  bool boolean(const char* key, bool def) const {
    const json* v = find(key);
    if (!v) return def;
    if (!v->is_boolean()) bad(key, "must be true or false");
    return v->get<bool>();
  }
  std::string string(const char* key, const std::string& def) const {
    const json* v = find(key);
    if (!v) return def;
    if (!v->is_string()) bad(key, "must be a string");
    return v->get<std::string>();
  }
};

void parse_rope_scaling(const Reader& r, ModelConfig& c) {
  const json* rs = r.find("rope_scaling");
  if (!rs) return;
  if (!rs->is_object()) r.bad("rope_scaling", "must be an object or null");
  const std::string src = r.source + " rope_scaling";
  Reader s{*rs, src};
  RopeScaling& o = c.rope_scaling;
  o.type = s.string("rope_type", s.string("type", ""));
  if (o.type == "default") o.type = "";
  o.factor = s.number("factor", o.type != "", 1.0);
  if (o.type == "llama3") {
    o.low_freq_factor = s.number("low_freq_factor", true);
    o.high_freq_factor = s.number("high_freq_factor", true);
    o.original_max_position_embeddings = s.positive("original_max_position_embeddings", true);
    if (o.high_freq_factor <= o.low_freq_factor) s.bad("high_freq_factor", "must exceed low_freq_factor");
  } else if (o.type == "yarn") {
    o.original_max_position_embeddings = s.positive("original_max_position_embeddings", true);
    o.beta_fast = s.number("beta_fast", false, 32.0);
    o.beta_slow = s.number("beta_slow", false, 1.0);
    o.mscale = s.number("mscale", false, 1.0);
    o.mscale_all_dim = s.number("mscale_all_dim", false, 0.0);
  } else if (o.type != "" && o.type != "linear") {
    fail(src, ": rope type \"", o.type, "\" is not supported (supported: llama3, yarn, linear)");
  }
  if (o.factor <= 0) s.bad("factor", "must be positive");
}

void parse_common(const Reader& r, ModelConfig& c) {
  c.vocab_size = r.positive("vocab_size", true);
  c.hidden_size = r.positive("hidden_size", true);
  c.intermediate_size = r.positive("intermediate_size", true);
  c.num_hidden_layers = r.positive("num_hidden_layers", true);
  c.num_attention_heads = r.positive("num_attention_heads", true);
  c.num_key_value_heads = r.positive("num_key_value_heads", false, c.num_attention_heads);
  c.max_position_embeddings = r.positive("max_position_embeddings", false, 4096);
  c.rms_norm_eps = r.number("rms_norm_eps", true);
  c.rope_theta = r.number("rope_theta", false, 10000.0);
  c.tie_word_embeddings = r.boolean("tie_word_embeddings", false);
  c.attention_bias = r.boolean("attention_bias", false);
  c.mlp_bias = r.boolean("mlp_bias", false);
  c.bos_token_id = r.integer("bos_token_id", false, -1);
  if (const json* e = r.find("eos_token_id")) {
    if (e->is_array()) {
      for (const auto& x : *e) {
        if (!x.is_number_integer()) r.bad("eos_token_id", "must be an integer or a list of integers");
        c.eos_token_id.push_back(x.get<int64_t>());
      }
    } else {
      c.eos_token_id.push_back(r.integer("eos_token_id", true));
    }
  }
  if (c.rms_norm_eps <= 0) r.bad("rms_norm_eps", "must be positive");
  if (c.rope_theta <= 0) r.bad("rope_theta", "must be positive");
  parse_rope_scaling(r, c);
}

void parse_dense(const Reader& r, ModelConfig& c) {
  if (c.num_attention_heads % c.num_key_value_heads != 0)
    fail(r.source, ": num_attention_heads (", c.num_attention_heads, ") is not a multiple of num_key_value_heads (",
         c.num_key_value_heads, ")");
  c.head_dim = r.positive("head_dim", false, c.hidden_size / c.num_attention_heads);
  if (c.model_type == "qwen2" && r.boolean("use_sliding_window", false))
    fail(r.source, ": use_sliding_window true is not supported");
  if (c.head_dim % 2) r.bad("head_dim", "must be even for RoPE");
}

void parse_quantization(const Reader& r, ModelConfig& c) {
  const json* q = r.find("quantization_config");
  if (!q) return;
  if (!q->is_object()) r.bad("quantization_config", "must be an object");
  const std::string src = r.source + " quantization_config";
  Reader s{*q, src};
  auto& o = c.quantization_config;
  o.quant_method = s.string("quant_method", "");
  if (o.quant_method == "dsinfer") {
    o.weight_type = s.string("weight_type", "");
    static constexpr const char* kTypes[] = {"q8_0", "q4_0", "q5_0", "q4_k", "q4_k_m", "q5_k", "q5_k_m", "q6_k"};
    if (std::find(std::begin(kTypes), std::end(kTypes), o.weight_type) == std::end(kTypes))
      fail(src, ": weight_type \"", o.weight_type, "\" is not supported (supported: q8_0, q4_0, q5_0, q4_k, q4_k_m, q5_k, q5_k_m, q6_k)");
    return;
  }
  o.fmt = s.string("fmt", "e4m3");
  o.activation_scheme = s.string("activation_scheme", "dynamic");
  if (o.quant_method != "fp8")
    fail(src, ": quant_method \"", o.quant_method, "\" is not supported (supported: fp8, dsinfer)");
  if (o.fmt != "e4m3") fail(src, ": fmt \"", o.fmt, "\" is not supported (supported: e4m3)");
  const json* b = s.find("weight_block_size");
  if (!b || !b->is_array() || b->size() != 2) s.bad("weight_block_size", "must be a list of two positive integers");
  for (const auto& x : *b) {
    if (!x.is_number_integer() || x.get<int64_t>() <= 0) s.bad("weight_block_size", "must be a list of two positive integers");
    o.weight_block_size.push_back(x.get<int64_t>());
  }
}

void parse_deepseek(const Reader& r, ModelConfig& c) {
  c.q_lora_rank = r.integer("q_lora_rank", false, 0);
  c.kv_lora_rank = r.positive("kv_lora_rank", true);
  c.qk_nope_head_dim = r.positive("qk_nope_head_dim", true);
  c.qk_rope_head_dim = r.positive("qk_rope_head_dim", true);
  c.v_head_dim = r.positive("v_head_dim", true);
  c.n_routed_experts = r.integer("n_routed_experts", false, 0);
  c.n_shared_experts = r.integer("n_shared_experts", false, 0);
  c.num_experts_per_tok = r.integer("num_experts_per_tok", c.n_routed_experts > 0, 0);
  c.moe_intermediate_size = r.integer("moe_intermediate_size", c.n_routed_experts > 0, 0);
  c.n_group = r.positive("n_group", false, 1);
  c.topk_group = r.positive("topk_group", false, 1);
  c.topk_method = r.string("topk_method", c.model_type == "deepseek_v3" ? "noaux_tc" : "greedy");
  c.scoring_func = r.string("scoring_func", c.model_type == "deepseek_v3" ? "sigmoid" : "softmax");
  c.norm_topk_prob = r.boolean("norm_topk_prob", false);
  c.routed_scaling_factor = r.number("routed_scaling_factor", false, 1.0);
  c.first_k_dense_replace = r.integer("first_k_dense_replace", false, 0);
  c.moe_layer_freq = r.positive("moe_layer_freq", false, 1);
  c.num_nextn_predict_layers = r.integer("num_nextn_predict_layers", false, 0);
  c.head_dim = c.qk_nope_head_dim + c.qk_rope_head_dim;
  if (c.q_lora_rank < 0) r.bad("q_lora_rank", "must be null or positive");
  if (c.qk_rope_head_dim % 2) r.bad("qk_rope_head_dim", "must be even for RoPE");
  if (c.topk_method != "greedy" && c.topk_method != "group_limited_greedy" && c.topk_method != "noaux_tc")
    fail(r.source, ": topk_method \"", c.topk_method, "\" is not supported (supported: greedy, group_limited_greedy, noaux_tc)");
  if (c.scoring_func != "softmax" && c.scoring_func != "sigmoid")
    fail(r.source, ": scoring_func \"", c.scoring_func, "\" is not supported (supported: softmax, sigmoid)");
  if (c.n_routed_experts > 0) {
    if (c.num_experts_per_tok <= 0 || c.num_experts_per_tok > c.n_routed_experts)
      r.bad("num_experts_per_tok", "must be between 1 and n_routed_experts");
    if (c.moe_intermediate_size <= 0) r.bad("moe_intermediate_size", "must be positive");
    if (c.n_routed_experts % c.n_group) r.bad("n_group", "must divide n_routed_experts");
    if (c.topk_group > c.n_group) r.bad("topk_group", "must not exceed n_group");
    if (c.topk_method != "greedy" && c.num_experts_per_tok > c.topk_group * (c.n_routed_experts / c.n_group))
      r.bad("num_experts_per_tok", "exceeds the experts available in topk_group groups");
  }
  parse_quantization(r, c);
}

}  // namespace

bool ModelConfig::is_moe_layer(int64_t layer) const {
  return is_deepseek() && n_routed_experts > 0 && layer >= first_k_dense_replace && layer % moe_layer_freq == 0;
}

int64_t ModelConfig::kv_values_per_token_per_layer() const {
  if (is_deepseek()) return kv_lora_rank + qk_rope_head_dim;
  return 2 * num_key_value_heads * head_dim;
}

ModelConfig parse_config(const nlohmann::json& j, const std::string& source) {
  if (!j.is_object()) fail(source, ": config must be a JSON object");
  Reader r{j, source};
  ModelConfig c;
  c.model_type = r.string("model_type", "");
  if (c.model_type.empty()) fail(source, ": key \"model_type\" is required but missing (supported: qwen2, llama, deepseek_v2, deepseek_v3)");
  if (c.model_type != "qwen2" && c.model_type != "llama" && !c.is_deepseek())
    fail(source, ": model_type \"", c.model_type, "\" is not supported (supported: qwen2, llama, deepseek_v2, deepseek_v3)");
  parse_common(r, c);
  if (c.is_deepseek())
    parse_deepseek(r, c);
  else
    parse_dense(r, c);
  return c;
}

ModelConfig load_config(const std::string& model_dir) {
  const std::string path = model_dir + "/config.json";
  std::ifstream f(path);
  if (!f) fail("cannot open ", path, " (is ", model_dir, " a model directory?)");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(f);
  } catch (const nlohmann::json::exception& e) {
    fail(path, ": invalid JSON: ", e.what());
  }
  return parse_config(j, path);
}

}  // namespace dsinfer::io
