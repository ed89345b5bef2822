// Runs one sequence through a model with its own KV cache: prefill (in one
// pass or in chunks) then token-by-token decoding. The simple path used by
// `dsinfer logits`, `dsinfer generate` and the model tests; the batching
// scheduler builds on the same Batch contract.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/block_allocator.h"
#include "model/model.h"

namespace dsinfer::engine {

struct RunnerOptions {
  int64_t max_tokens = 4096;  // context capacity
  int64_t block_size = 16;
  model::CacheDType kv_cache_dtype = model::CacheDType::Auto;
  model::ForwardOptions forward;
};

class SequenceRunner {
 public:
  SequenceRunner(model::Model& model, const RunnerOptions& opts);

  // Appends tokens; returns logits [tokens.size(), vocab] when all_logits,
  // else only the last row [1, vocab].
  std::vector<float> feed(const std::vector<int32_t>& tokens, bool all_logits);
  int64_t n_past() const { return n_past_; }
  void reset();
  const model::KVCache& cache() const { return cache_; }

 private:
  model::Model& model_;
  RunnerOptions opts_;
  model::KVCache cache_;
  BlockAllocator blocks_;
  std::vector<int32_t> table_;
  int64_t n_past_ = 0;
};

// Greedy decoding: the n_new tokens that follow `prompt`.
std::vector<int32_t> greedy_generate(SequenceRunner& runner, const std::vector<int32_t>& prompt, int64_t n_new);

}  // namespace dsinfer::engine
