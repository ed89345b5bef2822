// CPU matrix products: float32 activations against weights in their stored
// dtype. y = x W^T runs SIMD kernels chosen by ISA (see matmul_kernels.h):
// float weights are converted in registers and use f32 FMA (bf16 weights with
// bf16_activations: bf16 dot products on activations rounded to bf16); block-quantized
// weights (Q8_0, Q4_0, Q4_K) use integer dot products against activations
// quantized on the fly to int8 blocks of 32. y = x W (transposed) stays on the
// reference kernel.
#pragma once

#include "core/thread_pool.h"
#include "kernels/backend.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/matmul_kernels.h"
#include "kernels/cpu/read_ahead.h"

namespace dsinfer::kernels::cpu {

// Independent products a[0 .. count) on `pool` in one pass, at SIMD level
// `isa`: their rows are spread over the threads together (a MoE layer's
// experts, the heads of MLA's absorbed projections), and an input shared by
// several (same x, stride, tokens, width) is quantized once. Each result is
// the one the product would get alone.
struct MatmulScratch {
  std::vector<QuantAct> acts;  // the quantized activations, reused across calls
  std::vector<Bf16Act> bf16;   // bf16 activations (bf16_activations and vdpbf16ps)
  std::vector<float> rounded;  // bf16 activations widened back (bf16_activations, no vdpbf16ps)
  ReadAhead read_ahead;        // the calls' order, for the pool's idle threads to read ahead
  std::vector<int64_t> pieces;     // [threads + 1] cost boundaries of a call's first pieces
  std::vector<ReadRegion> starts;  // [threads] where they start
};
// The backend's choices: SIMD level, and BackendOptions::activations as resolved.
struct MatmulConfig {
  Isa isa = Isa::Scalar;
  bool bf16_activations = false;
};
void matmul_batch(const MatmulArgs* a, size_t count, const MatmulConfig& cfg, ThreadPool& pool, MatmulScratch& scratch);
inline void matmul(const MatmulArgs& a, const MatmulConfig& cfg, ThreadPool& pool, MatmulScratch& scratch) {
  matmul_batch(&a, 1, cfg, pool, scratch);
}
inline void matmul(const MatmulArgs& a, Isa isa, ThreadPool& pool, MatmulScratch& scratch) {
  matmul_batch(&a, 1, MatmulConfig{isa, false}, pool, scratch);
}

// Output columns [begin, end) (rows of W when not transposed) on the calling
// thread, at the best ISA available.
void matmul(const MatmulArgs& a, int64_t begin, int64_t end);

// Dot product with 8 independent float accumulators (vectorizes without -ffast-math).
float dot(const float* a, const float* b, int64_t n);

}  // namespace dsinfer::kernels::cpu
