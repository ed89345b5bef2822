#include "model/model.h"

#include "core/error.h"
#include "core/quant.h"
#include "model/gguf_model.h"
#include "model/gqa_attention.h"
#include "model/mla.h"
#include "model/mlp.h"
#include "model/moe.h"
#include "model/weight_loader.h"

namespace dsinfer::model {

Model::Model(io::ModelConfig cfg, io::Checkpoint ckpt, kernels::Backend& backend)
    : cfg_(std::move(cfg)), ckpt_(std::move(ckpt)), backend_(backend) {}

std::unique_ptr<Model> Model::load(const std::string& dir, kernels::Backend& backend) {
  if (is_gguf_file(dir)) {
    GgufModel g = open_gguf_model(dir);
    return create(std::move(g.config), std::move(g.checkpoint), backend);
  }
  if (const std::string files = gguf_files_in(dir); !files.empty())
    fail(dir, " has no config.json but GGUF files (", files, "): pass the one to load");
  io::ModelConfig cfg = io::load_config(dir);  // config errors first: they explain more than tensor errors
  return create(std::move(cfg), io::Checkpoint::open(dir), backend);
}

std::unique_ptr<Model> Model::create(io::ModelConfig cfg, io::Checkpoint ckpt, kernels::Backend& backend) {
  std::unique_ptr<Model> m(new Model(std::move(cfg), std::move(ckpt), backend));
  m->build_layers();
  return m;
}

void Model::build_layers() {
  const WeightLoader w(ckpt_, cfg_, backend_);
  const int64_t hidden = cfg_.hidden_size;
  rope_ = make_rope_table(cfg_, cfg_.is_deepseek() ? cfg_.qk_rope_head_dim : cfg_.head_dim);
  embed_tokens_ = w.matrix("model.embed_tokens.weight", cfg_.vocab_size, hidden);
  for (int64_t l = 0; l < cfg_.num_hidden_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l);
    DecoderLayer layer;
    layer.input_layernorm = w.vector(p + ".input_layernorm.weight", hidden);
    layer.post_attention_layernorm = w.vector(p + ".post_attention_layernorm.weight", hidden);
    if (cfg_.is_deepseek())
      layer.attn = std::make_unique<MlaAttention>(w, cfg_, p + ".self_attn", rope_);
    else
      layer.attn = std::make_unique<GqaAttention>(w, cfg_, p + ".self_attn", rope_);
    if (cfg_.is_moe_layer(l))
      layer.ffn = std::make_unique<Moe>(w, cfg_, p + ".mlp");
    else
      layer.ffn = std::make_unique<Mlp>(w, p + ".mlp", hidden, cfg_.intermediate_size);
    layers_.push_back(std::move(layer));
  }
  norm_ = w.vector("model.norm.weight", hidden);
  if (cfg_.tie_word_embeddings && !w.has("lm_head.weight"))
    lm_head_ = embed_tokens_;
  else
    lm_head_ = w.matrix("lm_head.weight", cfg_.vocab_size, hidden);
}

// GGUF and in-memory checkpoints say Q8_0/Q4_0/Q4_K; `dsinfer quantize`'s
// safetensors store U8 and name the block type in their metadata.
bool Model::integer_quantized() const {
  for (const std::string& name : ckpt_.names()) {
    const DType t = ckpt_.find(name)->dtype;
    if (is_block_quant(t)) return true;
    if (t != DType::U8) continue;
    const auto it = ckpt_.metadata().find("dsinfer.dtype." + name);
    if (it == ckpt_.metadata().end()) continue;
    const auto dt = dtype_from_name(it->second);
    if (dt && is_block_quant(*dt)) return true;
  }
  return false;
}

KVCacheSpec Model::kv_spec(CacheDType dtype) const {
  KVCacheSpec s;
  s.n_layers = cfg_.num_hidden_layers;
  if (dtype == CacheDType::Auto) dtype = integer_quantized() ? CacheDType::BF16 : CacheDType::F32;
  s.dtype = dtype == CacheDType::BF16 ? DType::BF16 : DType::F32;
  if (cfg_.is_deepseek()) {
    s.k_row = cfg_.kv_lora_rank + cfg_.qk_rope_head_dim;
    s.v_row = 0;
  } else {
    s.k_row = s.v_row = cfg_.num_key_value_heads * cfg_.head_dim;
  }
  return s;
}

std::vector<float> Model::forward(const Batch& batch, KVCache& cache, const ForwardOptions& opts) {
  std::vector<float> logits;
  forward(batch, cache, logits, opts);
  return logits;
}

void Model::forward(const Batch& batch, KVCache& cache, std::vector<float>& result, const ForwardOptions& opts) {
  for (int32_t t : batch.tokens)
    if (t < 0 || t >= cfg_.vocab_size) fail("token id ", t, " is outside the vocabulary [0, ", cfg_.vocab_size, ")");
  const KVCacheSpec want = kv_spec(CacheDType::F32);
  if (cache.spec().k_row != want.k_row || cache.spec().v_row != want.v_row || cache.spec().n_layers != want.n_layers)
    fail("KV cache was made for a different model");
  ForwardContext ctx(backend_, batch, cache, opts);
  const int64_t n = ctx.n_tokens;
  const int64_t hidden = cfg_.hidden_size;
  const float eps = static_cast<float>(cfg_.rms_norm_eps);
  kernels::Buffer h = ctx.output(n * hidden);    // [n, hidden] residual stream
  kernels::Buffer xn = ctx.output(n * hidden);   // [n, hidden] normed input of a sub-layer
  kernels::Buffer out = ctx.output(n * hidden);  // [n, hidden] sub-layer output
  kernels::Buffer ids = ctx.scratch(n);
  backend_.upload(ids, batch.tokens.data(), batch.tokens.size() * 4);
  backend_.embed(embed_tokens_, ids.i32(), n, h.f32());
  for (size_t l = 0; l < layers_.size(); ++l) {
    DecoderLayer& layer = layers_[l];
    backend_.rms_norm({h.f32(), hidden, layer.input_layernorm.f32(), xn.f32(), hidden, n, hidden, eps});
    layer.attn->forward(ctx, cache, static_cast<int64_t>(l), xn.f32(), out.f32());
    backend_.add(h.f32(), out.f32(), n * hidden);
    backend_.rms_norm({h.f32(), hidden, layer.post_attention_layernorm.f32(), xn.f32(), hidden, n, hidden, eps});
    layer.ffn->forward(ctx, xn.f32(), n, out.f32());
    backend_.add(h.f32(), out.f32(), n * hidden);
  }
  const int64_t m = static_cast<int64_t>(batch.logit_rows.size());
  std::vector<int64_t> rows(batch.logit_rows.begin(), batch.logit_rows.end());
  kernels::Buffer row_idx = ctx.upload_i64(rows);
  kernels::Buffer last = ctx.output(m * hidden);  // [m, hidden]
  backend_.copy_rows({h.f32(), hidden, last.f32(), hidden, m, hidden, row_idx.i64(), nullptr});
  backend_.rms_norm({last.f32(), hidden, norm_.f32(), last.f32(), hidden, m, hidden, eps});
  result.resize(static_cast<size_t>(m * cfg_.vocab_size));  // [m, vocab_size]
  if (backend_.capabilities().unified_memory) {
    // Straight into the caller's vector: a copy of 8 x 152k logits took ~1.5% of a batched step.
    linear(backend_, last.f32(), m, lm_head_, result.data());
    return;
  }
  kernels::Buffer logits = ctx.output(m * cfg_.vocab_size);  // [m, vocab_size]
  linear(backend_, last.f32(), m, lm_head_, logits.f32());
  backend_.download(result.data(), logits, result.size() * 4);
}

std::vector<std::vector<int32_t>> Model::last_routing() const {
  std::vector<std::vector<int32_t>> r;
  for (const auto& l : layers_) {
    const auto* moe = dynamic_cast<const Moe*>(l.ffn.get());
    r.push_back(moe ? moe->last_routing() : std::vector<int32_t>{});
  }
  return r;
}

}  // namespace dsinfer::model
