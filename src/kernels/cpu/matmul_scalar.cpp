// Scalar kernels: the float types dequantize a weight row and take float dot
// products; the integer types are the scalar twins of the SIMD kernels
// (quantized activations, exact integer block dots, f32 block scales).
#include <cstddef>
#include <cstring>
#include <type_traits>
#include <vector>

#include "core/quant.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/matmul_kernels.h"

namespace dsinfer::kernels::cpu {

namespace {

void float_rows(const MatmulJob& job, int64_t begin, int64_t end) {
  const MatmulArgs& a = *job.a;
  const Weight& w = *a.w;
  thread_local std::vector<float> row;
  row.resize(static_cast<size_t>(w.cols));
  for (int64_t r = begin; r < end; ++r) {
    const float* wr = row.data();
    if (w.dtype == DType::F32)
      wr = static_cast<const float*>(w.data) + (w.row0 + r) * w.cols;
    else
      dequant_row(w, r, row.data());
    const float b = a.bias ? a.bias[r] : 0.0f;
    for (int64_t t = 0; t < a.n; ++t) a.y[t * a.y_stride + r] = dot(a.x + t * a.x_stride, wr, w.cols) + b;
  }
}

float load_half(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return half_to_float(h);
}

float dot_q8_0(const uint8_t* wr, const QuantAct& act, int64_t t, int64_t nb) {
  const int8_t* aq = act.q_row(t);
  const float* ad = act.d_row(t);
  float acc = 0;
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* blk = wr + b * static_cast<int64_t>(sizeof(BlockQ8_0));
    const int8_t* a = aq + b * kActBlock;
    int32_t sum = 0;
    for (int i = 0; i < 32; ++i) sum += static_cast<int8_t>(blk[2 + i]) * a[i];
    acc += static_cast<float>(sum) * (load_half(blk) * ad[b]);
  }
  return acc;
}

// Q4_0 (value d (q - 8)) or Q5_0 (Five: d (q - 16), the fifth bits in qh).
template <bool Five>
float dot_block32(const uint8_t* wr, const QuantAct& act, int64_t t, int64_t nb) {
  using Block = std::conditional_t<Five, BlockQ5_0, BlockQ4_0>;
  const int8_t* aq = act.q_row(t);
  const float* ad = act.d_row(t);
  const int32_t* as = act.s_row(t);
  float acc = 0;
  for (int64_t b = 0; b < nb; ++b) {
    Block blk;
    std::memcpy(&blk, wr + b * static_cast<int64_t>(sizeof(Block)), sizeof(blk));
    const int8_t* a = aq + b * kActBlock;
    int32_t sum = 0;
    for (int i = 0; i < 32; ++i) {
      if constexpr (Five)
        sum += q5_0_code(blk, i) * a[i];
      else
        sum += (i < 16 ? blk.qs[i] & 0xf : blk.qs[i - 16] >> 4) * a[i];
    }
    acc += static_cast<float>(sum - (Five ? 16 : 8) * as[b]) * (half_to_float(blk.d) * ad[b]);
  }
  return acc;
}

// Q4_K, or Q5_K (Five) with a fifth bit per code from qh.
template <bool Five>
float dot_k(const uint8_t* wr, const QuantAct& act, int64_t t, int64_t nsb) {
  using Block = std::conditional_t<Five, BlockQ5_K, BlockQ4_K>;
  const int8_t* aq = act.q_row(t);
  const float* ad = act.d_row(t);
  const float* afs = act.fs_row(t);
  float acc = 0;
  for (int64_t sb = 0; sb < nsb; ++sb) {
    const uint8_t* blk = wr + sb * static_cast<int64_t>(sizeof(Block));
    const float d = load_half(blk), dmin = load_half(blk + 2);
    const uint8_t* scales = blk + offsetof(Block, scales);
    const uint8_t* qs = blk + offsetof(Block, qs);
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      q4k_scale_min(j, scales, &sc, &m);
      const uint8_t* q = qs + 32 * (j / 2);
      const int shift = 4 * (j & 1);
      const int8_t* a = aq + (sb * 8 + j) * kActBlock;
      int32_t sum = 0;
      for (int i = 0; i < 32; ++i) {
        int code = (q[i] >> shift) & 0xf;
        if constexpr (Five) code |= ((blk[offsetof(BlockQ5_K, qh) + i] >> j) & 1) << 4;
        sum += code * a[i];
      }
      acc += static_cast<float>(sum) * (d * static_cast<float>(sc) * ad[sb * 8 + j]);
      acc -= dmin * static_cast<float>(m) * afs[sb * 8 + j];
    }
  }
  return acc;
}

// Span-8 activations (one d per super-block): the super-block's products sum
// exactly in int32, sub-block by sub-block times its scale, then one float
// multiply-add per super-block, as the SIMD kernels do.
float dot_q6_k(const uint8_t* wr, const QuantAct& act, int64_t t, int64_t nsb) {
  const int8_t* aq = act.q_row(t);
  const float* ad = act.d_row(t);
  float acc = 0;
  for (int64_t sb = 0; sb < nsb; ++sb) {
    BlockQ6_K blk;
    std::memcpy(&blk, wr + sb * static_cast<int64_t>(sizeof(BlockQ6_K)), sizeof(blk));
    const int8_t* a = aq + sb * kQ6_KElems;
    int32_t sum = 0;
    for (int j = 0; j < 16; ++j) {
      int32_t s = 0;
      for (int v = 16 * j; v < 16 * j + 16; ++v) s += (q6k_code(blk, v) - 32) * a[v];
      sum += blk.scales[j] * s;
    }
    acc += static_cast<float>(sum) * (half_to_float(blk.d) * ad[sb * kSuperSpan]);
  }
  return acc;
}

template <float (*Dot)(const uint8_t*, const QuantAct&, int64_t, int64_t)>
void int_rows(const MatmulJob& job, int64_t begin, int64_t end) {
  const MatmulArgs& a = *job.a;
  const Weight& w = *a.w;
  const size_t rb = row_bytes(w.dtype, w.cols);
  const int64_t nblocks = w.cols / block_elems(w.dtype);
  for (int64_t r = begin; r < end; ++r) {
    const uint8_t* wr = static_cast<const uint8_t*>(w.data) + rb * static_cast<size_t>(w.row0 + r);
    const float b = a.bias ? a.bias[r] : 0.0f;
    for (int64_t t = 0; t < a.n; ++t) a.y[t * a.y_stride + r] = Dot(wr, *job.act, t, nblocks) + b;
  }
}

}  // namespace

RowsFn scalar_rows_fn(const Weight& w) {
  switch (w.dtype) {
    case DType::Q8_0:
      return int_rows<dot_q8_0>;
    case DType::Q4_0:
      return int_rows<dot_block32<false>>;
    case DType::Q5_0:
      return int_rows<dot_block32<true>>;
    case DType::Q4_K:
      return int_rows<dot_k<false>>;
    case DType::Q5_K:
      return int_rows<dot_k<true>>;
    case DType::Q6_K:
      return int_rows<dot_q6_k>;
    default:
      return float_rows;
  }
}

}  // namespace dsinfer::kernels::cpu
