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
  std::vector<float> logits;  // [sequences stepped, vocab], its capacity kept between steps and windows
};

// One decode step of sequences [s0, s1), all at position pos; each one's
// greedy next token into run.last.
void step(Run& run, int64_t s0, int64_t s1, int64_t pos) {
  const int64_t vocab = run.m.config().vocab_size;
  model::Batch b;
  for (int64_t s = s0; s < s1; ++s) {
    b.tokens.push_back(run.last[static_cast<size_t>(s)]);
    b.seqs.push_back({1, static_cast<int32_t>(pos), run.tables[static_cast<size_t>(s)]});
    b.logit_rows.push_back(static_cast<int32_t>(s - s0));
  }
  run.m.forward(b, run.cache, run.logits);
  for (int64_t s = s0; s < s1; ++s)
    run.last[static_cast<size_t>(s)] = argmax(&run.logits[static_cast<size_t>((s - s0) * vocab)], static_cast<int32_t>(vocab));
}

// `steps` steps of sequences [s0, s1) from position pos, timed; then the
// probe (if any), untimed. gbps: the last probe's figure, updated.
DecodeWindow window(Run& run, const BenchOptions& o, int64_t s0, int64_t s1, int64_t pos, int64_t steps, double& gbps) {
  const auto t0 = Clock::now();
  for (int64_t i = 0; i < steps; ++i) step(run, s0, s1, pos + i);
  DecodeWindow w{steps, since(t0), gbps, 0};
  if (o.read_probe) w.gbps_after = gbps = o.read_probe();
  return w;
}

// o.gen steps of the batch's sequences from position o.prompt in windows
// (o.windows with a read probe, else one); with batch > 1 each window is
// followed by as many steps of the lone sequence (index o.batch).
void decode(Run& run, const BenchOptions& o, BenchResult& r) {
  const int64_t n_windows = o.read_probe ? std::max<int64_t>(1, o.windows) : 1;
  const int64_t per_window = (o.gen + n_windows - 1) / n_windows;
  double gbps = o.read_probe ? o.read_probe() : 0;
  double single_seconds = 0;
  for (int64_t done = 0; done < o.gen; done += per_window) {
    const int64_t steps = std::min(per_window, o.gen - done);
    const DecodeWindow w = window(run, o, 0, o.batch, o.prompt + done, steps, gbps);
    r.decode_seconds += w.seconds;
    if (o.read_probe) r.windows.push_back(w);
    if (o.batch == 1) continue;
    r.single_windows.push_back(window(run, o, o.batch, o.batch + 1, o.prompt + done, steps, gbps));
    single_seconds += r.single_windows.back().seconds;
  }
  r.decode_step_ms = r.decode_seconds * 1e3 / static_cast<double>(o.gen);
  r.decode_tokens_per_s = static_cast<double>(o.gen * o.batch) / r.decode_seconds;
  if (o.batch > 1) r.single_tokens_per_s = static_cast<double>(o.gen) / single_seconds;
}

}  // namespace

BenchResult run_bench(model::Model& m, const BenchOptions& o) {
  if (o.prompt < 1 || o.gen < 1 || o.batch < 1) fail("bench: prompt, gen and batch must be positive");
  const int64_t block = 16;
  const int64_t per_seq = (o.prompt + o.gen + block - 1) / block;
  const int64_t n_seqs = o.batch > 1 ? o.batch + 1 : 1;  // the batch, and the lone sequence beside it
  model::KVCache cache(m.backend(), m.kv_spec(o.kv_cache_dtype), per_seq * n_seqs, block);
  BlockAllocator blocks(cache.num_blocks());
  const int64_t vocab = m.config().vocab_size;
  Run run{m, cache, std::vector<std::vector<int32_t>>(static_cast<size_t>(n_seqs)), std::vector<int32_t>(static_cast<size_t>(n_seqs)), {}};
  BenchResult r;
  uint64_t x = o.seed;
  for (int64_t s = 0; s < n_seqs; ++s) {
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
