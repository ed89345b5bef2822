// Paged causal attention on the CPU for (token, head) pairs: scores q.k for
// the query's whole context, one softmax pass with a vectorized exp, then the
// weighted sum of V rows. The same code serves grouped-query attention and
// MLA's absorbed form (one latent cache as K and V, v_dim < qk_dim). Each
// (token, head) is computed on its own, so results do not depend on what else
// is in the batch. The AVX-512 kernel has a scalar twin with the same passes.
#pragma once

#include <cstdint>

#include "kernels/backend.h"
#include "kernels/cpu/isa.h"

namespace dsinfer::kernels::cpu {

// Pairs th in [begin, end): token th / n_heads, head th % n_heads.
void attention(const AttentionArgs& a, Isa isa, int64_t begin, int64_t end);

void attention_scalar(const AttentionArgs& a, int64_t begin, int64_t end);
void attention_avx512(const AttentionArgs& a, int64_t begin, int64_t end);

// e^x in float by range reduction to 2^n e^r, |r| <= ln2 / 2, and a degree-6
// polynomial (about 1 ulp); exact 1 at 0, 0 below -104. The SIMD kernels use
// the same constants.
float exp_approx(float x);

// The cache row of position `pos` of sequence `seq` (block-table lookup).
inline const float* cache_row(const AttentionArgs& a, const float* cache, int64_t stride, int64_t seq, int64_t pos) {
  const int64_t block = a.block_tables[seq * a.max_blocks + pos / a.block_size];
  return cache + (block * a.block_size + pos % a.block_size) * stride;
}

}  // namespace dsinfer::kernels::cpu
