#include <cmath>
#include <vector>

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

void copy_rows(const RowCopyArgs& a, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    const int64_t si = a.src_idx ? a.src_idx[i] : i;
    const int64_t di = a.dst_idx ? a.dst_idx[i] : i;
    const float* s = a.src + si * a.src_stride;
    float* d = a.dst + di * a.dst_stride;
    for (int64_t c = 0; c < a.dim; ++c) d[c] = s[c];
  }
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
