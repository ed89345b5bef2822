// What a front end hands the engine, and what it gets back per step.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "engine/sampler.h"
#include "engine/text_generation.h"

namespace dsinfer::engine {

struct TokenLogprob {
  int32_t token = 0;
  float logprob = 0;
  std::vector<std::pair<int32_t, float>> top;  // most likely alternatives, best first
};

struct RequestOutput {
  std::vector<int32_t> tokens;  // new ids this step
  std::string text;             // new text, stop strings removed
  std::vector<TokenLogprob> logprobs;
  bool finished = false;
  FinishReason finish_reason = FinishReason::Length;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cached_prompt_tokens = 0;
};

struct Request {
  std::vector<int32_t> prompt;
  SamplingParams sampling;
  int64_t max_tokens = 256;
  std::vector<std::string> stop;
  std::vector<int32_t> stop_token_ids;
  bool ignore_eos = false;
  bool skip_special_tokens = true;
  int32_t top_logprobs = -1;  // < 0: no logprobs; 0: the chosen token's only
  // Called on the engine thread after every step that produced something; keep it short.
  std::function<void(const RequestOutput&)> on_output;
};

}  // namespace dsinfer::engine
