// How the AVX-512 group kernels' results leave a long call (prefill): a
// prefill's y (e.g. 512 tokens x 8960 floats) is far larger than the caches,
// and a plain store first reads each line in; streaming stores write whole
// lines without that read (13% of a Q4_K prefill on AMX went there).
#pragma once

#include <cstdint>

#include "kernels/cpu/intrin.h"

namespace dsinfer::kernels::cpu::stream {

// Where one group's results for n tokens go: y points at the first token's
// lane 0 (y_stride apart), bias (or null) at lane 0's bias; lanes [l0, l1)
// exist in the view.
struct RowsOut {
  float* y;
  int64_t y_stride;
  const float* bias;
  int l0, l1;
};

// v[t][lane] (+ bias) into y: whole 64-byte-aligned 16-lane rows with
// streaming stores, others lane by lane. The caller fences (fence()) before
// its results are read elsewhere: streaming stores are weakly ordered.
__attribute__((target("avx512f"))) inline void store_rows(const float (*v)[16], int64_t n, const RowsOut& o) {
  const bool whole = o.l0 == 0 && o.l1 == 16 && reinterpret_cast<uintptr_t>(o.y) % 64 == 0 && o.y_stride % 16 == 0;
  if (!whole) {
    for (int64_t t = 0; t < n; ++t)
      for (int l = o.l0; l < o.l1; ++l) o.y[t * o.y_stride + l] = v[t][l] + (o.bias ? o.bias[l] : 0.0f);
    return;
  }
  const __m512 b = o.bias ? _mm512_loadu_ps(o.bias) : _mm512_setzero_ps();
  for (int64_t t = 0; t < n; ++t) _mm512_stream_ps(o.y + t * o.y_stride, _mm512_add_ps(_mm512_loadu_ps(v[t]), b));
}

inline void fence() { _mm_sfence(); }

}  // namespace dsinfer::kernels::cpu::stream
