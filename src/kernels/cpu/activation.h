// Elementwise activations on the CPU: silu(gate) * up for the MLPs and MoE
// experts, with the polynomial exp of exp_consts.h. The AVX-512 kernel and the
// scalar twin agree bit for bit (same operations per element).
#pragma once

#include <cstdint>

#include "kernels/cpu/isa.h"

namespace dsinfer::kernels::cpu {

// out[i] = gate[i] / (1 + e^-gate[i]) * up[i] for i in [begin, end).
struct SiluMulArgs {
  const float* gate;
  const float* up;
  float* out;
};
void silu_mul(const SiluMulArgs& a, Isa isa, int64_t begin, int64_t end);
void silu_mul_scalar(const SiluMulArgs& a, int64_t begin, int64_t end);
void silu_mul_avx512(const SiluMulArgs& a, int64_t begin, int64_t end);

}  // namespace dsinfer::kernels::cpu
