// The AMX part of the Q8_0, Q4_0 and Q5_0 x16 kernels (matmul_block32_amx.cpp), for group_rows.
#pragma once

#include "kernels/cpu/group_tiles.h"

namespace dsinfer::kernels::cpu {

// One group's sums for at.n tokens (whole AMX tiles) into acc[tt][lane], bit
// for bit as the AVX-512 tiles and the scalar twin in matmul_block32x16.cpp.
// Need Isa::Amx.
void q8_0_amx_group(const groups::GroupCtx& c, const groups::AmxAt& at, float (*acc)[groups::kRows]);
void q4_0_amx_group(const groups::GroupCtx& c, const groups::AmxAt& at, float (*acc)[groups::kRows]);
void q5_0_amx_group(const groups::GroupCtx& c, const groups::AmxAt& at, float (*acc)[groups::kRows]);

}  // namespace dsinfer::kernels::cpu
