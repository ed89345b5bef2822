// Timed prefill and decode over a model, for `dsinfer bench`: one prompt
// prefilled in a single pass, then `gen` decode steps of `batch` sequences
// decoding together (one forward pass per step).
#pragma once

#include <cstdint>

#include "model/model.h"

namespace dsinfer::engine {

struct BenchOptions {
  int64_t prompt = 512;
  int64_t gen = 128;
  int64_t batch = 1;
  uint64_t seed = 1;
};

struct BenchResult {
  double prefill_seconds = 0;       // first sequence's prompt
  double prefill_tokens_per_s = 0;
  double decode_seconds = 0;        // all decode steps
  double decode_tokens_per_s = 0;   // summed over the batch
  double decode_step_ms = 0;        // mean time of one step
  double first_token_seconds = 0;   // prompt in, first sampled token out (first sequence)
};

BenchResult run_bench(model::Model& m, const BenchOptions& o);

}  // namespace dsinfer::engine
