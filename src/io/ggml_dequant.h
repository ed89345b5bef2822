// Block types of GGUF files that dsinfer has no kernels for but can read:
// Q4_1 and Q5_1 (32 values a block, with a minimum), so such files load with
// those tensors converted (model/gguf_model.cpp). Layouts as ggml's
// block_q4_1 / block_q5_1.
#pragma once

#include <cstdint>

namespace dsinfer::io {

// ggml type ids.
inline constexpr uint32_t kGgmlQ4_1 = 3, kGgmlQ5_1 = 7;

bool ggml_dequantizable(uint32_t type);
// Values per block and bytes per block of those types.
int64_t ggml_block_values(uint32_t type);
int64_t ggml_block_bytes(uint32_t type);
// n values (a multiple of the block) of `type` blocks at `in` into floats.
void ggml_dequantize_row(uint32_t type, const uint8_t* in, int64_t n, float* out);
}  // namespace dsinfer::io
