// dsinfer quantize: a checkpoint's projection matrices (attention, MLP,
// experts, lm_head) re-encoded as integer blocks (Q8_0, Q4_0, Q4_K, Q5_K, Q6_K;
// GGUF's layouts, so the kernels are shared with GGUF files). Embeddings, norms,
// routers and biases keep their precision. A matrix whose width is not a
// multiple of the block falls back to the next smaller block type.
#pragma once

#include <functional>
#include <string>

#include "core/dtype.h"
#include "io/gguf_writer.h"

namespace dsinfer::model {

struct QuantizeOptions {
  std::string input_dir;
  std::string output_dir;  // a directory, or a file NAME.gguf (llama.cpp's names and layout)
  DType type = DType::Q4_K;
  // Q4_K_M / Q5_K_M as llama.cpp mixes them: with type Q4_K or Q5_K, the value projections (and
  // MLA's kv_b_proj) and the down projections of the first and last eighth of
  // the layers and every third layer between take Q6_K.
  bool more_bits = false;
  int threads = 0;
  // true: the CPU kernels' 16-row groups, mapped in place at load
  // (row_group_storage.h), for every block type; false:
  // GGUF's row layout, as other tools read it.
  bool row_groups = true;
  // GGUF output: adds keys the model layer does not know (the tokenizer's).
  std::function<void(io::GgufWriter&)> gguf_metadata;
};

struct QuantizeReport {
  size_t bytes_in = 0;
  size_t bytes_out = 0;
  int64_t tensors_quantized = 0;
  int64_t tensors_fallback = 0;  // stored with a smaller block than asked
};

QuantizeReport quantize_checkpoint(const QuantizeOptions& o);

}  // namespace dsinfer::model
