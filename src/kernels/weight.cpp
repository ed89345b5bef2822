#include "kernels/weight.h"

#include "core/error.h"
#include "core/quant.h"
#include "kernels/packed.h"

namespace dsinfer::kernels {

size_t Weight::bytes() const {
  if (group_rows) return static_cast<size_t>(rows * packed::group_bytes(dtype, cols) / group_rows);
  return static_cast<size_t>(rows) * row_bytes(dtype, cols);
}

void dequant_row(const Weight& w, int64_t r, float* out) {
  if (w.group_rows) return packed::dequant_row(w, r, out);
  const int64_t row = w.row0 + r;
  const int64_t n = w.cols;
  switch (w.dtype) {
    case DType::F32: {
      const float* p = static_cast<const float*>(w.data) + row * n;
      for (int64_t c = 0; c < n; ++c) out[c] = p[c];
      return;
    }
    case DType::BF16: {
      const uint16_t* p = static_cast<const uint16_t*>(w.data) + row * n;
      for (int64_t c = 0; c < n; ++c) out[c] = bf16_to_f32(p[c]);
      return;
    }
    case DType::F16: {
      const uint16_t* p = static_cast<const uint16_t*>(w.data) + row * n;
      for (int64_t c = 0; c < n; ++c) out[c] = f16_to_f32(p[c]);
      return;
    }
    case DType::F8_E4M3: {
      const uint8_t* p = static_cast<const uint8_t*>(w.data) + row * n;
      const int64_t scale_cols = (n + w.block_cols - 1) / w.block_cols;
      const float* s = w.scale_inv + (row / w.block_rows) * scale_cols;
      for (int64_t c = 0; c < n; ++c) out[c] = fp8_e4m3_to_f32(p[c]) * s[c / w.block_cols];
      return;
    }
    case DType::Q8_0:
    case DType::Q4_0:
    case DType::Q5_0:
    case DType::Q4_K:
    case DType::Q5_K:
    case DType::Q6_K: {
      const size_t rb = row_bytes(w.dtype, n);
      dequantize_row(w.dtype, static_cast<const uint8_t*>(w.data) + rb * static_cast<size_t>(row), n, out);
      return;
    }
    default:
      fail("weight dtype ", dtype_name(w.dtype), " is not supported by the matrix kernels");
  }
}

}  // namespace dsinfer::kernels
