// A weight matrix as the checkpoint stores it, viewed in place (never copied).
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace dsinfer::kernels {

// Rows [row0, row0 + rows) of a stored row-major matrix [stored_rows, cols]
// (out_features x in_features, as nn.Linear). `data` points at the stored
// matrix's first row, so a view of some rows (one head of kv_b_proj) keeps
// addressing the FP8 block scales of the whole matrix correctly.
struct Weight {
  DType dtype = DType::F32;
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t row0 = 0;
  const void* data = nullptr;
  // F8_E4M3 only: scale_inv[ceil(stored_rows / block_rows), ceil(cols / block_cols)], f32.
  const float* scale_inv = nullptr;
  int64_t block_rows = 0;
  int64_t block_cols = 0;
  // 16 when a CPU backend repacked a Q4_K / Q8_0 matrix into row groups
  // (packed.h); row0 and rows still count matrix rows.
  int64_t group_rows = 0;
  // A packed copy may be cut into equal stripes of stripe_groups groups, each
  // stripe stripe_bytes after the one before (host_arena.h: decode tiles read
  // one group of several stripes at once, and those streams read faster when they
  // lie a multiple of 32 MB apart); 0: the groups are consecutive.
  int64_t stripe_groups = 0;
  int64_t stripe_bytes = 0;

  // The same matrix restricted to rows [row0 + first, row0 + first + n).
  Weight slice_rows(int64_t first, int64_t n) const {
    Weight w = *this;
    w.row0 = row0 + first;
    w.rows = n;
    return w;
  }
  size_t bytes() const;
};

// Dequantizes row r of the view (0-based within the view) into out[0..cols).
void dequant_row(const Weight& w, int64_t r, float* out);

}  // namespace dsinfer::kernels
