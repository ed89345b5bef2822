#include "core/quant.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"

namespace dsinfer {

bool is_block_quant(DType t) {
  return t == DType::Q8_0 || t == DType::Q4_0 || t == DType::Q5_0 || t == DType::Q4_K || t == DType::Q5_K ||
         t == DType::Q6_K;
}

int64_t block_elems(DType t) {
  switch (t) {
    case DType::Q8_0:
      return kQ8_0Elems;
    case DType::Q4_0:
      return kQ4_0Elems;
    case DType::Q5_0:
      return kQ5_0Elems;
    case DType::Q4_K:
      return kQ4_KElems;
    case DType::Q6_K:
      return kQ6_KElems;
    case DType::Q5_K:
      return kQ5_KElems;
    default:
      return 1;
  }
}

DType fit_block_type(DType want, int64_t cols) {
  if (!is_block_quant(want) || cols % block_elems(want) == 0) return want;
  if (cols % kQ8_0Elems != 0) return DType::BF16;
  return want == DType::Q4_K ? DType::Q5_0 : DType::Q8_0;
}

size_t block_bytes(DType t) {
  switch (t) {
    case DType::Q8_0:
      return sizeof(BlockQ8_0);
    case DType::Q4_0:
      return sizeof(BlockQ4_0);
    case DType::Q5_0:
      return sizeof(BlockQ5_0);
    case DType::Q4_K:
      return sizeof(BlockQ4_K);
    case DType::Q6_K:
      return sizeof(BlockQ6_K);
    case DType::Q5_K:
      return sizeof(BlockQ5_K);
    default:
      return dtype_size(t);
  }
}

size_t row_bytes(DType t, int64_t cols) {
  const int64_t be = block_elems(t);
  if (cols < 0 || cols % be != 0)
    fail("a row of ", cols, " values cannot be stored as ", dtype_name(t), " (needs a multiple of ", be, ")");
  return static_cast<size_t>(cols / be) * block_bytes(t);
}

void q4k_pack_scales(const uint8_t* sc, const uint8_t* m, uint8_t* out) {
  for (int j = 0; j < 4; ++j) {
    out[j] = static_cast<uint8_t>((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
    out[j + 4] = static_cast<uint8_t>((m[j] & 63) | ((m[j + 4] >> 4) << 6));
    out[j + 8] = static_cast<uint8_t>((sc[j + 4] & 0xf) | ((m[j + 4] & 0xf) << 4));
  }
}

namespace {

float inverse(float d) { return d != 0.0f ? 1.0f / d : 0.0f; }

// round(v) limited to [lo, hi]; NaN goes to hi (fmin/fmax, so the cast stays defined).
float round_clamp(float v, float lo, float hi) { return std::fmax(lo, std::fmin(hi, std::nearbyint(v))); }

void quantize_q8_0(const float* x, int64_t n, BlockQ8_0* out) {
  for (int64_t b = 0; b < n / kQ8_0Elems; ++b) {
    const float* v = x + b * kQ8_0Elems;
    float amax = 0;
    for (int i = 0; i < kQ8_0Elems; ++i) amax = std::max(amax, std::fabs(v[i]));
    out[b].d = f32_to_f16(amax / 127.0f);
    const float id = inverse(half_to_float(out[b].d));  // quantize with the stored scale
    for (int i = 0; i < kQ8_0Elems; ++i)
      out[b].qs[i] = static_cast<int8_t>(round_clamp(v[i] * id, -127.0f, 127.0f));
  }
}

// The value of largest magnitude, sign kept (the first of equals).
float signed_max(const float* v, int n) {
  float amax = 0, max = 0;
  for (int i = 0; i < n; ++i)
    if (std::fabs(v[i]) > amax) {
      amax = std::fabs(v[i]);
      max = v[i];
    }
  return max;
}

void quantize_q4_0(const float* x, int64_t n, BlockQ4_0* out) {
  for (int64_t b = 0; b < n / kQ4_0Elems; ++b) {
    const float* v = x + b * kQ4_0Elems;
    out[b].d = f32_to_f16(signed_max(v, kQ4_0Elems) / -8.0f);
    const float id = inverse(half_to_float(out[b].d));
    uint8_t q[kQ4_0Elems];
    for (int i = 0; i < kQ4_0Elems; ++i)
      q[i] = static_cast<uint8_t>(std::fmax(0.0f, std::fmin(15.0f, std::nearbyint(v[i] * id) + 8.0f)));
    for (int i = 0; i < 16; ++i) out[b].qs[i] = static_cast<uint8_t>(q[i] | (q[i + 16] << 4));
  }
}

// llama.cpp's Q5_0 rounding: d = the value of largest magnitude / -16, codes round(x / d) + 16 in [0, 31].
void quantize_q5_0(const float* x, int64_t n, BlockQ5_0* out) {
  for (int64_t b = 0; b < n / kQ5_0Elems; ++b) {
    const float* v = x + b * kQ5_0Elems;
    out[b].d = f32_to_f16(signed_max(v, kQ5_0Elems) / -16.0f);
    const float id = inverse(half_to_float(out[b].d));
    uint32_t qh = 0;
    for (int i = 0; i < 16; ++i) {
      const auto q0 = static_cast<uint32_t>(round_clamp(v[i] * id + 16.0f, 0.0f, 31.0f));
      const auto q1 = static_cast<uint32_t>(round_clamp(v[i + 16] * id + 16.0f, 0.0f, 31.0f));
      out[b].qs[i] = static_cast<uint8_t>((q0 & 0xf) | ((q1 & 0xf) << 4));
      qh |= ((q0 >> 4) << i) | ((q1 >> 4) << (i + 16));
    }
    std::memcpy(out[b].qh, &qh, 4);
  }
}

// Least-squares fit of x ~ scale * q - off over one sub-block of 32, with
// q in [0, qmax] (15: Q4_K, 31: Q5_K), scale >= 0 and off >= 0 (ranges
// always include 0 from below).
struct Fit {
  float scale = 0, off = 0;
};

float fit_error(const float* x, Fit f, float qmax) {
  const float id = inverse(f.scale);
  float err = 0;
  for (int i = 0; i < 32; ++i) {
    const float q = round_clamp((x[i] + f.off) * id, 0.0f, qmax);
    const float e = f.scale * q - f.off - x[i];
    err += e * e;
  }
  return err;
}

Fit refit(const float* x, Fit f, float qmax) {
  const float id = inverse(f.scale);
  double sq = 0, sqq = 0, sx = 0, sqx = 0;
  for (int i = 0; i < 32; ++i) {
    const double q = round_clamp((x[i] + f.off) * id, 0.0f, qmax);
    sq += q;
    sqq += q * q;
    sx += x[i];
    sqx += q * x[i];
  }
  const double det = 32 * sqq - sq * sq;
  if (det <= 0) return f;
  Fit g;
  double scale = (32 * sqx - sq * sx) / det;
  double off = -(sx - scale * sq) / 32;
  if (off < 0) {  // the fit wants a positive offset: pin it to zero
    off = 0;
    scale = sqq > 0 ? sqx / sqq : 0;
  }
  if (scale <= 0) return f;
  g.scale = static_cast<float>(scale);
  g.off = static_cast<float>(off);
  return g;
}

Fit fit_sub_block(const float* x, float qmax) {
  float mn = 0, mx = x[0];
  for (int i = 0; i < 32; ++i) {
    mn = std::min(mn, x[i]);
    mx = std::max(mx, x[i]);
  }
  Fit best{(mx - mn) / qmax, -mn};
  if (best.scale <= 0) return {0.0f, -mn};
  float best_err = fit_error(x, best, qmax);
  Fit f = best;
  for (int it = 0; it < 6; ++it) {
    f = refit(x, f, qmax);
    const float err = fit_error(x, f, qmax);
    if (err < best_err) {
      best_err = err;
      best = f;
    }
  }
  return best;
}

uint8_t to_6bit(float v, float unit) { return static_cast<uint8_t>(round_clamp(v * inverse(unit), 0.0f, 63.0f)); }

// Q4_K / Q5_K: the sub-blocks' fits, their scales and mins as 6-bit
// multiples of d and dmin, and the codes q[256] in [0, qmax].
template <class Block>
void quantize_k_block(const float* x, float qmax, Block* out, uint8_t* q) {
  Fit fits[8];
  float max_scale = 0, max_off = 0;
  for (int j = 0; j < 8; ++j) {
    fits[j] = fit_sub_block(x + 32 * j, qmax);
    max_scale = std::max(max_scale, fits[j].scale);
    max_off = std::max(max_off, fits[j].off);
  }
  out->d = f32_to_f16(max_scale / 63.0f);
  out->dmin = f32_to_f16(max_off / 63.0f);
  const float d = half_to_float(out->d), dmin = half_to_float(out->dmin);
  uint8_t sc[8], m[8];
  for (int j = 0; j < 8; ++j) {
    sc[j] = to_6bit(fits[j].scale, d);
    m[j] = to_6bit(fits[j].off, dmin);
  }
  q4k_pack_scales(sc, m, out->scales);
  for (int j = 0; j < 8; ++j) {
    const float s = d * sc[j], off = dmin * m[j], id = inverse(s);
    for (int i = 0; i < 32; ++i) q[32 * j + i] = static_cast<uint8_t>(round_clamp((x[32 * j + i] + off) * id, 0.0f, qmax));
  }
}

// The low nibbles of codes q[256] as Q4_K and Q5_K store them.
void pack_nibbles(const uint8_t* q, uint8_t* qs) {
  for (int c = 0; c < 4; ++c)
    for (int i = 0; i < 32; ++i) qs[32 * c + i] = static_cast<uint8_t>((q[64 * c + i] & 0xf) | ((q[64 * c + 32 + i] & 0xf) << 4));
}

void quantize_q4_k_block(const float* x, BlockQ4_K* out) {
  uint8_t q[256];
  quantize_k_block(x, 15.0f, out, q);
  pack_nibbles(q, out->qs);
}

void quantize_q5_k_block(const float* x, BlockQ5_K* out) {
  uint8_t q[256];
  quantize_k_block(x, 31.0f, out, q);
  pack_nibbles(q, out->qs);
  std::memset(out->qh, 0, sizeof(out->qh));
  for (int j = 0; j < 8; ++j)
    for (int i = 0; i < 32; ++i) out->qh[i] = static_cast<uint8_t>(out->qh[i] | ((q[32 * j + i] >> 4) << j));
}

// Scale s of x ~ s * q over a Q6_K sub-block of 16 values, q in [-32, 31]:
// the value of largest magnitude starts at -32 (the wider side), then
// least-squares refits of s to the codes it gives; the lowest squared error wins.
float q6_error(const float* x, float s) {
  const float id = inverse(s);
  float err = 0;
  for (int i = 0; i < 16; ++i) {
    const float e = s * round_clamp(x[i] * id, -32.0f, 31.0f) - x[i];
    err += e * e;
  }
  return err;
}

float fit_q6_sub_block(const float* x) {
  float amax = 0, max = 0;
  for (int i = 0; i < 16; ++i)
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  float best = max / -32.0f, best_err = q6_error(x, best), s = best;
  for (int it = 0; it < 4 && s != 0.0f; ++it) {
    const float id = inverse(s);
    double sqx = 0, sqq = 0;
    for (int i = 0; i < 16; ++i) {
      const double q = round_clamp(x[i] * id, -32.0f, 31.0f);
      sqx += q * x[i];
      sqq += q * q;
    }
    if (sqq <= 0) break;
    s = static_cast<float>(sqx / sqq);
    const float err = q6_error(x, s);
    if (err < best_err) {
      best_err = err;
      best = s;
    }
  }
  return best;
}

// The sub-block scales become int8 multiples of one f16 d (the largest at
// -128), and the codes are taken against the scales as stored. A small scale
// rounded down would clip its sub-block's extremes (sc = 3 read as 2.5 clips
// the largest value by a sixth), so it is rounded down only where that fits
// the sub-block better than rounding away from zero.
int8_t q6_int_scale(const float* x, float s, float d) {
  const float t = s * inverse(d);
  const float near = round_clamp(t, -128.0f, 127.0f);
  const float away = round_clamp(std::copysign(std::ceil(std::fabs(t)), t), -128.0f, 127.0f);
  return static_cast<int8_t>(q6_error(x, d * away) < q6_error(x, d * near) ? away : near);
}

void quantize_q6_k_block(const float* x, BlockQ6_K* out) {
  float s[16], max = 0;
  for (int j = 0; j < 16; ++j) {
    s[j] = fit_q6_sub_block(x + 16 * j);
    if (std::fabs(s[j]) > std::fabs(max)) max = s[j];
  }
  out->d = f32_to_f16(max / -128.0f);
  const float d = half_to_float(out->d);
  std::memset(out->ql, 0, sizeof(out->ql));
  std::memset(out->qh, 0, sizeof(out->qh));
  for (int j = 0; j < 16; ++j) {
    out->scales[j] = q6_int_scale(x + 16 * j, s[j], d);
    const float isd = inverse(d * out->scales[j]);
    for (int v = 16 * j; v < 16 * j + 16; ++v) {
      q6k_or_code(*out, v, static_cast<int>(round_clamp(x[v] * isd, -32.0f, 31.0f)) + 32);
    }
  }
}

void dequantize_q6_k(const BlockQ6_K* in, int64_t n, float* out) {
  for (int64_t b = 0; b < n / kQ6_KElems; ++b) {
    const float d = half_to_float(in[b].d);
    for (int v = 0; v < kQ6_KElems; ++v)
      out[b * kQ6_KElems + v] = d * static_cast<float>(in[b].scales[v / 16]) * static_cast<float>(q6k_code(in[b], v) - 32);
  }
}

void dequantize_q8_0(const BlockQ8_0* in, int64_t n, float* out) {
  for (int64_t b = 0; b < n / kQ8_0Elems; ++b) {
    const float d = half_to_float(in[b].d);
    for (int i = 0; i < kQ8_0Elems; ++i) out[b * kQ8_0Elems + i] = d * static_cast<float>(in[b].qs[i]);
  }
}

void dequantize_q4_0(const BlockQ4_0* in, int64_t n, float* out) {
  for (int64_t b = 0; b < n / kQ4_0Elems; ++b) {
    const float d = half_to_float(in[b].d);
    float* o = out + b * kQ4_0Elems;
    for (int i = 0; i < 16; ++i) {
      o[i] = d * static_cast<float>((in[b].qs[i] & 0xf) - 8);
      o[i + 16] = d * static_cast<float>((in[b].qs[i] >> 4) - 8);
    }
  }
}

void dequantize_q5_0(const BlockQ5_0* in, int64_t n, float* out) {
  for (int64_t b = 0; b < n / kQ5_0Elems; ++b) {
    const float d = half_to_float(in[b].d);
    float* o = out + b * kQ5_0Elems;
    for (int i = 0; i < kQ5_0Elems; ++i) o[i] = d * static_cast<float>(q5_0_code(in[b], i) - 16);
  }
}

// Q4_K, or Q5_K with its fifth bits (qh non-null).
template <class Block>
void dequantize_k(const Block* in, int64_t n, float* out) {
  for (int64_t b = 0; b < n / 256; ++b) {
    const Block& blk = in[b];
    const float d = half_to_float(blk.d), dmin = half_to_float(blk.dmin);
    float* o = out + b * 256;
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      q4k_scale_min(j, blk.scales, &sc, &m);
      const float s = d * sc, off = dmin * m;
      const uint8_t* q = blk.qs + 32 * (j / 2);
      for (int i = 0; i < 32; ++i) {
        int code = j % 2 ? q[i] >> 4 : q[i] & 0xf;
        if constexpr (sizeof(Block) == sizeof(BlockQ5_K)) code |= ((blk.qh[i] >> j) & 1) << 4;
        o[32 * j + i] = s * static_cast<float>(code) - off;
      }
    }
  }
}

}  // namespace

void quantize_row(DType t, const float* x, int64_t n, void* out) {
  row_bytes(t, n);  // validates n
  switch (t) {
    case DType::Q8_0:
      return quantize_q8_0(x, n, static_cast<BlockQ8_0*>(out));
    case DType::Q4_0:
      return quantize_q4_0(x, n, static_cast<BlockQ4_0*>(out));
    case DType::Q5_0:
      return quantize_q5_0(x, n, static_cast<BlockQ5_0*>(out));
    case DType::Q4_K:
      for (int64_t b = 0; b < n / kQ4_KElems; ++b)
        quantize_q4_k_block(x + b * kQ4_KElems, static_cast<BlockQ4_K*>(out) + b);
      return;
    case DType::Q6_K:
      for (int64_t b = 0; b < n / kQ6_KElems; ++b)
        quantize_q6_k_block(x + b * kQ6_KElems, static_cast<BlockQ6_K*>(out) + b);
      return;
    case DType::Q5_K:
      for (int64_t b = 0; b < n / kQ5_KElems; ++b)
        quantize_q5_k_block(x + b * kQ5_KElems, static_cast<BlockQ5_K*>(out) + b);
      return;
    case DType::F32:
      std::memcpy(out, x, static_cast<size_t>(n) * 4);
      return;
    case DType::F16:
    case DType::BF16:
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t h = t == DType::F16 ? f32_to_f16(x[i]) : f32_to_bf16(x[i]);
        std::memcpy(static_cast<uint8_t*>(out) + 2 * i, &h, 2);
      }
      return;
    default:
      fail("quantize_row: dtype ", dtype_name(t), " is not supported");
  }
}

void dequantize_row(DType t, const void* in, int64_t n, float* out) {
  row_bytes(t, n);
  const auto* p = static_cast<const uint8_t*>(in);
  switch (t) {
    case DType::Q8_0:
      return dequantize_q8_0(static_cast<const BlockQ8_0*>(in), n, out);
    case DType::Q4_0:
      return dequantize_q4_0(static_cast<const BlockQ4_0*>(in), n, out);
    case DType::Q5_0:
      return dequantize_q5_0(static_cast<const BlockQ5_0*>(in), n, out);
    case DType::Q4_K:
      return dequantize_k(static_cast<const BlockQ4_K*>(in), n, out);
    case DType::Q5_K:
      return dequantize_k(static_cast<const BlockQ5_K*>(in), n, out);
    case DType::Q6_K:
      return dequantize_q6_k(static_cast<const BlockQ6_K*>(in), n, out);
    case DType::F32:
      std::memcpy(out, in, static_cast<size_t>(n) * 4);
      return;
    case DType::F16:
    case DType::BF16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        out[i] = t == DType::F16 ? half_to_float(h) : bf16_to_f32(h);
      }
      return;
    case DType::F8_E4M3:
      for (int64_t i = 0; i < n; ++i) out[i] = fp8_e4m3_to_f32(p[i]);
      return;
    default:
      fail("dequantize_row: dtype ", dtype_name(t), " is not supported");
  }
}

}  // namespace dsinfer
