// matmul on every backend against the reference backend, and the reference
// itself against a double-precision product computed here from weights
// dequantized by an independent formula.
//
// Shapes are deliberately awkward (1, 5, 7, 13, 33, 67, 129, 130, 257, 300:
// never multiples of the SIMD widths or of the 128 FP8 block), FP8 weights use
// both 128x128 and 4x8 scale blocks so partial edge blocks occur in both
// dimensions, and row slices start inside a scale block. Padding columns of x
// hold NaN (a kernel reading past `in` poisons its output) and padding columns
// of y hold a sentinel that must survive.
//
// Tolerances. For an output y = sum_k x_k w_k + b let S = sum_k |x_k w_k| + |b|.
//  * Reference vs exact: the reference accumulates in double from float
//    dequantized values, so its only errors are the float rounding of each
//    dequantized FP8 value (scale * code, <= 2^-24 relative) and the final
//    cast to float (<= 2^-24 |y|): |ref - exact| <= 2^-24 (S + |y|). We allow
//    1.2e-7 (S + |y|), twice that bound.
//  * Backend vs reference: a float accumulation of K terms has a worst-case
//    error of about K u S (u = 2^-24) for a serial sum, much less for the
//    blocked sums kernels use; a typical error is sqrt(K) u S. We allow
//    2e-6 sqrt(K) S: about 30x the typical error, and above the worst-case
//    serial bound K u S for every K here (K <= 300 gives K u = 1.8e-5 <
//    2e-6 sqrt(300) = 3.5e-5). A real kernel bug (a dropped or doubled term, a
//    wrong scale block, a wrong row) moves the result by about S / K or more,
//    which is 30x to 1000x above this tolerance for these sizes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "kernels/backend.h"
#include "kernels/kernel_test_util.h"
#include "kernels/weight.h"

namespace dsinfer::test {
namespace {

using kernels::Backend;
using kernels::MatmulArgs;
using kernels::Weight;

constexpr float kSentinel = 12345.5f;

// A stored [stored_rows, cols] matrix in host memory plus its FP8 scales.
struct HostWeight {
  DType dtype = DType::F32;
  int64_t stored_rows = 0;
  int64_t cols = 0;
  int64_t block_rows = 0;
  int64_t block_cols = 0;
  std::vector<uint8_t> bytes;
  std::vector<float> scales;

  int64_t scale_cols() const { return (cols + block_cols - 1) / block_cols; }

  Weight full() const {
    Weight w;
    w.dtype = dtype;
    w.rows = stored_rows;
    w.cols = cols;
    w.row0 = 0;
    w.data = bytes.data();
    if (dtype == DType::F8_E4M3) {
      w.scale_inv = scales.data();
      w.block_rows = block_rows;
      w.block_cols = block_cols;
    }
    return w;
  }

  // Dequantized value of stored element (row, c), written from the format
  // definitions rather than through dsinfer's conversion functions.
  double value(int64_t row, int64_t c) const {
    const size_t i = static_cast<size_t>(row * cols + c);
    switch (dtype) {
      case DType::F32: {
        float f;
        std::memcpy(&f, bytes.data() + 4 * i, 4);
        return f;
      }
      case DType::BF16: {
        uint16_t h;
        std::memcpy(&h, bytes.data() + 2 * i, 2);
        const uint32_t b = static_cast<uint32_t>(h) << 16;
        float f;
        std::memcpy(&f, &b, 4);
        return f;
      }
      case DType::F16: {
        uint16_t h;
        std::memcpy(&h, bytes.data() + 2 * i, 2);
        const int e = (h >> 10) & 0x1f;
        const int m = h & 0x3ff;
        const double mag = e == 0 ? std::ldexp(m, -24) : std::ldexp(1024 + m, e - 25);
        return (h & 0x8000) ? -mag : mag;
      }
      case DType::F8_E4M3: {
        const uint8_t v = bytes[i];
        const int e = (v >> 3) & 0xf;
        const int m = v & 7;
        const double mag = e == 0 ? std::ldexp(m, -9) : std::ldexp(8 + m, e - 10);
        const double s = scales[static_cast<size_t>((row / block_rows) * scale_cols() + c / block_cols)];
        return ((v & 0x80) ? -mag : mag) * s;
      }
      default:
        ADD_FAILURE() << "unexpected dtype";
        return 0;
    }
  }
};

HostWeight make_weight(DType dtype, int64_t rows, int64_t cols, int64_t br, int64_t bc, std::mt19937& rng) {
  HostWeight w;
  w.dtype = dtype;
  w.stored_rows = rows;
  w.cols = cols;
  const size_t count = static_cast<size_t>(rows * cols);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  switch (dtype) {
    case DType::F32: {
      w.bytes.resize(4 * count);
      for (size_t i = 0; i < count; ++i) {
        const float f = u(rng);
        std::memcpy(w.bytes.data() + 4 * i, &f, 4);
      }
      break;
    }
    case DType::BF16: {
      w.bytes.resize(2 * count);
      for (size_t i = 0; i < count; ++i) {
        const float f = u(rng);
        uint32_t b;
        std::memcpy(&b, &f, 4);
        const uint16_t h = static_cast<uint16_t>(b >> 16);
        std::memcpy(w.bytes.data() + 2 * i, &h, 2);
      }
      break;
    }
    case DType::F16: {
      // Exponents 0..16 (subnormals up to ~4), every mantissa, both signs.
      w.bytes.resize(2 * count);
      std::uniform_int_distribution<int> e(0, 16), m(0, 1023), s(0, 1);
      for (size_t i = 0; i < count; ++i) {
        const uint16_t h = static_cast<uint16_t>((s(rng) << 15) | (e(rng) << 10) | m(rng));
        std::memcpy(w.bytes.data() + 2 * i, &h, 2);
      }
      break;
    }
    case DType::F8_E4M3: {
      // Every finite code (subnormals and +-448 included); never the NaN codes.
      w.bytes.resize(count);
      std::uniform_int_distribution<int> code(0, 255);
      for (auto& b : w.bytes) {
        int c;
        do c = code(rng);
        while (c == 0x7f || c == 0xff);
        b = static_cast<uint8_t>(c);
      }
      w.block_rows = br;
      w.block_cols = bc;
      const int64_t sr = (rows + br - 1) / br;
      // Distinct scales per block, so a wrong block lookup changes the result.
      std::uniform_real_distribution<float> sc(0.25f, 4.0f);
      w.scales.resize(static_cast<size_t>(sr * w.scale_cols()));
      for (auto& s : w.scales) s = sc(rng) / 64.0f;
      break;
    }
    default:
      ADD_FAILURE() << "unexpected dtype";
  }
  return w;
}

struct MatmulCase {
  DType dtype;
  int64_t block_rows, block_cols;  // FP8 only
  int64_t rows, cols, n;           // stored matrix and tokens
  bool transpose;
  bool bias;
  int64_t slice_first;  // -1: the whole matrix
  int64_t slice_rows;
  int64_t x_pad, y_pad;

  int64_t view_rows() const { return slice_first < 0 ? rows : slice_rows; }
  int64_t view_row0() const { return slice_first < 0 ? 0 : slice_first; }
  int64_t in() const { return transpose ? view_rows() : cols; }
  int64_t out() const { return transpose ? cols : view_rows(); }
  int64_t x_stride() const { return in() + x_pad; }
  int64_t y_stride() const { return out() + y_pad; }

  std::string describe() const {
    std::ostringstream os;
    os << dtype_name(dtype);
    if (dtype == DType::F8_E4M3) os << "(block " << block_rows << "x" << block_cols << ")";
    os << " W[" << rows << "x" << cols << "]";
    if (slice_first >= 0) os << " rows[" << slice_first << ", +" << slice_rows << ")";
    os << (transpose ? " transposed" : "") << (bias ? " +bias" : "") << " n=" << n << " x_stride=" << x_stride()
       << " y_stride=" << y_stride();
    return os.str();
  }
};

std::vector<MatmulCase> matmul_cases() {
  struct DT {
    DType t;
    int64_t br, bc;
  };
  const DT dtypes[] = {{DType::F32, 0, 0},       {DType::BF16, 0, 0},   {DType::F16, 0, 0},
                       {DType::F8_E4M3, 128, 128}, {DType::F8_E4M3, 4, 8}, {DType::F8_E4M3, 3, 5}};
  struct Shape {
    int64_t rows, cols, n;
  };
  const Shape shapes[] = {{5, 13, 1}, {129, 67, 3}, {300, 257, 7}, {33, 130, 33}, {7, 1, 5}, {1, 129, 2}, {131, 5, 4}};
  std::vector<MatmulCase> out;
  for (const DT& d : dtypes)
    for (const Shape& s : shapes)
      for (int transpose = 0; transpose < 2; ++transpose)
        for (int bias = 0; bias < 2; ++bias)
          for (int slice = 0; slice < 2; ++slice) {
            MatmulCase c{d.t, d.br, d.bc, s.rows, s.cols, s.n, transpose != 0, bias != 0, -1, 0, 0, 0};
            if (slice) {
              if (s.rows < 3) continue;
              // Start inside a scale block (5 is not a multiple of 3, 4 or 128; 131 is not of 128) and
              // stop short of the last row.
              c.slice_first = s.rows >= 140 ? 131 : (s.rows >= 8 ? 5 : 1);
              c.slice_rows = s.rows - c.slice_first - 1;
            }
            // Padded strides for the biased half of the cases.
            c.x_pad = bias ? 3 : 0;
            c.y_pad = bias ? 5 : 0;
            out.push_back(c);
          }
  return out;
}

struct MatmulInputs {
  HostWeight w;
  std::vector<float> x;     // [n, x_stride], NaN in the padding
  std::vector<float> bias;  // [out] or empty
};

MatmulInputs make_inputs(const MatmulCase& c, uint32_t seed) {
  std::mt19937 rng(seed);
  MatmulInputs in;
  in.w = make_weight(c.dtype, c.rows, c.cols, c.block_rows, c.block_cols, rng);
  in.x.assign(static_cast<size_t>(c.n * c.x_stride()), std::numeric_limits<float>::quiet_NaN());
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (int64_t t = 0; t < c.n; ++t)
    for (int64_t i = 0; i < c.in(); ++i) in.x[static_cast<size_t>(t * c.x_stride() + i)] = u(rng);
  if (c.bias) in.bias = random_floats(rng, static_cast<size_t>(c.out()));
  return in;
}

// Runs the case on `be`; returns the whole y buffer [n, y_stride].
std::vector<float> run_matmul(Backend& be, const MatmulCase& c, const MatmulInputs& in) {
  const Weight full = be.import_weight(in.w.full());
  const Weight w = c.slice_first < 0 ? full : full.slice_rows(c.slice_first, c.slice_rows);
  const auto x = to_device(be, in.x);
  kernels::Buffer b;
  if (c.bias) b = to_device(be, in.bias);
  const auto y = to_device(be, std::vector<float>(static_cast<size_t>(c.n * c.y_stride()), kSentinel));
  MatmulArgs a;
  a.x = x.f32();
  a.x_stride = c.x_stride();
  a.n = c.n;
  a.w = &w;
  a.transpose_w = c.transpose;
  a.bias = c.bias ? b.f32() : nullptr;
  a.y = y.f32();
  a.y_stride = c.y_stride();
  be.matmul(a);
  return from_device<float>(be, y, static_cast<size_t>(c.n * c.y_stride()));
}

// Exact product (double, from independently dequantized weights) and S = sum |x w| + |b| per output.
void exact_matmul(const MatmulCase& c, const MatmulInputs& in, std::vector<double>& y, std::vector<double>& s) {
  y.assign(static_cast<size_t>(c.n * c.out()), 0.0);
  s.assign(y.size(), 0.0);
  const int64_t row0 = c.view_row0();
  for (int64_t t = 0; t < c.n; ++t)
    for (int64_t o = 0; o < c.out(); ++o) {
      double acc = 0, mag = 0;
      for (int64_t i = 0; i < c.in(); ++i) {
        const double xv = in.x[static_cast<size_t>(t * c.x_stride() + i)];
        const double wv = c.transpose ? in.w.value(row0 + i, o) : in.w.value(row0 + o, i);
        acc += xv * wv;
        mag += std::fabs(xv * wv);
      }
      if (c.bias) {
        acc += in.bias[static_cast<size_t>(o)];
        mag += std::fabs(in.bias[static_cast<size_t>(o)]);
      }
      y[static_cast<size_t>(t * c.out() + o)] = acc;
      s[static_cast<size_t>(t * c.out() + o)] = mag;
    }
}

// The first `out` columns of each row of a [n, y_stride] buffer; the padding must still hold the sentinel.
std::vector<float> outputs_and_check_padding(const MatmulCase& c, const std::vector<float>& y) {
  std::vector<float> o;
  o.reserve(static_cast<size_t>(c.n * c.out()));
  for (int64_t t = 0; t < c.n; ++t) {
    for (int64_t j = 0; j < c.out(); ++j) o.push_back(y[static_cast<size_t>(t * c.y_stride() + j)]);
    for (int64_t j = c.out(); j < c.y_stride(); ++j)
      EXPECT_EQ(y[static_cast<size_t>(t * c.y_stride() + j)], kSentinel)
          << "padding column " << j << " of row " << t << " was written";
  }
  return o;
}

// The reference backend (the oracle) against the exact product.
TEST(MatmulReferenceTest, MatchesExactDoubleProduct) {
  auto ref = make_reference();
  uint32_t seed = 1;
  for (const MatmulCase& c : matmul_cases()) {
    SCOPED_TRACE(c.describe());
    const MatmulInputs in = make_inputs(c, seed++);
    std::vector<double> want, mag;
    exact_matmul(c, in, want, mag);
    const std::vector<float> got = outputs_and_check_padding(c, run_matmul(*ref, c, in));
    std::vector<double> tol(want.size());
    for (size_t i = 0; i < tol.size(); ++i) tol[i] = 1.2e-7 * (mag[i] + std::fabs(want[i])) + 1e-30;
    EXPECT_TRUE(all_close(got, want, tol));
  }
}

// A hand-made FP8 case whose answer is known without any formula: codes 0x38
// (1.0) and 0xc0 (-2.0) with scales 2 and 0.5 in 2x2 blocks of a 3x3 matrix.
TEST(MatmulReferenceTest, Fp8BlockScalesByHand) {
  // W = [[ 1, -2,  1],      scale blocks: rows {0,1} x cols {0,1} -> 2,   cols {2} -> 3
  //      [ 1,  1,  1],                    row  {2}   x cols {0,1} -> 0.5, cols {2} -> 5
  //      [-2,  1,  1]] (codes)
  const std::vector<uint8_t> codes = {0x38, 0xc0, 0x38, 0x38, 0x38, 0x38, 0xc0, 0x38, 0x38};
  const std::vector<float> scales = {2.0f, 3.0f, 0.5f, 5.0f};
  Weight w;
  w.dtype = DType::F8_E4M3;
  w.rows = 3;
  w.cols = 3;
  w.data = codes.data();
  w.scale_inv = scales.data();
  w.block_rows = 2;
  w.block_cols = 2;
  // Dequantized: [[2, -4, 3], [2, 2, 3], [-1, 0.5, 5]].
  const std::vector<float> x = {1.0f, 10.0f, 100.0f};
  for (const BackendCase& bc : all_backends()) {
    auto be = make_or_null(bc);
    if (!be) continue;  // SIMD level not available here
    SCOPED_TRACE(bc.name + " " + bc.isa + " threads " + std::to_string(bc.threads));
    const auto xd = to_device(*be, x);
    const auto yd = be->alloc(3 * sizeof(float));
    MatmulArgs a;
    a.x = xd.f32();
    a.x_stride = 3;
    a.n = 1;
    a.w = &w;
    a.y = yd.f32();
    a.y_stride = 3;
    be->matmul(a);
    EXPECT_EQ(from_device<float>(*be, yd, 3), (std::vector<float>{262.0f, 322.0f, 504.0f}));
    a.transpose_w = true;  // x W: column sums weighted by x
    be->matmul(a);
    EXPECT_EQ(from_device<float>(*be, yd, 3), (std::vector<float>{-78.0f, 66.0f, 533.0f}));
    // Row 2 alone (a slice starting in the second block row keeps its own scales).
    const Weight last = w.slice_rows(2, 1);
    a.w = &last;
    a.transpose_w = false;
    be->matmul(a);
    EXPECT_EQ(from_device<float>(*be, yd, 1)[0], 504.0f);
  }
}

class MatmulBackendTest : public ::testing::TestWithParam<BackendCase> {};

TEST_P(MatmulBackendTest, MatchesReference) {
  auto ref = make_reference();
  DSINFER_BACKEND_OR_SKIP(be, GetParam());
  uint32_t seed = 1000;
  for (const MatmulCase& c : matmul_cases()) {
    SCOPED_TRACE(c.describe());
    const MatmulInputs in = make_inputs(c, seed++);
    std::vector<double> exact, mag;
    exact_matmul(c, in, exact, mag);
    const std::vector<float> want = outputs_and_check_padding(c, run_matmul(*ref, c, in));
    const std::vector<float> got = outputs_and_check_padding(c, run_matmul(*be, c, in));
    std::vector<double> w(want.begin(), want.end()), tol(want.size());
    for (size_t i = 0; i < tol.size(); ++i) tol[i] = 2e-6 * std::sqrt(static_cast<double>(c.in())) * mag[i] + 1e-30;
    EXPECT_TRUE(all_close(got, w, tol));
  }
}

// Repeated calls on one backend with different shapes must not leak state
// (e.g. thread-local dequantization buffers sized for an earlier call).
TEST_P(MatmulBackendTest, ShapeChangesBetweenCalls) {
  auto ref = make_reference();
  DSINFER_BACKEND_OR_SKIP(be, GetParam());
  const MatmulCase big{DType::BF16, 0, 0, 129, 257, 3, false, false, -1, 0, 0, 0};
  const MatmulCase small{DType::BF16, 0, 0, 67, 13, 5, false, true, 3, 60, 1, 2};
  for (int rep = 0; rep < 3; ++rep)
    for (const MatmulCase& c : {big, small}) {
      SCOPED_TRACE(c.describe());
      const MatmulInputs in = make_inputs(c, 77u + static_cast<uint32_t>(rep));
      std::vector<double> exact, mag;
      exact_matmul(c, in, exact, mag);
      const std::vector<float> want = outputs_and_check_padding(c, run_matmul(*ref, c, in));
      const std::vector<float> got = outputs_and_check_padding(c, run_matmul(*be, c, in));
      std::vector<double> w(want.begin(), want.end()), tol(want.size());
      for (size_t i = 0; i < tol.size(); ++i) tol[i] = 2e-6 * std::sqrt(static_cast<double>(c.in())) * mag[i] + 1e-30;
      EXPECT_TRUE(all_close(got, w, tol));
    }
}

// Child process body: a matmul of an I8 weight (no kernel supports it). Exits 0
// iff it threw a dsinfer::Error naming the dtype.
[[noreturn]] void matmul_unsupported_dtype_child(const BackendCase& bc) {
  auto be = make(bc);
  const int64_t rows = 67;
  const int64_t cols = 13;
  std::vector<int8_t> data(static_cast<size_t>(rows * cols), 1);
  Weight w;
  w.dtype = DType::I8;
  w.rows = rows;
  w.cols = cols;
  w.data = data.data();
  const auto x = to_device(*be, std::vector<float>(static_cast<size_t>(2 * cols), 1.0f));
  const auto y = be->alloc(static_cast<size_t>(2 * rows) * sizeof(float));
  MatmulArgs a;
  a.x = x.f32();
  a.x_stride = cols;
  a.n = 2;
  a.w = &w;
  a.y = y.f32();
  a.y_stride = rows;
  try {
    be->matmul(a);
  } catch (const Error& e) {
    std::exit(std::string(e.what()).find("I8") != std::string::npos ? 0 : 2);
  }
  std::exit(3);  // no error at all
}

// A weight dtype no matrix kernel supports is a dsinfer::Error naming it, on
// every backend and thread count -- not a crash. Each backend runs in a forked
// child (gtest's death-test machinery) so that an abort cannot take the other
// tests down with it.
TEST(MatmulErrorTest, UnsupportedWeightDtypeIsAnErrorOnEveryBackend) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  for (const BackendCase& bc : all_backends()) {
    SCOPED_TRACE(bc.name + " " + bc.isa + " threads " + std::to_string(bc.threads));
    if (!make_or_null(bc)) continue;  // SIMD level not available here
    EXPECT_EXIT(matmul_unsupported_dtype_child(bc), ::testing::ExitedWithCode(0), "");
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, MatmulBackendTest, ::testing::ValuesIn(backends_under_test()), backend_case_name);

}  // namespace
}  // namespace dsinfer::test
