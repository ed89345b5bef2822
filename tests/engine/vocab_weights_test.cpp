// The sampler's whole-vocabulary passes against plain references: the exp
// against std::exp, weights and block sums against a direct softmax, draws at
// known points of the cumulative weight (across block edges), and the top-p
// floor against the exact kept set of a sort.
#include "engine/vocab_weights.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <vector>

#include "core/error.h"

namespace dsinfer::engine {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

std::vector<float> gaussian(int n, float sigma, uint64_t seed) {
  std::mt19937_64 g(seed);
  std::normal_distribution<float> nd(0.0f, sigma);
  std::vector<float> l(static_cast<size_t>(n));
  for (float& x : l) x = nd(g);
  return l;
}

TEST(VocabWeights, ExpMatchesStdExpDownToItsCutoff) {
  double worst = 0;
  for (double d = 0; d >= -87.0; d -= 0.000731) {
    const auto x = static_cast<float>(d);
    const double want = std::exp(static_cast<double>(x));
    worst = std::max(worst, std::fabs(exp_nonpositive(x) - want) / want);
  }
  EXPECT_LT(worst, 3e-7);
  EXPECT_EQ(exp_nonpositive(0.0f), 1.0f);
  EXPECT_EQ(exp_nonpositive(-87.5f), 0.0f);
  EXPECT_EQ(exp_nonpositive(-1e30f), 0.0f);
  EXPECT_EQ(exp_nonpositive(kNegInf), 0.0f);
}

TEST(VocabWeights, WeightsAndBlockSumsOfAwkwardSizes) {
  for (int vocab : {1, 7, 1023, 1024, 1025, 3001}) {
    std::vector<float> l = gaussian(vocab, 3.0f, static_cast<uint64_t>(vocab));
    if (vocab > 2) l[1] = kNegInf;  // a masked token
    const float t = 0.7f;
    const VocabWeights v = vocab_weights(l.data(), vocab, t);
    ASSERT_EQ(v.w.size(), static_cast<size_t>(vocab));
    ASSERT_EQ(v.block_sums.size(), static_cast<size_t>((vocab + kWeightBlock - 1) / kWeightBlock));
    const float mx = *std::max_element(l.begin(), l.end());
    double total = 0;
    for (int i = 0; i < vocab; ++i) {
      const double want = std::exp(static_cast<double>((l[i] - mx) / t));  // the same float argument
      EXPECT_NEAR(v.w[i], want, 1e-6 * want + 1e-30) << vocab << " " << i;
      total += v.w[i];
    }
    if (vocab > 2) {
      EXPECT_EQ(v.w[1], 0.0f);
    }
    for (size_t b = 0; b < v.block_sums.size(); ++b) {
      double s = 0;
      for (size_t i = b * kWeightBlock; i < std::min(v.w.size(), (b + 1) * kWeightBlock); ++i) s += v.w[i];
      EXPECT_NEAR(v.block_sums[b], s, 1e-5 * s) << vocab << " block " << b;
    }
    EXPECT_NEAR(v.total, total, 1e-5 * total);
  }
  const std::vector<float> masked(5, kNegInf);
  EXPECT_THROW(vocab_weights(masked.data(), 5, 1.0f), Error);
}

// Against std::max_element (the first of the largest) on awkward sizes, with
// the maximum placed in the vectorized part, the tail and at both ends, tied
// with later copies of it, and over all -inf.
TEST(VocabWeights, ArgmaxIsTheFirstLargestLogit) {
  for (int n : {1, 7, 8, 9, 31, 1023, 1025, 151936}) {
    std::vector<float> l = gaussian(n, 3.0f, static_cast<uint64_t>(n));
    for (int at : {0, n / 3, n - 1, (n - 1) / 8 * 8}) {  // the last: where the last 8 start
      std::vector<float> v = l;
      v[static_cast<size_t>(at)] = 100.0f;
      for (int copy = at + 5; copy < n; copy += 97) v[static_cast<size_t>(copy)] = 100.0f;  // ties: the lowest id wins
      const auto want = static_cast<int32_t>(std::max_element(v.begin(), v.end()) - v.begin());
      EXPECT_EQ(argmax(v.data(), n), want) << "n " << n << " max at " << at;
      EXPECT_EQ(want, at);
    }
    EXPECT_EQ(argmax(l.data(), n), std::max_element(l.begin(), l.end()) - l.begin()) << n;
    const std::vector<float> none(static_cast<size_t>(n), kNegInf);
    EXPECT_EQ(argmax(none.data(), n), 0) << n;
  }
}

TEST(VocabWeights, LogSumExpOfRawLogits) {
  for (int vocab : {1, 4, 2049}) {
    std::vector<float> l = gaussian(vocab, 4.0f, 3);
    l[0] = 30.0f;  // far above the rest: the sum must not overflow
    if (vocab > 2) l[2] = kNegInf;
    double mx = 30.0, z = 0;
    for (float x : l) z += std::exp(static_cast<double>(x) - mx);
    EXPECT_NEAR(log_sum_exp(l.data(), vocab), mx + std::log(z), 1e-6) << vocab;
  }
}

// Equal logits: every weight is 1, so u = (k + 0.5) / n must draw token k,
// also next to block edges; masked tokens are never drawn.
TEST(VocabWeights, DrawFindsTheTokenAtTheCumulativeWeight) {
  const int n = 3001;
  std::vector<float> l(n, 0.25f);
  const VocabWeights v = vocab_weights(l.data(), n, 1.0f);
  for (int k : {0, 1, 1022, 1023, 1024, 1025, 2047, 2048, 2999, 3000})
    EXPECT_EQ(draw(v, (k + 0.5) / n), k) << k;
  EXPECT_EQ(draw(v, 0.0), 0);
  EXPECT_EQ(draw(v, std::nextafter(1.0, 0.0)), n - 1);

  l.assign(n, kNegInf);
  for (int k : {5, 1500, 2999}) l[k] = 0.0f;  // three equal tokens in different blocks
  const VocabWeights m = vocab_weights(l.data(), n, 1.0f);
  EXPECT_EQ(draw(m, 0.0), 5);
  EXPECT_EQ(draw(m, 0.5), 1500);
  EXPECT_EQ(draw(m, 0.9), 2999);
  EXPECT_EQ(draw(m, std::nextafter(1.0, 0.0)), 2999);
}

// The exact top-p set by sorting: the smallest weight it keeps.
float smallest_kept(std::vector<float> w, double need) {
  std::sort(w.begin(), w.end(), std::greater<>());
  double acc = 0;
  for (float x : w)
    if ((acc += x) >= need) return x;
  return w.back();
}

TEST(VocabWeights, TopPFloorLiesAtMostTwoBinadesBelowTheKeptSet) {
  for (float sigma : {0.5f, 2.0f, 6.0f}) {
    const VocabWeights v = vocab_weights(gaussian(5003, sigma, 9).data(), 5003, 1.0f);
    for (double p : {0.01, 0.5, 0.9, 0.99}) {
      const float f = top_p_floor(v, p * v.total);
      const float exact = smallest_kept(v.w, p * v.total);
      EXPECT_LE(f, exact) << sigma << " " << p;  // nothing top-p keeps lies below the floor
      EXPECT_GT(f, exact / 4) << sigma << " " << p;
    }
  }
}

}  // namespace
}  // namespace dsinfer::engine
