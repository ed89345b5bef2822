// Matrix-vector (decode) and matrix-matrix (prefill) speed of the CPU backend
// per weight type, as achieved GB/s and GOPS. Compare the decode figures with
// BM_ReadBandwidth of the same run (the machine's read roofline), and the
// prefill figures with BM_Int8Peak / BM_Bf16Peak: ratios, not absolute times,
// because the development machine is shared.
// Batch: 8 and 16 tokens over weights that stream from memory (batched
// decode), to compare with both limits; BatchHot: 8 tokens over cached
// weights (equal to Batch: batched decode is compute-bound). DecodeVsProbe:
// decode against probes taken between its passes (shared machines change
// bandwidth within seconds). DecodeShort / DecodeHeads: MLA's per-head
// decode products as one matrix and as the 16-part batch the model runs
// (each part's activations quantized on their own), short rows that the
// 1.5B's shapes do not have; DecodeShort's Q8_0 1024 x 1024 reads as many
// bytes in long rows. DecodeHead: the 1.5B's output projection (151936 x
// 1536) as Q8_0 and as Q6_K row groups, the two choices for it.
//   build/matmul_bench --benchmark_filter=Decode
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <random>
#include <vector>

#include "core/quant.h"
#include "core/thread_pool.h"
#include "kernels/backend.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/probe.h"

namespace {

using dsinfer::DType;

struct Matrix {
  std::vector<uint8_t> bytes;
  dsinfer::kernels::Weight w;
};

// Copies of one matrix cycled through, so decode reads come from memory, not
// the last-level cache (at least 1 GiB in all, as `dsinfer bench`'s probe:
// with 256 MiB, a VM on a 480 MiB-L3 Xeon read part of them from L3 and beat
// its own probe by 10%).
int copies_for(size_t bytes) { return static_cast<int>(std::max<size_t>(1, (size_t{1024} << 20) / bytes + 1)); }

// Random weights with the given shape, stored as `t` (BF16 or a block type).
Matrix make_matrix(DType t, int64_t rows, int64_t cols) {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 0.02f);
  std::vector<float> row(static_cast<size_t>(cols));
  Matrix m;
  const size_t rb = t == DType::BF16 ? static_cast<size_t>(cols) * 2 : dsinfer::row_bytes(t, cols);
  m.bytes.resize(rb * static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    for (float& v : row) v = nd(rng);
    uint8_t* out = m.bytes.data() + static_cast<size_t>(r) * rb;
    if (t == DType::BF16) {
      for (int64_t c = 0; c < cols; ++c) {
        const uint16_t h = dsinfer::f32_to_bf16(row[static_cast<size_t>(c)]);
        std::memcpy(out + 2 * c, &h, 2);
      }
    } else {
      dsinfer::quantize_row(t, row.data(), cols, out);
    }
  }
  m.w.dtype = t;
  m.w.rows = rows;
  m.w.cols = cols;
  m.w.data = m.bytes.data();
  return m;
}

// args: dtype, rows, cols, tokens, ISA (an Isa value; -1: the best this CPU has),
// hot (0: copies streaming from memory, striped as dsinfer's default says
// (BackendOptions::Stripes::Auto); 1: one striped copy, read from the
// last-level cache where it fits: how fast the kernel computes when memory
// does not limit it; 2: the same in one contiguous copy: on AMD CPUs the
// striped layout's decode streams, exact multiples of 32 MB apart, alias in
// L1 (host_arena.h), which costs nothing from memory but up to a third of the
// rate over cached weights).
void BM_Matmul(benchmark::State& state) {
  const auto t = static_cast<DType>(state.range(0));
  const int64_t rows = state.range(1), cols = state.range(2), n = state.range(3);
  const std::string isa =
      state.range(4) < 0 ? "auto" : std::string(dsinfer::kernels::cpu::isa_name(static_cast<dsinfer::kernels::cpu::Isa>(state.range(4))));
  dsinfer::kernels::BackendOptions options{"cpu", 0, isa};
  using Stripes = dsinfer::kernels::BackendOptions::Stripes;
  options.stripe_weights = state.range(5) == 2 ? Stripes::Off : state.range(5) == 1 ? Stripes::On : Stripes::Auto;
  if (state.range(5) == 3) options.activations = dsinfer::kernels::BackendOptions::Activations::BF16;
  auto backend = dsinfer::kernels::make_backend(options);
  const Matrix m = make_matrix(t, rows, cols);
  const bool hot = state.range(5) != 0;
  const int copies = n <= 16 && !hot ? copies_for(m.bytes.size()) : 1;  // decode and batched decode stream from memory
  std::vector<std::vector<uint8_t>> data(static_cast<size_t>(copies), m.bytes);
  std::vector<dsinfer::kernels::Weight> ws(static_cast<size_t>(copies), m.w);
  for (int i = 0; i < copies; ++i) {  // as the model loader does: the backend may repack (Q4_K on AVX-512)
    ws[static_cast<size_t>(i)].data = data[static_cast<size_t>(i)].data();
    ws[static_cast<size_t>(i)] = backend->import_weight(ws[static_cast<size_t>(i)]);
  }
  std::vector<float> x(static_cast<size_t>(n * cols), 0.5f), y(static_cast<size_t>(n * rows));
  dsinfer::kernels::MatmulArgs a;
  a.x = x.data();
  a.x_stride = cols;
  a.n = n;
  a.w = &m.w;
  a.y = y.data();
  a.y_stride = rows;
  size_t next = 0;
  for (auto _ : state) {
    a.w = &ws[next];
    next = (next + 1) % ws.size();
    backend->matmul(a);
    benchmark::DoNotOptimize(y.data());
  }
  const double iters = static_cast<double>(state.iterations());
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(ws[0].bytes()) * iters / 1e9, benchmark::Counter::kIsRate);
  state.counters["GOPS"] = benchmark::Counter(2.0 * rows * cols * n * iters / 1e9, benchmark::Counter::kIsRate);
  state.SetLabel(std::string(dsinfer::dtype_name(t)) + " " + backend->capabilities().isa);
}

// MLA's absorbed decode products: one token's query of each head against its
// own slice of rows (DeepSeek-V2-Lite: W_uk^T, 16 x [512, 128] as Q8_0; the
// value up-projection, 16 x [128, 512] as Q4_K), one matmul_batch of `heads`
// parts. args: dtype, rows per head, cols, heads, hot (as BM_Matmul).
void BM_Heads(benchmark::State& state) {
  const auto t = static_cast<DType>(state.range(0));
  const int64_t rows = state.range(1), cols = state.range(2), heads = state.range(3);
  auto backend = dsinfer::kernels::make_backend({"cpu", 0, "auto"});
  const Matrix m = make_matrix(t, rows * heads, cols);
  const int copies = state.range(4) != 0 ? 1 : copies_for(m.bytes.size());
  std::vector<std::vector<uint8_t>> data(static_cast<size_t>(copies), m.bytes);
  std::vector<dsinfer::kernels::Weight> ws(static_cast<size_t>(copies), m.w);
  std::vector<dsinfer::kernels::Weight> slices(static_cast<size_t>(copies * heads));  // [copy][head]
  for (size_t i = 0; i < ws.size(); ++i) {
    dsinfer::kernels::Weight& w = ws[i];
    w.data = data[i].data();
    w = backend->import_weight(w);
    for (int64_t h = 0; h < heads; ++h) slices[i * static_cast<size_t>(heads) + static_cast<size_t>(h)] = w.slice_rows(h * rows, rows);
  }
  std::vector<float> x(static_cast<size_t>(heads * cols)), y(static_cast<size_t>(heads * rows));  // [heads, cols], [heads, rows]
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (float& v : x) v = nd(rng);
  std::vector<dsinfer::kernels::MatmulArgs> args(static_cast<size_t>(heads));
  int64_t next = 0;
  for (auto _ : state) {
    for (int64_t h = 0; h < heads; ++h) {
      const dsinfer::kernels::Weight* w = &slices[static_cast<size_t>(next * heads + h)];
      args[static_cast<size_t>(h)] = {x.data() + h * cols, cols, 1, w, false, nullptr, y.data() + h * rows, rows};
    }
    next = (next + 1) % copies;
    backend->matmul_batch(args.data(), args.size());
    benchmark::DoNotOptimize(y.data());
  }
  const double iters = static_cast<double>(state.iterations());
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(ws[0].bytes()) * iters / 1e9, benchmark::Counter::kIsRate);
  state.SetLabel(std::string(dsinfer::dtype_name(t)) + " " + backend->capabilities().isa);
}

// Decode against the read probe, in turns: 8 windows, each a probe (512 MiB)
// then one pass over all the copies. Shared machines move between bandwidth
// regimes within seconds, so a probe taken once, minutes from the kernel's
// run, says little; here each window's rate is divided by the probe just
// before it, and the median window is reported.
void BM_DecodeVsProbe(benchmark::State& state) {
  const auto t = static_cast<DType>(state.range(0));
  const int64_t rows = state.range(1), cols = state.range(2);
  auto backend = dsinfer::kernels::make_backend({"cpu", 0, "auto"});
  const Matrix m = make_matrix(t, rows, cols);
  const int copies = copies_for(m.bytes.size());
  std::vector<std::vector<uint8_t>> data(static_cast<size_t>(copies), m.bytes);
  std::vector<dsinfer::kernels::Weight> ws(static_cast<size_t>(copies), m.w);
  for (int i = 0; i < copies; ++i) {
    ws[static_cast<size_t>(i)].data = data[static_cast<size_t>(i)].data();
    ws[static_cast<size_t>(i)] = backend->import_weight(ws[static_cast<size_t>(i)]);
  }
  std::vector<float> x(static_cast<size_t>(cols), 0.5f), y(static_cast<size_t>(rows));
  dsinfer::kernels::MatmulArgs a;
  a.x = x.data();
  a.x_stride = cols;
  a.n = 1;
  a.y = y.data();
  a.y_stride = rows;
  dsinfer::ThreadPool probe_pool(0);
  std::vector<double> ratios, probes, rates;
  for (auto _ : state) {
    const double probe = dsinfer::kernels::cpu::measure_read_bandwidth(probe_pool, size_t{512} << 20, 2);
    const auto t0 = std::chrono::steady_clock::now();
    for (const auto& w : ws) {
      a.w = &w;
      backend->matmul(a);
    }
    benchmark::DoNotOptimize(y.data());
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double gbps = static_cast<double>(ws[0].bytes()) * copies / s / 1e9;
    probes.push_back(probe);
    rates.push_back(gbps);
    ratios.push_back(gbps / probe);
  }
  const auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  state.counters["probe_GB/s"] = median(probes);
  state.counters["GB/s"] = median(rates);
  state.counters["fraction"] = median(ratios);
  state.SetLabel(std::string(dsinfer::dtype_name(t)) + " " + backend->capabilities().isa);
}

void shapes(benchmark::internal::Benchmark* b, int64_t tokens, int64_t hot = 0) {
  for (DType t : {DType::BF16, DType::Q8_0, DType::Q4_0, DType::Q5_0, DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
    b->Args({static_cast<int64_t>(t), 8960, 1536, tokens, -1, hot});  // Qwen 1.5B gate/up
    b->Args({static_cast<int64_t>(t), 1536, 8960, tokens, -1, hot});  // down
  }
}

// The integer types' prefill on the AVX-512 VNNI tiles, beside Prefill's (AMX where the CPU has it).
void vnni_shapes(benchmark::internal::Benchmark* b, int64_t tokens) {
  const auto vnni = static_cast<int64_t>(dsinfer::kernels::cpu::Isa::Avx512);
  if (!dsinfer::kernels::cpu::isa_supported(dsinfer::kernels::cpu::Isa::Avx512)) return;
  for (DType t : {DType::Q8_0, DType::Q4_0, DType::Q4_K}) {
    b->Args({static_cast<int64_t>(t), 8960, 1536, tokens, vnni, 0});
    b->Args({static_cast<int64_t>(t), 1536, 8960, tokens, vnni, 0});
  }
}

void BM_ReadBandwidth(benchmark::State& state) {
  dsinfer::ThreadPool pool(0);
  double gbps = 0;
  for (auto _ : state) gbps = dsinfer::kernels::cpu::measure_read_bandwidth(pool, size_t{1024} << 20);
  state.counters["GB/s"] = gbps;
}

void BM_Int8Peak(benchmark::State& state) {
  dsinfer::ThreadPool pool(0);
  const char* instr = "";
  double gops = 0;
  for (auto _ : state) gops = dsinfer::kernels::cpu::measure_int8_peak(pool, &instr);
  state.counters["GOPS"] = gops;
  state.SetLabel(instr);
}

void BM_Bf16Peak(benchmark::State& state) {
  dsinfer::ThreadPool pool(0);
  const char* instr = "";
  double gops = 0;
  for (auto _ : state) gops = dsinfer::kernels::cpu::measure_bf16_peak(pool, &instr);
  state.counters["GOPS"] = gops;
  state.SetLabel(instr);
}

}  // namespace

BENCHMARK(BM_ReadBandwidth)->Iterations(3)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Matmul)->Name("Decode")->UseRealTime()->Apply([](auto* b) { shapes(b, 1); })->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Matmul)->Name("DecodeHead")->UseRealTime()->Apply([](auto* b) {
  for (DType t : {DType::Q8_0, DType::Q6_K}) b->Args({static_cast<int64_t>(t), 151936, 1536, 1, -1, 0});
})->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Matmul)->Name("DecodeShort")->UseRealTime()->Apply([](auto* b) {
  for (int64_t hot : {0, 1}) {
    b->Args({static_cast<int64_t>(DType::Q8_0), 8192, 128, 1, -1, hot});
    b->Args({static_cast<int64_t>(DType::Q8_0), 1024, 1024, 1, -1, hot});
    b->Args({static_cast<int64_t>(DType::Q4_K), 2048, 512, 1, -1, hot});
  }
})->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Heads)->Name("DecodeHeads")->UseRealTime()->Apply([](auto* b) {
  for (int64_t hot : {0, 1}) {
    b->Args({static_cast<int64_t>(DType::Q8_0), 512, 128, 16, hot});
    b->Args({static_cast<int64_t>(DType::Q4_K), 128, 512, 16, hot});
  }
})->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Matmul)->Name("DecodeHot")->UseRealTime()->Apply([](auto* b) { shapes(b, 1, 1), shapes(b, 1, 2); })->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Matmul)->Name("Batch")->UseRealTime()->Apply([](auto* b) { shapes(b, 8), shapes(b, 16); })->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Matmul)->Name("BatchHot")->UseRealTime()->Apply([](auto* b) { shapes(b, 8, 1); })->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_DecodeVsProbe)
    ->Name("DecodeVsProbe")
    ->Iterations(8)
    ->Apply([](auto* b) {
      for (DType t : {DType::Q8_0, DType::Q4_0, DType::Q5_0, DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
        b->Args({static_cast<int64_t>(t), 8960, 1536});
        b->Args({static_cast<int64_t>(t), 1536, 8960});
      }
    })
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Int8Peak)->Iterations(2)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Bf16Peak)->Iterations(2)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Matmul)->Name("Prefill")->UseRealTime()->Apply([](auto* b) { shapes(b, 128); })->Unit(benchmark::kMillisecond);
// bf16 weights with bf16 activations (vdpbf16ps where the CPU has it).
BENCHMARK(BM_Matmul)->Name("PrefillBf16Dots")->UseRealTime()->Apply([](auto* b) {
  for (int64_t tokens : {128, 512}) {  // 512: a prompt of that length in one call, as dsinfer bench --prompt 512
    b->Args({static_cast<int64_t>(DType::BF16), 8960, 1536, tokens, -1, 3});
    b->Args({static_cast<int64_t>(DType::BF16), 1536, 8960, tokens, -1, 3});
  }
})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Matmul)->Name("PrefillVnni")->UseRealTime()->Apply([](auto* b) { vnni_shapes(b, 128); })->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
