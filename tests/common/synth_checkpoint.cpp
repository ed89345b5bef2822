#include "common/synth_checkpoint.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "io/hf_config.h"
#include "io/safetensors_writer.h"
#include "model/checkpoint_layout.h"

namespace dsinfer::test {

namespace {

using io::TensorData;

struct Shape2 {
  std::string name;
  int64_t rows, cols;  // cols == 0: a vector of `rows`
  bool quantizable;    // a projection matrix FP8 checkpoints store in F8_E4M3
  float init;          // 0: norm weight around 1
};

Shape2 to_shape(const model::TensorSpec& t) {
  const int64_t rows = t.shape[0], cols = t.shape.size() > 1 ? t.shape[1] : 0;
  switch (t.role) {
    case model::TensorRole::Embedding:
      return {t.name, rows, cols, false, 0.5f};
    case model::TensorRole::Projection:
      return {t.name, rows, cols, true, 0.08f};
    case model::TensorRole::LmHead:
      return {t.name, rows, cols, false, 0.08f};
    case model::TensorRole::Router:
      return {t.name, rows, cols, false, 0.3f};
    case model::TensorRole::Norm:
      return {t.name, rows, cols, false, 0.0f};
    case model::TensorRole::Bias:
      break;
  }
  return {t.name, rows, cols, false, 0.1f};
}

// The MTP layer's tensors come last, so adding it leaves every other tensor's random draw unchanged.
std::vector<Shape2> tensor_list(const nlohmann::json& json_cfg, bool mtp) {
  const io::ModelConfig c = io::parse_config(json_cfg, "synthetic config");
  std::vector<model::TensorSpec> specs = model::checkpoint_layout(c);
  if (mtp) {
    const int64_t l = c.num_hidden_layers, h = c.hidden_size;
    const std::string p = "model.layers." + std::to_string(l);
    model::append_layer_layout(c, l, specs);
    for (const char* n : {".enorm.weight", ".hnorm.weight", ".shared_head.norm.weight"})
      specs.push_back({p + n, {h}, model::TensorRole::Norm});
    specs.push_back({p + ".eh_proj.weight", {h, 2 * h}, model::TensorRole::Projection});
    specs.push_back({p + ".shared_head.head.weight", {c.vocab_size, h}, model::TensorRole::LmHead});
  }
  std::vector<Shape2> out;
  for (const auto& t : specs) out.push_back(to_shape(t));
  return out;
}

template <typename T>
std::vector<uint8_t> to_bytes(const std::vector<T>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(T));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// Nearest E4M3 code (ties to even code) of a value already within [-448, 448].
uint8_t to_fp8(float x) {
  static const std::vector<float> pos = [] {
    std::vector<float> p;
    for (int c = 0; c < 127; ++c) p.push_back(fp8_e4m3_to_f32(static_cast<uint8_t>(c)));
    return p;
  }();
  const float a = std::min(std::fabs(x), 448.0f);
  auto it = std::lower_bound(pos.begin(), pos.end(), a);
  size_t c = static_cast<size_t>(it - pos.begin());
  if (c == pos.size() || (c > 0 && (a - pos[c - 1] < pos[c] - a || (a - pos[c - 1] == pos[c] - a && (c - 1) % 2 == 0)))) --c;
  return static_cast<uint8_t>(c | (x < 0 ? 0x80 : 0));
}

// Quantizes w [rows, cols] per block; returns codes, fills scales and the dequantized values.
void quantize_fp8(const std::vector<float>& w, int64_t rows, int64_t cols, int64_t blk, std::vector<uint8_t>& q,
                  std::vector<float>& scales, std::vector<float>& deq) {
  const int64_t sr = (rows + blk - 1) / blk, sc = (cols + blk - 1) / blk;
  scales.assign(static_cast<size_t>(sr * sc), 0.0f);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      float& s = scales[static_cast<size_t>((r / blk) * sc + c / blk)];
      s = std::max(s, std::fabs(w[static_cast<size_t>(r * cols + c)]) / 448.0f);
    }
  for (float& s : scales) s = s > 0 ? s : 1.0f;
  q.resize(w.size());
  deq.resize(w.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const size_t i = static_cast<size_t>(r * cols + c);
      const float s = scales[static_cast<size_t>((r / blk) * sc + c / blk)];
      q[i] = to_fp8(w[i] / s);
      deq[i] = fp8_e4m3_to_f32(q[i]) * s;
    }
}

std::vector<uint8_t> bf16_bytes(const std::vector<float>& v) {
  std::vector<uint16_t> h(v.size());
  for (size_t i = 0; i < v.size(); ++i) h[i] = f32_to_bf16(v[i]);
  return to_bytes(h);
}

void write_dir(const std::string& dir, const nlohmann::json& cfg, const std::vector<TensorData>& t, int shards) {
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/config.json") << cfg.dump(2);
  if (shards > 1)
    io::write_sharded_checkpoint(dir, t, shards);
  else
    io::write_safetensors(dir + "/model.safetensors", t);
}

}  // namespace

void write_synth_checkpoint(const std::string& dir, nlohmann::json cfg, const SynthOptions& o) {
  std::mt19937 rng(o.seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<TensorData> main, twin;
  bool dropped = false;
  for (const Shape2& s : tensor_list(cfg, o.add_mtp_layer)) {
    const int64_t n = s.rows * std::max<int64_t>(1, s.cols);
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = s.init == 0 ? 1.0f + 0.1f * normal(rng) : s.init * normal(rng);
    // Round to BF16 first so the BF16 and F32 forms hold the same values.
    for (float& x : v) x = bf16_to_f32(f32_to_bf16(x));
    const std::vector<int64_t> shape = s.cols ? std::vector<int64_t>{s.rows, s.cols} : std::vector<int64_t>{s.rows};
    if (o.fp8 && s.quantizable) {
      std::vector<uint8_t> q;
      std::vector<float> scales, deq;
      quantize_fp8(v, s.rows, s.cols, o.fp8_block, q, scales, deq);
      main.push_back({s.name, DType::F8_E4M3, shape, q});
      const int64_t sr = (s.rows + o.fp8_block - 1) / o.fp8_block, sc = (s.cols + o.fp8_block - 1) / o.fp8_block;
      if (!(o.drop_scales && !dropped)) main.push_back({s.name + "_scale_inv", DType::F32, {sr, sc}, to_bytes(scales)});
      dropped = true;
      twin.push_back({s.name, DType::F32, shape, to_bytes(deq)});
    } else {
      main.push_back({s.name, DType::BF16, shape, bf16_bytes(v)});
      twin.push_back(main.back());
    }
  }
  if (o.fp8)
    cfg["quantization_config"] = {{"activation_scheme", "dynamic"}, {"fmt", "e4m3"}, {"quant_method", "fp8"},
                                  {"weight_block_size", {o.fp8_block, o.fp8_block}}};
  if (o.add_mtp_layer) cfg["num_nextn_predict_layers"] = 1;
  write_dir(dir, cfg, main, o.shards);
  if (o.fp8 && !o.f32_twin_dir.empty()) {
    nlohmann::json c2 = cfg;
    c2.erase("quantization_config");
    write_dir(o.f32_twin_dir, c2, twin, 1);
  }
}

nlohmann::json tiny_qwen2_config() {
  return {{"model_type", "qwen2"}, {"vocab_size", 300}, {"hidden_size", 96}, {"intermediate_size", 200},
          {"num_hidden_layers", 2}, {"num_attention_heads", 6}, {"num_key_value_heads", 2},
          {"rms_norm_eps", 1e-6}, {"rope_theta", 1000000.0}, {"tie_word_embeddings", false},
          {"max_position_embeddings", 4096}};
}

nlohmann::json tiny_llama_config() {
  return {{"model_type", "llama"}, {"vocab_size", 300}, {"hidden_size", 128}, {"intermediate_size", 224},
          {"num_hidden_layers", 2}, {"num_attention_heads", 4}, {"num_key_value_heads", 1},
          {"rms_norm_eps", 1e-5}, {"rope_theta", 500000.0}, {"tie_word_embeddings", true},
          {"max_position_embeddings", 131072},
          {"rope_scaling", {{"rope_type", "llama3"}, {"factor", 32.0}, {"low_freq_factor", 1.0},
                            {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 8192}}}};
}

nlohmann::json tiny_deepseek_v3_config() {
  return {{"model_type", "deepseek_v3"}, {"vocab_size", 300}, {"hidden_size", 200}, {"intermediate_size", 300},
          {"num_hidden_layers", 3}, {"num_attention_heads", 3}, {"num_key_value_heads", 3},
          {"q_lora_rank", 72}, {"kv_lora_rank", 40}, {"qk_nope_head_dim", 24}, {"qk_rope_head_dim", 8},
          {"v_head_dim", 20}, {"n_routed_experts", 12}, {"n_shared_experts", 1}, {"num_experts_per_tok", 3},
          {"moe_intermediate_size", 72}, {"n_group", 4}, {"topk_group", 2}, {"topk_method", "noaux_tc"},
          {"scoring_func", "sigmoid"}, {"norm_topk_prob", true}, {"routed_scaling_factor", 2.5},
          {"first_k_dense_replace", 1}, {"moe_layer_freq", 1}, {"rms_norm_eps", 1e-6}, {"rope_theta", 10000.0},
          {"max_position_embeddings", 163840}, {"tie_word_embeddings", false},
          {"rope_scaling", {{"type", "yarn"}, {"factor", 40}, {"original_max_position_embeddings", 4096},
                            {"beta_fast", 32}, {"beta_slow", 1}, {"mscale", 1.0}, {"mscale_all_dim", 1.0}}}};
}

nlohmann::json tiny_deepseek_v2_config() {
  nlohmann::json c = tiny_deepseek_v3_config();
  c["model_type"] = "deepseek_v2";
  c["q_lora_rank"] = nullptr;
  c["topk_method"] = "group_limited_greedy";
  c["scoring_func"] = "softmax";
  c["norm_topk_prob"] = false;
  c["routed_scaling_factor"] = 1.5;
  c["n_shared_experts"] = 2;
  c["rope_scaling"]["mscale"] = 0.707;
  c["rope_scaling"]["mscale_all_dim"] = 0.707;
  return c;
}

}  // namespace dsinfer::test
