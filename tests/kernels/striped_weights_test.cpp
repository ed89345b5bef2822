// Striped weight copies (HostArena::alloc_striped, Weight::stripe_groups): the
// CPU backend cuts a quantized matrix of whole decode tiles per stripe into 8
// stripes a multiple of 32 MB apart, whether it packs the matrix from rows or
// copies an already packed one. Every group keeps its bytes, every row its
// values, and every product (decode tiles across the stripes, 2-token tiles,
// span and batch tiles, prefill, views cut inside a stripe or across two,
// a batch of two striped products sharing an input) the bits of the same
// backend's contiguous copy, with 1 to 3 threads cutting the work.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/quant.h"
#include "kernels/backend.h"
#include "kernels/cpu/isa.h"
#include "kernels/host_arena.h"
#include "kernels/packed.h"

namespace dsinfer::kernels {
namespace {

constexpr int64_t kCols = 512;
// 8 stripes of 3 groups, the last group 12 rows of 16: stripe boundaries at
// rows 48, 96, ..., and an odd number of groups per stripe (the prefill
// tiles take groups in pairs).
constexpr int64_t kRows = 8 * 3 * 16 - 4;

struct Stored {
  std::vector<uint8_t> rows, packed;
  Weight in_rows, in_groups;
};

Stored make_stored(DType t, uint32_t seed) {
  Stored s;
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 0.1f);
  const size_t rb = row_bytes(t, kCols);
  s.rows.resize(rb * kRows);
  std::vector<float> row(kCols);
  for (int64_t r = 0; r < kRows; ++r) {
    for (float& v : row) v = nd(rng);
    quantize_row(t, row.data(), kCols, s.rows.data() + rb * static_cast<size_t>(r));
  }
  s.in_rows = Weight{t, kRows, kCols, 0, s.rows.data()};
  s.packed.resize(packed::packed_bytes(t, kRows, kCols));
  packed::pack_groups(s.in_rows, 0, packed::groups(kRows), s.packed.data());
  s.in_groups = packed::packed_view(s.in_rows, s.packed.data());
  return s;
}

std::vector<float> product(Backend& be, const Weight& w, int64_t n, const std::vector<float>& x) {
  std::vector<float> y(static_cast<size_t>(n * (kRows + 3)), -7.0f);
  MatmulArgs a;
  a.x = x.data();
  a.x_stride = kCols + 1;
  a.n = n;
  a.w = &w;
  a.y = y.data();
  a.y_stride = kRows + 3;
  be.matmul(a);
  return y;
}

class StripedWeights : public ::testing::TestWithParam<DType> {};

TEST_P(StripedWeights, KeepEveryByteAndEveryProductsBits) {
  if (!cpu::isa_supported(cpu::Isa::Avx512)) GTEST_SKIP() << "no AVX-512 on this CPU: striped copies NOT tested: SKIPPED";
  const Stored s = make_stored(GetParam(), 11);
  const int64_t gbytes = packed::group_bytes(GetParam(), kCols);
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(21 * (kCols + 1)));
  for (float& v : x) v = nd(rng);
  for (int threads : {1, 2, 3}) {
    auto plain = make_backend({"cpu", threads, "avx512", false, BackendOptions::Stripes::Off});
    auto striped = make_backend({"cpu", threads, "avx512", false, BackendOptions::Stripes::On});
    for (const Weight& src : {s.in_rows, s.in_groups}) {
      const Weight a = plain->import_weight(src), b = striped->import_weight(src);
      ASSERT_EQ(a.stripe_groups, 0);
      ASSERT_EQ(b.stripe_groups, 3);
      EXPECT_EQ(b.stripe_bytes % static_cast<int64_t>(HostArena::kStripeAlign), 0);
      EXPECT_EQ(packed::group_ptr(b, 3, gbytes), static_cast<const uint8_t*>(b.data) + b.stripe_bytes);
      for (int64_t g = 0; g < packed::groups(kRows); ++g)
        ASSERT_EQ(0, std::memcmp(packed::group_ptr(a, g, gbytes), packed::group_ptr(b, g, gbytes), static_cast<size_t>(gbytes)))
            << "group " << g;
      std::vector<uint8_t> back(s.rows.size());
      packed::unpack_groups(b, 0, packed::groups(kRows), back.data());
      EXPECT_EQ(back, s.rows) << "unpacked from the stripes";
      std::vector<float> ra(kCols), rb(kCols);
      for (int64_t r : {int64_t{0}, int64_t{47}, int64_t{48}, int64_t{200}, kRows - 1}) {
        dequant_row(a, r, ra.data());
        dequant_row(b, r, rb.data());
        ASSERT_EQ(ra, rb) << "row " << r;
      }
      // whole; inside stripe 1 and 2 exactly; across stripe boundaries from a group's middle
      for (auto [first, n_rows] : {std::pair<int64_t, int64_t>{0, kRows}, {48, 96}, {5, 300}})
        for (int64_t n : {1, 2, 3, 6, 8, 21}) {
          const Weight va = a.slice_rows(first, n_rows), vb = b.slice_rows(first, n_rows);
          ASSERT_EQ(product(*plain, va, n, x), product(*striped, vb, n, x))
              << threads << " threads, rows " << first << " + " << n_rows << ", " << n << " tokens";
        }
    }
  }
}

TEST_P(StripedWeights, BatchOfStripedProductsEqualsContiguous) {
  if (!cpu::isa_supported(cpu::Isa::Avx512)) GTEST_SKIP() << "no AVX-512 on this CPU: striped copies NOT tested: SKIPPED";
  const Stored s = make_stored(GetParam(), 12), u = make_stored(GetParam(), 13);
  std::vector<float> x(static_cast<size_t>(2 * (kCols + 1)), 0.25f);
  x[3] = -1.5f;
  for (int64_t n : {1, 2}) {
    std::vector<float> y[2];
    for (bool stripes : {false, true}) {
      auto be = make_backend({"cpu", 2, "avx512", false, stripes ? BackendOptions::Stripes::On : BackendOptions::Stripes::Off});
      const Weight gate = be->import_weight(s.in_rows), up = be->import_weight(u.in_groups);
      ASSERT_EQ(gate.stripe_groups != 0, stripes);
      y[stripes].assign(static_cast<size_t>(2 * n * kRows), 0.0f);
      const MatmulArgs args[2] = {{x.data(), kCols + 1, n, &gate, false, nullptr, y[stripes].data(), 2 * kRows},
                                  {x.data(), kCols + 1, n, &up, false, nullptr, y[stripes].data() + kRows, 2 * kRows}};
      be->matmul_batch(args, 2);
    }
    EXPECT_EQ(y[0], y[1]) << n << " tokens";
  }
}

// Stripes::Auto (the default) stripes a matrix exactly where
// cpu::stripes_read_faster says this CPU reads stripes faster, and the
// backend reports what it chose; On and Off are obeyed everywhere.
TEST_P(StripedWeights, AutoStripesWhereTheyReadFaster) {
  if (!cpu::isa_supported(cpu::Isa::Avx512)) GTEST_SKIP() << "no AVX-512 on this CPU: striped copies NOT tested: SKIPPED";
  const Stored s = make_stored(GetParam(), 14);
  using S = BackendOptions::Stripes;
  EXPECT_EQ(BackendOptions{}.stripe_weights, S::Auto);
  for (const S mode : {S::Auto, S::On, S::Off}) {
    const bool want = mode == S::On || (mode == S::Auto && cpu::stripes_read_faster());
    auto be = make_backend({"cpu", 2, "avx512", false, mode});
    EXPECT_EQ(be->capabilities().striped_weights, want) << static_cast<int>(mode);
    EXPECT_EQ(be->import_weight(s.in_rows).stripe_groups != 0, want) << static_cast<int>(mode);
  }
}

INSTANTIATE_TEST_SUITE_P(Types, StripedWeights, ::testing::Values(DType::Q4_K, DType::Q8_0, DType::Q4_0),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

}  // namespace
}  // namespace dsinfer::kernels
