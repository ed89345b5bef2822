// Random-weight models with the real shapes of released checkpoints, built in
// memory (no files) for benchmarks and server tests: `synthetic:PRESET`.
// Random router weights spread tokens over all experts.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "io/hf_config.h"
#include "io/safetensors_writer.h"
#include "kernels/backend.h"
#include "model/model.h"

namespace dsinfer::model {

struct SyntheticOptions {
  std::string preset;                 // see synthetic_presets()
  DType weight_dtype = DType::BF16;   // projections and lm_head: BF16, F32, F8_E4M3, Q8_0, Q4_0, Q4_K, Q5_K, Q6_K
  int64_t vocab_size = 0;             // > 0: override (pairing with a real tokenizer)
  uint64_t seed = 1;
};

std::vector<std::string> synthetic_presets();
// Throws listing the presets when `preset` is unknown.
io::ModelConfig synthetic_config(const std::string& preset, int64_t vocab_size = 0);
// Bytes the weights will take (to refuse what cannot fit before allocating).
size_t synthetic_weight_bytes(const io::ModelConfig& cfg, DType weight_dtype);
// The preset's config with the weight type's quantization settings (FP8 blocks).
io::ModelConfig synthetic_model_config(const SyntheticOptions& opts);
// Every tensor of the model, as a checkpoint stores it (block types as GGUF blocks).
std::vector<io::TensorData> synthetic_tensors(const io::ModelConfig& cfg, const SyntheticOptions& opts);
std::unique_ptr<Model> make_synthetic_model(const SyntheticOptions& opts, kernels::Backend& backend);

// The preset's config.json text (vocab_size overridden when > 0).
std::string synthetic_config_json(const std::string& preset, int64_t vocab_size = 0);
// The synthetic model written as a checkpoint directory that every command
// loads (config.json and model.safetensors, block types stored as `dsinfer
// quantize` stores them): `dsinfer quantize --model synthetic:PRESET`, e.g. to
// measure start-up from disk.
void write_synthetic_checkpoint(const SyntheticOptions& opts, const std::string& dir);

}  // namespace dsinfer::model
