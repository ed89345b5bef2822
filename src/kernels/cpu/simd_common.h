// Shared pieces of the SIMD row kernels (included by matmul_avx2.cpp and
// matmul_avx512.cpp only): the weight-row contexts and the tile driver, which
// walks rows in tiles of K::kR and tokens in tiles of K::kT, in token chunks
// small enough that a chunk's activations stay in L2 while the rows stream.
// A kernel K provides kR, kT and `template <int R, int T> static void
// tile(const RowsCtx&, int64_t r, int64_t t)` for R in {1, kR}, T in 1..kT.
#pragma once

#include "kernels/cpu/intrin.h"  // first: see intrin.h
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "core/quant.h"
#include "kernels/cpu/matmul_kernels.h"

namespace dsinfer::kernels::cpu::simd {

// Row r of the view (0-based) starts at base + (row0 + r) * row_bytes.
struct RowsCtx {
  const MatmulArgs* a = nullptr;
  const QuantAct* act = nullptr;  // integer kernels only
  const Bf16Act* xb = nullptr;    // bf16 dot-product kernels only
  const uint8_t* base = nullptr;
  size_t row_bytes = 0;
  int64_t row0 = 0;
  int64_t k = 0;       // columns
  int64_t blocks = 0;  // blocks per row (integer kernels)
  // F8_E4M3 block scales.
  const float* scale = nullptr;
  int64_t block_rows = 0, block_cols = 0, scale_cols = 0;

  const uint8_t* row(int64_t r) const { return base + row_bytes * static_cast<size_t>(row0 + r); }
  const float* scale_row(int64_t r) const { return scale + ((row0 + r) / block_rows) * scale_cols; }
};

inline RowsCtx make_ctx(const MatmulJob& job) {
  const Weight& w = *job.a->w;
  RowsCtx c;
  c.a = job.a;
  c.act = job.act;
  c.xb = job.xb;
  c.base = static_cast<const uint8_t*>(w.data);
  c.row_bytes = row_bytes(w.dtype, w.cols);
  c.row0 = w.row0;
  c.k = w.cols;
  c.blocks = w.cols / block_elems(w.dtype);
  c.scale = w.scale_inv;
  c.block_rows = w.block_rows;
  c.block_cols = w.block_cols;
  if (w.block_cols > 0) c.scale_cols = (w.cols + w.block_cols - 1) / w.block_cols;
  return c;
}

// Weight rows are streamed once per token chunk: each tile prefetches the same
// bytes of the next tile's rows (TileIn::ahead), far enough ahead to hide
// memory latency on rows too short for the hardware prefetcher to ramp up.
// Tiles of T tokens: decode's (1-2) stream from memory into L2 (kStreamHint);
// longer ones are compute-bound and read from L1. (_mm_prefetch is baseline
// x86-64, so this inlines into every ISA level's tiles.)
template <int T>
__attribute__((always_inline)) inline void prefetch(const uint8_t* p) {
  _mm_prefetch(reinterpret_cast<const char*>(p), T <= 2 ? kStreamHint : _MM_HINT_T0);
}

// The f16 scale at p (GGUF blocks store it unaligned).
__attribute__((target("f16c"), always_inline)) inline float half_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

// Where an integer tile's R rows start, its activations (Act: the ISA level's
// per-tile pointers into the quantized activations of tokens t, t + 1, ...),
// and how far ahead of a row its prefetches go (the same bytes kr rows on: the
// next tile's rows).
template <int R, class Act>
struct TileIn {
  const uint8_t* wp[R];
  Act ar;
  size_t ahead;
  __attribute__((always_inline)) TileIn(const RowsCtx& c, int64_t r, int64_t t, int kr)
      : ar(*c.act, t), ahead(c.row_bytes * static_cast<size_t>(kr)) {
    for (int i = 0; i < R; ++i) wp[i] = c.row(r + i);
  }
  // Row i's bytes from off, once the first and last line of the same `span` bytes kr rows on are asked for.
  template <int T>
  __attribute__((always_inline)) const uint8_t* fetch(int i, int64_t off, int64_t span) const {
    const uint8_t* p = wp[i] + off;
    prefetch<T>(p + ahead);
    prefetch<T>(p + ahead + span - 1);
    return p;
  }
  // The same for every line of the span (K-quant super-blocks: 210 bytes
  // reach into 4 or 5 lines).
  template <int T>
  __attribute__((always_inline)) const uint8_t* fetch_all(int i, int64_t off, int64_t span) const {
    const uint8_t* p = wp[i] + off;
    for (int64_t o = 0; o < span; o += 64) prefetch<T>(p + ahead + o);
    prefetch<T>(p + ahead + span - 1);
    return p;
  }
};

// Bytes of activations a kernel touches per token (for token_chunk).
inline int64_t act_bytes_per_token(const MatmulJob& job) {
  const int64_t k = job.a->w->cols;
  return job.act ? k * 3 : job.xb ? k * 2 : k * 4;
}

// The tile driver (baseline code; it only calls the target-specific tiles).
template <class K, int R>
void run_tokens(const RowsCtx& c, int64_t r, int64_t t0, int64_t t1) {
  int64_t t = t0;
  for (; t + K::kT <= t1; t += K::kT) K::template tile<R, K::kT>(c, r, t);
  const int64_t rest = t1 - t;
  if constexpr (K::kT > 3)
    if (rest == 3) return K::template tile<R, 3>(c, r, t);
  if constexpr (K::kT > 2)
    if (rest == 2) return K::template tile<R, 2>(c, r, t);
  if constexpr (K::kT > 1)
    if (rest == 1) return K::template tile<R, 1>(c, r, t);
}

template <class K>
void run_rows(const MatmulJob& job, int64_t begin, int64_t end) {
  const RowsCtx c = make_ctx(job);
  const int64_t n = job.a->n;
  const int64_t chunk = token_chunk(act_bytes_per_token(job)) / K::kT * K::kT;  // whole token tiles
  for (int64_t t0 = 0; t0 < n; t0 += chunk) {
    const int64_t t1 = std::min(n, t0 + chunk);
    int64_t r = begin;
    for (; r + K::kR <= end; r += K::kR) run_tokens<K, K::kR>(c, r, t0, t1);
    for (; r < end; ++r) run_tokens<K, 1>(c, r, t0, t1);
  }
}

// The row kernels of one ISA level by weight type. Ks names them: Ks::Float<Load>
// over the loaders Ks::F32, BF16, F16, F8 (block-scaled), and Ks::Q8_0, Q4_0,
// Q4_K; nullptr where the level has none (or an F8 weight lacks its scales).
template <class Ks>
RowsFn rows_fn(const Weight& w) {
  switch (w.dtype) {
    case DType::F32:
      return run_rows<typename Ks::template Float<typename Ks::F32>>;
    case DType::BF16:
      return run_rows<typename Ks::template Float<typename Ks::BF16>>;
    case DType::F16:
      return run_rows<typename Ks::template Float<typename Ks::F16>>;
    case DType::F8_E4M3:
      if (!w.scale_inv || w.block_rows <= 0 || w.block_cols <= 0) return nullptr;
      return run_rows<typename Ks::template Float<typename Ks::F8>>;
    case DType::Q8_0:
      return run_rows<typename Ks::Q8_0>;
    case DType::Q4_0:
      return run_rows<typename Ks::Q4_0>;
    case DType::Q5_0:
      return run_rows<typename Ks::Q5_0>;
    case DType::Q4_K:
      return run_rows<typename Ks::Q4_K>;
    case DType::Q5_K:
      return run_rows<typename Ks::Q5_K>;
    case DType::Q6_K:
      return run_rows<typename Ks::Q6_K>;
    default:
      return nullptr;
  }
}

}  // namespace dsinfer::kernels::cpu::simd
