// CPU matrix products: float32 activations against weights in their stored
// dtype. y = x W^T runs SIMD kernels chosen by ISA (see matmul_kernels.h):
// float weights are converted in registers and use f32 FMA; block-quantized
// weights (Q8_0, Q4_0, Q4_K) use integer dot products against activations
// quantized on the fly to int8 blocks of 32. y = x W (transposed) stays on the
// reference kernel.
#pragma once

#include "core/thread_pool.h"
#include "kernels/backend.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/matmul_kernels.h"

namespace dsinfer::kernels::cpu {

// Independent products a[0 .. count) on `pool` in one pass, at SIMD level
// `isa`: their rows are spread over the threads together (a MoE layer's
// experts, the heads of MLA's absorbed projections), and an input shared by
// several (same x, stride, tokens, width) is quantized once. `acts` is scratch
// for the quantized activations, reused across calls. Each result is the one
// the product would get alone.
void matmul_batch(const MatmulArgs* a, size_t count, Isa isa, ThreadPool& pool, std::vector<QuantAct>& acts);
inline void matmul(const MatmulArgs& a, Isa isa, ThreadPool& pool, std::vector<QuantAct>& acts) {
  matmul_batch(&a, 1, isa, pool, acts);
}

// Output columns [begin, end) (rows of W when not transposed) on the calling
// thread, at the best ISA available.
void matmul(const MatmulArgs& a, int64_t begin, int64_t end);

// Dot product with 8 independent float accumulators (vectorizes without -ffast-math).
float dot(const float* a, const float* b, int64_t n);

}  // namespace dsinfer::kernels::cpu
