// The AMX part of the Q4_K and Q5_K x16 kernels (matmul_q4k_amx.cpp), for group_rows.
#pragma once

#include "kernels/cpu/group_tiles.h"

namespace dsinfer::kernels::cpu {

// One group's sums for at.n tokens (whole AMX tiles) into acc[tt][lane], bit
// for bit as the AVX-512 tiles and the scalar twin in matmul_q4kx16.cpp.
// Needs Isa::Amx.
void q4k_amx_group(const groups::GroupCtx& c, const groups::AmxAt& at, float (*acc)[groups::kRows]);
void q5k_amx_group(const groups::GroupCtx& c, const groups::AmxAt& at, float (*acc)[groups::kRows]);

}  // namespace dsinfer::kernels::cpu
