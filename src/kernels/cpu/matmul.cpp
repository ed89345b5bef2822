#include "kernels/cpu/matmul.h"

#include <vector>

#include "kernels/reference/ops.h"

namespace dsinfer::kernels::cpu {

float dot(const float* a, const float* b, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += a[i + j] * b[i + j];
  float tail = 0;
  for (; i < n; ++i) tail += a[i] * b[i];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail;
}

namespace {

void matmul_nt(const MatmulArgs& a, int64_t begin, int64_t end) {
  const Weight& w = *a.w;
  thread_local std::vector<float> row;
  row.resize(static_cast<size_t>(w.cols));
  const bool direct = w.dtype == DType::F32 && w.row0 == 0;
  for (int64_t r = begin; r < end; ++r) {
    const float* wr = row.data();
    if (direct)
      wr = static_cast<const float*>(w.data) + r * w.cols;
    else
      dequant_row(w, r, row.data());
    const float b = a.bias ? a.bias[r] : 0.0f;
    for (int64_t t = 0; t < a.n; ++t) a.y[t * a.y_stride + r] = dot(a.x + t * a.x_stride, wr, w.cols) + b;
  }
}

}  // namespace

void matmul(const MatmulArgs& a, int64_t begin, int64_t end) {
  if (a.transpose_w)
    ref::matmul(a, begin, end);  // only MLA's absorbed query uses it; small
  else
    matmul_nt(a, begin, end);
}

}  // namespace dsinfer::kernels::cpu
