// Random-weight checkpoints in Hugging Face layout for any supported config,
// so tests can cover configurations beyond the shipped reference models.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace dsinfer::test {

struct SynthOptions {
  uint32_t seed = 1;
  int shards = 1;         // > 1: model-0000K-of-0000N.safetensors + index
  bool fp8 = false;       // attention / MLP / expert matrices as F8_E4M3 + weight_scale_inv
  int64_t fp8_block = 128;
  bool add_mtp_layer = false;  // tensors of an MTP layer at index num_hidden_layers
  std::string f32_twin_dir;    // if set (fp8 only): the same model with dequantized F32 matrices
  bool drop_scales = false;    // omit the first *_scale_inv (bad-input tests)
};

// Writes config.json (cfg, with quantization_config added for fp8) and weights into dir.
void write_synth_checkpoint(const std::string& dir, nlohmann::json cfg, const SynthOptions& opts);

// Small configs of each family, for variations in tests.
nlohmann::json tiny_qwen2_config();
nlohmann::json tiny_llama_config();
nlohmann::json tiny_deepseek_v3_config();
nlohmann::json tiny_deepseek_v2_config();

}  // namespace dsinfer::test
