#include "kernels/cpu/matmul.h"

#include <algorithm>

#include "core/quant.h"
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

RowsFn select_rows_fn(Isa isa, const Weight& w) {
  if (w.group_rows) return w.dtype == DType::Q4_K ? q4kx16_rows_fn(isa) : q8x16_rows_fn(isa);
  RowsFn f = nullptr;
  if (isa == Isa::Avx512) f = avx512_rows_fn(w);
  if (!f && (isa == Isa::Avx512 || isa == Isa::Avx2)) f = avx2_rows_fn(w);
  return f ? f : scalar_rows_fn(w);
}

void matmul(const MatmulArgs& a, Isa isa, ThreadPool& pool, QuantAct& act) {
  if (a.transpose_w) {  // only MLA's absorbed query uses it; small
    pool.parallel_for(ref::matmul_out_dim(a), [&](int64_t b, int64_t e) { ref::matmul(a, b, e); }, 16);
    return;
  }
  const Weight& w = *a.w;
  MatmulJob job{&a, nullptr};
  if (is_block_quant(w.dtype) && a.n > 0) {
    act.resize(a.n, w.cols);
    pool.parallel_for(a.n, [&](int64_t b, int64_t e) { quantize_act(isa, a.x, a.x_stride, b, e, act); }, 4);
    job.act = &act;
  }
  const RowsFn f = select_rows_fn(isa, w);
  if (w.group_rows) {  // whole row groups per thread: view row r is matrix row row0 + r
    const int64_t off = w.row0 % w.group_rows;
    const int64_t groups = (off + w.rows + w.group_rows - 1) / w.group_rows;
    pool.parallel_for(groups, [&](int64_t b, int64_t e) {
      f(job, std::max<int64_t>(0, b * w.group_rows - off), std::min(w.rows, e * w.group_rows - off));
    });
    return;
  }
  pool.parallel_for(w.rows, [&](int64_t b, int64_t e) { f(job, b, e); }, 16);
}

void matmul(const MatmulArgs& a, int64_t begin, int64_t end) {
  if (a.transpose_w) return ref::matmul(a, begin, end);
  static const Isa isa = best_isa();
  const Weight& w = *a.w;
  thread_local QuantAct act;
  MatmulJob job{&a, nullptr};
  if (is_block_quant(w.dtype) && a.n > 0) {
    act.resize(a.n, w.cols);
    quantize_act(isa, a.x, a.x_stride, 0, a.n, act);
    job.act = &act;
  }
  select_rows_fn(isa, w)(job, begin, end);
}

}  // namespace dsinfer::kernels::cpu
