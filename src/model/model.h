// A loaded model: one decoder stack over family-specific layers (GQA + MLP
// for qwen2/llama, MLA + MLP/MoE for deepseek_v2/v3). forward() takes a
// Batch and a KVCache and returns float32 logits for the requested rows.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "io/hf_config.h"
#include "io/safetensors.h"
#include "kernels/backend.h"
#include "model/batch.h"
#include "model/forward_context.h"
#include "model/kv_cache.h"
#include "model/layer.h"
#include "model/rope.h"

namespace dsinfer::model {

// Bytes of weights by role, for `dsinfer inspect` and the decode roofline.
struct WeightStats {
  int64_t params_total = 0;      // every parameter stored (MTP layers excluded)
  int64_t params_active = 0;     // parameters one token touches
  // Of those, the ones a prompt token multiplies: not the embedding table (a
  // lookup) nor the lm_head (run for the prompt's last token only).
  int64_t params_prefill = 0;
  int64_t params_lm_head = 0;
  size_t decode_bytes_per_token = 0;  // weight bytes read to decode one token
  std::vector<std::pair<std::string, size_t>> bytes_by_dtype;
  int64_t mtp_tensors = 0;       // tensors of the MTP layer(s), loaded lazily for speculative decoding later
};

struct DecoderLayer {
  kernels::Buffer input_layernorm;           // [hidden_size]
  kernels::Buffer post_attention_layernorm;  // [hidden_size]
  std::unique_ptr<AttentionLayer> attn;
  std::unique_ptr<FfnLayer> ffn;
};

class Model {
 public:
  // Loads config.json + safetensors from dir. Throws dsinfer::Error naming the
  // file/tensor/key on any inconsistency.
  // dir: a Hugging Face checkpoint directory, or a GGUF model file (gguf_model.h).
  static std::unique_ptr<Model> load(const std::string& dir, kernels::Backend& backend);
  // From a parsed config and an opened (or in-memory) checkpoint.
  static std::unique_ptr<Model> create(io::ModelConfig cfg, io::Checkpoint ckpt, kernels::Backend& backend);

  const io::ModelConfig& config() const { return cfg_; }
  // The cache this model needs, its element type resolved from `dtype`
  // (Auto: bf16 when the weights are integer-quantized, else float32).
  KVCacheSpec kv_spec(CacheDType dtype = CacheDType::Auto) const;
  WeightStats weight_stats() const;
  kernels::Backend& backend() const { return backend_; }

  // Logits [batch.logit_rows.size(), vocab_size], row-major.
  std::vector<float> forward(const Batch& batch, KVCache& cache, const ForwardOptions& opts = {});
  // The same into `logits`, resized: a caller that keeps it between steps
  // saves allocating and zeroing a batch's logits each time (8 x 152k floats).
  void forward(const Batch& batch, KVCache& cache, std::vector<float>& logits, const ForwardOptions& opts = {});

  // Routing of the last forward, per MoE layer: [n_tokens * top_k] expert ids (empty for dense layers).
  std::vector<std::vector<int32_t>> last_routing() const;

 private:
  Model(io::ModelConfig cfg, io::Checkpoint ckpt, kernels::Backend& backend);
  void build_layers();
  bool integer_quantized() const;  // any checkpoint tensor in Q8_0, Q4_0, Q4_K, Q5_K or Q6_K

  io::ModelConfig cfg_;
  io::Checkpoint ckpt_;
  kernels::Backend& backend_;
  RopeTable rope_;
  kernels::Weight embed_tokens_;  // [vocab_size, hidden_size]
  std::vector<DecoderLayer> layers_;
  kernels::Buffer norm_;          // [hidden_size]
  kernels::Weight lm_head_;       // [vocab_size, hidden_size]
};

}  // namespace dsinfer::model
