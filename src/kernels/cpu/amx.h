// Intel AMX (Isa::Amx) for the prefill products of Q4_K weights: the tile
// configuration every AMX kernel uses, and what those kernels offer the
// group driver (group_tiles.h).
#pragma once

#include <cstdint>
#include <cstddef>

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

// Where a group's results for n tokens go: y points at token 0's lane 0
// (y_stride apart), bias (or null) at lane 0's bias; lanes [l0, l1) exist.
struct RowsOut {
  float* y;
  int64_t y_stride;
  const float* bias;
  int l0, l1;
};

// acc[t][lane] (+ bias) into y. Whole aligned 16-lane rows go out with
// streaming stores: a prefill's outputs (e.g. 512 tokens x 8960 floats) are
// far larger than the caches, and a plain store first reads each line in
// (13% of a Q4_K prefill on AMX went there). The fence orders them before
// the caller's join.
DSI_AMX_TARGET inline void store_rows(const float (*acc)[16], int64_t n, const RowsOut& o) {
  const bool whole = o.l0 == 0 && o.l1 == 16 && reinterpret_cast<uintptr_t>(o.y) % 64 == 0 && o.y_stride % 16 == 0;
  const __m512 b = o.bias && whole ? _mm512_loadu_ps(o.bias) : _mm512_setzero_ps();
  for (int64_t t = 0; t < n; ++t) {
    float* y = o.y + t * o.y_stride;
    if (whole) {
      _mm512_stream_ps(y, _mm512_add_ps(_mm512_load_ps(acc[t]), b));
    } else {
      for (int l = o.l0; l < o.l1; ++l) y[l] = acc[t][l] + (o.bias ? o.bias[l] : 0.0f);
    }
  }
  _mm_sfence();
}

// Tokens per call: whole tiles whose activations (k bytes each) stay in L2.
inline int64_t token_chunk(int64_t k) {
  const int64_t c = (int64_t{1} << 20) / (k > 0 ? k : 1) / kTokens * kTokens;
  return c < kTokens ? kTokens : c > kMaxChunk ? kMaxChunk : c;
}

}  // namespace dsinfer::kernels::cpu::amx
