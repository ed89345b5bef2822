#include "engine/bench.h"

#include <algorithm>
#include <chrono>

#include "core/error.h"
#include "engine/block_allocator.h"
#include "engine/vocab_weights.h"

namespace dsinfer::engine {

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// A benchmark's model, cache and sequences: block tables and each one's last token.
struct Run {
  model::Model& m;
  model::KVCache& cache;
  std::vector<std::vector<int32_t>> tables;
  std::vector<int32_t> last;
};

// o.gen steps of every sequence from position o.prompt, timed without the
// read probes between windows.
void decode(Run& run, const BenchOptions& o, BenchResult& r) {
  const int64_t vocab = run.m.config().vocab_size;
  const int64_t per_window = o.read_probe ? (o.gen + std::max<int64_t>(1, o.windows) - 1) / std::max<int64_t>(1, o.windows) : o.gen;
  double gbps = o.read_probe ? o.read_probe() : 0;
  std::vector<float> logits;  // [batch, vocab], kept between steps
  auto t0 = Clock::now();
  for (int64_t step = 0; step < o.gen; ++step) {
    model::Batch b;
    for (int64_t s = 0; s < o.batch; ++s) {
      b.tokens.push_back(run.last[static_cast<size_t>(s)]);
      b.seqs.push_back({1, static_cast<int32_t>(o.prompt + step), run.tables[static_cast<size_t>(s)]});
      b.logit_rows.push_back(static_cast<int32_t>(s));
    }
    run.m.forward(b, run.cache, logits);
    for (int64_t s = 0; s < o.batch; ++s)
      run.last[static_cast<size_t>(s)] = argmax(&logits[static_cast<size_t>(s * vocab)], static_cast<int32_t>(vocab));
    if ((step + 1) % per_window != 0 && step + 1 != o.gen) continue;
    DecodeWindow w{(step % per_window) + 1, since(t0), gbps, 0};
    r.decode_seconds += w.seconds;
    if (o.read_probe) {
      w.gbps_after = gbps = o.read_probe();
      r.windows.push_back(w);
    }
    t0 = Clock::now();
  }
  r.decode_step_ms = r.decode_seconds * 1e3 / static_cast<double>(o.gen);
  r.decode_tokens_per_s = static_cast<double>(o.gen * o.batch) / r.decode_seconds;
}

}  // namespace

BenchResult run_bench(model::Model& m, const BenchOptions& o) {
  if (o.prompt < 1 || o.gen < 1 || o.batch < 1) fail("bench: prompt, gen and batch must be positive");
  const int64_t block = 16;
  const int64_t per_seq = (o.prompt + o.gen + block - 1) / block;
  model::KVCache cache(m.backend(), m.kv_spec(o.kv_cache_dtype), per_seq * o.batch, block);
  BlockAllocator blocks(cache.num_blocks());
  const int64_t vocab = m.config().vocab_size;
  Run run{m, cache, std::vector<std::vector<int32_t>>(static_cast<size_t>(o.batch)), std::vector<int32_t>(static_cast<size_t>(o.batch))};
  BenchResult r;
  uint64_t x = o.seed;
  for (int64_t s = 0; s < o.batch; ++s) {
    blocks.allocate(per_seq, run.tables[static_cast<size_t>(s)]);
    model::Batch b;
    for (int64_t i = 0; i < o.prompt; ++i) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      b.tokens.push_back(static_cast<int32_t>((x >> 33) % static_cast<uint64_t>(vocab)));
    }
    b.seqs.push_back({static_cast<int32_t>(o.prompt), 0, run.tables[static_cast<size_t>(s)]});
    b.logit_rows = {static_cast<int32_t>(o.prompt - 1)};
    const auto t0 = Clock::now();
    const auto logits = m.forward(b, cache);
    run.last[static_cast<size_t>(s)] = argmax(logits.data(), static_cast<int32_t>(vocab));
    if (s == 0) {
      r.prefill_seconds = r.first_token_seconds = since(t0);
      r.prefill_tokens_per_s = static_cast<double>(o.prompt) / r.prefill_seconds;
    }
  }
  decode(run, o, r);
  return r;
}

}  // namespace dsinfer::engine
