#include <cmath>
#include <type_traits>
#include <vector>

#include "core/error.h"

#include "kernels/reference/ops.h"

namespace dsinfer::kernels::ref {

void embed(const Weight& table, const int32_t* ids, float* out, int64_t begin, int64_t end) {
  Weight w = table;
  for (int64_t i = begin; i < end; ++i) {
    w.row0 = table.row0 + ids[i];
    dequant_row(w, 0, out + i * table.cols);
  }
}

void rms_norm(const NormArgs& a, int64_t begin, int64_t end) {
  for (int64_t t = begin; t < end; ++t) {
    const float* x = a.x + t * a.x_stride;
    float* y = a.y + t * a.y_stride;
    double ss = 0;
    for (int64_t i = 0; i < a.dim; ++i) ss += static_cast<double>(x[i]) * x[i];
    const float inv = 1.0f / std::sqrt(static_cast<float>(ss / static_cast<double>(a.dim)) + a.eps);
    for (int64_t i = 0; i < a.dim; ++i) y[i] = a.weight[i] * (x[i] * inv);
  }
}

// cos/sin of the float32 angle pos * inv_freq, as the reference frameworks
// compute it, so long positions round the same way; once per token for all
// its heads.
void rope(const RopeArgs& a, int64_t begin, int64_t end) {
  const int64_t half = a.rot_dim / 2;
  std::vector<float> cs(static_cast<size_t>(2 * half));  // [half] cos * mscale, then [half] sin * mscale
  for (int64_t t = begin; t < end; ++t) {
    const float pos = static_cast<float>(a.positions[t]);
    for (int64_t i = 0; i < half; ++i) {
      const float ang = pos * a.inv_freq[i];
      cs[static_cast<size_t>(i)] = std::cos(ang) * a.mscale;
      cs[static_cast<size_t>(half + i)] = std::sin(ang) * a.mscale;
    }
    for (int64_t h = 0; h < a.n_heads; ++h) {
      float* v = a.x + t * a.token_stride + h * a.head_stride + a.offset;
      for (int64_t i = 0; i < half; ++i) {
        const float c = cs[static_cast<size_t>(i)];
        const float s = cs[static_cast<size_t>(half + i)];
        const int64_t i0 = a.style == RopeStyle::NeoX ? i : 2 * i;
        const int64_t i1 = a.style == RopeStyle::NeoX ? i + half : 2 * i + 1;
        const float x0 = v[i0];
        const float x1 = v[i1];
        v[i0] = x0 * c - x1 * s;
        v[i1] = x1 * c + x0 * s;
      }
    }
  }
}

void silu_mul(const float* gate, const float* up, float* out, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    const float g = gate[i];
    out[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

void add(float* y, const float* x, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) y[i] += x[i];
}

namespace {
// One row of `dim` values from s (of type S) to d (of type D).
template <class S, class D>
void copy_row(const S* s, D* d, int64_t dim) {
  for (int64_t c = 0; c < dim; ++c) {
    if constexpr (std::is_same_v<S, D>) {
      d[c] = s[c];
    } else if constexpr (std::is_same_v<D, uint16_t>) {
      d[c] = f32_to_bf16(s[c]);
    } else {
      d[c] = bf16_to_f32(s[c]);
    }
  }
}

template <class S, class D>
void copy_rows_as(const RowCopyArgs& a, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    const int64_t si = a.src_idx ? a.src_idx[i] : i;
    const int64_t di = a.dst_idx ? a.dst_idx[i] : i;
    copy_row(static_cast<const S*>(a.src) + si * a.src_stride, static_cast<D*>(a.dst) + di * a.dst_stride, a.dim);
  }
}
}  // namespace

void check_row_copy(const RowCopyArgs& a) {
  for (DType t : {a.src_dtype, a.dst_dtype})
    if (t != DType::F32 && t != DType::BF16)
      fail("copy_rows: rows are F32 or BF16, not ", dtype_name(a.src_dtype), " -> ", dtype_name(a.dst_dtype));
}

void copy_rows(const RowCopyArgs& a, int64_t begin, int64_t end) {
  const bool src_bf16 = a.src_dtype == DType::BF16, dst_bf16 = a.dst_dtype == DType::BF16;
  if (src_bf16 && dst_bf16) return copy_rows_as<uint16_t, uint16_t>(a, begin, end);
  if (src_bf16) return copy_rows_as<uint16_t, float>(a, begin, end);
  if (dst_bf16) return copy_rows_as<float, uint16_t>(a, begin, end);
  copy_rows_as<float, float>(a, begin, end);
}

void scatter_add_rows(const ScatterAddArgs& a, int64_t row_begin, int64_t row_end) {
  for (int64_t i = 0; i < a.n; ++i) {
    if (a.idx[i] < row_begin || a.idx[i] >= row_end) continue;
    const float* s = a.src + i * a.src_stride;
    float* d = a.dst + a.idx[i] * a.dst_stride;
    const float w = a.weights[i];
    for (int64_t c = 0; c < a.dim; ++c) d[c] += w * s[c];
  }
}

void scatter_add(const ScatterAddArgs& a, int64_t begin, int64_t end) {
  for (int64_t i = 0; i < a.n; ++i) {
    const float* s = a.src + i * a.src_stride;
    float* d = a.dst + a.idx[i] * a.dst_stride;
    const float w = a.weights[i];
    for (int64_t c = begin; c < end; ++c) d[c] += w * s[c];
  }
}

}  // namespace dsinfer::kernels::ref
