// Paged causal attention on the CPU: scores q.k for each query's whole
// context, one softmax pass with a vectorized exp, then the weighted sum of V
// rows. The same code serves grouped-query attention and MLA's absorbed form
// (one latent cache as K and V, v_dim < qk_dim). Work is cut into tiles of
// query tokens of one sequence and query heads of one KV head, which read the
// same K/V rows: the AVX-512 kernel walks a tile's keys block by block so each
// block comes from memory once for the whole tile. Every (token, head) still
// gets exactly the operations it gets alone, so results do not depend on the
// tiles or on what else is in the batch. The AVX-512 and AVX2 kernels are one
// template (attention_tiled.inc); the scalar twin has the same passes.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/backend.h"
#include "kernels/cpu/exp_consts.h"  // exp_approx
#include "kernels/cpu/isa.h"

namespace dsinfer::kernels::cpu {

// Tokens [t0, t1) (consecutive in the batch, one sequence) x query heads
// [h0, h1) (one KV head's).
struct AttentionTile {
  int64_t t0 = 0, t1 = 0, h0 = 0, h1 = 0;
};

// Tiles of up to 8 tokens x a KV head's query heads, halved (heads first)
// until there are at least `min_tiles` when the batch allows it.
std::vector<AttentionTile> attention_tiles(const AttentionArgs& a, int64_t min_tiles);

// tiles[begin, end).
void attention(const AttentionArgs& a, Isa isa, const AttentionTile* tiles, int64_t begin, int64_t end);

void attention_scalar(const AttentionArgs& a, const AttentionTile& tile);
void attention_avx512(const AttentionArgs& a, const AttentionTile& tile);
void attention_avx2(const AttentionArgs& a, const AttentionTile& tile);  // the same kernel, 8 lanes

// The cache row of position `pos` of sequence `seq` (block-table lookup).
inline const float* cache_row(const AttentionArgs& a, const float* cache, int64_t stride, int64_t seq, int64_t pos) {
  const int64_t block = a.block_tables[seq * a.max_blocks + pos / a.block_size];
  return cache + (block * a.block_size + pos % a.block_size) * stride;
}

}  // namespace dsinfer::kernels::cpu
