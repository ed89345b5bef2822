#include "io/gguf_config.h"

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace dsinfer::io {

namespace {

using nlohmann::json;

// Reads `ARCH.suffix` keys, failing with the key's full name.
struct Meta {
  const GgufShards& f;
  std::string arch;

  std::string key(const std::string& suffix) const { return arch + "." + suffix; }
  [[noreturn]] void missing(const std::string& suffix) const {
    fail("GGUF ", f.path(), ": key '", key(suffix), "' is required for a ", arch, " model but missing");
  }
  int64_t integer(const std::string& suffix) const {
    const auto v = f.get_int(key(suffix));
    if (!v) missing(suffix);
    return *v;
  }
  std::optional<int64_t> opt_integer(const std::string& suffix) const { return f.get_int(key(suffix)); }
  double number(const std::string& suffix) const {
    const auto v = f.get_float(key(suffix));
    if (!v) missing(suffix);
    return *v;
  }
  std::optional<double> opt_number(const std::string& suffix) const { return f.get_float(key(suffix)); }
};

bool has_tensor(const GgufShards& f, const std::string& name) { return f.find_tensor(name) != nullptr; }

int64_t vocab_size(const Meta& m) {
  if (const auto v = m.opt_integer("vocab_size")) return *v;
  if (const GgufTensorInfo* t = m.f.find_tensor("token_embd.weight"); t && t->dims.size() == 2)
    return static_cast<int64_t>(t->dims[1]);
  if (const auto toks = m.f.get_string_array("tokenizer.ggml.tokens")) return static_cast<int64_t>(toks->size());
  m.missing("vocab_size");
}

// llama.cpp's form of llama3 scaling: a rope_freqs tensor of divisors.
void put_freq_factors(const GgufShards& f, RopeScaling& rs) {
  const GgufTensorInfo* t = f.find_tensor("rope_freqs.weight");
  if (!t) return;
  if (t->type != 0 || t->dims.size() != 1)
    fail("GGUF ", f.path(), ": tensor rope_freqs.weight must be a 1-D F32 tensor (type ", ggml_type_name(t->type), ")");
  const auto* p = reinterpret_cast<const float*>(t->data);
  rs.freq_factors.assign(p, p + t->dims[0]);
}

json rope_scaling(const Meta& m) {
  const std::string type(m.f.get_string(m.key("rope.scaling.type")).value_or("none"));
  if (type == "none") return nullptr;
  json s = {{"type", type}, {"factor", m.number("rope.scaling.factor")}};
  if (type == "yarn") {
    s["original_max_position_embeddings"] = m.integer("rope.scaling.original_context_length");
    // convert_hf_to_gguf.py writes 0.1 * mscale_all_dim; released configs set mscale equal to it.
    const double mscale = m.opt_number("rope.scaling.yarn_log_multiplier").value_or(0.0) / 0.1;
    s["mscale"] = mscale;
    s["mscale_all_dim"] = mscale;
  } else if (type != "linear") {
    fail("GGUF ", m.f.path(), ": key '", m.key("rope.scaling.type"), "' is \"", type,
         "\", which is not supported (supported: none, linear, yarn)");
  }
  return s;
}

json common_config(const Meta& m) {
  json j;
  j["vocab_size"] = vocab_size(m);
  j["hidden_size"] = m.integer("embedding_length");
  j["intermediate_size"] = m.integer("feed_forward_length");
  j["num_hidden_layers"] = m.integer("block_count");
  j["num_attention_heads"] = m.integer("attention.head_count");
  j["num_key_value_heads"] = m.opt_integer("attention.head_count_kv").value_or(j["num_attention_heads"].get<int64_t>());
  j["max_position_embeddings"] = m.integer("context_length");
  j["rms_norm_eps"] = m.number("attention.layer_norm_rms_epsilon");
  j["rope_theta"] = m.opt_number("rope.freq_base").value_or(10000.0);
  j["tie_word_embeddings"] = !has_tensor(m.f, "output.weight");
  j["rope_scaling"] = rope_scaling(m);
  if (const auto bos = m.f.get_int("tokenizer.ggml.bos_token_id")) j["bos_token_id"] = *bos;
  if (const auto eos = m.f.get_int("tokenizer.ggml.eos_token_id")) j["eos_token_id"] = *eos;
  return j;
}

void dense_config(const Meta& m, json& j) {
  j["model_type"] = m.arch;
  if (const auto k = m.opt_integer("attention.key_length")) j["head_dim"] = *k;
  if (m.arch == "llama") j["attention_bias"] = has_tensor(m.f, "blk.0.attn_q.bias");
}

void deepseek_config(const Meta& m, json& j) {
  const int64_t dense = m.opt_integer("leading_dense_block_count").value_or(0);
  const bool aux_free = has_tensor(m.f, "blk." + std::to_string(dense) + ".exp_probs_b.bias");
  j["model_type"] = aux_free ? "deepseek_v3" : "deepseek_v2";
  j["num_key_value_heads"] = j["num_attention_heads"];  // MLA files say 1: the latent is the one KV head
  j["first_k_dense_replace"] = dense;
  j["q_lora_rank"] = m.opt_integer("attention.q_lora_rank").value_or(0) > 0 ? json(m.integer("attention.q_lora_rank")) : json(nullptr);
  j["kv_lora_rank"] = m.integer("attention.kv_lora_rank");
  const int64_t rope = m.integer("rope.dimension_count");
  // Files converted since llama.cpp's MLA rework give the latent sizes in
  // key_length / value_length and the per-head ones in the *_mla keys.
  const int64_t key = m.opt_integer("attention.key_length_mla").value_or(m.integer("attention.key_length"));
  j["qk_rope_head_dim"] = rope;
  j["qk_nope_head_dim"] = key - rope;
  j["v_head_dim"] = m.opt_integer("attention.value_length_mla").value_or(m.integer("attention.value_length"));
  j["n_routed_experts"] = m.opt_integer("expert_count").value_or(0);
  if (j["n_routed_experts"].get<int64_t>() > 0) {
    j["num_experts_per_tok"] = m.integer("expert_used_count");
    j["moe_intermediate_size"] = m.integer("expert_feed_forward_length");
    j["n_shared_experts"] = m.opt_integer("expert_shared_count").value_or(0);
  }
  j["routed_scaling_factor"] = m.opt_number("expert_weights_scale").value_or(1.0);
  j["norm_topk_prob"] = m.f.get_bool(m.key("expert_weights_norm")).value_or(false);
  // llama_expert_gating_func_type: 1 softmax, 2 sigmoid; absent in V2 files (softmax).
  const int64_t gating = m.opt_integer("expert_gating_func").value_or(1);
  if (gating != 1 && gating != 2)
    fail("GGUF ", m.f.path(), ": key '", m.key("expert_gating_func"), "' is ", gating, " (known: 1 softmax, 2 sigmoid)");
  j["scoring_func"] = gating == 2 ? "sigmoid" : "softmax";
  j["n_group"] = m.opt_integer("expert_group_count").value_or(1);
  j["topk_group"] = m.opt_integer("expert_group_used_count").value_or(1);
  j["topk_method"] = aux_free ? "noaux_tc" : j["n_group"].get<int64_t>() > 1 ? "group_limited_greedy" : "greedy";
}

}  // namespace

std::string gguf_architecture(const ModelConfig& c) { return c.is_deepseek() ? "deepseek2" : c.model_type; }

ModelConfig gguf_model_config(const GgufShards& f) {
  const auto arch = f.get_string("general.architecture");
  if (!arch) fail("GGUF ", f.path(), ": key 'general.architecture' is missing");
  if (*arch != "qwen2" && *arch != "llama" && *arch != "deepseek2")
    fail("GGUF ", f.path(), ": architecture \"", *arch, "\" is not supported (supported: qwen2, llama, deepseek2)");
  const Meta m{f, std::string(*arch)};
  json j = common_config(m);
  if (m.arch == "deepseek2")
    deepseek_config(m, j);
  else
    dense_config(m, j);
  ModelConfig c = parse_config(j, "GGUF " + f.path() + " (its metadata as config.json)");
  put_freq_factors(f, c.rope_scaling);
  return c;
}

namespace {

void put_rope_scaling(const ModelConfig& c, const std::string& a, GgufWriter& w) {
  const RopeScaling& s = c.rope_scaling;
  // llama3 travels as the rope_freqs tensor (model/gguf_model.cpp), as llama.cpp writes it.
  if (s.type != "linear" && s.type != "yarn") return;
  w.add_string(a + ".rope.scaling.type", s.type);
  w.add_f32(a + ".rope.scaling.factor", static_cast<float>(s.factor));
  if (s.type != "yarn") return;
  if (s.mscale != s.mscale_all_dim)
    fail("GGUF export: yarn with mscale ", s.mscale, " != mscale_all_dim ", s.mscale_all_dim, " has no GGUF form");
  w.add_u32(a + ".rope.scaling.original_context_length", static_cast<uint32_t>(s.original_max_position_embeddings));
  w.add_f32(a + ".rope.scaling.yarn_log_multiplier", static_cast<float>(0.1 * s.mscale_all_dim));
}

void put_deepseek(const ModelConfig& c, const std::string& a, bool split_kv_b, GgufWriter& w) {
  const auto u32 = [](int64_t v) { return static_cast<uint32_t>(v); };
  w.add_u32(a + ".leading_dense_block_count", u32(c.first_k_dense_replace));
  if (c.q_lora_rank > 0) w.add_u32(a + ".attention.q_lora_rank", u32(c.q_lora_rank));
  w.add_u32(a + ".attention.kv_lora_rank", u32(c.kv_lora_rank));
  if (split_kv_b) {  // llama.cpp's MLA files: attention runs over the latent, one KV head
    w.add_u32(a + ".attention.head_count_kv", 1);
    w.add_u32(a + ".attention.key_length", u32(c.kv_lora_rank + c.qk_rope_head_dim));
    w.add_u32(a + ".attention.value_length", u32(c.kv_lora_rank));
    w.add_u32(a + ".attention.key_length_mla", u32(c.qk_head_dim()));
    w.add_u32(a + ".attention.value_length_mla", u32(c.v_head_dim));
  } else {
    w.add_u32(a + ".attention.head_count_kv", u32(c.num_attention_heads));
    w.add_u32(a + ".attention.key_length", u32(c.qk_head_dim()));
    w.add_u32(a + ".attention.value_length", u32(c.v_head_dim));
  }
  w.add_u32(a + ".rope.dimension_count", u32(c.qk_rope_head_dim));
  if (c.n_routed_experts > 0) {
    w.add_u32(a + ".expert_count", u32(c.n_routed_experts));
    w.add_u32(a + ".expert_used_count", u32(c.num_experts_per_tok));
    w.add_u32(a + ".expert_shared_count", u32(c.n_shared_experts));
    w.add_u32(a + ".expert_feed_forward_length", u32(c.moe_intermediate_size));
  }
  w.add_f32(a + ".expert_weights_scale", static_cast<float>(c.routed_scaling_factor));
  w.add_bool(a + ".expert_weights_norm", c.norm_topk_prob);
  w.add_u32(a + ".expert_gating_func", c.scoring_func == "sigmoid" ? 2 : 1);
  if (c.n_group > 1) {
    w.add_u32(a + ".expert_group_count", u32(c.n_group));
    w.add_u32(a + ".expert_group_used_count", u32(c.topk_group));
  }
}

}  // namespace

void put_gguf_config(const ModelConfig& c, bool split_kv_b, GgufWriter& w) {
  const std::string a = gguf_architecture(c);
  const auto u32 = [](int64_t v) { return static_cast<uint32_t>(v); };
  w.add_string("general.architecture", a);
  w.add_u32(a + ".vocab_size", u32(c.vocab_size));
  w.add_u32(a + ".context_length", u32(c.max_position_embeddings));
  w.add_u32(a + ".embedding_length", u32(c.hidden_size));
  w.add_u32(a + ".feed_forward_length", u32(c.intermediate_size));
  w.add_u32(a + ".block_count", u32(c.num_hidden_layers));
  w.add_u32(a + ".attention.head_count", u32(c.num_attention_heads));
  if (!c.is_deepseek()) w.add_u32(a + ".attention.head_count_kv", u32(c.num_key_value_heads));
  w.add_f32(a + ".attention.layer_norm_rms_epsilon", static_cast<float>(c.rms_norm_eps));
  w.add_f32(a + ".rope.freq_base", static_cast<float>(c.rope_theta));
  if (c.is_deepseek()) {
    put_deepseek(c, a, split_kv_b, w);
  } else {
    w.add_u32(a + ".rope.dimension_count", u32(c.head_dim));
    if (c.head_dim * c.num_attention_heads != c.hidden_size) w.add_u32(a + ".attention.key_length", u32(c.head_dim));
  }
  put_rope_scaling(c, a, w);
}

}  // namespace dsinfer::io
