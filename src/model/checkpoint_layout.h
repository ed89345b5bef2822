// The tensors a config implies, by Hugging Face name and shape: the single
// description of each family's checkpoint layout, used to build synthetic
// models (benchmarks, tests). Loading checks the same shapes tensor by tensor.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/hf_config.h"

namespace dsinfer::model {

enum class TensorRole {
  Embedding,   // [vocab, hidden]
  Projection,  // a linear layer's weight; quantizable (FP8 / integer blocks)
  LmHead,      // [vocab, hidden]
  Router,      // MoE gate, kept in high precision
  Norm,        // RMSNorm weight, ~1
  Bias,        // linear bias or e_score_correction_bias, small
};

struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
  TensorRole role;
};

// Every tensor ordinary inference reads (no MTP layer).
std::vector<TensorSpec> checkpoint_layout(const io::ModelConfig& cfg);
// The tensors of decoder layer `layer` (used for the MTP layer too).
void append_layer_layout(const io::ModelConfig& cfg, int64_t layer, std::vector<TensorSpec>& out);

}  // namespace dsinfer::model
