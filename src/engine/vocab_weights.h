// Softmax weights over a whole vocabulary, for the sampler: e^((l - max) / T)
// in passes that vectorize (no branches, independent partial sums), the sums
// of fixed blocks of them, a draw that finds its block before walking tokens,
// and the weight floor above which top-p's kept set must lie. A 151936-token
// vocabulary takes ~0.2 ms instead of ~2 ms through a candidate list.
#pragma once

#include <cstdint>
#include <vector>

namespace dsinfer::engine {

// e^x for x <= 0 (about 1e-7 relative): the reduction to 2^n e^r and the
// Cephes polynomial of the kernels' exp. 0 below -87, where 2^n leaves the
// normal floats: such a token's weight is under 1e-37 of the best one's.
float exp_nonpositive(float x);

inline constexpr int32_t kWeightBlock = 1024;  // tokens per block sum

struct VocabWeights {
  float max = 0;                  // the largest logit
  std::vector<float> w;           // [vocab] e^((l - max) / T): 1 at the best token, 0 where l is -inf
  std::vector<float> block_sums;  // [ceil(vocab / kWeightBlock)]
  double total = 0;               // sum of block_sums
};

// l: [vocab] logits without NaN or +inf; temperature > 0. Throws
// dsinfer::Error when every logit is -inf.
VocabWeights vocab_weights(const float* l, int32_t vocab, float temperature);

// The lowest id with the largest of l[0, n) (n >= 1, no NaN; 0 when all are
// -inf): greedy decoding's pick. The max in vectorized lanes, then a scan for
// its first place: ~8x faster than a compare chain over 152k logits, which
// was 1% of a batch-8 decode step.
int32_t argmax(const float* l, int32_t n);

// log(sum of e^l) of raw logits, what natural-log probabilities (OpenAI-style
// logprobs) subtract: max + log(total) of the weights at temperature 1.
double log_sum_exp(const float* l, int32_t vocab);

// The first token with weight whose running weight (in id order) passes
// u * total, u in [0, 1): a draw from the softmax.
int32_t draw(const VocabWeights& v, double u);

// A weight f such that the tokens with weight >= f hold at least `need` of the
// mass (0 when only all of them do): found from the mass per binary exponent,
// one exponent lower still, so that ordering by logit rather than by weight
// cannot move a kept token below it.
float top_p_floor(const VocabWeights& v, double need);

}  // namespace dsinfer::engine
