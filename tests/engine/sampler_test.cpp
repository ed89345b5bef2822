#include "engine/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"

namespace dsinfer::engine {
namespace {

const std::vector<int32_t> kNone;

SamplingParams seeded(uint64_t seed) {
  SamplingParams p;
  p.seed = seed;
  p.has_seed = true;
  return p;
}

std::vector<double> softmax(const std::vector<float>& l, double temperature = 1.0) {
  double mx = *std::max_element(l.begin(), l.end());
  std::vector<double> out;
  double z = 0;
  for (float x : l) {
    out.push_back(std::exp((x - mx) / temperature));
    z += out.back();
  }
  for (double& q : out) q /= z;
  return out;
}

int count_nonzero(const std::vector<float>& d) {
  return static_cast<int>(std::count_if(d.begin(), d.end(), [](float q) { return q > 0; }));
}

// A pseudo-random logit vector, deterministic.
std::vector<float> logits_of(int n, uint64_t seed, float scale = 3.0f) {
  std::mt19937_64 g(seed);
  std::normal_distribution<float> nd(0.0f, scale);
  std::vector<float> l(static_cast<size_t>(n));
  for (float& x : l) x = nd(g);
  return l;
}

std::vector<int32_t> draws(Sampler& s, const std::vector<float>& l, int n) {
  std::vector<int32_t> out;
  for (int i = 0; i < n; ++i) out.push_back(s.sample(l.data(), static_cast<int32_t>(l.size()), kNone, kNone));
  return out;
}

TEST(Sampler, SeededRunsAreReproducibleAndSeedsDiffer) {
  const auto l = logits_of(100, 1, 1.0f);
  Sampler a(seeded(42)), b(seeded(42)), c(seeded(43));
  const auto da = draws(a, l, 64), db = draws(b, l, 64), dc = draws(c, l, 64);
  EXPECT_EQ(da, db);
  EXPECT_NE(da, dc);
  // Not stuck on one token.
  EXPECT_GT(std::set<int32_t>(da.begin(), da.end()).size(), 10u);
}

TEST(Sampler, UnseededSamplersDiffer) {
  const auto l = logits_of(1000, 2, 0.1f);
  Sampler a(SamplingParams{}), b(SamplingParams{});
  EXPECT_NE(draws(a, l, 32), draws(b, l, 32));
}

TEST(Sampler, TemperatureZeroIsArgmaxWithLowestIdOnTies) {
  std::vector<float> l = {0.5f, 2.0f, -1.0f, 2.0f, 1.9f};
  SamplingParams p = seeded(7);
  p.temperature = 0.0f;
  Sampler s(p);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(s.sample(l.data(), 5, kNone, kNone), 1);
  const auto d = s.distribution(l.data(), 5, kNone, kNone);
  EXPECT_EQ(d, (std::vector<float>{0, 1, 0, 0, 0}));
  const auto big = logits_of(5000, 3);
  const auto want = std::max_element(big.begin(), big.end()) - big.begin();
  EXPECT_EQ(s.sample(big.data(), 5000, kNone, kNone), want);
}

TEST(Sampler, TopKOneEqualsGreedy) {
  SamplingParams g = seeded(1), k1 = seeded(2);
  g.temperature = 0.0f;
  k1.top_k = 1;
  k1.temperature = 1.3f;
  Sampler sg(g), sk(k1);
  for (uint64_t seed = 10; seed < 30; ++seed) {
    const auto l = logits_of(3000, seed);
    EXPECT_EQ(sk.sample(l.data(), 3000, kNone, kNone), sg.sample(l.data(), 3000, kNone, kNone)) << seed;
  }
}

double chi_square(const std::vector<int>& counts, const std::vector<float>& dist, int n) {
  double chi2 = 0;
  for (size_t i = 0; i < dist.size(); ++i) {
    if (dist[i] == 0) {
      EXPECT_EQ(counts[i], 0) << "token " << i << " has zero probability but was drawn";
      continue;
    }
    const double e = n * static_cast<double>(dist[i]);
    chi2 += (counts[i] - e) * (counts[i] - e) / e;
  }
  return chi2;
}

// 20000 draws vs distribution(): chi-square with <= 9 degrees of freedom. 60 is
// exceeded by chance with probability ~1e-9; a wrong processor gives thousands.
void expect_draws_match(const SamplingParams& p, const std::vector<float>& l) {
  Sampler s(p);
  const auto vocab = static_cast<int32_t>(l.size());
  const auto dist = s.distribution(l.data(), vocab, kNone, kNone);
  EXPECT_NEAR(std::accumulate(dist.begin(), dist.end(), 0.0), 1.0, 1e-6);
  const int n = 20000;
  std::vector<int> counts(l.size(), 0);
  for (int i = 0; i < n; ++i) ++counts[s.sample(l.data(), vocab, kNone, kNone)];
  EXPECT_LT(chi_square(counts, dist, n), 60.0);
}

TEST(Sampler, EmpiricalDistributionMatches) {
  const std::vector<float> l = {1.0f, 0.2f, -0.5f, 2.0f, 0.0f, 1.5f, -1.0f, 0.7f, 0.3f, -0.2f};
  SamplingParams p = seeded(12345);
  expect_draws_match(p, l);
  p.temperature = 0.7f;
  expect_draws_match(p, l);
  // The distribution itself is the tempered softmax.
  Sampler s(p);
  const auto d = s.distribution(l.data(), 10, kNone, kNone);
  const auto want = softmax(l, 0.7);
  for (size_t i = 0; i < l.size(); ++i) EXPECT_NEAR(d[i], want[i], 1e-6) << i;
  p.top_k = 6;
  p.top_p = 0.9f;
  p.min_p = 0.1f;
  expect_draws_match(p, l);
}

TEST(Sampler, TopKKeepsExactlyKLargest) {
  const auto l = logits_of(2000, 5);
  SamplingParams p = seeded(1);
  p.top_k = 17;
  Sampler s(p);
  const auto d = s.distribution(l.data(), 2000, kNone, kNone);
  EXPECT_EQ(count_nonzero(d), 17);
  std::vector<float> sorted = l;
  std::sort(sorted.rbegin(), sorted.rend());
  for (size_t i = 0; i < l.size(); ++i) EXPECT_EQ(d[i] > 0, l[i] >= sorted[16]) << i;
  // Renormalised softmax over the kept set.
  double z = 0;
  for (size_t i = 0; i < l.size(); ++i) z += d[i] > 0 ? std::exp(l[i] - sorted[0]) : 0.0;
  for (size_t i = 0; i < l.size(); ++i) {
    if (d[i] > 0) {
      EXPECT_NEAR(d[i], std::exp(l[i] - sorted[0]) / z, 1e-6);
    }
  }
  // Ties at the boundary still keep exactly k (lowest ids first).
  const std::vector<float> tied = {1, 3, 3, 3, 0};
  p.top_k = 2;
  EXPECT_EQ(Sampler(p).distribution(tied.data(), 5, kNone, kNone)[1] > 0, true);
  EXPECT_EQ(count_nonzero(Sampler(p).distribution(tied.data(), 5, kNone, kNone)), 2);
  EXPECT_EQ(Sampler(p).distribution(tied.data(), 5, kNone, kNone)[3], 0.0f);
  // k >= vocab or <= 0: disabled.
  for (int k : {0, -1, 5, 100}) {
    p.top_k = k;
    EXPECT_EQ(count_nonzero(Sampler(p).distribution(tied.data(), 5, kNone, kNone)), 5) << k;
  }
}

TEST(Sampler, TopPKeepsSmallestPrefixReachingP) {
  // Probabilities 0.4, 0.3, 0.2, 0.1 (in shuffled id order).
  const std::vector<float> l = {std::log(0.2f), std::log(0.4f), std::log(0.1f), std::log(0.3f)};
  SamplingParams p = seeded(1);
  struct Case {
    float top_p;
    int kept;
  };
  for (Case c : {Case{0.35f, 1}, Case{0.5f, 2}, Case{0.69f, 2}, Case{0.75f, 3}, Case{0.95f, 4}}) {
    p.top_p = c.top_p;
    const auto d = Sampler(p).distribution(l.data(), 4, kNone, kNone);
    EXPECT_EQ(count_nonzero(d), c.kept) << c.top_p;
    // The kept ones are the most probable.
    const int order[] = {1, 3, 0, 2};
    for (int j = 0; j < 4; ++j) EXPECT_EQ(d[order[j]] > 0, j < c.kept) << c.top_p << " " << j;
  }
  // Large vocabularies against the definition: the kept tokens are the most
  // probable, their mass reaches p, and without the least of them it would not.
  for (float top_p : {0.05f, 0.5f, 0.8f, 0.99f}) {
    for (uint64_t seed : {9u, 10u}) {
      const auto big = logits_of(150000, seed, seed == 9 ? 2.0f : 6.0f);
      p.top_p = top_p;
      const auto d = Sampler(p).distribution(big.data(), 150000, kNone, kNone);
      const auto full = softmax(big);
      double kept_mass = 0, smallest = 1, largest_dropped = 0;
      for (size_t i = 0; i < big.size(); ++i) {
        if (d[i] > 0) {
          kept_mass += full[i];
          smallest = std::min(smallest, full[i]);
        } else {
          largest_dropped = std::max(largest_dropped, full[i]);
        }
      }
      EXPECT_LE(largest_dropped, smallest) << top_p << " " << seed;
      EXPECT_GE(kept_mass, top_p - 1e-6) << top_p << " " << seed;
      EXPECT_LT(kept_mass - smallest, top_p + 1e-6) << top_p << " " << seed;
      if (seed == 9 && top_p >= 0.5f) {
        EXPECT_GT(count_nonzero(d), 1000);  // flat: many partition rounds
      }
    }
  }
}

TEST(Sampler, MinPDropsTokensBelowFractionOfMax) {
  // Probabilities 0.5, 0.25, 0.15, 0.1.
  const std::vector<float> l = {std::log(0.5f), std::log(0.25f), std::log(0.15f), std::log(0.1f)};
  SamplingParams p = seeded(1);
  p.min_p = 0.25f;  // threshold 0.125: keeps 0.5, 0.25, 0.15
  auto d = Sampler(p).distribution(l.data(), 4, kNone, kNone);
  EXPECT_EQ(count_nonzero(d), 3);
  EXPECT_EQ(d[3], 0.0f);
  EXPECT_NEAR(d[0], 0.5 / 0.9, 1e-6);
  p.min_p = 0.45f;  // threshold 0.225: keeps 0.5, 0.25
  d = Sampler(p).distribution(l.data(), 4, kNone, kNone);
  EXPECT_EQ(count_nonzero(d), 2);
  EXPECT_GT(d[1], 0.0f);
  p.min_p = 1.0f;  // only the max
  d = Sampler(p).distribution(l.data(), 4, kNone, kNone);
  EXPECT_EQ(d, (std::vector<float>{1, 0, 0, 0}));
}

// With temperature 1 and no truncation, log(distribution) - logits is a
// constant; so the processed logits can be recovered up to that constant.
std::vector<double> processed(const SamplingParams& base, const std::vector<float>& l,
                              const std::vector<int32_t>& prompt, const std::vector<int32_t>& output) {
  const auto d = Sampler(base).distribution(l.data(), static_cast<int32_t>(l.size()), prompt, output);
  std::vector<double> out;
  for (float q : d) out.push_back(std::log(static_cast<double>(q)) - std::log(static_cast<double>(d[0])));
  return out;
}

TEST(Sampler, RepetitionPenaltyDividesPositiveMultipliesNegativeOfSeenOnly) {
  const std::vector<float> l = {0.0f, 2.0f, -1.0f, 1.0f, -2.0f, 0.5f};
  SamplingParams p = seeded(1);
  p.repetition_penalty = 2.0f;
  // Token 1 (positive) in the prompt, 4 (negative) in the output, 2 in both and
  // repeated: each penalised once. 0 is unseen and the reference point.
  const auto got = processed(p, l, {1, 2, 2}, {4, 2});
  const std::vector<double> want = {0.0, 1.0, -2.0, 1.0, -4.0, 0.5};
  for (size_t i = 0; i < l.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5) << i;
  // Greedy sees the penalised logits: 1 (2.0 -> 1.0) ties with 3 (1.0) -> lowest id 1;
  // penalise 1 harder and 3 wins.
  p.temperature = 0.0f;
  EXPECT_EQ(Sampler(p).sample(l.data(), 6, {1}, kNone), 1);
  p.repetition_penalty = 3.0f;
  EXPECT_EQ(Sampler(p).sample(l.data(), 6, {1}, kNone), 3);
}

TEST(Sampler, FrequencyAndPresencePenaltiesSubtractFromOutputTokensOnly) {
  const std::vector<float> l = {0.0f, 2.0f, -1.0f, 1.0f, 0.5f};
  SamplingParams p = seeded(1);
  p.frequency_penalty = 0.5f;
  p.presence_penalty = 0.25f;
  // Output: 1 three times, 2 once. Prompt token 3 must be untouched.
  const auto got = processed(p, l, {3, 3}, {1, 2, 1, 1});
  const std::vector<double> want = {0.0, 2.0 - 1.5 - 0.25, -1.0 - 0.5 - 0.25, 1.0, 0.5};
  for (size_t i = 0; i < l.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5) << i;
  // Negative penalties encourage repetition.
  p.frequency_penalty = -1.0f;
  p.presence_penalty = 0.0f;
  const auto neg = processed(p, l, kNone, {4, 4});
  EXPECT_NEAR(neg[4], 2.5, 1e-5);
  EXPECT_NEAR(neg[1], 2.0, 1e-5);
}

TEST(Sampler, BadInputsAreRejected) {
  const std::vector<float> l = {0.0f, 1.0f};
  SamplingParams p = seeded(1);
  p.repetition_penalty = 1.5f;
  Sampler s(p);
  EXPECT_THROW(s.sample(l.data(), 2, {5}, kNone), Error);
  const std::vector<float> bad = {0.0f, NAN};
  EXPECT_THROW(s.sample(bad.data(), 2, kNone, kNone), Error);
  // -inf marks a token that can never be drawn.
  const std::vector<float> masked = {-INFINITY, 0.0f, -INFINITY};
  for (int i = 0; i < 20; ++i) EXPECT_EQ(s.sample(masked.data(), 3, kNone, kNone), 1);
}

void expect_invalid(SamplingParams p, const std::string& needle) {
  try {
    validate(p);
    ADD_FAILURE() << "no error for " << needle;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
  EXPECT_THROW(Sampler{p}, Error);
}

TEST(Sampler, ValidationNamesTheField) {
  SamplingParams p;
  EXPECT_NO_THROW(validate(p));
  auto with = [](auto set) {
    SamplingParams q;
    set(q);
    return q;
  };
  expect_invalid(with([](SamplingParams& q) { q.top_p = 1.5f; }), "top_p must be in (0, 1], got 1.5");
  expect_invalid(with([](SamplingParams& q) { q.top_p = 0.0f; }), "top_p");
  expect_invalid(with([](SamplingParams& q) { q.temperature = -0.1f; }), "temperature");
  expect_invalid(with([](SamplingParams& q) { q.temperature = NAN; }), "temperature");
  expect_invalid(with([](SamplingParams& q) { q.min_p = 1.01f; }), "min_p");
  expect_invalid(with([](SamplingParams& q) { q.min_p = -0.5f; }), "min_p");
  expect_invalid(with([](SamplingParams& q) { q.repetition_penalty = 0.0f; }), "repetition_penalty");
  expect_invalid(with([](SamplingParams& q) { q.presence_penalty = 2.5f; }), "presence_penalty");
  expect_invalid(with([](SamplingParams& q) { q.frequency_penalty = -3.0f; }), "frequency_penalty");
  p.top_p = 1.0f;
  p.min_p = 1.0f;
  p.temperature = 0.0f;
  p.top_k = -1;
  EXPECT_NO_THROW(validate(p));
}

}  // namespace
}  // namespace dsinfer::engine
