// Paged causal attention on the CPU, flash-style: a query's keys are taken
// in chunks of kKeyChunk positions; each chunk gets its scores q.k, its own
// softmax numerators (relative to the chunk's max) and their weighted sum of
// V rows, and the chunks are folded into the result in order of position by
// rescaling (merge_chunk). The same code serves grouped-query attention and
// MLA's absorbed form (one latent cache as K and V, v_dim < qk_dim).
//
// Work is cut into tiles of query tokens of one sequence and query heads of
// one KV head, which read the same K/V rows: the AVX-512 kernel walks a tile's
// chunk keys block by block so each block comes from memory once for the
// whole tile, and a chunk's V rows are still in cache for its value pass.
// When a call has too few tiles to keep every thread busy (decoding one
// sequence: one tile per KV head), tiles are also split by chunk ranges: each
// part leaves its chunks' partial results in scratch, and attention_merge
// folds them afterwards. A chunk's partials are the same bits wherever it is
// computed and the fold runs in the same order with the same operations, so
// results depend neither on the tiles and splits nor on what else is in the
// batch. The AVX-512 and AVX2 kernels are one template (attention_tiled.inc);
// the scalar twin has the same passes.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "core/dtype.h"
#include "kernels/backend.h"
#include "kernels/cpu/exp_consts.h"  // exp_approx
#include "kernels/cpu/isa.h"

namespace dsinfer::kernels::cpu {

// Keys per chunk: one value pass of the SIMD kernels (64 rows of 128 values,
// 32 KB, stay in L1 while every (token, head) of a tile adds them).
inline constexpr int64_t kKeyChunk = 64;

// Tokens [t0, t1) (consecutive in the batch, one sequence) x query heads
// [h0, h1) (one KV head's), over the key chunks [c0, c1) (c1 = 0: all of
// them). A tile of a split (split >= 0) covers some chunks of its split's
// pairs and leaves partial results; any other covers whole contexts. The AMX
// kernel's plans may cut a tile by value columns instead: [d0, d1) (d1 = 0:
// all), multiples of 32, the only output columns the tile writes.
struct AttentionTile {
  int64_t t0 = 0, t1 = 0, h0 = 0, h1 = 0;
  int64_t c0 = 0, c1 = 0;
  int64_t split = -1;
  int64_t d0 = 0, d1 = 0;
};

// The (token, head) pairs of one tile cut by chunk ranges, and where in the
// partials scratch its parts write: stats [pair][chunk] {max, sum} at
// stats_at, value sums [pair][chunk][v_dim] at acc_at (pairs token-major).
struct AttentionSplit {
  int64_t t0 = 0, t1 = 0, h0 = 0, h1 = 0;
  int64_t chunks = 0;
  int64_t first_pair = 0;  // prefix sum of pairs over the splits
  size_t stats_at = 0, acc_at = 0;
};

struct AttentionPlan {
  std::vector<AttentionTile> tiles;
  std::vector<AttentionSplit> splits;
  int64_t split_pairs = 0;     // pairs over all splits: the merge's work items
  size_t partial_floats = 0;  // scratch the split tiles write
};

// What a split tile writes: the split's partials (pair index within the split).
struct AttentionPartials {
  float* stats = nullptr;  // [pairs][chunks][2]
  float* acc = nullptr;    // [pairs][chunks][v_dim]
  int64_t chunks = 0;
};

// Tiles of up to 8 tokens x a KV head's query heads. Below `min_tiles`, tiles
// whose contexts span several chunks are split by chunk ranges; when none do,
// tiles are halved (heads first) as far as the batch allows. With `amx` (the
// AMX kernel will run them: amx_attention_fits) up to 16 heads stay one tile
// (the tile unit's rows), and too few tiles are cut by value columns.
AttentionPlan attention_plan(const AttentionArgs& a, int64_t min_tiles, bool amx = false);

// plan.tiles[begin, end); split tiles write into `partials` (plan.partial_floats).
void attention(const AttentionArgs& a, Isa isa, const AttentionPlan& plan, float* partials, int64_t begin,
               int64_t end);

// Folds the partials of the split pairs [begin, end) (of plan.split_pairs) into a.out.
void attention_merge(const AttentionArgs& a, Isa isa, const AttentionPlan& plan, const float* partials,
                     int64_t begin, int64_t end);

void attention_scalar(const AttentionArgs& a, const AttentionTile& tile, const AttentionPartials* part);
// AVX-512: over a bf16 cache, scores by vdpbf16ps where the CPU has
// AVX512_BF16 (attention_avx512_dots), else by widening as the AVX2 kernel.
void attention_avx512(const AttentionArgs& a, const AttentionTile& tile, const AttentionPartials* part);
void attention_avx512_widening(const AttentionArgs& a, const AttentionTile& tile, const AttentionPartials* part);
void attention_avx512_dots(const AttentionArgs& a, const AttentionTile& tile, const AttentionPartials* part);
void attention_avx2(const AttentionArgs& a, const AttentionTile& tile, const AttentionPartials* part);
// AMX-BF16 (attention_amx.cpp): where amx_attention_fits, which attention()
// then runs for every tile: a bf16 cache, qk_dim and v_dim multiples of 32,
// Isa::Amx on a CPU with AMX-BF16.
bool amx_attention_fits(const AttentionArgs& a, Isa isa);
void attention_amx(const AttentionArgs& a, const AttentionTile& tile, const AttentionPartials* part);

// Factors folding one chunk into a running result: sums = sums * keep + chunk * take.
struct ChunkMerge {
  float keep = 0.0f, take = 0.0f;
};

// Updates the running max m and sum l of a (token, head) with a chunk's max
// m_c and sum l_c (start from m = -inf, l = 0). Every kernel and the merge
// fold with this, so a chunk folds to the same bits wherever it was computed;
// the first chunk gets keep 0 and take exactly 1.
inline ChunkMerge merge_chunk(float& m, float& l, float m_c, float l_c) {
  const float m_new = m > m_c ? m : m_c;
  const ChunkMerge f{exp_approx(m - m_new), exp_approx(m_c - m_new)};
  l = std::fma(l_c, f.take, l * f.keep);
  m = m_new;
  return f;
}

// run[0 .. n) = run * f.keep + chunk * f.take per ISA: each element one
// multiply and one fused multiply-add, so every ISA's fold is the same bits
// as the kernels' own.
void attention_fold_avx512(float* run, const float* chunk, int64_t n, ChunkMerge f);
void attention_fold_avx2(float* run, const float* chunk, int64_t n, ChunkMerge f);

// Chunks of a context of n_ctx keys.
inline int64_t key_chunks(int64_t n_ctx) { return (n_ctx + kKeyChunk - 1) / kKeyChunk; }

// The cache row of position `pos` of sequence `seq` (block-table lookup),
// of elements T (float, or uint16_t for bf16).
template <class T>
inline const T* cache_row(const AttentionArgs& a, const void* cache, int64_t stride, int64_t seq, int64_t pos) {
  const int64_t block = a.block_tables[seq * a.max_blocks + pos / a.block_size];
  return static_cast<const T*>(cache) + (block * a.block_size + pos % a.block_size) * stride;
}

// A softmax numerator as the V sum over a cache of T takes it: rounded to
// bf16 over a bf16 cache (AttentionArgs); the chunk's sum is of the unrounded.
template <class T>
inline float numerator_value(float e) {
  if constexpr (std::is_same_v<T, uint16_t>) return bf16_to_f32(f32_to_bf16(e));
  return e;
}

// A cache element's float32 value (bf16 widens exactly).
inline float cache_value(float x) { return x; }
inline float cache_value(uint16_t x) { return bf16_to_f32(x); }

// A query element as the scores over a cache of T take it: rounded to bf16
// over a bf16 cache (AttentionArgs).
template <class T>
inline float query_value(float q) {
  if constexpr (std::is_same_v<T, uint16_t>) return bf16_to_f32(f32_to_bf16(q));
  return q;
}

}  // namespace dsinfer::kernels::cpu
