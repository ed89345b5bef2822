// Where a Hugging Face tensor lives in a GGUF model file written by llama.cpp's
// convert_hf_to_gguf.py: its GGUF name, its slice when experts are merged into
// one 3-D tensor, and whether its rows are in llama.cpp's RoPE order.
#pragma once

#include <cstdint>
#include <string>

#include "io/hf_config.h"

namespace dsinfer::model {

struct GgufLocation {
  std::string name;     // "blk.3.attn_q.weight"
  int64_t expert = -1;  // >= 0: slice `expert` of a [n_expert, rows, cols] tensor (ffn_*_exps)
  // llama's q_proj / k_proj: convert_hf_to_gguf.py interleaves each head's two
  // rotary halves (row s*D/2 + j becomes row 2j + s) for ggml's adjacent-pair
  // RoPE; `heads` is how many heads the rows hold (0: not permuted).
  int64_t rope_heads = 0;
};

// Throws naming hf_name when it has no GGUF counterpart.
GgufLocation gguf_location(const io::ModelConfig& c, const std::string& hf_name);

// Row `gguf_row` of a permuted q/k matrix holds this Hugging Face row
// (head_dim = rows / heads): the inverse of convert_hf_to_gguf.py's permute.
int64_t hf_row_of_gguf_row(int64_t gguf_row, int64_t head_dim);

}  // namespace dsinfer::model
