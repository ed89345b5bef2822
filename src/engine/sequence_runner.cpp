#include "engine/sequence_runner.h"

#include <algorithm>

#include "core/error.h"

namespace dsinfer::engine {

SequenceRunner::SequenceRunner(model::Model& model, const RunnerOptions& opts)
    : model_(model),
      opts_(opts),
      cache_(model.backend(), model.kv_spec(opts.kv_cache_dtype), (opts.max_tokens + opts.block_size - 1) / opts.block_size,
             opts.block_size),
      blocks_(cache_.num_blocks()) {}

void SequenceRunner::reset() {
  blocks_.release_all(table_);
  n_past_ = 0;
}

std::vector<float> SequenceRunner::feed(const std::vector<int32_t>& tokens, bool all_logits) {
  if (tokens.empty()) fail("no tokens to feed");
  const int64_t total = n_past_ + static_cast<int64_t>(tokens.size());
  if (total > opts_.max_tokens)
    fail("sequence of ", total, " tokens exceeds the context capacity of ", opts_.max_tokens);
  const int64_t need = (total + opts_.block_size - 1) / opts_.block_size - static_cast<int64_t>(table_.size());
  if (need > 0 && !blocks_.allocate(need, table_)) fail("out of KV cache blocks");
  model::Batch b;
  b.tokens = tokens;
  b.seqs.push_back({static_cast<int32_t>(tokens.size()), static_cast<int32_t>(n_past_), table_});
  if (all_logits) {
    for (size_t i = 0; i < tokens.size(); ++i) b.logit_rows.push_back(static_cast<int32_t>(i));
  } else {
    b.logit_rows.push_back(static_cast<int32_t>(tokens.size() - 1));
  }
  std::vector<float> logits = model_.forward(b, cache_, opts_.forward);
  n_past_ = total;
  return logits;
}

std::vector<int32_t> greedy_generate(SequenceRunner& runner, const std::vector<int32_t>& prompt, int64_t n_new) {
  std::vector<int32_t> out;
  std::vector<float> logits = runner.feed(prompt, false);
  for (int64_t i = 0; i < n_new; ++i) {
    const auto next = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    out.push_back(next);
    if (i + 1 < n_new) logits = runner.feed({next}, false);
  }
  return out;
}

}  // namespace dsinfer::engine
