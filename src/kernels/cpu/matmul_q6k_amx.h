// The AMX part of the Q6_K x16 kernel (matmul_q6k_amx.cpp), for group_rows.
#pragma once

#include "kernels/cpu/group_tiles.h"

namespace dsinfer::kernels::cpu {

// One group's sums for at.n tokens (whole AMX tiles) into acc[tt][lane], bit
// for bit as the AVX-512 tiles and the scalar twin in matmul_q6kx16.cpp.
// Needs Isa::Amx.
void q6k_amx_group(const groups::GroupCtx& c, const groups::AmxAt& at, float (*acc)[groups::kRows]);

}  // namespace dsinfer::kernels::cpu
