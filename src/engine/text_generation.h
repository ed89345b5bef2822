// One sequence from prompt tokens to streamed text: sample, detokenize
// incrementally (never a partial UTF-8 character), stop on EOS / stop token
// ids / stop strings (which may span tokens) / max_tokens / cancellation.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/sampler.h"
#include "engine/sequence_runner.h"
#include "tokenizer/tokenizer.h"

namespace dsinfer::engine {

enum class FinishReason { Stop, Length, Cancelled };

const char* finish_reason_name(FinishReason r);

struct GenerationRequest {
  std::vector<int32_t> prompt;
  SamplingParams sampling;
  int64_t max_tokens = 256;
  std::vector<std::string> stop;         // stop strings, excluded from the text
  std::vector<int32_t> stop_token_ids;   // besides the tokenizer's EOS
  bool skip_special_tokens = true;
};

struct GenerationResult {
  std::vector<int32_t> tokens;  // generated ids (including a final EOS if one ended it)
  std::string text;             // what was streamed
  FinishReason finish = FinishReason::Length;
};

// on_text receives each text delta as soon as it is safe to show.
// cancel (may be null) is polled once per token.
GenerationResult generate_text(SequenceRunner& runner, const tokenizer::Tokenizer& tok, const GenerationRequest& req,
                               const std::function<void(std::string_view)>& on_text,
                               const std::atomic<bool>* cancel = nullptr);

}  // namespace dsinfer::engine
