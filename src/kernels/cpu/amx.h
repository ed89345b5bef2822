// Intel AMX (Isa::Amx) for the prefill products of Q4_K weights: the tile
// configuration every AMX kernel uses, and what those kernels offer the
// group driver (group_tiles.h).
#pragma once

#include <cstdint>

#include "kernels/cpu/intrin.h"
#include "kernels/packed.h"

#define DSI_AMX_TARGET __attribute__((target("amx-tile,amx-int8,avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))

namespace dsinfer::kernels::cpu::amx {

// Tokens per tile (the rows of an A and of a C tile).
inline constexpr int kTokens = 16;
// The most tokens one call of a kernel takes (its running sums live on the stack).
inline constexpr int64_t kMaxChunk = 512;

// Palette 1, all eight tiles 16 rows x 64 bytes.
struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {64, 64, 64, 64, 64, 64, 64, 64};
  uint8_t rows[16] = {16, 16, 16, 16, 16, 16, 16, 16};
};

// Per thread (the configuration is part of the thread's state). The whole
// struct is the asm's operand: GCC 12's _tile_loadconfig names only 8 bytes.
DSI_AMX_TARGET inline void configure() {
  const TileConfig c;
  asm volatile("ldtilecfg %0" ::"m"(c));
}

// Tokens per call: whole tiles whose activations (k bytes each) stay in L2.
inline int64_t token_chunk(int64_t k) {
  const int64_t c = (int64_t{1} << 20) / (k > 0 ? k : 1) / kTokens * kTokens;
  return c < kTokens ? kTokens : c > kMaxChunk ? kMaxChunk : c;
}

}  // namespace dsinfer::kernels::cpu::amx
