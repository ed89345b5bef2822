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
// ExpertsVsProbe: a V2-Lite MoE layer's decode products as the model batches
// them (the shared and 6 routed experts), against the probe.
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

// Copies of a matrix imported as the model loader does (the backend may repack).
struct Imported {
  std::vector<std::vector<uint8_t>> data;
  std::vector<dsinfer::kernels::Weight> ws;
};
Imported import_copies(dsinfer::kernels::Backend& backend, const Matrix& m, int copies) {
  Imported out;
  out.data.assign(static_cast<size_t>(copies), m.bytes);
  out.ws.assign(static_cast<size_t>(copies), m.w);
  for (size_t i = 0; i < out.ws.size(); ++i) {
    out.ws[i].data = out.data[i].data();
    out.ws[i] = backend.import_weight(out.ws[i]);
  }
  return out;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Each window's read rate against the probe taken just before it; the
// counters are the medians over the windows.
struct ProbeWindows {
  std::vector<double> probes, rates, ratios;
  void add(double probe, double gbps) {
    probes.push_back(probe);
    rates.push_back(gbps);
    ratios.push_back(gbps / probe);
  }
  void report(benchmark::State& state) const {
    state.counters["probe_GB/s"] = median(probes);
    state.counters["GB/s"] = median(rates);
    state.counters["fraction"] = median(ratios);
  }
};

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
  const Imported copy = import_copies(*backend, m, copies);
  std::vector<float> x(static_cast<size_t>(cols), 0.5f), y(static_cast<size_t>(rows));
  dsinfer::kernels::MatmulArgs a;
  a.x = x.data();
  a.x_stride = cols;
  a.n = 1;
  a.y = y.data();
  a.y_stride = rows;
  dsinfer::ThreadPool probe_pool(0);
  ProbeWindows windows;
  for (auto _ : state) {
    const double probe = dsinfer::kernels::cpu::measure_read_bandwidth(probe_pool, size_t{512} << 20, 2);
    const auto t0 = std::chrono::steady_clock::now();
    for (const auto& w : copy.ws) {
      a.w = &w;
      backend->matmul(a);
    }
    benchmark::DoNotOptimize(y.data());
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    windows.add(probe, static_cast<double>(copy.ws[0].bytes()) * copies / s / 1e9);
  }
  windows.report(state);
  state.SetLabel(std::string(dsinfer::dtype_name(t)) + " " + backend->capabilities().isa);
}

// One decode token through DeepSeek-V2-Lite's MoE layers as the model runs
// them (model/moe.cpp): the shared experts' and the top-k routed experts'
// gate/up products in one matmul_batch, then their down products in another.
// A window runs layers until it has read 1 GiB (~25, as a decode step's 26
// MoE layers), each layer's weights copies of their own, the selected
// experts drawn at random per layer, so that no weight is read twice in a
// window, as in a decode step. A layer holds 16 routed experts, not 64: the
// memory the bench needs (2.3 GB for Q4_K). Windows
// alternate with the read probe as in DecodeVsProbe. args: dtype, top_k,
// products (0: both batches; 1: gate/up only; 2: down only).
void BM_ExpertsVsProbe(benchmark::State& state) {
  const auto t = static_cast<DType>(state.range(0));
  const int64_t top_k = state.range(1), hidden = 2048, inter = 1408, n_experts = 16, shared_inter = 2 * inter;
  auto backend = dsinfer::kernels::make_backend({"cpu", 0, "auto"});
  // The down products' rows of 1408 values take fit_block_type's fallback, as in `dsinfer quantize`.
  const Matrix eg = make_matrix(t, inter, hidden), ed = make_matrix(dsinfer::fit_block_type(t, inter), hidden, inter);
  const Matrix sg = make_matrix(t, shared_inter, hidden), sd = make_matrix(dsinfer::fit_block_type(t, shared_inter), hidden, shared_inter);
  const size_t expert_bytes = 2 * eg.bytes.size() + ed.bytes.size();
  const int visits = copies_for(2 * sg.bytes.size() + sd.bytes.size() + static_cast<size_t>(top_k) * expert_bytes);
  const int layers = visits;
  const Imported egs = import_copies(*backend, eg, static_cast<int>(2 * n_experts * layers));  // [layer][expert][gate, up]
  const Imported eds = import_copies(*backend, ed, static_cast<int>(n_experts * layers));      // [layer][expert]
  const Imported sgs = import_copies(*backend, sg, 2 * visits), sds = import_copies(*backend, sd, visits);  // [visit]
  std::vector<float> x(static_cast<size_t>(hidden), 0.5f), h(static_cast<size_t>(2 * (top_k + 2) * inter), 0.25f);
  std::vector<float> y(static_cast<size_t>((top_k + 1) * hidden));
  std::mt19937 rng(11);
  std::vector<int64_t> ids(static_cast<size_t>(n_experts));
  std::vector<dsinfer::kernels::MatmulArgs> gu, down;
  const auto arg = [](const float* in, const dsinfer::kernels::Weight& w, float* out) {
    return dsinfer::kernels::MatmulArgs{in, w.cols, 1, &w, false, nullptr, out, w.rows};
  };
  dsinfer::ThreadPool probe_pool(0);
  ProbeWindows windows;
  int64_t bytes = 0;
  for (auto _ : state) {
    const double probe = dsinfer::kernels::cpu::measure_read_bandwidth(probe_pool, size_t{512} << 20, 2);
    bytes = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t v = 0; v < visits; ++v) {
      const int64_t l = v;
      for (int64_t e = 0; e < n_experts; ++e) ids[static_cast<size_t>(e)] = e;
      std::shuffle(ids.begin(), ids.end(), rng);
      std::sort(ids.begin(), ids.begin() + top_k);  // the model runs them in expert order
      gu = {arg(x.data(), sgs.ws[static_cast<size_t>(2 * v)], h.data()),
            arg(x.data(), sgs.ws[static_cast<size_t>(2 * v + 1)], h.data() + shared_inter)};
      down = {arg(h.data(), sds.ws[static_cast<size_t>(v)], y.data())};
      for (int64_t j = 0; j < top_k; ++j) {
        const auto e = static_cast<size_t>(l * n_experts + ids[static_cast<size_t>(j)]);
        float* hj = h.data() + (2 * j + 4) * inter;
        gu.push_back(arg(x.data(), egs.ws[2 * e], hj));
        gu.push_back(arg(x.data(), egs.ws[2 * e + 1], hj + inter));
        down.push_back(arg(hj, eds.ws[e], y.data() + (j + 1) * hidden));
      }
      if (state.range(2) != 2) {
        backend->matmul_batch(gu.data(), gu.size());
        for (const auto& a : gu) bytes += a.w->bytes();
      }
      if (state.range(2) != 1) {
        backend->matmul_batch(down.data(), down.size());
        for (const auto& a : down) bytes += a.w->bytes();
      }
    }
    benchmark::DoNotOptimize(y.data());
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    windows.add(probe, static_cast<double>(bytes) / s / 1e9);
  }
  windows.report(state);
  state.counters["MB/layer"] = static_cast<double>(bytes) / static_cast<double>(visits) / 1e6;
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
BENCHMARK(BM_ExpertsVsProbe)
    ->Name("ExpertsVsProbe")
    ->Iterations(8)
    ->Apply([](auto* b) {
      for (DType t : {DType::Q4_K, DType::Q8_0})
        for (int64_t products : {0, 1, 2}) b->Args({static_cast<int64_t>(t), 6, products});
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
