// Token sampling over a real-sized vocabulary (Google Benchmark): one draw per
// iteration from Gaussian logits (sigma 2: flat, like a random model's; sigma 4:
// peaked, where top-p keeps ~1000 tokens) with the API's default processors,
// top-p 0.95, top-k 40 and a repetition penalty. Run: build/sampler_bench.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "engine/sampler.h"

namespace {

using dsinfer::engine::Sampler;
using dsinfer::engine::SamplingParams;

constexpr int32_t kVocab = 151936;  // Qwen2's, the R1-Distill models'

enum Mode : int64_t { kDefault, kTopP, kTopK, kPenalty };

void BM_Sample(benchmark::State& state) {
  std::vector<float> logits(kVocab);
  std::mt19937 g(1);
  std::normal_distribution<float> nd(0.0f, static_cast<float>(state.range(1)));
  for (float& x : logits) x = nd(g);
  SamplingParams p;
  p.seed = 1;
  p.has_seed = true;
  if (state.range(0) == kTopP) p.top_p = 0.95f;
  if (state.range(0) == kTopK) p.top_k = 40;
  if (state.range(0) == kPenalty) p.repetition_penalty = 1.1f;
  Sampler s(p);
  const std::vector<int32_t> prompt(128, 5), output(64, 7);
  for (auto _ : state) benchmark::DoNotOptimize(s.sample(logits.data(), kVocab, prompt, output));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Sample)
    ->ArgNames({"mode", "sigma"})
    ->ArgsProduct({{kDefault, kTopP, kTopK, kPenalty}, {2, 4}})
    ->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
