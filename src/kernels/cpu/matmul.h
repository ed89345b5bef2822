// CPU matrix products: float32 activations against weights in their stored
// dtype, dequantized a row at a time into a thread-local buffer.
#pragma once

#include "kernels/backend.h"

namespace dsinfer::kernels::cpu {

// Output columns [begin, end) (rows of W when not transposed).
void matmul(const MatmulArgs& a, int64_t begin, int64_t end);

// Dot product with 8 independent float accumulators (vectorizes without -ffast-math).
float dot(const float* a, const float* b, int64_t n);

}  // namespace dsinfer::kernels::cpu
