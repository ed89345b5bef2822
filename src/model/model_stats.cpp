// Model::weight_stats: sizes derived from the checkpoint's tensors and the
// config, for `dsinfer inspect` and the decode roofline of `dsinfer bench`.
#include <map>
#include <string>

#include "model/checkpoint_layout.h"
#include "model/model.h"

namespace dsinfer::model {

namespace {

// Layer index of "model.layers.N.…", or -1.
int64_t layer_of(const std::string& name) {
  const std::string p = "model.layers.";
  if (name.rfind(p, 0) != 0) return -1;
  return std::stoll(name.substr(p.size(), name.find('.', p.size()) - p.size()));
}

}  // namespace

WeightStats Model::weight_stats() const {
  WeightStats s;
  std::map<std::string, size_t> by_dtype;
  size_t expert_bytes = 0, embed_bytes = 0;
  int64_t expert_params = 0, embed_params = 0;
  // Block-quantized tensors are stored as U8 bytes: their parameters are the config's shape.
  std::map<std::string, int64_t> spec_numel;
  for (const TensorSpec& t : checkpoint_layout(cfg_)) {
    int64_t n = 1;
    for (int64_t d : t.shape) n *= d;
    spec_numel[t.name] = n;
  }
  for (const std::string& name : ckpt_.names()) {
    const io::TensorInfo* t = ckpt_.find(name);
    if (layer_of(name) >= cfg_.num_hidden_layers) {
      ++s.mtp_tensors;  // the MTP layer: kept on disk for speculative decoding, not read by ordinary decoding
      continue;
    }
    by_dtype[std::string(dtype_name(t->dtype))] += t->nbytes;
    const bool scale = name.size() > 10 && name.compare(name.size() - 10, 10, "_scale_inv") == 0;
    const auto spec = spec_numel.find(name);
    const int64_t numel = t->dtype == DType::U8 && spec != spec_numel.end() ? spec->second : t->numel();
    if (!scale) s.params_total += numel;
    if (name.find(".mlp.experts.") != std::string::npos) {
      expert_bytes += t->nbytes;
      if (!scale) expert_params += numel;
    }
    if (name == "model.embed_tokens.weight") {
      embed_bytes = t->nbytes;
      embed_params = numel;
    }
    if (name == "lm_head.weight") s.params_lm_head = numel;
    s.decode_bytes_per_token += t->nbytes;
  }
  // One token reads top_k of n_routed_experts experts in every MoE layer and one embedding row.
  const double unused = cfg_.n_routed_experts > 0
                            ? 1.0 - static_cast<double>(cfg_.num_experts_per_tok) / static_cast<double>(cfg_.n_routed_experts)
                            : 0.0;
  s.params_active = s.params_total - static_cast<int64_t>(static_cast<double>(expert_params) * unused);
  const bool tied = lm_head_.data == embed_tokens_.data;
  if (tied) s.params_lm_head = embed_params;
  s.params_prefill = s.params_active - embed_params - (tied ? 0 : s.params_lm_head);
  s.decode_bytes_per_token -= static_cast<size_t>(static_cast<double>(expert_bytes) * unused);
  if (!tied) s.decode_bytes_per_token -= embed_bytes - embed_bytes / static_cast<size_t>(cfg_.vocab_size);
  for (const DecoderLayer& l : layers_) s.decode_bytes_per_token += static_cast<size_t>(l.attn->decode_bytes_delta());
  for (const auto& [k, v] : by_dtype) s.bytes_by_dtype.emplace_back(k, v);
  return s;
}

}  // namespace dsinfer::model
