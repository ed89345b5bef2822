// Block-quantized dtypes (Q8_0, Q4_0, Q5_0, Q4_K, Q5_K, Q6_K): names and sizes, GGUF bit
// layouts on hand-made blocks, and quantize/dequantize round-trip error bounds.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "core/quant.h"
#include "kernels/weight.h"

namespace dsinfer {
namespace {

std::vector<float> random_values(int64_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = nd(rng);
  return v;
}

// Blocks of very different magnitude, an all-zero block, a constant block and
// an all-positive block, so every scale path is exercised.
std::vector<float> varied_values(int64_t n, int64_t block, uint32_t seed) {
  std::vector<float> v = random_values(n, seed);
  for (int64_t b = 0; b < n / block; ++b) {
    float* p = v.data() + b * block;
    const float mag = std::ldexp(1.0f, static_cast<int>(b % 9) - 4);
    for (int64_t i = 0; i < block; ++i) p[i] *= mag;
    if (b % 7 == 3)
      for (int64_t i = 0; i < block; ++i) p[i] = 0.0f;
    if (b % 7 == 5)
      for (int64_t i = 0; i < block; ++i) p[i] = 0.75f;
    if (b % 7 == 6)
      for (int64_t i = 0; i < block; ++i) p[i] = std::fabs(p[i]) + 0.1f;
  }
  return v;
}

std::vector<uint8_t> quantize(DType t, const std::vector<float>& x) {
  std::vector<uint8_t> q(row_bytes(t, static_cast<int64_t>(x.size())));
  quantize_row(t, x.data(), static_cast<int64_t>(x.size()), q.data());
  return q;
}

std::vector<float> dequantize(DType t, const std::vector<uint8_t>& q, int64_t n) {
  std::vector<float> y(static_cast<size_t>(n));
  dequantize_row(t, q.data(), n, y.data());
  return y;
}

// Relative rms error of a round trip of unit Gaussian values.
double gaussian_rel_error(DType t, uint32_t seed) {
  const int64_t n = 256 * 64;
  const auto x = random_values(n, seed);
  const auto y = dequantize(t, quantize(t, x), n);
  double se = 0, sx = 0;
  for (size_t k = 0; k < x.size(); ++k) {
    se += (y[k] - x[k]) * static_cast<double>(y[k] - x[k]);
    sx += static_cast<double>(x[k]) * x[k];
  }
  return std::sqrt(se / sx);
}

uint16_t half_of(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return h;
}

TEST(QuantTypes, NamesAndSizes) {
  for (DType t : {DType::Q8_0, DType::Q4_0, DType::Q5_0, DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
    EXPECT_TRUE(is_block_quant(t));
    EXPECT_EQ(dtype_from_name(dtype_name(t)), t);
  }
  EXPECT_EQ(dtype_name(DType::Q4_K), "Q4_K");
  EXPECT_EQ(dtype_from_name("Q8_0"), DType::Q8_0);
  EXPECT_EQ(dtype_from_name("Q4_0"), DType::Q4_0);
  EXPECT_FALSE(is_block_quant(DType::BF16));
  EXPECT_EQ(block_elems(DType::Q8_0), 32);
  EXPECT_EQ(block_elems(DType::Q4_0), 32);
  EXPECT_EQ(block_elems(DType::Q4_K), 256);
  EXPECT_EQ(block_elems(DType::F32), 1);
  EXPECT_EQ(row_bytes(DType::Q8_0, 64), 68u);
  EXPECT_EQ(row_bytes(DType::Q4_0, 96), 54u);
  EXPECT_EQ(row_bytes(DType::Q4_K, 512), 288u);
  EXPECT_EQ(block_elems(DType::Q6_K), 256);
  EXPECT_EQ(row_bytes(DType::Q6_K, 512), 420u);
  EXPECT_THROW(row_bytes(DType::Q6_K, 128), Error);
  EXPECT_EQ(block_elems(DType::Q5_K), 256);
  EXPECT_EQ(block_elems(DType::Q5_0), 32);
  EXPECT_EQ(row_bytes(DType::Q5_0, 96), 66u);
  EXPECT_EQ(row_bytes(DType::Q5_K, 512), 352u);
  EXPECT_EQ(row_bytes(DType::F32, 10), 40u);
  EXPECT_EQ(row_bytes(DType::BF16, 7), 14u);
  EXPECT_EQ(row_bytes(DType::F8_E4M3, 5), 5u);
  EXPECT_THROW(row_bytes(DType::Q4_0, 33), Error);
  EXPECT_THROW(row_bytes(DType::Q4_K, 128), Error);
}

TEST(QuantTypes, WeightBytesUsesRowBytes) {
  kernels::Weight w;
  w.dtype = DType::Q4_K;
  w.rows = 3;
  w.cols = 512;
  EXPECT_EQ(w.bytes(), 3u * 288u);
  w.dtype = DType::BF16;
  EXPECT_EQ(w.bytes(), 3u * 512u * 2u);
}

TEST(QuantTypes, HalfToFloatMatchesReference) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float a = half_to_float(static_cast<uint16_t>(h)), b = f16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(b)) {
      EXPECT_TRUE(std::isnan(a)) << h;
    } else {
      uint32_t ba, bb;
      std::memcpy(&ba, &a, 4);
      std::memcpy(&bb, &b, 4);
      ASSERT_EQ(ba, bb) << "f16 bits " << h;
    }
  }
}

// ---- hand-made blocks -----------------------------------------------------

TEST(QuantLayout, Q8_0BlockByHand) {
  uint8_t blk[34];
  const uint16_t d = 0x3400;  // f16 0.25
  std::memcpy(blk, &d, 2);
  for (int i = 0; i < 32; ++i) blk[2 + i] = static_cast<uint8_t>(static_cast<int8_t>(i * 8 - 128));
  float out[32];
  dequantize_row(DType::Q8_0, blk, 32, out);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(out[i], 0.25f * static_cast<float>(i * 8 - 128)) << i;
}

TEST(QuantLayout, Q4_0BlockByHand) {
  uint8_t blk[18];
  const uint16_t d = 0x3800;  // f16 0.5
  std::memcpy(blk, &d, 2);
  for (int i = 0; i < 16; ++i) blk[2 + i] = static_cast<uint8_t>(i | ((15 - i) << 4));
  float out[32];
  dequantize_row(DType::Q4_0, blk, 32, out);
  for (int i = 0; i < 16; ++i) {
    EXPECT_EQ(out[i], 0.5f * static_cast<float>(i - 8)) << i;        // low nibble of qs[i]
    EXPECT_EQ(out[16 + i], 0.5f * static_cast<float>(7 - i)) << i;   // high nibble of qs[i]
  }
}

// The 12 scale bytes written out by hand from GGUF's packing: byte j (j < 4)
// holds sc_j in its low 6 bits and the top 2 bits of sc_{j+4} above them;
// byte j + 4 likewise m_j and m_{j+4}; byte j + 8 the low nibbles of sc_{j+4} (low) and m_{j+4} (high).
TEST(QuantLayout, Q4_KScalePackingByHand) {
  uint8_t s[12] = {};
  s[0] = 0xC1;  // sc0 = 1, sc4 high bits = 3
  s[4] = 0x82;  // m0 = 2, m4 high bits = 2
  s[8] = 0x5A;  // sc4 low = 0xA, m4 low = 0x5
  s[3] = 0x3F;  // sc3 = 63, sc7 high = 0
  s[7] = 0x40;  // m3 = 0, m7 high = 1
  s[11] = 0x3C; // sc7 low = 0xC, m7 low = 0x3
  uint8_t sc, m;
  q4k_scale_min(0, s, &sc, &m);
  EXPECT_EQ(sc, 1);
  EXPECT_EQ(m, 2);
  q4k_scale_min(4, s, &sc, &m);
  EXPECT_EQ(sc, 0x3A);
  EXPECT_EQ(m, 0x25);
  q4k_scale_min(3, s, &sc, &m);
  EXPECT_EQ(sc, 63);
  EXPECT_EQ(m, 0);
  q4k_scale_min(7, s, &sc, &m);
  EXPECT_EQ(sc, 0x0C);
  EXPECT_EQ(m, 0x13);

  uint8_t scs[8], ms[8];
  for (int j = 0; j < 8; ++j) q4k_scale_min(j, s, &scs[j], &ms[j]);
  uint8_t packed[12];
  q4k_pack_scales(scs, ms, packed);
  for (int i = 0; i < 12; ++i) EXPECT_EQ(packed[i], s[i]) << i;
}

TEST(QuantLayout, Q4_KPackRoundTripsEveryValue) {
  for (int v = 0; v < 64; ++v) {
    uint8_t sc[8], m[8];
    for (int j = 0; j < 8; ++j) {
      sc[j] = static_cast<uint8_t>((v + 7 * j) % 64);
      m[j] = static_cast<uint8_t>((63 - v + 11 * j) % 64);
    }
    uint8_t packed[12];
    q4k_pack_scales(sc, m, packed);
    for (int j = 0; j < 8; ++j) {
      uint8_t a, b;
      q4k_scale_min(j, packed, &a, &b);
      EXPECT_EQ(a, sc[j]);
      EXPECT_EQ(b, m[j]);
    }
  }
}

// Whole Q4_K block: d = 1, dmin = 0.5, sc_j = j + 1, m_j = 2 j; qs[32c + i] =
// (low = i % 16, high = 15 - i % 16). Value 64c + i (i < 32) = (2c + 1) * (i % 16) - 0.5 * 4c,
// value 64c + 32 + i = (2c + 2) * (15 - i % 16) - 0.5 * (4c + 2).
TEST(QuantLayout, Q4_KBlockByHand) {
  BlockQ4_K blk;
  blk.d = 0x3C00;     // 1.0
  blk.dmin = 0x3800;  // 0.5
  uint8_t sc[8], m[8];
  for (int j = 0; j < 8; ++j) {
    sc[j] = static_cast<uint8_t>(j + 1);
    m[j] = static_cast<uint8_t>(2 * j);
  }
  q4k_pack_scales(sc, m, blk.scales);
  for (int c = 0; c < 4; ++c)
    for (int i = 0; i < 32; ++i) blk.qs[32 * c + i] = static_cast<uint8_t>((i % 16) | ((15 - i % 16) << 4));
  float out[256];
  dequantize_row(DType::Q4_K, &blk, 256, out);
  for (int c = 0; c < 4; ++c)
    for (int i = 0; i < 32; ++i) {
      EXPECT_EQ(out[64 * c + i], static_cast<float>((2 * c + 1) * (i % 16)) - 0.5f * static_cast<float>(4 * c));
      EXPECT_EQ(out[64 * c + 32 + i],
                static_cast<float>((2 * c + 2) * (15 - i % 16)) - 0.5f * static_cast<float>(4 * c + 2));
    }
}

// A whole Q6_K block against GGUF's dequantization written out as its loop:
// for each half n of 128 values and l < 32, ql[64n + l] and ql[64n + l + 32]
// give the low nibbles of values l, l + 32 and their high nibbles values
// l + 64, l + 96; qh[32n + l] gives those four values' top two bits (bits 0-1,
// 2-3, 4-5, 6-7); the values use scales 8n + l / 16 + 0, 2, 4, 6; q - 32.
TEST(QuantLayout, Q6_KBlockByHand) {
  BlockQ6_K blk;
  for (int i = 0; i < 128; ++i) blk.ql[i] = static_cast<uint8_t>(i * 7 + 3);
  for (int i = 0; i < 64; ++i) blk.qh[i] = static_cast<uint8_t>(i * 37 + 11);
  for (int j = 0; j < 16; ++j) blk.scales[j] = static_cast<int8_t>(j % 2 ? -3 * j : 5 * j - 40);
  blk.d = 0x3800;  // 0.5
  float out[256];
  dequantize_row(DType::Q6_K, &blk, 256, out);
  for (int n = 0; n < 2; ++n)
    for (int l = 0; l < 32; ++l) {
      const int lo0 = blk.ql[64 * n + l], lo1 = blk.ql[64 * n + l + 32], hb = blk.qh[32 * n + l];
      const int q[4] = {(lo0 & 0xf) | ((hb & 3) << 4), (lo1 & 0xf) | (((hb >> 2) & 3) << 4),
                        (lo0 >> 4) | (((hb >> 4) & 3) << 4), (lo1 >> 4) | (((hb >> 6) & 3) << 4)};
      for (int k = 0; k < 4; ++k) {
        const float want = 0.5f * static_cast<float>(blk.scales[8 * n + l / 16 + 2 * k]) * static_cast<float>(q[k] - 32);
        EXPECT_EQ(out[128 * n + l + 32 * k], want) << "half " << n << " l " << l << " part " << k;
        EXPECT_EQ(q6k_code(blk, 128 * n + l + 32 * k), q[k]);
      }
    }
}

// ---- round trips ------------------------------------------------------------

// Each value within half a step (d * sc of its sub-block, as stored) of the
// input, except a value beyond the codes' reach (x / step outside
// [-32.5, 31.5]), which takes the end code on its side.
TEST(QuantRoundTrip, Q6_KWithinHalfStep) {
  const int64_t n = 256 * 24;
  const auto x = varied_values(n, 16, 8);
  const auto q = quantize(DType::Q6_K, x);
  const auto y = dequantize(DType::Q6_K, q, n);
  int clipped = 0;
  for (int64_t sb = 0; sb < n / 256; ++sb) {
    BlockQ6_K blk;
    std::memcpy(&blk, q.data() + 210 * sb, 210);
    for (int v = 0; v < 256; ++v) {
      const size_t k = static_cast<size_t>(256 * sb + v);
      const float step = half_to_float(blk.d) * static_cast<float>(blk.scales[v / 16]);
      const float r = step != 0.0f ? x[k] / step : (x[k] == 0.0f ? 0.0f : INFINITY);
      if (r < -32.5f || r > 31.5f) {
        ++clipped;
        ASSERT_EQ(y[k], step * (r < 0 ? -32.0f : 31.0f)) << "super-block " << sb << " value " << v;
      } else {
        ASSERT_LE(std::fabs(y[k] - x[k]), std::fabs(step) * 0.5f * (1 + 1e-4f) + 1e-30f) << "super-block " << sb << " value " << v;
      }
    }
  }
  EXPECT_LT(clipped, n / 100);
}

TEST(QuantRoundTrip, Q6_KGaussianRelativeError) {
  // 64 levels over the range of 16 values (~ +-1.8 sigma): a step of ~0.06
  // sigma, an rms error of ~0.017 sigma.
  EXPECT_LT(gaussian_rel_error(DType::Q6_K, 9), 0.025);
}

TEST(QuantRoundTrip, Q8_0WithinHalfStep) {
  const int64_t n = 32 * 70;
  const auto x = varied_values(n, 32, 1);
  const auto q = quantize(DType::Q8_0, x);
  const auto y = dequantize(DType::Q8_0, q, n);
  for (int64_t b = 0; b < n / 32; ++b) {
    const float d = half_to_float(half_of(q.data() + 34 * b));
    float amax = 0;
    for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[static_cast<size_t>(32 * b + i)]));
    EXPECT_NEAR(d, amax / 127.0f, amax / 127.0f * 1e-3f) << "block " << b;
    for (int i = 0; i < 32; ++i) {
      const size_t k = static_cast<size_t>(32 * b + i);
      ASSERT_LE(std::fabs(y[k] - x[k]), d * 0.5f * (1 + 1e-5f) + 1e-30f) << "block " << b << " elem " << i;
    }
  }
}

// Q4_0 (offset 8) and Q5_0 (offset 16): every value within half a step d of
// its code. Only values opposite in sign to the largest one, and near it in
// magnitude, fall past the top code (x / d > offset - 0.5): those are off by
// at most d.
void offset_type_within_half_step(DType t, float offset, uint32_t seed) {
  const int64_t n = 32 * 70;
  const auto x = varied_values(n, 32, seed);
  const auto q = quantize(t, x);
  const auto y = dequantize(t, q, n);
  const auto bytes = static_cast<int64_t>(block_bytes(t));
  for (int64_t b = 0; b < n / 32; ++b) {
    const float d = half_to_float(half_of(q.data() + bytes * b));
    const float ad = std::fabs(d);
    for (int i = 0; i < 32; ++i) {
      const size_t k = static_cast<size_t>(32 * b + i);
      const float err = std::fabs(y[k] - x[k]);
      const bool clamped = d != 0 && x[k] / d > offset - 0.5f;
      ASSERT_LE(err, (clamped ? ad : ad * 0.5f) * (1 + 1e-5f) + 1e-30f) << dtype_name(t) << " block " << b << " elem " << i;
    }
  }
}

TEST(QuantRoundTrip, Q4_0WithinHalfStep) { offset_type_within_half_step(DType::Q4_0, 8.0f, 2); }
TEST(QuantRoundTrip, Q5_0WithinHalfStep) { offset_type_within_half_step(DType::Q5_0, 16.0f, 12); }

TEST(QuantRoundTrip, Q4_0AndQ5_0KeepLargestValue) {
  std::vector<float> x(32, 0.1f);
  x[5] = -3.0f;
  const auto q = quantize(DType::Q4_0, x);
  EXPECT_EQ(half_to_float(half_of(q.data())), 0.375f);  // -3 / -8
  EXPECT_EQ(dequantize(DType::Q4_0, q, 32)[5], -3.0f);
  const auto q5 = quantize(DType::Q5_0, x);
  EXPECT_EQ(half_to_float(half_of(q5.data())), 0.1875f);  // -3 / -16
  EXPECT_EQ(dequantize(DType::Q5_0, q5, 32)[5], -3.0f);
}

// Q4_K (16 levels a sub-block) and Q5_K (32): every value within one step of
// the coarsest sub-block, and a bound on the rms error.
void k_quant_error_bounds(DType t, float levels, double rms_bound) {
  const int64_t n = 256 * 24;
  const auto x = varied_values(n, 32, 3);
  const auto q = quantize(t, x);
  const auto y = dequantize(t, q, n);
  double se = 0, sx = 0;
  for (int64_t sb = 0; sb < n / 256; ++sb) {
    // The coarsest step in the super-block is about its largest sub-block range / 15.
    float worst_range = 0;
    for (int j = 0; j < 8; ++j) {
      float mn = 0, mx = 0;
      for (int i = 0; i < 32; ++i) {
        const float v = x[static_cast<size_t>(256 * sb + 32 * j + i)];
        mn = std::min(mn, v);
        mx = std::max(mx, v);
      }
      worst_range = std::max(worst_range, mx - mn);
    }
    for (int i = 0; i < 256; ++i) {
      const size_t k = static_cast<size_t>(256 * sb + i);
      const double e = y[k] - x[k];
      se += e * e;
      sx += static_cast<double>(x[k]) * x[k];
      ASSERT_LE(std::fabs(e), worst_range / levels + 1e-6f) << dtype_name(t) << " super-block " << sb << " elem " << i;
    }
  }
  EXPECT_LT(std::sqrt(se / sx), rms_bound) << dtype_name(t);
}

TEST(QuantRoundTrip, Q4_KErrorBounds) { k_quant_error_bounds(DType::Q4_K, 15.0f, 0.08); }
TEST(QuantRoundTrip, Q5_KErrorBounds) { k_quant_error_bounds(DType::Q5_K, 31.0f, 0.04); }

TEST(QuantRoundTrip, Q5_KGaussianRelativeError) {
  EXPECT_LT(gaussian_rel_error(DType::Q5_K, 10), 0.05);  // 32 levels: about half Q4_K's error
}

TEST(QuantRoundTrip, Q4_KGaussianRelativeError) {
  EXPECT_LT(gaussian_rel_error(DType::Q4_K, 4), 0.1);  // 16 levels over ~4.5 sigma: ~0.08
}

TEST(QuantRoundTrip, RequantizingIsStable) {
  for (DType t : {DType::Q8_0, DType::Q4_0, DType::Q5_0, DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
    const int64_t n = 512;
    const auto x = random_values(n, 5);
    const auto y = dequantize(t, quantize(t, x), n);
    const auto z = dequantize(t, quantize(t, y), n);
    double se = 0, sy = 0;
    for (size_t k = 0; k < y.size(); ++k) {
      se += (z[k] - y[k]) * static_cast<double>(z[k] - y[k]);
      sy += static_cast<double>(y[k]) * y[k];
    }
    EXPECT_LT(std::sqrt(se / sy), t == DType::Q8_0 ? 1e-3 : 0.05) << dtype_name(t);
  }
}

TEST(QuantRoundTrip, DequantRowHonoursRowOffset) {
  const int64_t rows = 5, cols = 512;
  for (DType t : {DType::Q8_0, DType::Q4_0, DType::Q5_0, DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
    const auto x = random_values(rows * cols, 6);
    const auto q = quantize(t, x);  // rows are consecutive, so the whole matrix is one long row
    kernels::Weight w;
    w.dtype = t;
    w.rows = rows;
    w.cols = cols;
    w.data = q.data();
    const kernels::Weight v = w.slice_rows(2, 3);
    std::vector<float> row(static_cast<size_t>(cols)), want = dequantize(t, q, rows * cols);
    for (int64_t r = 0; r < 3; ++r) {
      kernels::dequant_row(v, r, row.data());
      for (int64_t c = 0; c < cols; ++c)
        ASSERT_EQ(row[static_cast<size_t>(c)], want[static_cast<size_t>((r + 2) * cols + c)]) << dtype_name(t);
    }
  }
}

TEST(QuantRoundTrip, FloatTypes) {
  const auto x = random_values(64, 7);
  EXPECT_EQ(dequantize(DType::F32, quantize(DType::F32, x), 64), x);
  const auto b = dequantize(DType::BF16, quantize(DType::BF16, x), 64);
  const auto h = dequantize(DType::F16, quantize(DType::F16, x), 64);
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(b[i], bf16_to_f32(f32_to_bf16(x[i])));
    EXPECT_EQ(h[i], f16_to_f32(f32_to_f16(x[i])));
  }
  EXPECT_THROW(quantize_row(DType::I32, x.data(), 64, nullptr), Error);
}

}  // namespace
}  // namespace dsinfer
