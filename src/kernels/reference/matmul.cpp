#include <vector>

#include "kernels/reference/ops.h"

namespace dsinfer::kernels::ref {

namespace {

// y[:, r] = x . W[r, :] + b[r] for rows r in [begin, end); double accumulation
// keeps the oracle's own rounding far below any kernel's tolerance.
void matmul_nt(const MatmulArgs& a, int64_t begin, int64_t end) {
  const Weight& w = *a.w;
  std::vector<float> row(static_cast<size_t>(w.cols));
  for (int64_t r = begin; r < end; ++r) {
    dequant_row(w, r, row.data());
    for (int64_t t = 0; t < a.n; ++t) {
      const float* x = a.x + t * a.x_stride;
      double acc = 0;
      for (int64_t c = 0; c < w.cols; ++c) acc += static_cast<double>(x[c]) * row[static_cast<size_t>(c)];
      if (a.bias) acc += a.bias[r];
      a.y[t * a.y_stride + r] = static_cast<float>(acc);
    }
  }
}

// y[:, c] = sum_r x[:, r] W[r, c] for columns c in [begin, end).
void matmul_t(const MatmulArgs& a, int64_t begin, int64_t end) {
  const Weight& w = *a.w;
  const int64_t width = end - begin;
  std::vector<float> row(static_cast<size_t>(w.cols));
  std::vector<double> acc(static_cast<size_t>(a.n * width), 0.0);
  for (int64_t r = 0; r < w.rows; ++r) {
    dequant_row(w, r, row.data());
    for (int64_t t = 0; t < a.n; ++t) {
      const double xv = a.x[t * a.x_stride + r];
      double* dst = acc.data() + t * width;
      for (int64_t c = 0; c < width; ++c) dst[c] += xv * row[static_cast<size_t>(begin + c)];
    }
  }
  for (int64_t t = 0; t < a.n; ++t)
    for (int64_t c = 0; c < width; ++c) {
      double v = acc[static_cast<size_t>(t * width + c)];
      if (a.bias) v += a.bias[begin + c];
      a.y[t * a.y_stride + begin + c] = static_cast<float>(v);
    }
}

}  // namespace

void matmul(const MatmulArgs& a, int64_t begin, int64_t end) {
  if (a.transpose_w)
    matmul_t(a, begin, end);
  else
    matmul_nt(a, begin, end);
}

}  // namespace dsinfer::kernels::ref
