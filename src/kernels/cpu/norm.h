// RMS norm on the CPU. The AVX-512 kernel sums the squares in double
// precision as the reference does (ref::rms_norm, its scalar twin), eight
// lanes at a time, then scales in float with the reference's operations; the
// two differ only in the order of the double sum.
#pragma once

#include <cstdint>

#include "kernels/backend.h"
#include "kernels/cpu/isa.h"

namespace dsinfer::kernels::cpu {

// Rows [begin, end) of a.
void rms_norm(const NormArgs& a, Isa isa, int64_t begin, int64_t end);
void rms_norm_avx512(const NormArgs& a, int64_t begin, int64_t end);

}  // namespace dsinfer::kernels::cpu
