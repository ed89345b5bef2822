// Scalar dtype conversions (src/core/dtype.h): the reference semantics every
// kernel's dequantization must match. Each conversion is checked against a
// formula written here independently of the implementation, over every code
// where the space is small (f16, bf16, fp8) and over many random floats for
// the rounding directions.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "core/quant.h"

namespace dsinfer {
namespace {

uint32_t bits_of(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}
float float_of(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

// ---------------------------------------------------------------- names, sizes

TEST(DTypeTest, NamesAndSizesRoundTrip) {
  struct Row {
    DType t;
    const char* name;
    size_t size;
  };
  const Row rows[] = {{DType::F32, "F32", 4},     {DType::F16, "F16", 2},  {DType::BF16, "BF16", 2},
                      {DType::F8_E4M3, "F8_E4M3", 1}, {DType::I8, "I8", 1},    {DType::U8, "U8", 1},
                      {DType::I32, "I32", 4},     {DType::I64, "I64", 8},  {DType::F64, "F64", 8},
                      {DType::BOOL, "BOOL", 1}};
  for (const Row& r : rows) {
    EXPECT_EQ(dtype_name(r.t), r.name);
    EXPECT_EQ(dtype_size(r.t), r.size) << r.name;
    auto back = dtype_from_name(r.name);
    ASSERT_TRUE(back.has_value()) << r.name;
    EXPECT_EQ(*back, r.t) << r.name;
  }
  EXPECT_FALSE(dtype_from_name("f32").has_value());  // names are case-sensitive, as safetensors writes them
  EXPECT_FALSE(dtype_from_name("F8_E5M2").has_value());
  EXPECT_FALSE(dtype_from_name("").has_value());
}

// ---------------------------------------------------------------- bf16

TEST(DTypeTest, Bf16ToF32IsTheUpperHalfOfTheFloat) {
  for (uint32_t h = 0; h < 0x10000u; ++h) {
    const float f = bf16_to_f32(static_cast<uint16_t>(h));
    ASSERT_EQ(bits_of(f), h << 16) << "bf16 code " << h;
  }
}

TEST(DTypeTest, Bf16RoundTripsEveryNonNanCode) {
  for (uint32_t h = 0; h < 0x10000u; ++h) {
    const float f = bf16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      const uint16_t back = f32_to_bf16(f);
      EXPECT_TRUE(std::isnan(bf16_to_f32(back))) << "NaN code " << h << " came back as " << back;
      EXPECT_NE(back & 0x40u, 0u) << "NaN code " << h << " must come back quiet";
      EXPECT_EQ(back & 0x8000u, h & 0x8000u) << "NaN sign kept";
      continue;
    }
    ASSERT_EQ(f32_to_bf16(f), h) << "bf16 code " << h;
  }
}

// Nearest bf16 of a finite float by comparing the two neighbours in double
// precision; a tie goes to the even code. Independent of the bit trick used by
// the implementation.
uint16_t bf16_nearest(float f) {
  const uint32_t b = bits_of(f);
  const uint32_t lo = b & 0xffff0000u;
  if (lo == b) return static_cast<uint16_t>(lo >> 16);
  const uint32_t hi = lo + 0x10000u;  // next code away from zero (may be inf)
  const double vl = float_of(lo);
  const double vh = (hi & 0x7fffffffu) == 0x7f800000u ? std::copysign(std::ldexp(1.0, 128), vl)
                                                       : static_cast<double>(float_of(hi));
  const double dl = std::fabs(static_cast<double>(f) - vl);
  const double dh = std::fabs(vh - static_cast<double>(f));
  if (dl < dh) return static_cast<uint16_t>(lo >> 16);
  if (dh < dl) return static_cast<uint16_t>(hi >> 16);
  return static_cast<uint16_t>(((lo >> 16) & 1u) ? hi >> 16 : lo >> 16);
}

TEST(DTypeTest, Bf16RoundsToNearestEven) {
  // Exactly halfway between 1.0 (0x3f80) and 1+2^-7 (0x3f81): goes to even 0x3f80.
  EXPECT_EQ(f32_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);
  // Halfway between 0x3f81 and 0x3f82: goes to even 0x3f82.
  EXPECT_EQ(f32_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3f82);
  // Just above halfway rounds up; just below rounds down.
  EXPECT_EQ(f32_to_bf16(float_of(0x3f808001u)), 0x3f81);
  EXPECT_EQ(f32_to_bf16(float_of(0x3f807fffu)), 0x3f80);
  EXPECT_EQ(f32_to_bf16(-1.0f - std::ldexp(1.0f, -8)), 0xbf80);
  // The largest float rounds up to infinity; infinities and zeros stay.
  EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::max()), 0x7f80);
  EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::infinity()), 0x7f80);
  EXPECT_EQ(f32_to_bf16(-std::numeric_limits<float>::infinity()), 0xff80);
  EXPECT_EQ(f32_to_bf16(0.0f), 0x0000);
  EXPECT_EQ(f32_to_bf16(-0.0f), 0x8000);
  // A NaN whose payload lives only in the low half must stay NaN (not become inf).
  const uint16_t n = f32_to_bf16(float_of(0x7f800001u));
  EXPECT_TRUE(std::isnan(bf16_to_f32(n))) << n;

  std::mt19937 rng(1234);
  for (int i = 0; i < 200000; ++i) {
    uint32_t b = rng();
    if ((b & 0x7f800000u) == 0x7f800000u) continue;  // inf/nan handled above
    const float f = float_of(b);
    ASSERT_EQ(f32_to_bf16(f), bf16_nearest(f)) << "float bits 0x" << std::hex << b;
  }
}

// ---------------------------------------------------------------- f16

// IEEE binary16 value of a code, straight from the definition.
double f16_formula(uint16_t h) {
  const int sign = (h >> 15) & 1;
  const int e = (h >> 10) & 0x1f;
  const int m = h & 0x3ff;
  double v;
  if (e == 0x1f)
    v = m ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
  else if (e == 0)
    v = (m / 1024.0) * std::pow(2.0, -14);
  else
    v = (1.0 + m / 1024.0) * std::pow(2.0, e - 15);
  return sign ? -v : v;
}

TEST(DTypeTest, F16ToF32MatchesFormulaForEveryCode) {
  for (uint32_t c = 0; c < 0x10000u; ++c) {
    const uint16_t h = static_cast<uint16_t>(c);
    const float got = f16_to_f32(h);
    const double want = f16_formula(h);
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(got)) << "code " << c;
      continue;
    }
    ASSERT_EQ(static_cast<double>(got), want) << "code 0x" << std::hex << c;
    ASSERT_EQ(std::signbit(got), (c & 0x8000u) != 0) << "code 0x" << std::hex << c;
  }
  EXPECT_EQ(f16_to_f32(0x3c00), 1.0f);
  EXPECT_EQ(f16_to_f32(0x7bff), 65504.0f);
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(f16_to_f32(0x0400), std::ldexp(1.0f, -14));
  EXPECT_EQ(f16_to_f32(0xfc00), -std::numeric_limits<float>::infinity());
}

TEST(DTypeTest, F16RoundTripsEveryNonNanCode) {
  for (uint32_t c = 0; c < 0x10000u; ++c) {
    const uint16_t h = static_cast<uint16_t>(c);
    const float f = f16_to_f32(h);
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(f)))) << "NaN code " << c;
      continue;
    }
    ASSERT_EQ(f32_to_f16(f), h) << "code 0x" << std::hex << c;
  }
}

// Nearest f16 code of a finite float: binary search over the positive codes
// (monotone in value), ties to the even code. 65536 stands in for the value of
// the infinity code so that overflow rounds like an extra exponent step.
uint16_t f16_nearest(float f) {
  const double a = std::fabs(static_cast<double>(f));
  const uint16_t sign = std::signbit(f) ? 0x8000 : 0;
  auto val = [](uint32_t c) { return c == 0x7c00u ? 65536.0 : f16_formula(static_cast<uint16_t>(c)); };
  if (a >= 65536.0) return sign | 0x7c00;
  uint32_t lo = 0, hi = 0x7c00;  // val(lo) <= a < val(hi)
  while (hi - lo > 1) {
    const uint32_t mid = (lo + hi) / 2;
    if (val(mid) <= a)
      lo = mid;
    else
      hi = mid;
  }
  const double dl = a - val(lo);
  const double dh = val(hi) - a;
  uint32_t c;
  if (dl < dh)
    c = lo;
  else if (dh < dl)
    c = hi;
  else
    c = (lo & 1u) ? hi : lo;
  return static_cast<uint16_t>(sign | c);
}

TEST(DTypeTest, F16RoundsToNearestEven) {
  // Normal range: 1 + 2^-11 is halfway between 0x3c00 and 0x3c01 -> even 0x3c00.
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);
  EXPECT_EQ(f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
  EXPECT_EQ(f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -12)), 0x3c01);
  // Mantissa carry into the exponent: 2 - 2^-12 rounds up to 2.0.
  EXPECT_EQ(f32_to_f16(2.0f - std::ldexp(1.0f, -12)), 0x4000);
  // Subnormals: units of 2^-24.
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -24)), 0x0001);
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -25)), 0x0000);       // tie 0 / 1 -> 0
  EXPECT_EQ(f32_to_f16(3 * std::ldexp(1.0f, -25)), 0x0002);   // tie 1 / 2 -> 2
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -26)), 0x0000);
  EXPECT_EQ(f32_to_f16(-std::ldexp(1.0f, -24)), 0x8001);
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -14)), 0x0400);       // smallest normal
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -14) - std::ldexp(1.0f, -25)), 0x0400);  // tie 0x3ff / 0x400 -> even
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -40)), 0x0000);
  // Overflow: 65504 is the largest finite; 65520 is the tie with 65536 -> inf.
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7bff);
  EXPECT_EQ(f32_to_f16(65519.99f), 0x7bff);
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);
  EXPECT_EQ(f32_to_f16(1e10f), 0x7c00);
  EXPECT_EQ(f32_to_f16(-1e10f), 0xfc00);
  EXPECT_EQ(f32_to_f16(std::numeric_limits<float>::infinity()), 0x7c00);
  EXPECT_EQ(f32_to_f16(-std::numeric_limits<float>::infinity()), 0xfc00);
  EXPECT_EQ(f32_to_f16(-0.0f), 0x8000);
  // NaN stays NaN (exponent all ones, mantissa non-zero), sign kept.
  const uint16_t n = f32_to_f16(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(n & 0x7c00u, 0x7c00u);
  EXPECT_NE(n & 0x03ffu, 0u);
  const uint16_t nn = f32_to_f16(-std::numeric_limits<float>::quiet_NaN());
  EXPECT_NE(nn & 0x03ffu, 0u);
  EXPECT_EQ(nn & 0x8000u, 0x8000u);

  // Random floats across the whole f16 range, subnormals and overflow included.
  std::mt19937 rng(99);
  std::uniform_int_distribution<int> exp(-30, 17);
  std::uniform_int_distribution<uint32_t> man(0, (1u << 23) - 1);
  for (int i = 0; i < 200000; ++i) {
    const uint32_t b = ((rng() & 1u) << 31) | (static_cast<uint32_t>(exp(rng) + 127) << 23) | man(rng);
    const float f = float_of(b);
    ASSERT_EQ(f32_to_f16(f), f16_nearest(f)) << "float " << f << " bits 0x" << std::hex << b;
  }
}

// ---------------------------------------------------------------- fp8 e4m3fn

// OCP E4M3 ("fn"): 1 sign bit, 4 exponent bits (bias 7), 3 mantissa bits; no
// infinities; S.1111.111 is NaN; exponent 0 is subnormal (m/8 * 2^-6).
double fp8_formula(uint8_t v) {
  const bool neg = (v & 0x80) != 0;
  const int e = (v >> 3) & 0xf;
  const int m = v & 0x7;
  if (e == 15 && m == 7) return std::numeric_limits<double>::quiet_NaN();
  const double mag = e == 0 ? (m / 8.0) * std::pow(2.0, 1 - 7) : (1.0 + m / 8.0) * std::pow(2.0, e - 7);
  return neg ? -mag : mag;
}

TEST(DTypeTest, Fp8E4m3AllCodesMatchFormula) {
  for (int c = 0; c < 256; ++c) {
    const uint8_t v = static_cast<uint8_t>(c);
    const float got = fp8_e4m3_to_f32(v);
    const double want = fp8_formula(v);
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(got)) << "code 0x" << std::hex << c;
      continue;
    }
    EXPECT_FALSE(std::isinf(got)) << "code 0x" << std::hex << c << ": e4m3fn has no infinities";
    EXPECT_EQ(static_cast<double>(got), want) << "code 0x" << std::hex << c;
    EXPECT_EQ(std::signbit(got), c >= 0x80) << "code 0x" << std::hex << c;
  }
}

TEST(DTypeTest, Fp8E4m3LandmarkCodes) {
  EXPECT_TRUE(std::isnan(fp8_e4m3_to_f32(0x7f)));
  EXPECT_TRUE(std::isnan(fp8_e4m3_to_f32(0xff)));
  EXPECT_EQ(fp8_e4m3_to_f32(0x7e), 448.0f);   // max finite
  EXPECT_EQ(fp8_e4m3_to_f32(0xfe), -448.0f);
  EXPECT_EQ(fp8_e4m3_to_f32(0x78), 256.0f);   // exponent 15 with m < 7 is finite
  EXPECT_EQ(fp8_e4m3_to_f32(0x38), 1.0f);
  EXPECT_EQ(fp8_e4m3_to_f32(0xb8), -1.0f);
  EXPECT_EQ(fp8_e4m3_to_f32(0x3c), 1.5f);
  EXPECT_EQ(fp8_e4m3_to_f32(0x08), std::ldexp(1.0f, -6));  // smallest normal
  EXPECT_EQ(fp8_e4m3_to_f32(0x07), 7 * std::ldexp(1.0f, -9));  // largest subnormal
  EXPECT_EQ(fp8_e4m3_to_f32(0x01), std::ldexp(1.0f, -9));  // smallest subnormal
  EXPECT_EQ(fp8_e4m3_to_f32(0x00), 0.0f);
  EXPECT_TRUE(std::signbit(fp8_e4m3_to_f32(0x80)));
  EXPECT_EQ(fp8_e4m3_to_f32(0x80), 0.0f);
  // Positive codes 0x00..0x7e are strictly increasing.
  for (int c = 1; c <= 0x7e; ++c)
    EXPECT_LT(fp8_e4m3_to_f32(static_cast<uint8_t>(c - 1)), fp8_e4m3_to_f32(static_cast<uint8_t>(c))) << c;
}

// V2-Lite's intermediate_size 10944 is a multiple of 32 but not of 256.
TEST(FitBlockType, FallsBackToTheNextSmallerBlockThatDividesTheRow) {
  EXPECT_EQ(fit_block_type(DType::Q4_K, 2048), DType::Q4_K);
  EXPECT_EQ(fit_block_type(DType::Q4_K, 10944), DType::Q5_0);  // llama.cpp's Q4_K fallback
  EXPECT_EQ(fit_block_type(DType::Q4_0, 10944), DType::Q4_0);
  EXPECT_EQ(fit_block_type(DType::Q8_0, 10944), DType::Q8_0);
  EXPECT_EQ(fit_block_type(DType::Q4_K, 100), DType::BF16);
  EXPECT_EQ(fit_block_type(DType::Q8_0, 48), DType::BF16);
  // Q6_K's fallback keeps at least its bits: Q8_0, not Q4_0.
  EXPECT_EQ(fit_block_type(DType::Q6_K, 1536), DType::Q6_K);
  EXPECT_EQ(fit_block_type(DType::Q6_K, 10944), DType::Q8_0);
  EXPECT_EQ(fit_block_type(DType::Q6_K, 100), DType::BF16);
  EXPECT_EQ(fit_block_type(DType::Q5_K, 10944), DType::Q8_0);
  // Never a bigger block than asked for.
  EXPECT_EQ(fit_block_type(DType::Q4_0, 256), DType::Q4_0);
  EXPECT_EQ(fit_block_type(DType::Q8_0, 256), DType::Q8_0);
  EXPECT_EQ(fit_block_type(DType::BF16, 7), DType::BF16);
}

}  // namespace
}  // namespace dsinfer
