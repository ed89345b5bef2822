#include "model/gguf_names.h"

#include <array>
#include <utility>

#include "core/error.h"

namespace dsinfer::model {

namespace {

// Per-layer names after "model.layers.N." -> after "blk.N.", prefixes with the
// .weight / .bias suffix kept.
constexpr std::array<std::pair<const char*, const char*>, 20> kLayerNames = {{
    {"input_layernorm.", "attn_norm."},
    {"post_attention_layernorm.", "ffn_norm."},
    {"self_attn.q_proj.", "attn_q."},
    {"self_attn.k_proj.", "attn_k."},
    {"self_attn.v_proj.", "attn_v."},
    {"self_attn.o_proj.", "attn_output."},
    {"self_attn.q_a_proj.", "attn_q_a."},
    {"self_attn.q_a_layernorm.", "attn_q_a_norm."},
    {"self_attn.q_b_proj.", "attn_q_b."},
    {"self_attn.kv_a_proj_with_mqa.", "attn_kv_a_mqa."},
    {"self_attn.kv_a_layernorm.", "attn_kv_a_norm."},
    {"self_attn.kv_b_proj.", "attn_kv_b."},
    {"mlp.gate_proj.", "ffn_gate."},
    {"mlp.up_proj.", "ffn_up."},
    {"mlp.down_proj.", "ffn_down."},
    {"mlp.gate.weight", "ffn_gate_inp.weight"},
    {"mlp.gate.e_score_correction_bias", "exp_probs_b.bias"},
    {"mlp.shared_experts.gate_proj.", "ffn_gate_shexp."},
    {"mlp.shared_experts.up_proj.", "ffn_up_shexp."},
    {"mlp.shared_experts.down_proj.", "ffn_down_shexp."},
}};

// "mlp.experts.E.gate_proj.weight" -> slice E of "ffn_gate_exps.weight".
bool expert_location(const std::string& rest, const std::string& blk, GgufLocation& out) {
  const std::string prefix = "mlp.experts.";
  if (rest.rfind(prefix, 0) != 0) return false;
  const size_t dot = rest.find('.', prefix.size());
  if (dot == std::string::npos) return false;
  const std::string proj = rest.substr(dot + 1);
  const char* part = proj == "gate_proj.weight" ? "gate" : proj == "up_proj.weight" ? "up" : proj == "down_proj.weight" ? "down" : nullptr;
  if (!part) return false;
  out.expert = std::stoll(rest.substr(prefix.size(), dot - prefix.size()));
  out.name = blk + "ffn_" + part + "_exps.weight";
  return true;
}

}  // namespace

int64_t hf_row_of_gguf_row(int64_t gguf_row, int64_t head_dim) {
  const int64_t head = gguf_row / head_dim, r = gguf_row % head_dim;
  return head * head_dim + (r % 2) * (head_dim / 2) + r / 2;
}

GgufLocation gguf_location(const io::ModelConfig& c, const std::string& hf_name) {
  if (hf_name == "model.embed_tokens.weight") return {"token_embd.weight"};
  if (hf_name == "model.norm.weight") return {"output_norm.weight"};
  if (hf_name == "lm_head.weight") return {"output.weight"};
  const std::string layers = "model.layers.";
  if (hf_name.rfind(layers, 0) == 0) {
    const size_t dot = hf_name.find('.', layers.size());
    const std::string blk = "blk." + hf_name.substr(layers.size(), dot - layers.size()) + ".";
    const std::string rest = dot == std::string::npos ? "" : hf_name.substr(dot + 1);
    GgufLocation loc;
    if (expert_location(rest, blk, loc)) return loc;
    for (const auto& [hf, gguf] : kLayerNames) {
      const std::string from(hf);
      if (rest.rfind(from, 0) != 0) continue;
      loc.name = blk + gguf + rest.substr(from.size());
      // llama.cpp permutes the llama family's q and k (weights and biases); not qwen2's, not MLA's.
      if (c.model_type == "llama" && (from == "self_attn.q_proj." || from == "self_attn.k_proj."))
        loc.rope_heads = from == "self_attn.q_proj." ? c.num_attention_heads : c.num_key_value_heads;
      return loc;
    }
  }
  fail("tensor ", hf_name, " has no GGUF name (llama.cpp's convert_hf_to_gguf.py writes no counterpart)");
}

}  // namespace dsinfer::model
