// Scalar reference kernels: plain C++, the oracle every SIMD or GPU kernel is
// tested against. Each op takes a sub-range of its natural parallel dimension
// so that a threaded backend can reuse it unchanged for the ops it does not
// specialise.
#pragma once

#include <cstdint>

#include "kernels/backend.h"

namespace dsinfer::kernels::ref {

void embed(const Weight& table, const int32_t* ids, float* out, int64_t begin, int64_t end);
// Output columns [begin, end) of y (rows of W when not transposed).
void matmul(const MatmulArgs& a, int64_t begin, int64_t end);
void rms_norm(const NormArgs& a, int64_t begin, int64_t end);  // rows
void rope(const RopeArgs& a, int64_t begin, int64_t end);      // tokens
void silu_mul(const float* gate, const float* up, float* out, int64_t begin, int64_t end);
void add(float* y, const float* x, int64_t begin, int64_t end);
void attention(const AttentionArgs& a, int64_t begin, int64_t end);  // (token, head) pairs: t * n_heads + h
void copy_rows(const RowCopyArgs& a, int64_t begin, int64_t end);
// Throws unless the caches are F32 or BF16.
void check_attention(const AttentionArgs& a);
// Throws unless both sides of the copy are F32 or BF16 (before any thread starts).
void check_row_copy(const RowCopyArgs& a);
void scatter_add(const ScatterAddArgs& a, int64_t begin, int64_t end);  // columns, so repeated idx never race
// The same sums for destination rows [row_begin, row_end) (every source row
// whose idx falls there, in source order: the same additions per element as
// scatter_add), reading whole source rows.
void scatter_add_rows(const ScatterAddArgs& a, int64_t row_begin, int64_t row_end);
void moe_route(const MoeRouteArgs& a, int64_t begin, int64_t end);      // tokens

// Output width of a matmul: rows of W, or its columns when transposed.
inline int64_t matmul_out_dim(const MatmulArgs& a) { return a.transpose_w ? a.w->cols : a.w->rows; }
inline int64_t matmul_in_dim(const MatmulArgs& a) { return a.transpose_w ? a.w->rows : a.w->cols; }

}  // namespace dsinfer::kernels::ref
