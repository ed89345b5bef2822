// Timed prefill and decode over a model, for `dsinfer bench`: one prompt
// prefilled in a single pass, then `gen` decode steps of `batch` sequences
// decoding together (one forward pass per step). With batch > 1, one more
// sequence decodes alone in windows alternating with the batch's, so the
// batch's speed-up over a single sequence comes from one run (a shared
// machine's speed moves between runs).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "model/model.h"

namespace dsinfer::engine {

struct BenchOptions {
  int64_t prompt = 512;
  int64_t gen = 128;
  int64_t batch = 1;
  uint64_t seed = 1;
  model::CacheDType kv_cache_dtype = model::CacheDType::Auto;
  // The caller's probe of the machine's read bandwidth (GB/s), run untimed
  // before decode and after each of `windows` runs of steps: a shared
  // machine's bandwidth moves with its neighbours' load, so each window is
  // compared with the probes beside it. Empty: no probes.
  std::function<double()> read_probe;
  int64_t windows = 8;
};

// A run of decode steps and the probes on either side of it.
struct DecodeWindow {
  int64_t steps = 0;
  double seconds = 0;
  double gbps_before = 0, gbps_after = 0;
};

struct BenchResult {
  double prefill_seconds = 0;       // first sequence's prompt
  double prefill_tokens_per_s = 0;
  double decode_seconds = 0;        // all decode steps
  double decode_tokens_per_s = 0;   // summed over the batch
  double decode_step_ms = 0;        // mean time of one step
  double first_token_seconds = 0;   // prompt in, first sampled token out (first sequence)
  std::vector<DecodeWindow> windows;  // with read_probe only
  // batch > 1: the lone sequence's window after each of the batch's (as many
  // steps), and its tokens/s over them all.
  std::vector<DecodeWindow> single_windows;
  double single_tokens_per_s = 0;
};

BenchResult run_bench(model::Model& m, const BenchOptions& o);

}  // namespace dsinfer::engine
