// The activation quantizers of the integer kernels at every SIMD level this
// machine has agree bit for bit with the scalar code, and the CPU backend's
// SIMD level is chosen, or refused with a clear error, as asked.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "core/error.h"
#include "kernels/backend.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/matmul_kernels.h"
#include "kernel_test_util.h"

namespace dsinfer {
namespace {

using kernels::cpu::Isa;
using test::available_isas;

// x ([n, stride], k values per token) quantized in spans of `span` blocks by
// the scalar code, after checking that every ISA gives the same bits.
kernels::cpu::QuantAct quantize_on_every_isa(const std::vector<float>& x, int64_t stride, int64_t n, int64_t k,
                                             int64_t span) {
  kernels::cpu::QuantAct ref;
  ref.resize(n, k, span);
  kernels::cpu::quantize_act(Isa::Scalar, x.data(), stride, 0, n, ref);
  for (Isa isa : available_isas()) {
    kernels::cpu::QuantAct got;
    got.resize(n, k, span);
    kernels::cpu::quantize_act(isa, x.data(), stride, 0, n, got);
    const std::string name(kernels::cpu::isa_name(isa));
    // The n tokens' rows (resize leaves the padding rows as they are).
    const auto rows = [n](const auto& v) {
      constexpr int64_t kPad = kernels::cpu::QuantAct::kPadRows;
      const size_t per_row = v.size() / static_cast<size_t>((n + kPad - 1) / kPad * kPad);
      return std::vector<typename std::decay_t<decltype(v)>::value_type>(v.begin(), v.begin() + static_cast<int64_t>(per_row) * n);
    };
    EXPECT_EQ(rows(got.q), rows(ref.q)) << name;
    EXPECT_EQ(rows(got.d), rows(ref.d)) << name;
    EXPECT_EQ(rows(got.s), rows(ref.s)) << name;
    EXPECT_EQ(rows(got.fs), rows(ref.fs)) << name;
    EXPECT_EQ(rows(got.dx), rows(ref.dx)) << name;
    EXPECT_EQ(rows(got.nsx), rows(ref.nsx)) << name;
    EXPECT_EQ(rows(got.ns128), rows(ref.ns128)) << name;
    EXPECT_EQ(rows(got.sp), rows(ref.sp)) << name;
  }
  return ref;
}

TEST(SimdQuantAct, BitIdenticalAcrossIsas) {
  const int64_t n = 3, k = 32 * 9, stride = k + 3;
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.0f, 2.0f);
  std::vector<float> x(static_cast<size_t>(n * stride));
  for (auto& v : x) v = nd(rng);
  for (int i = 0; i < 32; ++i) x[static_cast<size_t>(stride + 32 + i)] = 0.0f;  // a zero block
  for (int i = 0; i < 32; ++i) x[static_cast<size_t>(2 * stride + 64 + i)] = (i % 4 - 1.5f) * 0.5f;  // exact .5 ties
  x[static_cast<size_t>(2 * stride + 5 * 32 + 3)] = std::nanf("");  // NaN: left out of the scale, quantized to 127
  x[static_cast<size_t>(2 * stride + 6 * 32 + 31)] = std::nanf("");
  const kernels::cpu::QuantAct ref = quantize_on_every_isa(x, stride, n, k, 1);
  EXPECT_EQ(ref.nb, 10);  // 9 blocks padded to even
  EXPECT_EQ(ref.q_row(2)[5 * 32 + 3], 127);
  EXPECT_EQ(ref.q_row(2)[6 * 32 + 31], 127);
  EXPECT_TRUE(std::isfinite(ref.d_row(2)[5]) && ref.d_row(2)[5] > 0.0f);
  for (int64_t t = 0; t < n; ++t) {
    EXPECT_EQ(ref.d_row(t)[9], 0.0f);  // padding block
    for (int i = 0; i < 32; ++i) EXPECT_EQ(ref.q_row(t)[9 * 32 + i], 0);
  }
  for (int i = 0; i < 32; ++i) {
    EXPECT_LE(std::abs(static_cast<int>(ref.q[static_cast<size_t>(i)])), 127);
    const float x0 = x[static_cast<size_t>(i)];
    EXPECT_LE(std::fabs(ref.d[0] * ref.q[static_cast<size_t>(i)] - x0), ref.d[0] * 0.5f * 1.0001f);
  }
}

// Spans of 8 blocks (Q4_K's super-blocks) share the scale of their 256
// values; every ISA gives the same bits, and the int16 pairs of block sums
// hold the sums.
TEST(SimdQuantAct, SpansShareOneScale) {
  const int64_t n = 3, k = 512, stride = k + 5;
  std::mt19937 rng(6);
  std::normal_distribution<float> nd(0.0f, 2.0f);
  std::vector<float> x(static_cast<size_t>(n * stride));
  for (auto& v : x) v = nd(rng);
  for (int i = 0; i < 32; ++i) x[static_cast<size_t>(stride + 288 + i)] *= 1e-3f;  // a quiet block beside loud ones
  for (int i = 0; i < 256; ++i) x[static_cast<size_t>(2 * stride + i)] = 0.0f;      // a zero span
  x[static_cast<size_t>(17)] = 9.0f;                                                 // max |x| of token 0's first span
  kernels::cpu::QuantAct ref = quantize_on_every_isa(x, stride, n, k, 8);
  EXPECT_EQ(ref.d[0], 9.0f / 127.0f);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t b = 0; b < k / 32; ++b) {
      const float d = ref.d_row(t)[b];
      EXPECT_EQ(d, ref.d_row(t)[b / 8 * 8]) << "block " << b << " of token " << t << " has its own scale";
      int32_t sum = 0;
      for (int i = 0; i < 32; ++i) {
        const int8_t q = ref.q_row(t)[b * 32 + i];
        sum += q;
        EXPECT_LE(std::fabs(d * q - x[static_cast<size_t>(t * stride + b * 32 + i)]), d * 0.5f * 1.0001f);
      }
      EXPECT_EQ(ref.s_row(t)[b], sum);
      const int32_t pair = ref.sp_row(t)[b / 2];
      EXPECT_EQ(static_cast<int16_t>(b % 2 ? pair >> 16 : pair & 0xffff), sum) << "pair of block " << b;
    }
  EXPECT_EQ(ref.d_row(2)[0], 0.0f);
  EXPECT_THROW(ref.resize(1, 32 * 9, 8), std::invalid_argument);
}

TEST(SimdIsa, SelectionAndErrors) {
  EXPECT_TRUE(kernels::cpu::isa_supported(Isa::Scalar));
  EXPECT_EQ(kernels::cpu::resolve_isa("auto"), kernels::cpu::best_isa());
  EXPECT_EQ(kernels::cpu::resolve_isa("scalar"), Isa::Scalar);
  try {
    kernels::cpu::resolve_isa("sse9");
    ADD_FAILURE() << "no error for an unknown ISA";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("sse9"), std::string::npos);
  }
  for (Isa isa : {Isa::Avx2, Isa::Avx512, Isa::Amx}) {
    const std::string name(kernels::cpu::isa_name(isa));
    if (kernels::cpu::isa_supported(isa)) {
      EXPECT_EQ(kernels::make_backend({"cpu", 1, name})->capabilities().isa, name);
    } else {
      try {
        kernels::make_backend({"cpu", 1, name});
        ADD_FAILURE() << "no error for unsupported " << name;
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("does not support"), std::string::npos);
        EXPECT_NE(std::string(e.what()).find(name), std::string::npos);
      }
    }
  }
  EXPECT_EQ(kernels::make_backend({"cpu", 1})->capabilities().isa,
            std::string(kernels::cpu::isa_name(kernels::cpu::best_isa())));
}

}  // namespace
}  // namespace dsinfer
