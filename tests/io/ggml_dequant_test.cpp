// The GGUF block types against ggml's dequantization loops, written here as
// ggml writes them (bit masks and shifts per value), on random blocks: the
// read-only ones (Q4_1, Q5_1), and Q5_0 and Q5_K, which dsinfer computes with.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "core/quant.h"
#include "io/ggml_dequant.h"

namespace dsinfer::io {
namespace {

float h(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return f16_to_f32(v);
}

// Random bytes with sane f16 scales at the given offsets of every block.
std::vector<uint8_t> random_blocks(int64_t block_bytes, int n_blocks, std::initializer_list<int> half_offsets,
                                   uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> b(static_cast<size_t>(n_blocks * block_bytes));
  for (auto& x : b) x = static_cast<uint8_t>(rng());
  std::uniform_real_distribution<float> scale(-0.05f, 0.05f);
  for (int i = 0; i < n_blocks; ++i)
    for (int off : half_offsets) {
      const uint16_t v = f32_to_f16(scale(rng));
      std::memcpy(&b[static_cast<size_t>(i * block_bytes + off)], &v, 2);
    }
  return b;
}

std::vector<float> ours(uint32_t type, const std::vector<uint8_t>& b, int64_t n) {
  std::vector<float> y(static_cast<size_t>(n));
  ggml_dequantize_row(type, b.data(), n, y.data());
  return y;
}

TEST(GgmlDequant, Q4_1) {
  const auto b = random_blocks(20, 3, {0, 2}, 1);
  const auto y = ours(kGgmlQ4_1, b, 96);
  for (int i = 0; i < 3; ++i) {
    const uint8_t* x = &b[static_cast<size_t>(i * 20)];
    for (int j = 0; j < 16; ++j) {
      EXPECT_EQ(y[static_cast<size_t>(i * 32 + j)], static_cast<float>(x[4 + j] & 0x0F) * h(x) + h(x + 2));
      EXPECT_EQ(y[static_cast<size_t>(i * 32 + j + 16)], static_cast<float>(x[4 + j] >> 4) * h(x) + h(x + 2));
    }
  }
}

TEST(GgmlDequant, Q5_0) {
  const auto b = random_blocks(22, 3, {0}, 2);
  std::vector<float> y(96);
  dequantize_row(DType::Q5_0, b.data(), 96, y.data());
  for (int i = 0; i < 3; ++i) {
    const uint8_t* x = &b[static_cast<size_t>(i * 22)];
    uint32_t qh;
    std::memcpy(&qh, x + 2, 4);
    for (int j = 0; j < 16; ++j) {
      const int xh_0 = static_cast<int>(((qh >> (j + 0)) << 4) & 0x10);
      const int xh_1 = static_cast<int>((qh >> (j + 12)) & 0x10);
      EXPECT_EQ(y[static_cast<size_t>(i * 32 + j)], static_cast<float>(((x[6 + j] & 0x0F) | xh_0) - 16) * h(x));
      EXPECT_EQ(y[static_cast<size_t>(i * 32 + j + 16)], static_cast<float>(((x[6 + j] >> 4) | xh_1) - 16) * h(x));
    }
  }
}

TEST(GgmlDequant, Q5_1) {
  const auto b = random_blocks(24, 3, {0, 2}, 3);
  const auto y = ours(kGgmlQ5_1, b, 96);
  for (int i = 0; i < 3; ++i) {
    const uint8_t* x = &b[static_cast<size_t>(i * 24)];
    uint32_t qh;
    std::memcpy(&qh, x + 4, 4);
    for (int j = 0; j < 16; ++j) {
      const int xh_0 = static_cast<int>(((qh >> (j + 0)) << 4) & 0x10);
      const int xh_1 = static_cast<int>((qh >> (j + 12)) & 0x10);
      EXPECT_EQ(y[static_cast<size_t>(i * 32 + j)], static_cast<float>((x[8 + j] & 0x0F) | xh_0) * h(x) + h(x + 2));
      EXPECT_EQ(y[static_cast<size_t>(i * 32 + j + 16)], static_cast<float>((x[8 + j] >> 4) | xh_1) * h(x) + h(x + 2));
    }
  }
}

// ggml's get_scale_min_k4.
void scale_min(int j, const uint8_t* q, uint8_t* d, uint8_t* m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4));
  }
}

TEST(GgmlDequant, Q5_K) {
  const auto b = random_blocks(176, 2, {0, 2}, 4);
  std::vector<float> got(512);
  dequantize_row(DType::Q5_K, b.data(), 512, got.data());
  for (int i = 0; i < 2; ++i) {
    const uint8_t* x = &b[static_cast<size_t>(i * 176)];
    const uint8_t *scales = x + 4, *qh = x + 16, *ql = x + 48;
    const float d = h(x), min = h(x + 2);
    const float* y = &got[static_cast<size_t>(i * 256)];
    int is = 0;
    uint8_t sc, m, u1 = 1, u2 = 2;
    for (int j = 0; j < 256; j += 64) {
      scale_min(is + 0, scales, &sc, &m);
      const float d1 = d * sc, m1 = min * m;
      scale_min(is + 1, scales, &sc, &m);
      const float d2 = d * sc, m2 = min * m;
      for (int l = 0; l < 32; ++l) EXPECT_EQ(*y++, d1 * static_cast<float>((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1);
      for (int l = 0; l < 32; ++l) EXPECT_EQ(*y++, d2 * static_cast<float>((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2);
      ql += 32;
      is += 2;
      u1 = static_cast<uint8_t>(u1 << 2);
      u2 = static_cast<uint8_t>(u2 << 2);
    }
  }
}

}  // namespace
}  // namespace dsinfer::io
