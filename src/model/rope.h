// RoPE frequency tables for the families' scaling schemes (default, linear,
// llama3, yarn), computed once at load.
#pragma once

#include <cstdint>
#include <vector>

#include "io/hf_config.h"

namespace dsinfer::model {

struct RopeTable {
  std::vector<float> inv_freq;  // [rot_dim / 2]
  float mscale = 1.0f;          // multiplies cos and sin (yarn)
};

RopeTable make_rope_table(const io::ModelConfig& cfg, int64_t rot_dim);

// YaRN's attention magnitude correction: 0.1 * mscale * ln(scale) + 1 (1 when scale <= 1).
double yarn_get_mscale(double scale, double mscale);

}  // namespace dsinfer::model
