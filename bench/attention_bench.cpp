// Decode attention of the CPU backend over a paged f32 or bf16 cache, as achieved
// GB/s of cache read (compare with BM_ReadBandwidth of the same run) and
// GFLOP/s. Shapes are the models' own: R1-Distill-Qwen-1.5B's grouped-query
// attention (12 query heads over 2 KV heads of 128) and DeepSeek-V2-Lite's
// absorbed MLA (16 heads over one latent cache of 512 + 64 values).
// Args: context length, tokens (sequences decoded together, each its own
// context), MiB read before each call, untimed (0: none, the cache hot in
// L2; 64: flushed from L2 into L3; 1024: from memory, as in a decode step,
// where a model's weights stream through the caches between two layers'
// attention), cache dtype (0: f32, 1: bf16).
//   build/attention_bench
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/backend.h"
#include "kernels/host_memory.h"
#include "kernels/cpu/probe.h"

namespace {

struct Shape {
  int64_t n_heads, n_kv_heads, qk_dim, v_dim;
  bool mla;  // one cache for K and V
};

constexpr Shape kQwen15b{12, 2, 128, 128, false};
constexpr Shape kV2Lite{16, 1, 576, 512, true};
constexpr int64_t kBlock = 16;

// One call's inputs: n sequences of ctx keys in a paged cache (f32 or bf16),
// their queries and the output, and the arguments pointing at them.
struct Case {
  int64_t k_stride, v_stride;
  size_t elem;
  dsinfer::kernels::Buffer k, v, q;
  std::vector<int32_t> tables, positions, seqs;
  std::vector<float> out;
  dsinfer::kernels::AttentionArgs a;

  Case(const Shape& s, int64_t ctx, int64_t n, bool bf16)
      : k_stride(s.n_kv_heads * s.qk_dim), v_stride(s.mla ? k_stride : s.n_kv_heads * s.v_dim), elem(bf16 ? 2 : 4) {
    const int64_t blocks_per_seq = (ctx + kBlock - 1) / kBlock, n_blocks = blocks_per_seq * n;
    std::mt19937 rng(1);
    k = randoms(n_blocks * kBlock * k_stride, elem, rng);
    v = s.mla ? dsinfer::kernels::Buffer() : randoms(n_blocks * kBlock * v_stride, elem, rng);
    q = randoms(n * s.n_heads * s.qk_dim, 4, rng);
    tables.resize(static_cast<size_t>(n_blocks));
    std::iota(tables.begin(), tables.end(), 0);
    std::shuffle(tables.begin(), tables.end(), rng);  // a used pool's blocks are scattered
    positions.assign(static_cast<size_t>(n), static_cast<int32_t>(ctx - 1));
    seqs.resize(static_cast<size_t>(n));
    std::iota(seqs.begin(), seqs.end(), 0);
    out.resize(static_cast<size_t>(n * s.n_heads * s.v_dim));
    a.q = q.f32();
    a.q_head_stride = s.qk_dim;
    a.q_token_stride = s.n_heads * s.qk_dim;
    a.n_tokens = n;
    a.n_heads = s.n_heads;
    a.n_kv_heads = s.n_kv_heads;
    a.qk_dim = s.qk_dim;
    a.v_dim = s.v_dim;
    a.k_cache = k.data();
    a.v_cache = s.mla ? k.data() : v.data();
    a.cache_dtype = bf16 ? dsinfer::DType::BF16 : dsinfer::DType::F32;
    a.k_token_stride = k_stride;
    a.v_token_stride = v_stride;
    a.k_head_stride = s.mla ? 0 : s.qk_dim;
    a.v_head_stride = s.mla ? 0 : s.v_dim;
    a.block_size = kBlock;
    a.positions = positions.data();
    a.tok_seq = seqs.data();
    a.block_tables = tables.data();
    a.max_blocks = blocks_per_seq;
    a.scale = 1.0f / std::sqrt(static_cast<float>(s.qk_dim));
    a.out = out.data();
    a.out_token_stride = s.n_heads * s.v_dim;
  }

  // The cache on huge pages, as the engine's (host_map): with 4 KiB pages a
  // cold call spends much of its time in page walks.
  static dsinfer::kernels::Buffer randoms(int64_t count, size_t bytes, std::mt19937& rng) {
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    dsinfer::kernels::Buffer b = dsinfer::kernels::host_map(static_cast<size_t>(count) * bytes);
    for (int64_t i = 0; i < count; ++i) {
      if (bytes == 2) {
        static_cast<uint16_t*>(b.data())[i] = dsinfer::f32_to_bf16(u(rng));
      } else {
        b.f32()[i] = u(rng);
      }
    }
    return b;
  }
};

void run(benchmark::State& state, const Shape& s) {
  const int64_t ctx = state.range(0), n = state.range(1);
  auto backend = dsinfer::kernels::make_backend({"cpu", 0, "auto"});
  const Case c(s, ctx, n, state.range(3) != 0);
  std::vector<float> flush(static_cast<size_t>(state.range(2)) << 18, 1.0f);
  // A one-key call after the flush wakes the pool's threads (asleep after the
  // flush's milliseconds) without timing it: in a decode step they are busy.
  std::vector<int32_t> first(c.positions.size(), 0);
  dsinfer::kernels::AttentionArgs wake = c.a;
  wake.positions = first.data();
  float sink = 0.0f;
  for (auto _ : state) {
    if (!flush.empty()) {
      state.PauseTiming();
      for (size_t i = 0; i < flush.size(); i += 16) sink += flush[i];
      backend->attention(wake);
      state.ResumeTiming();
    }
    backend->attention(c.a);
    benchmark::DoNotOptimize(c.out.data());
  }
  benchmark::DoNotOptimize(sink);
  const double iters = static_cast<double>(state.iterations());
  const auto elem = static_cast<int64_t>(c.elem);
  const double bytes = static_cast<double>(n * ctx * (c.k_stride + (s.mla ? 0 : c.v_stride)) * elem);
  const double flops = 2.0 * static_cast<double>(n * ctx * s.n_heads * (s.qk_dim + s.v_dim));
  state.counters["GB/s"] = benchmark::Counter(bytes * iters / 1e9, benchmark::Counter::kIsRate);
  state.counters["GFLOP/s"] = benchmark::Counter(flops * iters / 1e9, benchmark::Counter::kIsRate);
}

void BM_Gqa(benchmark::State& state) { run(state, kQwen15b); }
void BM_Mla(benchmark::State& state) { run(state, kV2Lite); }

void BM_ReadBandwidth(benchmark::State& state) {
  dsinfer::ThreadPool pool(0);
  double gbps = 0;
  for (auto _ : state) gbps = dsinfer::kernels::cpu::measure_read_bandwidth(pool, size_t{512} << 20);
  state.counters["GB/s"] = gbps;
}

void shapes(benchmark::internal::Benchmark* b) {
  for (int64_t ctx : {64, 640, 4096}) b->Args({ctx, 1, 0, 0});
  b->Args({64, 8, 0, 0});
  b->Args({640, 8, 0, 0});
  for (int64_t ctx : {640, 4096}) b->Args({ctx, 1, 64, 0});
  for (int64_t cold : {0, 64}) b->Args({640, 1, cold, 1});
  b->Args({640, 8, 0, 1});
  for (int64_t ctx : {16, 80}) b->Args({ctx, 8, 0, 1});  // batched decode at short contexts
  b->Args({4096, 1, 64, 1});
}

}  // namespace

// Decode over a bf16 cache read from memory: a 1.5B or V2-Lite decode
// step's attention at a 512-token context, 3-4x its time over a cache in L2
// (DecodeGqa/640/1/0/1), as in the model (timers around the call: 1.5B, 512
// keys, 52-57 us a layer; the same call repeated at once, 15 us), and a
// batch of 8 such contexts (4 MB a layer). What did not shorten them:
// docs/architecture.md, "Decode attention reads its cache".
void from_memory(benchmark::internal::Benchmark* b) {
  for (int64_t ctx : {512, 4096}) b->Args({ctx, 1, 1024, 1});
  b->Args({512, 8, 1024, 1});  // batched decode of 8 sequences (dsinfer bench --batch 8)
}

BENCHMARK(BM_ReadBandwidth)->Iterations(3)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Gqa)->Name("DecodeGqa")->UseRealTime()->Apply(shapes)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Mla)->Name("DecodeMla")->UseRealTime()->Apply(shapes)->Unit(benchmark::kMicrosecond);
// Fixed iterations: each flush of 1 GiB takes ~70 ms.
BENCHMARK(BM_Gqa)->Name("DecodeGqaFromMemory")->UseRealTime()->Iterations(30)->Apply(from_memory)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Mla)->Name("DecodeMlaFromMemory")->UseRealTime()->Iterations(30)->Apply(from_memory)->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
