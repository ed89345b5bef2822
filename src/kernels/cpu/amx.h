// Intel AMX (Isa::Amx) for the prefill products of the integer types: the tile
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
// A chunk's last partial tile of at least this many tokens runs on the AMX
// unit too (a whole tile, the rows past the call's end dropped); fewer go to
// the VNNI tiles, which read and unpack every weight again for them.
// matmul_bench on a V2-Lite expert's gate (Q4_K 1408 x 2048) and down (Q4_0
// 2048 x 1408): 44 tokens (2 tiles + 12) 17% / 11% faster, 60 tokens 13% / 7%;
// 20 tokens (1 tile + 4) no faster for Q4_K and 10% slower for Q4_0.
inline constexpr int64_t kMinTail = 8;

// Palette 1, all eight tiles 16 rows x 64 bytes.
struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {64, 64, 64, 64, 64, 64, 64, 64};
  uint8_t rows[16] = {16, 16, 16, 16, 16, 16, 16, 16};
};

// The 32-value block kernels' shapes: tmm0, tmm1 A tiles of 16 tokens x one
// block (32 bytes), tmm2, tmm3 B tiles of one block's 8 rows of 16 weight rows x
// 4 values; the others as TileConfig.
inline TileConfig block32_config() {
  TileConfig c;
  c.colsb[0] = c.colsb[1] = 32;
  c.rows[2] = c.rows[3] = 8;
  return c;
}

// Per thread (the configuration is part of the thread's state). The whole
// struct is the asm's operand: GCC 12's _tile_loadconfig names only 8 bytes.
DSI_AMX_TARGET inline void configure(const TileConfig& c = TileConfig{}) { asm volatile("ldtilecfg %0" ::"m"(c)); }

// Tile operations on register numbers given as template arguments (the
// intrinsics paste their arguments into the asm text, so they take only
// literal numbers).
template <int N>
DSI_AMX_TARGET inline void zero() {
  asm volatile("tilezero %%tmm%c0" ::"i"(N));
}
template <int N>
DSI_AMX_TARGET inline void load(const void* p, int64_t stride) {
  asm volatile("tileloadd (%0,%1,1), %%tmm%c2" ::"r"(p), "r"(stride), "i"(N) : "memory");
}
template <int N>
DSI_AMX_TARGET inline void store(void* p, int64_t stride) {
  asm volatile("tilestored %%tmm%c2, (%0,%1,1)" ::"r"(p), "r"(stride), "i"(N) : "memory");
}
// C += A B, signed bytes both.
template <int C, int A, int B>
DSI_AMX_TARGET inline void dpbssd() {
  asm volatile("tdpbssd %%tmm%c2, %%tmm%c1, %%tmm%c0" ::"i"(C), "i"(A), "i"(B));
}

// Tokens per call: whole tiles whose activations (k bytes each) stay in L2
// (1.5 MiB of the 2 MiB every AMX Xeon has: matmul_bench Prefill of the
// 8960-value down products 10% faster than with 1 MiB, one token chunk of 128).
inline int64_t token_chunk(int64_t k) {
  const int64_t c = (int64_t{3} << 19) / (k > 0 ? k : 1) / kTokens * kTokens;
  return c < kTokens ? kTokens : c > kMaxChunk ? kMaxChunk : c;
}

}  // namespace dsinfer::kernels::cpu::amx
