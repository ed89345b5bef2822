#include "engine/vocab_weights.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <limits>

#include "core/error.h"

namespace dsinfer::engine {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// The largest of l[0, n), over 8 independent lanes so that it vectorizes.
float max_of(const float* l, int32_t n) {
  float lanes[8];
  std::fill(lanes, lanes + 8, kNegInf);
  int32_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) lanes[j] = l[i + j] > lanes[j] ? l[i + j] : lanes[j];
  float mx = kNegInf;
  for (; i < n; ++i) mx = std::max(mx, l[i]);
  for (float x : lanes) mx = std::max(mx, x);
  return mx;
}

float sum_of(const float* w, int32_t n) {
  float lanes[8] = {};
  int32_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) lanes[j] += w[i + j];
  float s = 0;
  for (; i < n; ++i) s += w[i];
  for (float x : lanes) s += x;
  return s;
}

}  // namespace

float exp_nonpositive(float x) {
  constexpr float kLog2e = 1.44269504088896341f, kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
  constexpr float kMin = -87.0f, kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const int32_t keep = -static_cast<int32_t>(x >= kMin);  // all ones, or 0 below kMin (and for -inf)
  const float c = std::bit_cast<float>((std::bit_cast<int32_t>(x) & keep) | (std::bit_cast<int32_t>(kMin) & ~keep));
  const float n = (c * kLog2e + kRound) - kRound;
  const float r = (c - n * kLn2Hi) - n * kLn2Lo;
  float q = 1.9875691500e-4f;
  for (float k : {1.3981999507e-3f, 8.3334519073e-3f, 4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f}) q = q * r + k;
  const float e_r = q * r * r + r + 1.0f;
  const float two_n = std::bit_cast<float>((static_cast<int32_t>(n) + 127) << 23);
  return std::bit_cast<float>(std::bit_cast<int32_t>(e_r * two_n) & keep);
}

VocabWeights vocab_weights(const float* l, int32_t vocab, float temperature) {
  const float mx = max_of(l, vocab);
  if (mx == kNegInf) fail("sampler: every candidate logit is -inf");
  VocabWeights v;
  v.max = mx;
  v.w.resize(static_cast<size_t>(vocab));
  float* w = v.w.data();
  for (int32_t i = 0; i < vocab; ++i) w[i] = exp_nonpositive((l[i] - mx) / temperature);
  for (int32_t b = 0; b < vocab; b += kWeightBlock) {
    v.block_sums.push_back(sum_of(w + b, std::min(kWeightBlock, vocab - b)));
    v.total += v.block_sums.back();
  }
  return v;
}

int32_t argmax(const float* l, int32_t n) {
  const float mx = max_of(l, n);
  for (int32_t i = 0; i < n; ++i)
    if (l[i] == mx) return i;
  return 0;
}

double log_sum_exp(const float* l, int32_t vocab) {
  const VocabWeights v = vocab_weights(l, vocab, 1.0f);
  return static_cast<double>(v.max) + std::log(v.total);
}

int32_t draw(const VocabWeights& v, double u) {
  const double target = u * v.total;
  double acc = 0;
  size_t b = 0;
  while (b + 1 < v.block_sums.size() && acc + v.block_sums[b] <= target) acc += v.block_sums[b++];
  const auto vocab = static_cast<int32_t>(v.w.size());
  int32_t last = -1;
  for (auto i = static_cast<int32_t>(b) * kWeightBlock; i < vocab; ++i) {  // past the block only by rounding
    if (v.w[i] <= 0) continue;
    acc += v.w[i];
    last = i;
    if (target < acc) return i;
  }
  if (last >= 0) return last;  // u landed in the rounding gap at the top
  return static_cast<int32_t>(std::max_element(v.w.begin(), v.w.end()) - v.w.begin());
}

float top_p_floor(const VocabWeights& v, double need) {
  // Mass by the biased exponent of the weight, in 4 interleaved histograms so
  // that runs of tokens in one bin do not wait on each other's sums.
  std::array<std::array<double, 256>, 4> mass{};
  const auto n = static_cast<int64_t>(v.w.size());
  for (int64_t i = 0; i < n; ++i) mass[i & 3][std::bit_cast<uint32_t>(v.w[i]) >> 23] += v.w[i];
  double acc = 0;
  for (int e = 255; e > 1; --e) {
    acc += mass[0][e] + mass[1][e] + mass[2][e] + mass[3][e];
    if (acc >= need) return std::bit_cast<float>(static_cast<uint32_t>(e - 1) << 23);
  }
  return 0.0f;
}

}  // namespace dsinfer::engine
