// The CPU matmul kernels at every SIMD level this machine has, for every
// weight type, against the reference backend on awkward shapes (bias, strides
// wider than the data, row-sliced weights). Integer types are checked twice:
// tightly against the reference run on the activations quantized and
// dequantized exactly as the kernels do, and against the unquantized reference
// within the error bound activation quantization implies. The SIMD kernels are
// also compared with their scalar twins (the activation quantizers:
// simd_quant_act_test.cpp).
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "core/quant.h"
#include "core/thread_pool.h"
#include "kernels/backend.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/group_tiles.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/q4k_scales.h"
#include "kernels/packed.h"
#include "kernel_test_util.h"

namespace dsinfer {
namespace {

using kernels::cpu::Isa;

using test::available_isas;

// A weight [stored_rows, cols] in dtype t, viewed as rows [first, first + rows).
struct TestWeight {
  std::vector<uint8_t> data;
  std::vector<float> scales;  // F8_E4M3 block scales
  kernels::Weight stored, view;
};

TestWeight make_weight(DType t, int64_t rows, int64_t cols, int64_t first, uint32_t seed) {
  TestWeight tw;
  const int64_t stored_rows = rows + first + 2;
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const size_t rb = row_bytes(t, cols);
  tw.data.resize(rb * static_cast<size_t>(stored_rows));
  kernels::Weight& w = tw.stored;
  w.dtype = t;
  w.rows = stored_rows;
  w.cols = cols;
  if (t == DType::F8_E4M3) {
    std::uniform_int_distribution<int> byte(0, 255);
    for (auto& b : tw.data) {
      do b = static_cast<uint8_t>(byte(rng));
      while ((b & 0x7f) == 0x7f);  // no NaN
    }
    w.block_rows = 3;   // awkward blocks: a view's rows straddle them,
    w.block_cols = 40;  // and column segments end mid-vector
    const int64_t sr = (stored_rows + 2) / 3, sc = (cols + 39) / 40;
    std::uniform_real_distribution<float> ud(0.001f, 0.01f);
    tw.scales.resize(static_cast<size_t>(sr * sc));
    for (auto& s : tw.scales) s = ud(rng);
    w.scale_inv = tw.scales.data();
  } else {
    std::vector<float> row(static_cast<size_t>(cols));
    for (int64_t r = 0; r < stored_rows; ++r) {
      for (auto& v : row) v = nd(rng) * 0.1f;
      quantize_row(t, row.data(), cols, tw.data.data() + rb * static_cast<size_t>(r));
    }
  }
  w.data = tw.data.data();
  tw.view = w.slice_rows(first, rows);
  return tw;
}

struct Problem {
  int64_t rows, n, cols;
  int64_t x_stride, y_stride;
  std::vector<float> x, bias;
};

Problem make_problem(int64_t rows, int64_t n, int64_t cols, uint32_t seed) {
  Problem p{rows, n, cols, cols + 5, rows + 3, {}, {}};
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  p.x.resize(static_cast<size_t>(n * p.x_stride));
  for (auto& v : p.x) v = nd(rng);
  if (n > 1)  // an all-zero token: zero activation scales
    for (int64_t c = 0; c < cols; ++c) p.x[static_cast<size_t>(p.x_stride + c)] = 0.0f;
  p.bias.resize(static_cast<size_t>(rows));
  for (auto& v : p.bias) v = nd(rng);
  return p;
}

constexpr float kSentinel = 12345.0f;

kernels::MatmulArgs args_for(const Problem& p, const std::vector<float>& x, const kernels::Weight& w,
                             std::vector<float>& y) {
  y.assign(static_cast<size_t>(p.n * p.y_stride), kSentinel);
  kernels::MatmulArgs a;
  a.x = x.data();
  a.x_stride = p.x_stride;
  a.n = p.n;
  a.w = &w;
  a.bias = p.bias.data();
  a.y = y.data();
  a.y_stride = p.y_stride;
  return a;
}

std::vector<float> run_reference(const Problem& p, const std::vector<float>& x, const kernels::Weight& w) {
  std::vector<float> y;
  kernels::make_backend({"reference", 1})->matmul(args_for(p, x, w, y));
  return y;
}

// w as a backend sees it after loading: the stored matrix imported (Q4_K is
// repacked into row groups on AVX-512), then the view's rows sliced again.
kernels::Weight imported(kernels::Backend& be, const kernels::Weight& w) {
  kernels::Weight stored = w;
  stored.row0 = 0;
  stored.rows = w.row0 + w.rows;
  return be.import_weight(stored).slice_rows(w.row0, w.rows);
}

std::vector<float> run_cpu(const Problem& p, const kernels::Weight& w, Isa isa, int threads, bool bf16_act = false) {
  std::vector<float> y;
  kernels::BackendOptions o{"cpu", threads, std::string(kernels::cpu::isa_name(isa))};
  o.activations = bf16_act ? kernels::BackendOptions::Activations::BF16 : kernels::BackendOptions::Activations::F32;
  auto be = kernels::make_backend(o);
  be->matmul(args_for(p, p.x, imported(*be, w), y));
  return y;
}

// Blocks per activation scale of the kernel the CPU backend runs for w at this
// ISA (8 for Q4_K in row groups, on AVX-512).
int64_t span_at(const kernels::Weight& w, Isa isa) {
  auto be = kernels::make_backend({"cpu", 1, std::string(kernels::cpu::isa_name(isa))});
  return kernels::cpu::act_span(imported(*be, w));
}

// x as the integer kernels see it: blocks of 32 (sharing their scale over
// spans of `span` blocks) quantized then dequantized.
std::vector<float> quantized_x(const Problem& p, int64_t span = 1) {
  kernels::cpu::QuantAct act;
  act.resize(p.n, p.cols, span);
  kernels::cpu::quantize_act(Isa::Scalar, p.x.data(), p.x_stride, 0, p.n, act);
  std::vector<float> xq(p.x.size(), 0.0f);
  for (int64_t t = 0; t < p.n; ++t)
    for (int64_t c = 0; c < p.cols; ++c)
      xq[static_cast<size_t>(t * p.x_stride + c)] =
          act.d_row(t)[c / 32] * static_cast<float>(act.q_row(t)[c]);
  return xq;
}

// Per output: sum |w| |x| (the scale of its rounding error) and sum |w| |x - xq|.
struct Bounds {
  std::vector<double> mag, quant;
};

Bounds bounds(const Problem& p, const kernels::Weight& w, const std::vector<float>& xq) {
  Bounds b{std::vector<double>(static_cast<size_t>(p.n * p.rows)), std::vector<double>(static_cast<size_t>(p.n * p.rows))};
  std::vector<float> row(static_cast<size_t>(p.cols));
  for (int64_t r = 0; r < p.rows; ++r) {
    kernels::dequant_row(w, r, row.data());
    for (int64_t t = 0; t < p.n; ++t) {
      double m = std::fabs(p.bias[static_cast<size_t>(r)]), q = 0;
      for (int64_t c = 0; c < p.cols; ++c) {
        const size_t i = static_cast<size_t>(t * p.x_stride + c);
        const double wv = std::fabs(row[static_cast<size_t>(c)]);
        m += wv * std::fabs(p.x[i]);
        q += wv * std::fabs(p.x[i] - xq[i]);
      }
      b.mag[static_cast<size_t>(t * p.rows + r)] = m;
      b.quant[static_cast<size_t>(t * p.rows + r)] = q;
    }
  }
  return b;
}

// |got - want| <= rel * mag + extra for each output; padding columns untouched.
void expect_close(const Problem& p, const std::vector<float>& got, const std::vector<float>& want, const Bounds& b,
                  double rel, bool add_quant, const std::string& what) {
  int bad = 0;
  for (int64_t t = 0; t < p.n; ++t) {
    for (int64_t r = 0; r < p.rows; ++r) {
      const size_t i = static_cast<size_t>(t * p.y_stride + r), k = static_cast<size_t>(t * p.rows + r);
      const double tol = rel * b.mag[k] + (add_quant ? b.quant[k] * 1.0001 : 0.0) + 1e-30;
      if (!(std::fabs(static_cast<double>(got[i]) - want[i]) <= tol) && bad++ < 5)
        ADD_FAILURE() << what << ": token " << t << " row " << r << " got " << got[i] << " want " << want[i]
                      << " tol " << tol;
    }
    for (int64_t r = p.rows; r < p.y_stride; ++r)
      if (got[static_cast<size_t>(t * p.y_stride + r)] != kSentinel && bad++ < 5)
        ADD_FAILURE() << what << ": wrote padding column " << r << " of token " << t;
  }
}

std::string describe(DType t, Isa isa, const Problem& p) {
  return std::string(dtype_name(t)) + " " + std::string(kernels::cpu::isa_name(isa)) + " rows=" +
         std::to_string(p.rows) + " n=" + std::to_string(p.n) + " cols=" + std::to_string(p.cols);
}

void check_type(DType t) {
  const int64_t rows_list[] = {1, 5, 33, 129, 257};
  const int64_t n_list[] = {1, 2, 3, 7, 17};
  const std::vector<int64_t> cols_list = block_elems(t) == 256 ? std::vector<int64_t>{256, 768, 2304, 512, 256}
                                                          : std::vector<int64_t>{32, 96, 256, 768, 2304};
  const bool integer = is_block_quant(t);
  uint32_t seed = 100;
  for (int ri = 0; ri < 5; ++ri)
    for (int ni = 0; ni < 5; ++ni) {
      const int64_t cols = cols_list[static_cast<size_t>((ri + ni) % 5)];
      if (rows_list[ri] * cols * n_list[ni] > 6'000'000) continue;  // keep the double-precision oracle quick
      const Problem p = make_problem(rows_list[ri], n_list[ni], cols, ++seed);
      const TestWeight tw = make_weight(t, p.rows, cols, 1 + ri % 3, ++seed);
      const std::vector<float> want = run_reference(p, p.x, tw.view);
      std::vector<float> scalar;
      const int64_t scalar_span = integer ? span_at(tw.view, Isa::Scalar) : 1;
      for (Isa isa : available_isas()) {
        const int64_t span = integer ? span_at(tw.view, isa) : 1;
        const std::vector<float> xq = integer ? quantized_x(p, span) : p.x;
        const Bounds b = bounds(p, tw.view, xq);
        const std::vector<float> want_q = integer ? run_reference(p, xq, tw.view) : want;
        const std::vector<float> got = run_cpu(p, tw.view, isa, 1 + (ri + ni) % 2);
        const std::string what = describe(t, isa, p);
        expect_close(p, got, want_q, b, 1e-5, false, what + " vs reference");
        if (integer) expect_close(p, got, want, b, 1e-5, true, what + " vs unquantized reference");
        if (isa == Isa::Scalar)
          scalar = got;
        else if (span == scalar_span)  // the row-group Q4_K twins are compared in PackedRows
          expect_close(p, got, scalar, b, 1e-5, false, what + " vs scalar twin");
      }
    }
}

// x rounded to bf16 as BackendOptions::Activations::BF16 rounds it.
std::vector<float> bf16_x(const Problem& p) {
  std::vector<float> xr(p.x.size());
  for (size_t i = 0; i < xr.size(); ++i) xr[i] = bf16_to_f32(f32_to_bf16(p.x[i]));
  return xr;
}

// bf16 weights with bf16 activations: every level (vdpbf16ps where the CPU
// has it, its scalar twin at Isa::Scalar, the float kernels on rounded
// inputs otherwise) against the reference on the rounded inputs, and against
// the unrounded reference within the rounding's own bound; the vdpbf16ps
// kernel adds the pairs in the twin's order, so the two differ only by how
// the instruction rounds inside a pair (nothing, per Intel's definition).
TEST(SimdMatmul, Bf16ActivationsAtEveryLevel) {
  // rows, tokens, columns
  // Up to 8 tokens the rows are transposed step by step; more go through
  // panels of 64 rows x 2048 columns (3100 and 4200 columns: 2 and 3 panels).
  const int64_t shapes[][3] = {{1, 1, 32},    {5, 2, 33},    {33, 7, 95},   {129, 17, 1000}, {6, 5, 1536},
                               {257, 3, 64},  {13, 9, 3100}, {50, 40, 1600}, {70, 8, 4200},  {131, 13, 4200}};
  uint32_t seed = 500;
  for (const auto& sh : shapes) {
    const Problem p = make_problem(sh[0], sh[1], sh[2], ++seed);
    const TestWeight tw = make_weight(DType::BF16, p.rows, p.cols, 1, ++seed);
    const std::vector<float> xr = bf16_x(p);
    const Bounds b = bounds(p, tw.view, xr);
    const std::vector<float> want = run_reference(p, xr, tw.view), exact = run_reference(p, p.x, tw.view);
    std::vector<float> twin;
    for (Isa isa : available_isas()) {
      const std::vector<float> got = run_cpu(p, tw.view, isa, 1 + p.n % 2, true);
      const std::string what = describe(DType::BF16, isa, p) + " bf16 activations";
      expect_close(p, got, want, b, 1e-5, false, what + " vs reference on rounded x");
      expect_close(p, got, exact, b, 1e-5, true, what + " vs unrounded reference");
      if (isa == Isa::Scalar) twin = got;
      if (isa >= Isa::Avx512 && kernels::cpu::has_bf16_dots()) expect_close(p, got, twin, b, 1e-6, false, what + " vs twin");
    }
  }
}

// bf16 weights against f32 activations: the AVX-512 kernel adds a fused
// multiply-add per column in the twin's order, so the two agree bit for bit
// (through the panels, and with up to 8 tokens through the transposed steps).
TEST(SimdMatmul, Bf16WeightsMatchTheirTwinBitForBit) {
  if (!kernels::cpu::isa_supported(Isa::Avx512)) GTEST_SKIP() << "no AVX-512 on this CPU: only the twin runs";
  const int64_t shapes[][3] = {{1, 1, 31},    {5, 2, 33},    {33, 7, 95},    {129, 17, 1001},
                               {257, 9, 64},  {13, 12, 3100}, {70, 8, 4201},  {131, 13, 4200}};
  uint32_t seed = 900;
  for (const auto& sh : shapes) {
    const Problem p = make_problem(sh[0], sh[1], sh[2], ++seed);
    const TestWeight tw = make_weight(DType::BF16, p.rows, p.cols, 1, ++seed);
    const std::vector<float> twin = run_cpu(p, tw.view, Isa::Scalar, 1);
    const std::vector<float> got = run_cpu(p, tw.view, Isa::Avx512, 1 + p.n % 2);
    EXPECT_EQ(0, std::memcmp(got.data(), twin.data(), got.size() * sizeof(float))) << describe(DType::BF16, Isa::Avx512, p);
  }
}

// With bf16 weights a token's result does not depend on the tokens beside it,
// with f32 or bf16 activations: alone, in a call of 8 (rows transposed step
// by step) and in one of 11 (through panels, tiles of 6 tokens and a tail of 5).
TEST(SimdMatmul, Bf16WeightsDoNotDependOnTheBatch) {
  for (const bool bf16_act : {false, true})
    for (const int64_t cols : {200, 3100})
      for (const int64_t n : {8, 11}) {
        const Problem p = make_problem(38, n, cols, 77);
        const TestWeight tw = make_weight(DType::BF16, p.rows, p.cols, 2, 78);
        for (Isa isa : available_isas()) {
          const std::vector<float> all = run_cpu(p, tw.view, isa, 2, bf16_act);
          for (int64_t t = 0; t < p.n; ++t) {
            Problem one = p;
            one.n = 1;
            one.x.assign(p.x.begin() + t * p.x_stride, p.x.begin() + (t + 1) * p.x_stride);
            const std::vector<float> alone = run_cpu(one, tw.view, isa, 1, bf16_act);
            EXPECT_EQ(0, std::memcmp(alone.data(), all.data() + t * p.y_stride, static_cast<size_t>(p.rows) * sizeof(float)))
                << kernels::cpu::isa_name(isa) << (bf16_act ? ", bf16" : ", f32") << " activations, " << cols
                << " columns, " << n << " tokens: token " << t;
          }
        }
      }
}

TEST(SimdMatmul, F32) { check_type(DType::F32); }
TEST(SimdMatmul, BF16) { check_type(DType::BF16); }
TEST(SimdMatmul, F16) { check_type(DType::F16); }
TEST(SimdMatmul, F8_E4M3) { check_type(DType::F8_E4M3); }
TEST(SimdMatmul, Q8_0) { check_type(DType::Q8_0); }
TEST(SimdMatmul, Q4_0) { check_type(DType::Q4_0); }
TEST(SimdMatmul, Q4_K) { check_type(DType::Q4_K); }
TEST(SimdMatmul, Q6_K) { check_type(DType::Q6_K); }
TEST(SimdMatmul, Q5_K) { check_type(DType::Q5_K); }
TEST(SimdMatmul, Q5_0) { check_type(DType::Q5_0); }

// Extreme Q8_0 weights (-128 is legal in a GGUF file, and |w| = 127) against
// extreme activations: the sign trick and maddubs must not saturate.
TEST(SimdMatmul, Q8_0ExtremeValues) {
  const int64_t cols = 96, rows = 6;
  std::vector<uint8_t> data(row_bytes(DType::Q8_0, cols) * rows);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t b = 0; b < cols / 32; ++b) {
      uint8_t* blk = data.data() + (r * cols / 32 + b) * 34;
      const uint16_t one = 0x3C00;
      std::memcpy(blk, &one, 2);
      for (int i = 0; i < 32; ++i) blk[2 + i] = static_cast<uint8_t>(r % 2 ? 0x80 : (i % 2 ? 0x7f : 0x81));
    }
  kernels::Weight w;
  w.dtype = DType::Q8_0;
  w.rows = rows;
  w.cols = cols;
  w.data = data.data();
  Problem p = make_problem(rows, 3, cols, 7);
  for (size_t i = 0; i < p.x.size(); ++i) p.x[i] = (i % 3 == 0) ? 1.0f : -1.0f;
  const std::vector<float> xq = quantized_x(p);
  const Bounds b = bounds(p, w, xq);
  const std::vector<float> want = run_reference(p, xq, w);
  for (Isa isa : available_isas())
    expect_close(p, run_cpu(p, w, isa, 1), want, b, 1e-6, false, "extreme " + std::string(kernels::cpu::isa_name(isa)));
}

TEST(SimdMatmul, Fp8NanPropagates) {
  TestWeight tw = make_weight(DType::F8_E4M3, 4, 64, 0, 3);
  tw.data[static_cast<size_t>(1 * 64 + 17)] = 0x7f;
  tw.data[static_cast<size_t>(3 * 64 + 63)] = 0xff;
  const Problem p = make_problem(4, 2, 64, 4);
  for (Isa isa : available_isas()) {
    const std::vector<float> y = run_cpu(p, tw.view, isa, 1);
    for (int64_t t = 0; t < 2; ++t) {
      EXPECT_FALSE(std::isnan(y[static_cast<size_t>(t * p.y_stride + 0)]));
      EXPECT_TRUE(std::isnan(y[static_cast<size_t>(t * p.y_stride + 1)])) << kernels::cpu::isa_name(isa);
      EXPECT_TRUE(std::isnan(y[static_cast<size_t>(t * p.y_stride + 3)])) << kernels::cpu::isa_name(isa);
    }
  }
}

// FP8 block scales of 2^8 and more (the SIMD kernels' 2^120 unit would
// overflow with them: they take another path there) beside ordinary ones,
// and a NaN code that only the kernels' NaN scan can see: inside a whole
// vector step (blocks of 40 columns, 5 steps of 8), past the scan's last
// whole 64 (AVX-512) and 32 (AVX2) bytes of a 120-column row.
TEST(SimdMatmul, Fp8LargeScalesAndNanInTheTail) {
  TestWeight tw = make_weight(DType::F8_E4M3, 7, 120, 0, 31);
  for (size_t i = 0; i < tw.scales.size(); ++i) tw.scales[i] *= i % 3 == 0 ? 3e5f : i % 3 == 1 ? 1.0f : 6e4f;
  const Problem p = make_problem(7, 4, 120, 32);
  const std::vector<float> want = run_reference(p, p.x, tw.view);
  const Bounds b = bounds(p, tw.view, p.x);
  for (Isa isa : available_isas()) expect_close(p, run_cpu(p, tw.view, isa, 1), want, b, 1e-5, false, describe(DType::F8_E4M3, isa, p));
  tw.data[static_cast<size_t>(2 * 120 + 110)] = 0xff;
  for (Isa isa : available_isas()) {
    const std::vector<float> y = run_cpu(p, tw.view, isa, 1);
    for (int64_t t = 0; t < p.n; ++t)
      for (int64_t r = 0; r < p.rows; ++r)
        EXPECT_EQ(std::isnan(y[static_cast<size_t>(t * p.y_stride + r)]), r == 2) << kernels::cpu::isa_name(isa) << " row " << r;
  }
}

// Transposed products still run (on the reference kernel) for every ISA.
TEST(SimdMatmul, TransposedStillMatchesReference) {
  const TestWeight tw = make_weight(DType::BF16, 40, 24, 1, 9);
  Problem p = make_problem(24, 3, 40, 10);  // in = 40 rows of W, out = 24 columns
  std::vector<float> want, got;
  kernels::MatmulArgs a = args_for(p, p.x, tw.view, want);
  a.transpose_w = true;
  kernels::make_backend({"reference", 1})->matmul(a);
  for (Isa isa : available_isas()) {
    kernels::MatmulArgs g = args_for(p, p.x, tw.view, got);
    g.transpose_w = true;
    kernels::make_backend({"cpu", 2, std::string(kernels::cpu::isa_name(isa))})->matmul(g);
    for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5 * (std::fabs(want[i]) + 1)) << i;
  }
}

TEST(SimdMatmul, DirectRangeEntryPoint) {
  const TestWeight tw = make_weight(DType::Q4_0, 37, 96, 2, 11);
  const Problem p = make_problem(37, 5, 96, 12);
  const std::vector<float> xq = quantized_x(p);
  const Bounds b = bounds(p, tw.view, xq);
  std::vector<float> got;
  const kernels::MatmulArgs a = args_for(p, p.x, tw.view, got);
  kernels::cpu::matmul(a, 0, 20);
  kernels::cpu::matmul(a, 20, 37);
  expect_close(p, got, run_reference(p, xq, tw.view), b, 1e-5, false, "range entry point");
}

// A copy of `bytes` bytes that ends right before an inaccessible page, so any
// read past the end faults.
class GuardedCopy {
 public:
  GuardedCopy(const void* src, size_t bytes) {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t body = (bytes + page - 1) / page * page;
    len_ = body + page;
    base_ = mmap(nullptr, len_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base_ == MAP_FAILED) throw std::runtime_error("mmap failed");
    mprotect(static_cast<uint8_t*>(base_) + body, page, PROT_NONE);
    data_ = static_cast<uint8_t*>(base_) + body - bytes;
    std::memcpy(data_, src, bytes);
  }
  ~GuardedCopy() { munmap(base_, len_); }
  GuardedCopy(const GuardedCopy&) = delete;
  GuardedCopy& operator=(const GuardedCopy&) = delete;
  uint8_t* data() const { return data_; }

 private:
  void* base_ = nullptr;
  size_t len_ = 0;
  uint8_t* data_ = nullptr;
};

// Weights and activations that end at a guard page: the kernels (whose SIMD
// loads ASan cannot see) must not read past either.
TEST(SimdMatmul, NoReadsPastTheData) {
  for (DType t : {DType::F32, DType::BF16, DType::F16, DType::F8_E4M3, DType::Q8_0, DType::Q4_0, DType::Q5_0, DType::Q4_K, DType::Q5_K,
                  DType::Q6_K}) {
    const int64_t cols = block_elems(t) == 256 ? 256 : is_block_quant(t) ? 96 : 90;
    const int64_t rows = 9;
    const TestWeight tw = make_weight(t, rows, cols, 0, 21);
    const size_t wbytes = row_bytes(t, cols) * static_cast<size_t>(rows);  // the view's rows only
    const GuardedCopy wcopy(tw.data.data(), wbytes);
    kernels::Weight w = tw.view;
    w.data = wcopy.data();
    Problem p = make_problem(rows, 5, cols, 22);
    p.x_stride = cols;
    p.x.resize(static_cast<size_t>(p.n * cols));
    const GuardedCopy xcopy(p.x.data(), p.x.size() * sizeof(float));
    std::vector<float> x(p.x);
    const std::vector<float> want = run_reference(p, x, w);
    for (Isa isa : available_isas()) {
      std::vector<float> y;
      kernels::MatmulArgs a = args_for(p, x, w, y);
      a.x = reinterpret_cast<const float*>(xcopy.data());
      kernels::make_backend({"cpu", 1, std::string(kernels::cpu::isa_name(isa))})->matmul(a);
      for (int64_t i = 0; i < p.n * rows; ++i) {
        const size_t k = static_cast<size_t>(i / rows * p.y_stride + i % rows);
        EXPECT_NEAR(y[k], want[k], 0.05 * (std::fabs(want[k]) + 1)) << dtype_name(t) << " " << kernels::cpu::isa_name(isa);
      }
    }
  }
}

// ---- Q4_K, Q5_K, Q6_K, Q8_0, Q4_0 and Q5_0 repacked into groups of 16 rows -----

struct Packed {
  std::vector<uint8_t> bytes;
  kernels::Weight w;
};

Packed pack(const kernels::Weight& stored) {
  Packed p;
  p.bytes.resize(kernels::packed::packed_bytes(stored.dtype, stored.rows, stored.cols));
  kernels::packed::pack_groups(stored, 0, kernels::packed::groups(stored.rows), p.bytes.data());
  p.w = kernels::packed::packed_view(stored, p.bytes.data());
  return p;
}

// The scalar twin's rows for all of p's tokens over view (rows of tw,
// packed), checked against the reference on the same quantized activations.
std::vector<float> packed_twin(const Problem& p, const TestWeight& tw, const kernels::Weight& view, ThreadPool& pool,
                               kernels::cpu::MatmulScratch& act) {
  std::vector<float> y;
  kernels::cpu::matmul(args_for(p, p.x, view, y), Isa::Scalar, pool, act);
  const std::vector<float> xq = quantized_x(p, kernels::cpu::act_span(view));
  expect_close(p, y, run_reference(p, xq, tw.view), bounds(p, tw.view, xq), 1e-5, false,
               "packed scalar twin vs reference");
  return y;
}

class PackedRows : public ::testing::TestWithParam<DType> {};

TEST_P(PackedRows, DequantizeExactlyAsTheRowLayout) {
  const TestWeight tw = make_weight(GetParam(), 35, 512, 0, 31);  // 37 stored rows: 3 groups, the last partial
  const Packed pk = pack(tw.stored);
  // per 16 rows: GGUF's bytes, no more
  const DType t = GetParam();
  const int64_t block_bytes = t == DType::Q4_K   ? 2304
                              : t == DType::Q5_K ? 2816
                              : t == DType::Q6_K ? 3360
                              : t == DType::Q8_0 ? 544
                              : t == DType::Q5_0 ? 352
                                                 : 288;
  EXPECT_EQ(pk.w.bytes(), static_cast<size_t>(tw.stored.rows * 512 / block_elems(GetParam()) * block_bytes / 16));
  // Unpacking gives back the exact GGUF bytes (how a stored row-group
  // checkpoint reaches the kernels below AVX-512).
  std::vector<uint8_t> rows(tw.data.size(), 0xAB);
  const size_t used = row_bytes(GetParam(), 512) * static_cast<size_t>(tw.stored.rows);
  kernels::packed::unpack_groups(pk.w, 0, kernels::packed::groups(pk.w.rows), rows.data());
  EXPECT_EQ(0, std::memcmp(rows.data(), tw.data.data(), used)) << "unpack(pack(w)) != w";
  std::vector<float> want(512), got(512);
  for (int64_t first : {0, 5, 16}) {
    const int64_t n = tw.stored.rows - first;
    const kernels::Weight a = tw.stored.slice_rows(first, n), b = pk.w.slice_rows(first, n);
    for (int64_t r = 0; r < n; ++r) {
      kernels::dequant_row(a, r, want.data());
      kernels::dequant_row(b, r, got.data());
      ASSERT_EQ(0, std::memcmp(want.data(), got.data(), want.size() * sizeof(float))) << "row " << first + r;
    }
  }
}

// The AVX-512 kernel and its scalar twin agree bit for bit, and a token's row
// of y is the same whether it is computed alone or among 19 others (the
// engine's greedy batch invariance rests on this).
TEST_P(PackedRows, TwinsAgreeBitwiseAndResultsDoNotDependOnTheBatch) {
  const TestWeight tw = make_weight(GetParam(), 157, 768, 3, 33);
  const Packed pk = pack(tw.stored);
  const kernels::Weight view = pk.w.slice_rows(3, 157);  // 10 groups; starts and ends inside one
  const Problem p = make_problem(157, 20, 768, 34);
  ThreadPool pool(2);
  kernels::cpu::MatmulScratch act;
  const std::vector<float> scalar = packed_twin(p, tw, view, pool, act);
  // 10 groups on one thread: decode tiles of 4 groups spread over the call
  // (groups k, k + 2, k + 4, k + 6 for k = 0, 1: a contiguous copy's streams),
  // then 2; on two, pieces of 1-2 groups; the 4-group view below: one tile of 4.
  ThreadPool one_thread(1);
  const kernels::Weight view4 = pk.w.slice_rows(3, 61);  // groups 0-3
  for (Isa isa : available_isas()) {
    std::vector<float> all;
    kernels::cpu::matmul(args_for(p, p.x, view, all), isa, pool, act);
    const std::string name(kernels::cpu::isa_name(isa));
    EXPECT_EQ(0, std::memcmp(all.data(), scalar.data(), all.size() * sizeof(float))) << name << " vs scalar twin";
    // Decode tiles span several groups; 3 tokens run in passes over 256
    // weight values with the running sums stored between passes (tiles of 4
    // tokens), and so do 9-16; 5-8 tokens run batched tiles of one group and
    // all the tokens over whole rows (span passes on the AMX level); longer calls run whole rows in tiles of
    // 6 tokens (17: 6, 6 and 5; 20: 6, 6, 6 and 2).
    std::vector<std::pair<int64_t, int64_t>> calls = {{0, 9}, {4, 16}, {3, 17}, {0, 8}, {12, 8}, {1, 7}, {5, 6}};
    for (int64_t t : {int64_t{0}, int64_t{9}, int64_t{15}})
      for (int64_t n : {1, 2, 3, 5}) calls.emplace_back(t, n);
    for (const auto& [t, n] : calls) {
      {
        Problem few = p;
        few.n = n;
        std::vector<float> xs(p.x.begin() + t * p.x_stride, p.x.begin() + (t + n) * p.x_stride), ys;
        kernels::cpu::matmul(args_for(few, xs, view, ys), isa, (t + n) % 2 ? pool : one_thread, act);
        for (int64_t k = 0; k < n; ++k)
          EXPECT_EQ(0, std::memcmp(ys.data() + k * p.y_stride, all.data() + (t + k) * p.y_stride,
                                   static_cast<size_t>(p.rows) * sizeof(float)))
              << name << " token " << t + k << " in a call of " << n << " differs from the batch of 20";
      }
    }
    Problem four = p;
    four.n = 1;
    four.rows = 61;
    std::vector<float> x0(p.x.begin(), p.x.begin() + p.x_stride), y4;
    kernels::cpu::matmul(args_for(four, x0, view4, y4), isa, one_thread, act);
    EXPECT_EQ(0, std::memcmp(y4.data(), all.data(), 61 * sizeof(float))) << name << ": a tile of 4 groups differs";
  }
}

// Decode over short rows (a group's row at most kShortRowBytes: MLA's
// per-head products) runs tiles of groups spread over the call: 38 groups on
// one thread, 4 tiles of 8 groups 4 apart then tiles of 4 and 2 (two tokens:
// 4 tiles of 4 groups 9 apart, then 2); on two threads, each piece spread on
// its own. Every row is the same bits as the same token among 20 (whole-row
// tiles), and nothing lands past a token's rows.
TEST_P(PackedRows, ShortRowsDecodeInSpreadTiles) {
  const int64_t cols = block_elems(GetParam()) == 256 ? 256 : 128;
  ASSERT_LE(kernels::packed::group_bytes(GetParam(), cols), kernels::cpu::groups::kShortRowBytes);
  const TestWeight tw = make_weight(GetParam(), 590, cols, 3, 35);
  const Packed pk = pack(tw.stored);
  const kernels::Weight view = pk.w.slice_rows(3, 590);  // groups 0-37, starting and ending inside one
  const Problem p = make_problem(590, 20, cols, 36);
  ThreadPool pool(2), one_thread(1);
  kernels::cpu::MatmulScratch act;
  const std::vector<float> all = packed_twin(p, tw, view, pool, act);
  for (Isa isa : available_isas())
    for (int64_t n : {1, 2})
      for (ThreadPool* tp : {&one_thread, &pool}) {
        Problem few = p;
        few.n = n;
        std::vector<float> xs(p.x.begin(), p.x.begin() + n * p.x_stride), ys;
        kernels::cpu::matmul(args_for(few, xs, view, ys), isa, *tp, act);
        const std::string what = std::string(kernels::cpu::isa_name(isa)) + ", " + std::to_string(n) + " token(s), " +
                                 std::to_string(tp->size()) + " thread(s)";
        for (int64_t k = 0; k < n; ++k) {
          EXPECT_EQ(0, std::memcmp(ys.data() + k * p.y_stride, all.data() + k * p.y_stride,
                                   static_cast<size_t>(p.rows) * sizeof(float)))
              << what << ": token " << k << " differs from the batch of 20";
          for (int64_t r = p.rows; r < p.y_stride; ++r)
            EXPECT_EQ(ys[static_cast<size_t>(k * p.y_stride + r)], kSentinel) << what << ": written past the rows";
        }
      }
}

// Long calls: on AMX, whole 16-token tiles per token chunk (1.5 MiB of
// activations: 144 tokens here; Q4_K's tiles in pairs, then one alone; the
// 32-value blocks' in slices of 32 blocks, the last one odd), and the second
// chunk's 27 tokens as two tiles, the second reaching 5 rows past the call's
// end (QuantAct's padding). Every token's row matches the scalar twin bit for
// bit, and the same token computed in a short call (decode tiles, span
// passes, a chunk's remainder).
class PackedRowsLong : public ::testing::TestWithParam<DType> {};

TEST_P(PackedRowsLong, LongCallsAgreeWithTheTwinAndShortCalls) {
  const DType type = GetParam();
  // 10496 values (41 super-blocks, 328 blocks) or 10592 (331 blocks); chunks of 144 and 27 tokens
  const int64_t cols = block_elems(type) == 256 ? 256 * 41 : 32 * 331, n = 171;
  const TestWeight tw = make_weight(type, 37, cols, 5, 51);
  const Packed pk = pack(tw.stored);
  const kernels::Weight view = pk.w.slice_rows(5, 37);  // 3 groups; starts inside the first
  const Problem p = make_problem(37, n, cols, 52);
  ThreadPool pool(2);
  kernels::cpu::MatmulScratch act;
  std::vector<float> scalar;
  kernels::cpu::matmul(args_for(p, p.x, view, scalar), Isa::Scalar, pool, act);
  for (Isa isa : available_isas()) {
    const std::string name(kernels::cpu::isa_name(isa));
    std::vector<float> all;
    kernels::cpu::matmul(args_for(p, p.x, view, all), isa, pool, act);
    for (int64_t t = 0; t < n; ++t)
      ASSERT_EQ(0, std::memcmp(all.data() + t * p.y_stride, scalar.data() + t * p.y_stride, 37 * sizeof(float)))
          << name << ": token " << t << " of " << n << " differs from the scalar twin";
    for (const auto& [t, k] : std::vector<std::pair<int64_t, int64_t>>{{0, 1}, {50, 2}, {100, 16}, {150, 3}, {160, 11}, {170, 1}}) {
      Problem few = p;
      few.n = k;
      std::vector<float> xs(p.x.begin() + t * p.x_stride, p.x.begin() + (t + k) * p.x_stride), ys;
      kernels::cpu::matmul(args_for(few, xs, view, ys), isa, pool, act);
      for (int64_t i = 0; i < k; ++i)
        EXPECT_EQ(0, std::memcmp(ys.data() + i * p.y_stride, all.data() + (t + i) * p.y_stride, 37 * sizeof(float)))
            << name << ": token " << t + i << " in a call of " << k << " differs from the call of " << n;
    }
  }
  const std::vector<float> xq = quantized_x(p, kernels::cpu::act_span(view));
  expect_close(p, scalar, run_reference(p, xq, tw.view), bounds(p, tw.view, xq), 1e-5, false,
               "packed scalar twin vs reference");
  if (!kernels::cpu::isa_supported(Isa::Amx))
    GTEST_SKIP() << "no AMX on this CPU (or the kernel refuses it): the AMX tiles were NOT tested: SKIPPED";
}

INSTANTIATE_TEST_SUITE_P(Types, PackedRowsLong, ::testing::Values(DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::Q8_0, DType::Q4_0, DType::Q5_0),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

// A checkpoint already in the packed layout: on AVX-512 the backend copies it
// (onto its huge-page arena: the bytes equal, the loader may then drop the
// mapped pages) unless map_weights asks to use it in place; either way the
// product is the same, bit for bit. Below AVX-512 it is unpacked to rows.
TEST_P(PackedRows, StoredPackedWeightsAreCopiedUnlessMapped) {
  if (!kernels::cpu::isa_supported(Isa::Avx512)) GTEST_SKIP() << "no AVX-512 on this CPU: SKIPPED";
  const TestWeight tw = make_weight(GetParam(), 35, 512, 0, 37);  // 37 stored rows: the last group partial
  const Packed pk = pack(tw.stored);
  const Problem p = make_problem(37, 3, 512, 38);
  std::vector<float> y[2];
  for (bool map : {false, true}) {
    auto be = kernels::make_backend({"cpu", 2, "avx512", map});
    const kernels::Weight got = be->import_weight(pk.w);
    EXPECT_EQ(got.group_rows, pk.w.group_rows);
    if (map) {
      EXPECT_EQ(got.data, pk.w.data) << "map_weights: used in place";
    } else {
      ASSERT_NE(got.data, pk.w.data) << "copied by default";
      EXPECT_EQ(0, std::memcmp(got.data, pk.w.data, pk.bytes.size())) << "a faithful copy";
      EXPECT_EQ(reinterpret_cast<uintptr_t>(got.data) % 64, 0u);
    }
    be->matmul(args_for(p, p.x, got, y[map]));
  }
  EXPECT_EQ(y[0], y[1]);
}

INSTANTIATE_TEST_SUITE_P(Types, PackedRows, ::testing::Values(DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::Q8_0, DType::Q4_0, DType::Q5_0),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

// Q4_K's 6-bit scales and mins, packed as nibbles plus 2 high bits, widen to
// the same bytes in the AVX-512 kernels' unpacking as in the scalar one, for
// random bytes (every bit pattern of the packed fields is a valid block).
TEST(PackedQ4K, ScalesWidenAsTheScalarTwin) {
  if (!kernels::cpu::isa_supported(Isa::Avx512)) GTEST_SKIP() << "no AVX-512 on this CPU: only the scalar unpacking runs here";
  std::mt19937 rng(77);
  std::vector<uint8_t> blk(static_cast<size_t>(kernels::packed::q4k::kBlockBytes));
  for (int trial = 0; trial < 50; ++trial) {
    for (uint8_t& b : blk) b = static_cast<uint8_t>(rng());
    alignas(64) uint8_t want[256], got[256];
    kernels::packed::q4k::scales(blk.data(), want);
    kernels::cpu::q4k_scales_avx512(blk.data(), got);
    ASSERT_EQ(0, std::memcmp(want, got, sizeof want)) << "trial " << trial;
    for (uint8_t v : want) ASSERT_LT(v, 64);
  }
}

// Q6_K groups with every int8 scale (each of -128 .. 127 on 4 of the 1024
// sub-blocks) and random codes: the AMX kernel writes each scale in base 8
// with digits in [-3, 4], the VNNI tiles take the offset from half-block
// sums; every level agrees with the scalar twin bit for bit (20 tokens: an
// AMX tile and 4 more; 1 token: decode tiles), which matches the reference.
TEST(PackedQ6K, EveryScaleAgreesWithTheTwin) {
  constexpr int64_t kRowsQ6 = 32, kCols = 512;
  std::mt19937 rng(78);
  TestWeight tw;
  tw.data.resize(row_bytes(DType::Q6_K, kCols) * kRowsQ6);
  for (int64_t b = 0; b < kRowsQ6 * kCols / 256; ++b) {
    BlockQ6_K blk{};
    blk.d = f32_to_f16(std::uniform_real_distribution<float>(1e-4f, 1e-3f)(rng));
    for (int k = 0; k < 16; ++k) blk.scales[k] = static_cast<int8_t>((b * 16 + k) % 256 - 128);
    for (int v = 0; v < 256; ++v) q6k_or_code(blk, v, static_cast<int>(rng() % 64));
    std::memcpy(tw.data.data() + b * static_cast<int64_t>(sizeof blk), &blk, sizeof blk);
  }
  tw.stored = kernels::Weight{};
  tw.stored.dtype = DType::Q6_K;
  tw.stored.rows = kRowsQ6;
  tw.stored.cols = kCols;
  tw.stored.data = tw.data.data();
  tw.view = tw.stored;
  const Packed pk = pack(tw.stored);
  const Problem p = make_problem(kRowsQ6, 20, kCols, 79);
  ThreadPool pool(2);
  kernels::cpu::MatmulScratch act;
  const std::vector<float> scalar = packed_twin(p, tw, pk.w, pool, act);
  for (Isa isa : available_isas())
    for (int64_t n : {int64_t{20}, int64_t{1}}) {
      Problem few = p;
      few.n = n;
      std::vector<float> xs(p.x.begin(), p.x.begin() + n * p.x_stride), y;
      kernels::cpu::matmul(args_for(few, xs, pk.w, y), isa, pool, act);
      EXPECT_EQ(0, std::memcmp(y.data(), scalar.data(), static_cast<size_t>((n - 1) * p.y_stride + kRowsQ6) * sizeof(float)))
          << kernels::cpu::isa_name(isa) << ", " << n << " token(s)";
    }
}

// A batch of products (repacked and row-layout weights, views starting inside
// a row group, inputs shared by two products or not, one transposed, one with
// no tokens, one with enough tokens that its inputs are quantized in
// parallel, beside the others) gives each product exactly the bits it gets
// alone, with one to three threads splitting the batch between them (pieces
// of equal cost, cut inside products of different widths, types and token
// counts: every row computed once).
TEST(MatmulBatch, EachProductAsIfAlone) {
  const TestWeight q4k = make_weight(DType::Q4_K, 37, 512, 5, 41), q8 = make_weight(DType::Q8_0, 50, 512, 0, 42);
  const TestWeight q4 = make_weight(DType::Q4_0, 29, 96, 1, 43), f16 = make_weight(DType::F16, 70, 96, 3, 44);
  const TestWeight f32 = make_weight(DType::F32, 40, 33, 0, 45);
  const Packed pk4 = pack(q4k.stored), pk8 = pack(q8.stored);
  const kernels::Weight w4k = pk4.w.slice_rows(5, 37), w8 = pk8.w.slice_rows(0, 50);
  const Problem shared = make_problem(50, 3, 512, 46), small = make_problem(70, 3, 96, 47);
  Problem p4k = shared, none = shared;
  p4k.rows = 37;
  none.n = 0;
  Problem p29 = small, pt = make_problem(33, 3, 40, 48);
  p29.rows = 29;
  const Problem many = make_problem(50, 70, 512, 49);  // 70 x 512 values: over matmul.cpp's kSerialQuantize
  // Two bf16 products of one input (rounded once with bf16 activations).
  const TestWeight bf = make_weight(DType::BF16, 45, 512, 2, 50), bf2 = make_weight(DType::BF16, 19, 512, 0, 51);
  Problem pbf = shared, pbf2 = shared;
  pbf.rows = 45;
  pbf2.rows = 19;
  std::vector<float> y[9];
  for (Isa isa : available_isas()) {
    for (int threads : {1, 2, 3}) {
      const kernels::cpu::MatmulConfig cfg{isa, threads != 1};
      ThreadPool pool(threads);
      kernels::cpu::MatmulScratch acts;
      std::vector<kernels::MatmulArgs> batch = {
          args_for(p4k, shared.x, w4k, y[0]),  args_for(shared, shared.x, w8, y[1]), args_for(p29, small.x, q4.view, y[2]),
          args_for(small, small.x, f16.view, y[3]), args_for(pt, pt.x, f32.view, y[4]), args_for(none, shared.x, w8, y[5]),
          args_for(many, many.x, w8, y[6]), args_for(pbf, shared.x, bf.view, y[7]), args_for(pbf2, shared.x, bf2.view, y[8])};
      batch[4].transpose_w = true;  // [40, 33] used as W: 40 inputs, 33 outputs
      kernels::cpu::matmul_batch(batch.data(), batch.size(), cfg, pool, acts);
      for (size_t i = 0; i < batch.size(); ++i) {
        std::vector<float> alone(y[i].size(), kSentinel);
        kernels::MatmulArgs a = batch[i];
        a.y = alone.data();
        kernels::cpu::matmul(a, cfg, pool, acts);
        EXPECT_EQ(alone.size(), y[i].size());
        if (alone.empty()) continue;  // the product with no tokens writes nothing
        EXPECT_EQ(0, std::memcmp(alone.data(), y[i].data(), alone.size() * sizeof(float)))
            << kernels::cpu::isa_name(isa) << ", " << threads << " threads: product " << i << " differs in the batch";
        if (i != 5) {
          EXPECT_NE(kSentinel, y[i][0]) << "product " << i << " not computed";
        }
      }
    }
  }
}

}  // namespace
}  // namespace dsinfer
