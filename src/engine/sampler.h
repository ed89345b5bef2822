// Token sampling for one sequence: logit processors in vLLM's order
// (repetition penalty, then frequency/presence penalties -> temperature ->
// top-k -> top-p -> min-p), softmax, then a draw from a per-sequence RNG.
// O(vocab log k) per token with top-k, expected O(vocab) otherwise (top-p
// selects by accumulated mass without sorting). Without top-k, top-p and min-p
// (the API's defaults) a draw builds no candidate list: three vectorized passes
// over the logits and a walk of one block of weights.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace dsinfer::engine {

struct SamplingParams {
  float temperature = 1.0f;         // 0 (below 1e-5) => greedy: argmax, ties -> lowest id
  int32_t top_k = 0;                // <= 0 or >= vocab => disabled
  float top_p = 1.0f;               // (0, 1]; 1 => disabled
  float min_p = 0.0f;               // [0, 1]; 0 => disabled
  float repetition_penalty = 1.0f;  // > 0; seen (prompt + output) logits: > 0 ? l / p : l * p
  float presence_penalty = 0.0f;    // [-2, 2]; l -= presence * (count > 0), output tokens
  float frequency_penalty = 0.0f;   // [-2, 2]; l -= frequency * count, output tokens
  uint64_t seed = 0;
  bool has_seed = false;
};

// Throws dsinfer::Error naming the field, e.g. "top_p must be in (0, 1], got 1.5".
void validate(const SamplingParams& p);

class Sampler {
 public:
  // Validates `p`; seeds the RNG from p.seed, or from std::random_device when !has_seed.
  explicit Sampler(const SamplingParams& p);

  // logits: [vocab] raw; prompt: prompt ids; output: ids generated so far.
  int32_t sample(const float* logits, int32_t vocab, const std::vector<int32_t>& prompt,
                 const std::vector<int32_t>& output);

  // The distribution `sample` draws from after all processors: [vocab], sums to 1
  // (one-hot at the argmax when greedy).
  std::vector<float> distribution(const float* logits, int32_t vocab, const std::vector<int32_t>& prompt,
                                  const std::vector<int32_t>& output) const;

  const SamplingParams& params() const { return params_; }
  bool greedy() const;

  // Tokens left after all processors with their normalised probabilities.
  struct Candidates {
    std::vector<int32_t> ids;
    std::vector<double> probs;
  };

 private:
  Candidates select(const float* logits, int32_t vocab, const std::vector<int32_t>& prompt,
                    const std::vector<int32_t>& output) const;

  double uniform();                     // in [0, 1)
  bool keeps_all(int32_t vocab) const;  // no top-k, top-p or min-p: every token stays a candidate

  SamplingParams params_;
  std::mt19937_64 rng_;
};

}  // namespace dsinfer::engine
