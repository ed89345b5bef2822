// embed, rms_norm, rope, silu_mul, add, copy_rows and scatter_add on every
// backend against the reference backend, plus checks of the reference kernels
// themselves against formulas evaluated here (the oracle must be right too).
//
// Tolerances: exact ops (embed, add, copy_rows) must match bit for bit. For
// the others the reference uses float transcendental functions or a double
// sum of squares; an optimised kernel may use a vectorised exp/sin/cos (a few
// ulp) or a float sum of `dim` squares (relative error ~ sqrt(dim) 2^-24), so
// we allow 1e-6 absolute plus 1e-5 relative (rms_norm: 2e-6 sqrt(dim)
// relative, >= 2.6e-5 for dim 13..257), far below any logic error (a wrong
// element, a wrong pair, a missed row are O(1) relative).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numbers>
#include <numeric>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "kernels/backend.h"
#include "kernels/cpu/activation.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/norm.h"
#include "kernels/kernel_test_util.h"
#include "kernels/reference/ops.h"

namespace dsinfer::test {
namespace {

using kernels::Backend;
using kernels::Buffer;

constexpr float kSentinel = -777.25f;

// ---------------------------------------------------------------- factory

TEST(BackendFactoryTest, MakesTheNamedBackends) {
  auto ref = kernels::make_backend({"reference", 1});
  ASSERT_TRUE(ref);
  EXPECT_EQ(ref->capabilities().name, "reference");
  for (int t = 1; t <= 3; ++t) {
    auto cpu = kernels::make_backend({"cpu", t});
    ASSERT_TRUE(cpu);
    EXPECT_EQ(cpu->capabilities().name, "cpu");
    EXPECT_EQ(cpu->capabilities().threads, t);
    EXPECT_TRUE(cpu->capabilities().unified_memory);
  }
  auto scalar = kernels::make_backend({"cpu", 1, "scalar"});
  EXPECT_EQ(scalar->capabilities().isa, "scalar");
  try {
    kernels::make_backend({"cpu", 1, "sse9"});
    FAIL() << "unknown ISA accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("sse9"), std::string::npos) << e.what();
  }
  try {
    kernels::make_backend({"cuda-nope", 1});
    FAIL() << "unknown backend accepted";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("cuda-nope"), std::string::npos) << msg;
    EXPECT_NE(msg.find("cpu"), std::string::npos) << msg;
    EXPECT_NE(msg.find("reference"), std::string::npos) << msg;
  }
}

TEST(BackendFactoryTest, AllocIsZeroedAndRoundTrips) {
  for (const char* name : {"reference", "cpu"}) {
    auto be = kernels::make_backend({name, 2});
    Buffer b = be->alloc(1001);
    EXPECT_EQ(b.bytes(), 1001u);
    std::vector<uint8_t> got(1001, 0xAA);
    be->download(got.data(), b, got.size());
    EXPECT_TRUE(std::all_of(got.begin(), got.end(), [](uint8_t v) { return v == 0; })) << name;
    const std::vector<uint8_t> src = {1, 2, 3, 4, 5};
    be->upload(b, src.data(), src.size(), 997);
    std::vector<uint8_t> back(5);
    be->download(back.data(), b, 5, 996);
    EXPECT_EQ(back, (std::vector<uint8_t>{0, 1, 2, 3, 4})) << name;
  }
}

// ---------------------------------------------------------------- per-op runners

// Embedding rows of a BF16 table (row0 = table offset for a sliced table).
std::vector<float> run_embed(Backend& be, const kernels::Weight& host_table, const std::vector<int32_t>& ids) {
  const kernels::Weight t = be.import_weight(host_table);
  const auto idd = to_device(be, ids);
  const auto out = to_device(be, std::vector<float>(ids.size() * static_cast<size_t>(t.cols), kSentinel));
  be.embed(t, idd.i32(), static_cast<int64_t>(ids.size()), out.f32());
  return from_device<float>(be, out, ids.size() * static_cast<size_t>(t.cols));
}

struct NormCase {
  int64_t n, dim, x_stride, y_stride;
  bool in_place;
  float eps;
};

// Returns the whole output buffer (y, or x when in place).
std::vector<float> run_rms_norm(Backend& be, const NormCase& c, const std::vector<float>& x,
                                const std::vector<float>& w) {
  const auto xd = to_device(be, x);
  const auto wd = to_device(be, w);
  Buffer yd;
  if (!c.in_place) yd = to_device(be, std::vector<float>(static_cast<size_t>(c.n * c.y_stride), kSentinel));
  kernels::NormArgs a;
  a.x = xd.f32();
  a.x_stride = c.x_stride;
  a.weight = wd.f32();
  a.y = c.in_place ? xd.f32() : yd.f32();
  a.y_stride = c.in_place ? c.x_stride : c.y_stride;
  a.n = c.n;
  a.dim = c.dim;
  a.eps = c.eps;
  be.rms_norm(a);
  return c.in_place ? from_device<float>(be, xd, x.size())
                    : from_device<float>(be, yd, static_cast<size_t>(c.n * c.y_stride));
}

std::vector<float> norm_input(const NormCase& c, std::mt19937& rng) {
  std::vector<float> x(static_cast<size_t>(c.n * c.x_stride), kSentinel);
  std::uniform_real_distribution<float> u(-3.0f, 3.0f);
  for (int64_t t = 0; t < c.n; ++t)
    for (int64_t i = 0; i < c.dim; ++i) x[static_cast<size_t>(t * c.x_stride + i)] = u(rng) * (1.0f + t);
  return x;
}

const NormCase kNormCases[] = {
    {5, 13, 13, 13, false, 1e-6f},  {1, 1, 1, 1, false, 1e-5f},    {129, 67, 70, 69, false, 1e-6f},
    {7, 257, 300, 257, false, 1e-5f}, {33, 130, 131, 131, true, 1e-6f}, {300, 13, 16, 16, true, 1e-6f},
};

// Reference rms_norm against y = w * x / sqrt(mean(x^2) + eps) evaluated in double.
TEST(ElementwiseReferenceTest, RmsNormMatchesFormula) {
  auto ref = make_reference();
  std::mt19937 rng(5);
  for (const NormCase& c : kNormCases) {
    SCOPED_TRACE(testing::Message() << "n=" << c.n << " dim=" << c.dim << " in_place=" << c.in_place);
    const auto x = norm_input(c, rng);
    const auto w = random_floats(rng, static_cast<size_t>(c.dim), 0.5f, 1.5f);
    const auto y = run_rms_norm(*ref, c, x, w);
    const int64_t ys = c.in_place ? c.x_stride : c.y_stride;
    std::vector<float> got;
    std::vector<double> want, tol;
    for (int64_t t = 0; t < c.n; ++t) {
      double ss = 0;
      for (int64_t i = 0; i < c.dim; ++i) ss += std::pow(static_cast<double>(x[static_cast<size_t>(t * c.x_stride + i)]), 2);
      const double inv = 1.0 / std::sqrt(ss / static_cast<double>(c.dim) + c.eps);
      for (int64_t i = 0; i < c.dim; ++i) {
        got.push_back(y[static_cast<size_t>(t * ys + i)]);
        want.push_back(w[static_cast<size_t>(i)] * x[static_cast<size_t>(t * c.x_stride + i)] * inv);
        tol.push_back(1e-6 * (1.0 + std::fabs(want.back())));
      }
      // Padding of the output rows is untouched.
      for (int64_t i = c.dim; i < ys; ++i) EXPECT_EQ(y[static_cast<size_t>(t * ys + i)], kSentinel) << "col " << i;
    }
    EXPECT_TRUE(all_close(got, want, tol));
  }
}

TEST(ElementwiseReferenceTest, RmsNormOfConstantRowIsTheWeight) {
  // x = c for all i: mean(x^2) = c^2, so y = w * c / sqrt(c^2 + eps) ~ w * sign(c).
  auto ref = make_reference();
  const NormCase c{2, 7, 7, 7, false, 0.0f};
  std::vector<float> x = {3, 3, 3, 3, 3, 3, 3, -0.5f, -0.5f, -0.5f, -0.5f, -0.5f, -0.5f, -0.5f};
  std::vector<float> w = {1, 2, 3, 4, 5, 6, 7};
  const auto y = run_rms_norm(*ref, c, x, w);
  for (int i = 0; i < 7; ++i) {
    EXPECT_FLOAT_EQ(y[static_cast<size_t>(i)], w[static_cast<size_t>(i)]);
    EXPECT_FLOAT_EQ(y[static_cast<size_t>(7 + i)], -w[static_cast<size_t>(i)]);
  }
}

// ---------------------------------------------------------------- rope

struct RopeCase {
  int64_t n_tokens, n_heads, head_dim, token_pad, offset, rot_dim;
  float mscale;
  kernels::RopeStyle style;
  int64_t token_stride() const { return n_heads * head_dim + token_pad; }
};

std::vector<float> inv_freq_for(int64_t rot_dim, double theta) {
  std::vector<float> f(static_cast<size_t>(rot_dim / 2));
  for (int64_t i = 0; i < rot_dim / 2; ++i)
    f[static_cast<size_t>(i)] = static_cast<float>(std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(rot_dim)));
  return f;
}

std::vector<float> run_rope(Backend& be, const RopeCase& c, const std::vector<float>& x,
                            const std::vector<int32_t>& pos, const std::vector<float>& inv_freq) {
  const auto xd = to_device(be, x);
  const auto pd = to_device(be, pos);
  const auto fd = to_device(be, inv_freq);
  kernels::RopeArgs a;
  a.x = xd.f32();
  a.n_tokens = c.n_tokens;
  a.n_heads = c.n_heads;
  a.token_stride = c.token_stride();
  a.head_stride = c.head_dim;
  a.offset = c.offset;
  a.rot_dim = c.rot_dim;
  a.positions = pd.i32();
  a.inv_freq = fd.f32();
  a.mscale = c.mscale;
  a.style = c.style;
  be.rope(a);
  return from_device<float>(be, xd, x.size());
}

std::vector<RopeCase> rope_cases() {
  std::vector<RopeCase> v;
  for (auto style : {kernels::RopeStyle::NeoX, kernels::RopeStyle::Interleaved}) {
    v.push_back({7, 3, 24, 5, 8, 16, 1.3f, style});    // DeepSeek-like: rope part after the nope part
    v.push_back({1, 1, 2, 0, 0, 2, 1.0f, style});      // one pair
    v.push_back({33, 5, 18, 0, 0, 18, 1.0f, style});   // whole head rotated, rot_dim/2 odd
    v.push_back({5, 4, 64, 3, 0, 32, 0.707f, style});  // partial rotation at the head start
  }
  return v;
}

// Reference rope against the rotation written out here: for each pair
// (x0, x1) -> mscale * (x0 cos - x1 sin, x1 cos + x0 sin), with the angle the
// float product pos * inv_freq (as the reference frameworks compute it).
TEST(ElementwiseReferenceTest, RopeMatchesRotationFormula) {
  auto ref = make_reference();
  std::mt19937 rng(11);
  for (const RopeCase& c : rope_cases()) {
    const bool neox = c.style == kernels::RopeStyle::NeoX;
    SCOPED_TRACE(testing::Message() << (neox ? "neox" : "interleaved") << " tokens=" << c.n_tokens
                                    << " heads=" << c.n_heads << " rot_dim=" << c.rot_dim);
    const auto x = random_floats(rng, static_cast<size_t>(c.n_tokens * c.token_stride()));
    std::vector<int32_t> pos(static_cast<size_t>(c.n_tokens));
    std::uniform_int_distribution<int32_t> pd(0, 5000);
    for (auto& p : pos) p = pd(rng);
    const auto inv = inv_freq_for(c.rot_dim, 10000.0);
    const auto y = run_rope(*ref, c, x, pos, inv);
    std::vector<bool> rotated(x.size(), false);
    const int64_t half = c.rot_dim / 2;
    for (int64_t t = 0; t < c.n_tokens; ++t)
      for (int64_t h = 0; h < c.n_heads; ++h) {
        const int64_t base = t * c.token_stride() + h * c.head_dim + c.offset;
        for (int64_t i = 0; i < half; ++i) {
          const int64_t i0 = base + (neox ? i : 2 * i);
          const int64_t i1 = base + (neox ? i + half : 2 * i + 1);
          const float ang = static_cast<float>(pos[static_cast<size_t>(t)]) * inv[static_cast<size_t>(i)];
          const double co = std::cos(static_cast<double>(ang)), si = std::sin(static_cast<double>(ang));
          const double x0 = x[static_cast<size_t>(i0)], x1 = x[static_cast<size_t>(i1)];
          const double y0 = c.mscale * (x0 * co - x1 * si);
          const double y1 = c.mscale * (x1 * co + x0 * si);
          EXPECT_NEAR(y[static_cast<size_t>(i0)], y0, 2e-6 * (1 + std::fabs(y0))) << "t=" << t << " h=" << h << " i=" << i;
          EXPECT_NEAR(y[static_cast<size_t>(i1)], y1, 2e-6 * (1 + std::fabs(y1))) << "t=" << t << " h=" << h << " i=" << i;
          // The pair's squared norm is scaled by mscale^2.
          const double n_in = x0 * x0 + x1 * x1;
          const double n_out = std::pow(y[static_cast<size_t>(i0)], 2) + std::pow(y[static_cast<size_t>(i1)], 2);
          EXPECT_NEAR(n_out, c.mscale * c.mscale * n_in, 1e-5 * (1 + n_in));
          rotated[static_cast<size_t>(i0)] = rotated[static_cast<size_t>(i1)] = true;
        }
      }
    // Everything outside the rotated slices is untouched.
    for (size_t i = 0; i < x.size(); ++i)
      if (!rotated[i]) {
        ASSERT_EQ(y[i], x[i]) << "element " << i << " outside the rotary part changed";
      }
  }
}

TEST(ElementwiseReferenceTest, RopePositionZeroIsIdentityAndPairsAreTheDocumentedOnes) {
  auto ref = make_reference();
  for (auto style : {kernels::RopeStyle::NeoX, kernels::RopeStyle::Interleaved}) {
    const bool neox = style == kernels::RopeStyle::NeoX;
    SCOPED_TRACE(neox ? "neox" : "interleaved");
    // Position 0, mscale 1: identity, exactly.
    const RopeCase c0{2, 2, 8, 0, 0, 8, 1.0f, style};
    std::mt19937 rng(3);
    const auto x = random_floats(rng, 32);
    const auto y0 = run_rope(*ref, c0, x, {0, 0}, inv_freq_for(8, 10000.0));
    EXPECT_TRUE(all_equal(y0, x));

    // A unit vector e_0 rotated by a quarter turn (angle pi/2 for frequency 0)
    // lands on its partner: e_half for NeoX, e_1 for interleaved.
    const RopeCase c1{1, 1, 8, 0, 0, 8, 1.0f, style};
    std::vector<float> e0(8, 0.0f);
    e0[0] = 1.0f;
    std::vector<float> inv = {static_cast<float>(std::numbers::pi / 2), 0.0f, 0.0f, 0.0f};
    const auto y1 = run_rope(*ref, c1, e0, {1}, inv);
    const size_t partner = neox ? 4 : 1;
    for (size_t i = 0; i < 8; ++i) {
      if (i == partner)
        EXPECT_NEAR(y1[i], 1.0f, 1e-7) << i;
      else
        EXPECT_NEAR(y1[i], 0.0f, 1e-7) << i;
    }
    // And e_partner goes to -e_0.
    std::vector<float> ep(8, 0.0f);
    ep[partner] = 1.0f;
    const auto y2 = run_rope(*ref, c1, ep, {1}, inv);
    for (size_t i = 0; i < 8; ++i) EXPECT_NEAR(y2[i], i == 0 ? -1.0f : 0.0f, 1e-7) << i;
    // mscale 2 at position 0 doubles the rotated part and leaves nothing else.
    const RopeCase c2{1, 1, 8, 0, 0, 8, 2.0f, style};
    const auto y3 = run_rope(*ref, c2, x, {0}, inv_freq_for(8, 10000.0));
    for (size_t i = 0; i < 8; ++i) EXPECT_EQ(y3[i], 2.0f * x[i]) << i;
  }
}

// ---------------------------------------------------------------- backend comparisons

class ElementwiseBackendTest : public ::testing::TestWithParam<BackendCase> {
 protected:
  void SetUp() override {
    be_ = make_or_null(GetParam());
    if (!be_) GTEST_SKIP() << "ISA \"" << GetParam().isa << "\" is not supported by this CPU: SKIPPED";
  }
  std::unique_ptr<Backend> ref_ = make_reference();
  std::unique_ptr<Backend> be_;
};

TEST_P(ElementwiseBackendTest, EmbedBf16) {
  std::mt19937 rng(21);
  for (int64_t cols : {1, 13, 67, 130, 257}) {
    const int64_t vocab = 37;
    std::vector<uint16_t> table(static_cast<size_t>(vocab * cols));
    for (auto& h : table) h = static_cast<uint16_t>(rng() & 0xffffu);
    for (auto& h : table)
      if ((h & 0x7f80u) == 0x7f80u) h &= 0xbfffu;  // keep values finite so equality is meaningful
    kernels::Weight w;
    w.dtype = DType::BF16;
    w.rows = vocab;
    w.cols = cols;
    w.data = table.data();
    for (int64_t row0 : {0, 4}) {  // also a table view starting at row 4
      SCOPED_TRACE(testing::Message() << "cols=" << cols << " row0=" << row0);
      const kernels::Weight t = row0 ? w.slice_rows(row0, vocab - row0) : w;
      std::vector<int32_t> ids;
      for (int i = 0; i < 33; ++i) ids.push_back(static_cast<int32_t>(rng() % static_cast<uint32_t>(t.rows)));
      ids[5] = ids[1];  // a repeated id
      ids[0] = 0;
      ids[32] = static_cast<int32_t>(t.rows - 1);
      const auto want = run_embed(*ref_, t, ids);
      const auto got = run_embed(*be_, t, ids);
      EXPECT_TRUE(all_equal(got, want));
      // And the oracle is the table row, expanded bit by bit.
      for (size_t i = 0; i < ids.size(); ++i)
        for (int64_t c = 0; c < cols; ++c) {
          const uint32_t bits = static_cast<uint32_t>(table[static_cast<size_t>((row0 + ids[i]) * cols + c)]) << 16;
          float f;
          std::memcpy(&f, &bits, 4);
          ASSERT_EQ(want[i * static_cast<size_t>(cols) + static_cast<size_t>(c)], f) << "id #" << i << " col " << c;
        }
    }
  }
}

TEST_P(ElementwiseBackendTest, RmsNorm) {
  std::mt19937 rng(31);
  for (const NormCase& c : kNormCases) {
    SCOPED_TRACE(testing::Message() << "n=" << c.n << " dim=" << c.dim << " in_place=" << c.in_place);
    const auto x = norm_input(c, rng);
    const auto w = random_floats(rng, static_cast<size_t>(c.dim), 0.5f, 1.5f);
    const auto want = run_rms_norm(*ref_, c, x, w);
    const auto got = run_rms_norm(*be_, c, x, w);
    // Padding holds the sentinel in both; rows hold values.
    EXPECT_TRUE(all_close(got, want, 1e-6, 2e-6 * std::sqrt(static_cast<double>(c.dim))));
  }
}

TEST_P(ElementwiseBackendTest, Rope) {
  std::mt19937 rng(41);
  for (const RopeCase& c : rope_cases()) {
    SCOPED_TRACE(testing::Message() << (c.style == kernels::RopeStyle::NeoX ? "neox" : "interleaved")
                                    << " tokens=" << c.n_tokens << " heads=" << c.n_heads);
    const auto x = random_floats(rng, static_cast<size_t>(c.n_tokens * c.token_stride()));
    std::vector<int32_t> pos(static_cast<size_t>(c.n_tokens));
    std::uniform_int_distribution<int32_t> pd(0, 100000);
    for (auto& p : pos) p = pd(rng);
    pos[0] = 0;
    const auto inv = inv_freq_for(c.rot_dim, 500000.0);
    const auto want = run_rope(*ref_, c, x, pos, inv);
    const auto got = run_rope(*be_, c, x, pos, inv);
    EXPECT_TRUE(all_close(got, want, 1e-6, 1e-5));
  }
}

TEST_P(ElementwiseBackendTest, SiluMulAndAdd) {
  std::mt19937 rng(51);
  for (int64_t n : {1, 3, 7, 33, 4095, 4097, 10007}) {
    SCOPED_TRACE(testing::Message() << "n=" << n);
    const auto g = random_floats(rng, static_cast<size_t>(n), -20.0f, 20.0f);
    const auto u = random_floats(rng, static_cast<size_t>(n), -2.0f, 2.0f);
    std::vector<float> outs[2];
    int k = 0;
    for (Backend* be : {ref_.get(), be_.get()}) {
      const auto gd = to_device(*be, g);
      const auto ud = to_device(*be, u);
      const auto od = to_device(*be, std::vector<float>(static_cast<size_t>(n) + 3, kSentinel));
      be->silu_mul(gd.f32(), ud.f32(), od.f32(), n);
      outs[k++] = from_device<float>(*be, od, static_cast<size_t>(n) + 3);
    }
    EXPECT_TRUE(all_close(outs[1], outs[0], 1e-6, 1e-5));
    // Oracle: silu(g) * u = g / (1 + e^-g) * u, in double.
    std::vector<double> want(static_cast<size_t>(n)), tol(want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      want[i] = g[i] / (1.0 + std::exp(-static_cast<double>(g[i]))) * u[i];
      tol[i] = 1e-7 + 1e-6 * std::fabs(want[i]);
    }
    EXPECT_TRUE(all_close(std::vector<float>(outs[0].begin(), outs[0].begin() + n), want, tol));
    for (int j = 0; j < 3; ++j) EXPECT_EQ(outs[1][static_cast<size_t>(n + j)], kSentinel) << "wrote past n";

    // add: y += x is one correctly rounded float add per element: exact.
    const auto x = random_floats(rng, static_cast<size_t>(n));
    std::vector<float> y0 = random_floats(rng, static_cast<size_t>(n));
    y0.push_back(kSentinel);
    const auto yd = to_device(*be_, y0);
    const auto xd = to_device(*be_, x);
    be_->add(yd.f32(), xd.f32(), n);
    std::vector<float> want_add(y0);
    for (size_t i = 0; i < static_cast<size_t>(n); ++i) want_add[i] = y0[i] + x[i];
    EXPECT_TRUE(all_equal(from_device<float>(*be_, yd, y0.size()), want_add));
  }
}

// The CPU's AVX-512 silu_mul and its scalar twin agree bit for bit on random
// inputs of awkward lengths and offsets, and on the edge values (zeros,
// infinities, NaN, exp's overflow and underflow ranges).
TEST(CpuActivationTwins, SiluMulAgreesBitForBit) {
  if (!kernels::cpu::isa_supported(kernels::cpu::Isa::Avx512)) GTEST_SKIP() << "no AVX-512 on this CPU: SKIPPED";
  std::mt19937 rng(61);
  const float inf = std::numeric_limits<float>::infinity();
  for (int64_t n : {1, 15, 17, 33, 1000, 4099}) {
    auto g = random_floats(rng, static_cast<size_t>(n), -30.0f, 30.0f);
    const auto u = random_floats(rng, static_cast<size_t>(n), -2.0f, 2.0f);
    const float edges[] = {0.0f, -0.0f, inf, -inf, std::nanf(""), 89.0f, -89.0f, 104.5f, -104.5f, 1e-30f, -200.0f};
    for (size_t i = 0; i < std::size(edges) && i < g.size(); ++i) g[(i * 7) % g.size()] = edges[i];
    for (int64_t begin : {int64_t{0}, n / 3}) {
      std::vector<float> scalar(static_cast<size_t>(n), kSentinel), simd(scalar);
      kernels::cpu::silu_mul_scalar({g.data(), u.data(), scalar.data()}, begin, n);
      kernels::cpu::silu_mul_avx512({g.data(), u.data(), simd.data()}, begin, n);
      ASSERT_EQ(0, std::memcmp(scalar.data(), simd.data(), scalar.size() * sizeof(float))) << "n=" << n << " begin=" << begin;
      for (int64_t i = 0; i < begin; ++i) ASSERT_EQ(simd[static_cast<size_t>(i)], kSentinel) << "wrote before begin";
    }
  }
}

// The CPU's AVX-512 RMS norm against its scalar twin, the reference: both sum
// the squares in double (in another order) and scale with the same float
// operations, so they agree to an ulp or two, on awkward widths, strided rows,
// in place, on all-zero rows and on values whose squares overflow a float.
TEST(CpuNormTwins, RmsNormAgreesWithTheReference) {
  if (!kernels::cpu::isa_supported(kernels::cpu::Isa::Avx512)) GTEST_SKIP() << "no AVX-512 on this CPU: SKIPPED";
  std::mt19937 rng(67);
  for (int64_t dim : {1, 7, 15, 17, 31, 33, 100, 1536, 2049}) {
    const int64_t rows = 5, stride = dim + 3;
    auto x = random_floats(rng, static_cast<size_t>(rows * stride), -4.0f, 4.0f);
    std::fill_n(x.begin() + 2 * stride, dim, 0.0f);     // row 2: all zeros
    std::fill_n(x.begin() + 3 * stride, dim, 3e20f);    // row 3: squares beyond float's range
    const auto w = random_floats(rng, static_cast<size_t>(dim), -2.0f, 2.0f);
    for (bool in_place : {false, true}) {
      std::vector<float> ref_y(x.size(), kSentinel), simd_y(ref_y);
      if (in_place) ref_y = simd_y = x;
      const auto args = [&](std::vector<float>& y) {
        return kernels::NormArgs{in_place ? y.data() : x.data(), stride, w.data(), y.data(), stride, rows, dim, 1e-6f};
      };
      kernels::ref::rms_norm(args(ref_y), 1, rows);
      kernels::cpu::rms_norm_avx512(args(simd_y), 1, rows);
      for (size_t i = 0; i < ref_y.size(); ++i) {
        const float r = ref_y[i], v = simd_y[i];
        ASSERT_TRUE(std::isfinite(v)) << "dim " << dim << " index " << i;
        ASSERT_LE(std::fabs(v - r), 3e-7f * std::fabs(r)) << "dim " << dim << " index " << i << (in_place ? " in place" : "");
        if (static_cast<int64_t>(i) < stride) {
          ASSERT_EQ(v, r) << "row 0 is outside [begin, end) and must stay as it was";
        }
      }
    }
  }
}

TEST_P(ElementwiseBackendTest, CopyRowsWithAndWithoutIndices) {
  std::mt19937 rng(61);
  for (int64_t dim : {1, 13, 130}) {
    const int64_t n = 33, src_rows = 40, dst_rows = 50;
    const int64_t ss = dim + 3, ds = dim + 1;
    const auto src = random_floats(rng, static_cast<size_t>(src_rows * ss));
    std::vector<int64_t> sidx(static_cast<size_t>(n)), didx(static_cast<size_t>(dst_rows));
    for (auto& i : sidx) i = static_cast<int64_t>(rng() % static_cast<uint32_t>(src_rows));  // repeats allowed
    std::iota(didx.begin(), didx.end(), 0);
    std::shuffle(didx.begin(), didx.end(), rng);
    didx.resize(static_cast<size_t>(n));  // distinct destinations
    for (int mode = 0; mode < 4; ++mode) {
      const bool use_s = mode & 1, use_d = mode & 2;
      SCOPED_TRACE(testing::Message() << "dim=" << dim << " src_idx=" << use_s << " dst_idx=" << use_d);
      std::vector<float> want(static_cast<size_t>(dst_rows * ds), kSentinel);
      for (int64_t i = 0; i < n; ++i) {
        const int64_t si = use_s ? sidx[static_cast<size_t>(i)] : i;
        const int64_t di = use_d ? didx[static_cast<size_t>(i)] : i;
        for (int64_t c = 0; c < dim; ++c)
          want[static_cast<size_t>(di * ds + c)] = src[static_cast<size_t>(si * ss + c)];
      }
      for (Backend* be : {ref_.get(), be_.get()}) {
        const auto sd = to_device(*be, src);
        const auto dd = to_device(*be, std::vector<float>(static_cast<size_t>(dst_rows * ds), kSentinel));
        const auto sid = to_device(*be, sidx);
        const auto did = to_device(*be, didx);
        kernels::RowCopyArgs a;
        a.src = sd.f32();
        a.src_stride = ss;
        a.dst = dd.f32();
        a.dst_stride = ds;
        a.n = n;
        a.dim = dim;
        a.src_idx = use_s ? sid.i64() : nullptr;
        a.dst_idx = use_d ? did.i64() : nullptr;
        be->copy_rows(a);
        EXPECT_TRUE(all_equal(from_device<float>(*be, dd, want.size()), want)) << be->capabilities().name;
      }
    }
  }
}

// A KV cache's rows: float32 -> bf16 rounds each value to nearest even
// (dtype.h's f32_to_bf16, checked by hand on ties here), bf16 -> float32 is
// exact, and an unsupported dtype is refused by name before anything runs.
TEST_P(ElementwiseBackendTest, CopyRowsToAndFromBf16) {
  std::mt19937 rng(67);
  const int64_t n = 9, dim = 37, rows = 12, ss = dim + 3, ds = dim + 1;
  auto src = random_floats(rng, static_cast<size_t>(n * ss), -3.0f, 3.0f);
  const float ties[3] = {1.00390625f /* 1 + 2^-8: tie, rounds down to even 1 */, 1.01171875f /* 1 + 3 2^-8: up */,
                         -0.0f};
  std::copy(std::begin(ties), std::end(ties), src.begin());
  std::vector<int64_t> didx(static_cast<size_t>(n));
  for (size_t i = 0; i < didx.size(); ++i) didx[i] = static_cast<int64_t>((7 * i + 3) % static_cast<size_t>(rows));
  for (Backend* be : {ref_.get(), be_.get()}) {
    SCOPED_TRACE(be->capabilities().name);
    const auto sd = to_device(*be, src);
    const auto did = to_device(*be, didx);
    const auto half = to_device(*be, std::vector<uint16_t>(static_cast<size_t>(rows * ds), 0x7fc1));
    kernels::RowCopyArgs a{sd.f32(), ss, half.data(), ds, n, dim, nullptr, did.i64(), DType::F32, DType::BF16};
    be->copy_rows(a);
    const auto got = from_device<uint16_t>(*be, half, static_cast<size_t>(rows * ds));
    EXPECT_EQ(got[static_cast<size_t>(didx[0] * ds)], 0x3f80);
    EXPECT_EQ(got[static_cast<size_t>(didx[0] * ds + 1)], 0x3f82);
    EXPECT_EQ(got[static_cast<size_t>(didx[0] * ds + 2)], 0x8000);
    std::vector<uint16_t> want(static_cast<size_t>(rows * ds), 0x7fc1);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t c = 0; c < dim; ++c)
        want[static_cast<size_t>(didx[static_cast<size_t>(i)] * ds + c)] = f32_to_bf16(src[static_cast<size_t>(i * ss + c)]);
    EXPECT_EQ(got, want);
    // And back, gathered by the same indices: each value exactly its bf16's.
    const auto back = to_device(*be, std::vector<float>(static_cast<size_t>(n * ss), kSentinel));
    be->copy_rows({half.data(), ds, back.f32(), ss, n, dim, did.i64(), nullptr, DType::BF16, DType::F32});
    const auto wide = from_device<float>(*be, back, static_cast<size_t>(n * ss));
    for (int64_t i = 0; i < n; ++i)
      for (int64_t c = 0; c < ss; ++c) {
        const float w = c < dim ? bf16_to_f32(want[static_cast<size_t>(didx[static_cast<size_t>(i)] * ds + c)]) : kSentinel;
        ASSERT_EQ(std::memcmp(&wide[static_cast<size_t>(i * ss + c)], &w, 4), 0) << "row " << i << " col " << c;
      }
    a.dst_dtype = DType::F16;
    try {
      be->copy_rows(a);
      ADD_FAILURE() << "an F16 destination was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("F16"), std::string::npos) << e.what();
    }
  }
}

TEST_P(ElementwiseBackendTest, ScatterAddWithRepeatedIndices) {
  std::mt19937 rng(71);
  for (int64_t dim : {1, 13, 67, 130, 257}) {
    SCOPED_TRACE(testing::Message() << "dim=" << dim);
    const int64_t n = 33, dst_rows = 5, ss = dim + 2, ds = dim + 3;
    const auto src = random_floats(rng, static_cast<size_t>(n * ss));
    const auto wts = random_floats(rng, static_cast<size_t>(n), 0.0f, 1.0f);
    std::vector<int64_t> idx(static_cast<size_t>(n));
    for (auto& i : idx) i = static_cast<int64_t>(rng() % 4);  // rows 0..3 only, many repeats; row 4 untouched
    const auto dst0 = random_floats(rng, static_cast<size_t>(dst_rows * ds));
    std::vector<float> outs[2];
    int k = 0;
    for (Backend* be : {ref_.get(), be_.get()}) {
      const auto sd = to_device(*be, src);
      const auto wd = to_device(*be, wts);
      const auto id = to_device(*be, idx);
      const auto dd = to_device(*be, dst0);
      kernels::ScatterAddArgs a;
      a.src = sd.f32();
      a.src_stride = ss;
      a.idx = id.i64();
      a.weights = wd.f32();
      a.dst = dd.f32();
      a.dst_stride = ds;
      a.n = n;
      a.dim = dim;
      be->scatter_add(a);
      outs[k++] = from_device<float>(*be, dd, dst0.size());
    }
    // Exact sums and magnitudes; tolerance 2e-6 sqrt(n) * sum |terms| as for matmul (n = 33 terms at most).
    std::vector<double> want(dst0.begin(), dst0.end()), mag(want.size());
    for (size_t i = 0; i < want.size(); ++i) mag[i] = std::fabs(want[i]);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t c = 0; c < dim; ++c) {
        const double term = static_cast<double>(wts[static_cast<size_t>(i)]) * src[static_cast<size_t>(i * ss + c)];
        want[static_cast<size_t>(idx[static_cast<size_t>(i)] * ds + c)] += term;
        mag[static_cast<size_t>(idx[static_cast<size_t>(i)] * ds + c)] += std::fabs(term);
      }
    std::vector<double> tol(want.size());
    for (size_t i = 0; i < tol.size(); ++i) tol[i] = 2e-6 * std::sqrt(33.0) * mag[i] + 1e-30;
    EXPECT_TRUE(all_close(outs[0], want, tol)) << "reference";
    std::vector<double> ref_d(outs[0].begin(), outs[0].end());
    EXPECT_TRUE(all_close(outs[1], ref_d, tol)) << "backend vs reference";
    // Padding columns and the untouched row are bit-exact copies of the input.
    for (int64_t r = 0; r < dst_rows; ++r)
      for (int64_t c = (r == 4 ? 0 : dim); c < ds; ++c)
        EXPECT_EQ(outs[1][static_cast<size_t>(r * ds + c)], dst0[static_cast<size_t>(r * ds + c)]) << r << "," << c;
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, ElementwiseBackendTest, ::testing::ValuesIn(backends_under_test()),
                         backend_case_name);

}  // namespace
}  // namespace dsinfer::test
