// moe_route: hand-constructed gate logits whose routing is known (the
// semantics of DeepSeek V2/V3's MoEGate), then random logits on every backend
// against the reference backend.
//
// Semantics pinned here (MoeRouteArgs in kernels/backend.h):
//  * scores = softmax(logits) or sigmoid(logits); the selection uses
//    scores + bias (e_score_correction_bias), the weights use the unbiased
//    scores;
//  * group_limited_greedy ranks groups by their best score, noaux_tc by the sum
//    of their two best (biased) scores; experts outside the topk_group best
//    groups are never chosen; greedy ignores groups;
//  * norm_topk_prob (with top_k > 1) divides by the sum of the chosen scores;
//    routed_scaling_factor multiplies when not normalising, or always with
//    always_scale (deepseek_v3);
//  * ids are in descending order of selection score, ties to the lower index.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "kernels/backend.h"
#include "kernels/kernel_test_util.h"

namespace dsinfer::test {
namespace {

using kernels::Backend;
using kernels::MoeRouteArgs;
using kernels::ScoringFunc;
using kernels::TopkMethod;

struct Routed {
  std::vector<int32_t> ids;
  std::vector<float> weights;
};

// Runs moe_route with the routing parameters of `p` (its pointers are ignored).
Routed route(Backend& be, MoeRouteArgs p, const std::vector<float>& logits, const std::vector<float>& bias = {}) {
  p.n = static_cast<int64_t>(logits.size()) / p.n_experts;
  const auto ld = to_device(be, logits);
  kernels::Buffer bd;
  if (!bias.empty()) bd = to_device(be, bias);
  const size_t out_n = static_cast<size_t>(p.n * p.top_k);
  const auto ids = to_device(be, std::vector<int32_t>(out_n, -1));
  const auto w = to_device(be, std::vector<float>(out_n, -1.0f));
  p.logits = ld.f32();
  p.bias = bias.empty() ? nullptr : bd.f32();
  p.out_ids = ids.i32();
  p.out_weights = w.f32();
  be.moe_route(p);
  return {from_device<int32_t>(be, ids, out_n), from_device<float>(be, w, out_n)};
}

// Logit whose sigmoid is s.
float logit(double s) { return static_cast<float>(std::log(s / (1.0 - s))); }
double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

MoeRouteArgs params(int64_t n_experts, int64_t top_k, TopkMethod m, ScoringFunc sf, int64_t n_group = 1,
                    int64_t topk_group = 1) {
  MoeRouteArgs a;
  a.n_experts = n_experts;
  a.top_k = top_k;
  a.method = m;
  a.scoring = sf;
  a.n_group = n_group;
  a.topk_group = topk_group;
  return a;
}

// The semantic tests run on the reference backend (the oracle) and on a threaded CPU backend.
class MoeRouteSemanticsTest : public ::testing::TestWithParam<BackendCase> {
 protected:
  void SetUp() override {
    be_ = make_or_null(GetParam());
    if (!be_) GTEST_SKIP() << "ISA \"" << GetParam().isa << "\" is not supported by this CPU: SKIPPED";
  }
  std::unique_ptr<Backend> be_;
};

TEST_P(MoeRouteSemanticsTest, SigmoidBiasSelectsButWeightsUseUnbiasedScores) {
  const std::vector<float> logits = {2.0f, 1.0f, 0.0f, -1.0f};
  MoeRouteArgs p = params(4, 2, TopkMethod::NoauxTc, ScoringFunc::Sigmoid);
  p.norm_topk_prob = true;
  p.always_scale = true;
  p.routed_scaling_factor = 2.5f;
  // Without bias: the two largest sigmoids, experts 0 and 1.
  const Routed plain = route(*be_, p, logits);
  EXPECT_EQ(plain.ids, (std::vector<int32_t>{0, 1}));
  // Bias +2 on expert 2 lifts it to the top: chosen first (selection order), then expert 0.
  const Routed biased = route(*be_, p, logits, {0.0f, 0.0f, 2.0f, 0.0f});
  ASSERT_EQ(biased.ids, (std::vector<int32_t>{2, 0}));
  // Weights from the unbiased sigmoids: s2 = 0.5, s0 = sigmoid(2), normalised, times 2.5.
  const double s2 = 0.5, s0 = sigmoid(2.0);
  EXPECT_NEAR(biased.weights[0], s2 / (s2 + s0) * 2.5, 1e-6);
  EXPECT_NEAR(biased.weights[1], s0 / (s2 + s0) * 2.5, 1e-6);
  // Without normalisation (and scale 1) the weights are the raw sigmoids, never the biased values.
  p.norm_topk_prob = false;
  p.routed_scaling_factor = 1.0f;
  const Routed raw = route(*be_, p, logits, {0.0f, 0.0f, 2.0f, 0.0f});
  ASSERT_EQ(raw.ids, (std::vector<int32_t>{2, 0}));
  EXPECT_NEAR(raw.weights[0], 0.5, 1e-6);
  EXPECT_NEAR(raw.weights[1], s0, 1e-6);
}

// Group scores: by max (group_limited_greedy) or by the sum of the top two
// (noaux_tc). Groups of two experts:
//   group 0: 0.90, 0.05  max 0.90  top-2 sum 0.95
//   group 1: 0.62, 0.60  max 0.62  top-2 sum 1.22
//   group 2: 0.10, 0.10
//   group 3: 0.20, 0.15
// With one group kept, max ranking keeps group 0 and sum ranking keeps group 1
// -- so noaux_tc excludes expert 0, the best expert overall.
const std::vector<double> kGroupScores = {0.90, 0.05, 0.62, 0.60, 0.10, 0.10, 0.20, 0.15};

std::vector<float> group_logits() {
  std::vector<float> l;
  for (double s : kGroupScores) l.push_back(logit(s));
  return l;
}

TEST_P(MoeRouteSemanticsTest, GroupRankingMaxVersusTopTwoSum) {
  const auto logits = group_logits();
  const Routed glg = route(*be_, params(8, 2, TopkMethod::GroupLimitedGreedy, ScoringFunc::Sigmoid, 4, 1), logits);
  EXPECT_EQ(glg.ids, (std::vector<int32_t>{0, 1}));
  EXPECT_NEAR(glg.weights[0], 0.90, 1e-6);
  EXPECT_NEAR(glg.weights[1], 0.05, 1e-6);

  const Routed tc = route(*be_, params(8, 2, TopkMethod::NoauxTc, ScoringFunc::Sigmoid, 4, 1), logits);
  EXPECT_EQ(tc.ids, (std::vector<int32_t>{2, 3}));
  EXPECT_NEAR(tc.weights[0], 0.62, 1e-6);
  EXPECT_NEAR(tc.weights[1], 0.60, 1e-6);
  EXPECT_EQ(std::count(tc.ids.begin(), tc.ids.end(), 0), 0) << "expert 0's group was not among the best";

  // Keeping two groups, both rankings keep groups 0 and 1: the best two experts of those.
  for (TopkMethod m : {TopkMethod::GroupLimitedGreedy, TopkMethod::NoauxTc}) {
    const Routed r = route(*be_, params(8, 3, m, ScoringFunc::Sigmoid, 4, 2), logits);
    EXPECT_EQ(r.ids, (std::vector<int32_t>{0, 2, 3}));
  }
  // Greedy ignores groups entirely (same n_group / topk_group).
  const Routed g = route(*be_, params(8, 3, TopkMethod::Greedy, ScoringFunc::Sigmoid, 4, 1), logits);
  EXPECT_EQ(g.ids, (std::vector<int32_t>{0, 2, 3}));
}

TEST_P(MoeRouteSemanticsTest, NoauxTcRanksGroupsByBiasedScores) {
  // Bias +0.5 on expert 1 lifts group 0's top-2 sum to 1.45 > 1.22: group 0 is kept.
  const auto logits = group_logits();
  std::vector<float> bias(8, 0.0f);
  bias[1] = 0.5f;
  const Routed r = route(*be_, params(8, 2, TopkMethod::NoauxTc, ScoringFunc::Sigmoid, 4, 1), logits, bias);
  EXPECT_EQ(r.ids, (std::vector<int32_t>{0, 1}));  // biased 0.90 > 0.55
  EXPECT_NEAR(r.weights[0], 0.90, 1e-6);
  EXPECT_NEAR(r.weights[1], 0.05, 1e-6);  // unbiased
  // Bias -1 on expert 3 drops group 1's sum to 0.22: group 0 again (0.95), even without the first bias.
  std::vector<float> bias2(8, 0.0f);
  bias2[3] = -1.0f;
  const Routed r2 = route(*be_, params(8, 2, TopkMethod::NoauxTc, ScoringFunc::Sigmoid, 4, 1), logits, bias2);
  EXPECT_EQ(r2.ids, (std::vector<int32_t>{0, 1}));
}

TEST_P(MoeRouteSemanticsTest, ExcludedGroupsNeverChosenEvenOverNegativeBiasedScores) {
  // All biased scores of the kept group are negative; the excluded group's
  // experts must still not be picked (masked to -inf, not to 0).
  const std::vector<float> logits = {0.0f, 1.0f, 0.5f, 0.5f};  // sigmoids 0.5, 0.73, 0.62, 0.62
  const std::vector<float> bias = {-2.0f, -2.0f, -3.0f, -3.0f};
  // Group sums: g0 = 1.23 - 4 = -2.77, g1 = 1.24 - 6 = -4.76: g0 kept.
  const Routed r = route(*be_, params(4, 2, TopkMethod::NoauxTc, ScoringFunc::Sigmoid, 2, 1), logits, bias);
  EXPECT_EQ(r.ids, (std::vector<int32_t>{1, 0}));
  EXPECT_NEAR(r.weights[0], sigmoid(1.0), 1e-6);
  EXPECT_NEAR(r.weights[1], 0.5, 1e-6);
}

TEST_P(MoeRouteSemanticsTest, GreedyIgnoresGroupsGroupLimitedDoesNot) {
  // Softmax over 8 experts in 4 groups of 2; ranking 5 > 0 > 7 > others.
  const std::vector<float> logits = {3.0f, 0.0f, 0.1f, 0.2f, 0.3f, 4.0f, 0.4f, 2.0f};
  double z = 0;
  for (float l : logits) z += std::exp(static_cast<double>(l));
  auto p = [&](int e) { return std::exp(static_cast<double>(logits[static_cast<size_t>(e)])) / z; };
  const Routed g = route(*be_, params(8, 2, TopkMethod::Greedy, ScoringFunc::Softmax, 4, 1), logits);
  EXPECT_EQ(g.ids, (std::vector<int32_t>{5, 0}));
  EXPECT_NEAR(g.weights[0], p(5), 1e-6);  // softmax over all 8 experts, not renormalised
  EXPECT_NEAR(g.weights[1], p(0), 1e-6);
  const Routed glg = route(*be_, params(8, 2, TopkMethod::GroupLimitedGreedy, ScoringFunc::Softmax, 4, 1), logits);
  EXPECT_EQ(glg.ids, (std::vector<int32_t>{5, 4}));  // only group 2 = experts {4, 5}
  EXPECT_NEAR(glg.weights[1], p(4), 1e-6);
}

TEST_P(MoeRouteSemanticsTest, NormalisationAndScaling) {
  // Softmax of log(4), log(3), log(2), log(1): scores 0.4, 0.3, 0.2, 0.1; top-2 = experts 0, 1.
  const std::vector<float> logits = {std::log(4.0f), std::log(3.0f), std::log(2.0f), 0.0f};
  struct Row {
    bool norm, always;
    float rsf;
    int64_t top_k;
    std::vector<double> want;
  };
  const Row rows[] = {
      {false, false, 16.0f, 2, {0.4 * 16, 0.3 * 16}},                // v2, no normalisation: scaled
      {true, false, 16.0f, 2, {4.0 / 7, 3.0 / 7}},                   // v2 normalising: not scaled
      {true, true, 2.5f, 2, {4.0 / 7 * 2.5, 3.0 / 7 * 2.5}},         // v3: normalised and scaled
      {false, true, 2.5f, 2, {0.4 * 2.5, 0.3 * 2.5}},                // v3 without normalisation
      {true, false, 16.0f, 1, {0.4 * 16}},                           // top_k 1: no normalisation, so scaled
      {true, true, 1.0f, 4, {0.4, 0.3, 0.2, 0.1}},                   // all experts: sums to 1
  };
  for (const Row& r : rows) {
    SCOPED_TRACE(testing::Message() << "norm=" << r.norm << " always=" << r.always << " rsf=" << r.rsf
                                    << " top_k=" << r.top_k);
    MoeRouteArgs a = params(4, r.top_k, TopkMethod::Greedy, ScoringFunc::Softmax);
    a.norm_topk_prob = r.norm;
    a.always_scale = r.always;
    a.routed_scaling_factor = r.rsf;
    const Routed out = route(*be_, a, logits);
    ASSERT_EQ(out.weights.size(), r.want.size());
    for (size_t i = 0; i < r.want.size(); ++i) {
      EXPECT_EQ(out.ids[i], static_cast<int32_t>(i));
      EXPECT_NEAR(out.weights[i], r.want[i], 1e-6 * (1 + r.want[i]));
    }
  }
}

TEST_P(MoeRouteSemanticsTest, TiesGoToTheLowerIndex) {
  const Routed r = route(*be_, params(6, 3, TopkMethod::Greedy, ScoringFunc::Softmax), std::vector<float>(6, 0.5f));
  EXPECT_EQ(r.ids, (std::vector<int32_t>{0, 1, 2}));
  for (float w : r.weights) EXPECT_NEAR(w, 1.0 / 6, 1e-7);
  // Tied groups: the lower group wins.
  const Routed g = route(*be_, params(6, 2, TopkMethod::NoauxTc, ScoringFunc::Sigmoid, 3, 1),
                         std::vector<float>(6, 0.0f));
  EXPECT_EQ(g.ids, (std::vector<int32_t>{0, 1}));
}

TEST_P(MoeRouteSemanticsTest, TokensAreRoutedIndependently) {
  // Three tokens in one call give the same answers as three separate calls.
  std::mt19937 rng(5);
  const auto logits = random_floats(rng, 3 * 16, -3.0f, 3.0f);
  MoeRouteArgs p = params(16, 4, TopkMethod::NoauxTc, ScoringFunc::Sigmoid, 4, 2);
  p.norm_topk_prob = true;
  p.always_scale = true;
  p.routed_scaling_factor = 2.5f;
  const auto bias = random_floats(rng, 16, -0.5f, 0.5f);
  const Routed all = route(*be_, p, logits, bias);
  for (size_t t = 0; t < 3; ++t) {
    const Routed one = route(*be_, p, std::vector<float>(logits.begin() + 16 * t, logits.begin() + 16 * (t + 1)), bias);
    EXPECT_EQ(std::vector<int32_t>(all.ids.begin() + 4 * t, all.ids.begin() + 4 * (t + 1)), one.ids) << t;
    EXPECT_EQ(std::vector<float>(all.weights.begin() + 4 * t, all.weights.begin() + 4 * (t + 1)), one.weights) << t;
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, MoeRouteSemanticsTest,
                         ::testing::ValuesIn(all_backends()), backend_case_name);

// ---------------------------------------------------------------- random logits vs the reference

class MoeRouteBackendTest : public ::testing::TestWithParam<BackendCase> {};

TEST_P(MoeRouteBackendTest, MatchesReference) {
  auto ref = make_reference();
  DSINFER_BACKEND_OR_SKIP(be, GetParam());
  struct Cfg {
    const char* name;
    int64_t n_experts, top_k, n_group, topk_group;
    TopkMethod m;
    ScoringFunc sf;
    bool bias, norm, always;
    float rsf;
  };
  const Cfg cfgs[] = {
      {"v2-lite greedy", 64, 6, 1, 1, TopkMethod::Greedy, ScoringFunc::Softmax, false, false, false, 1.0f},
      {"v2 group_limited", 72, 6, 8, 3, TopkMethod::GroupLimitedGreedy, ScoringFunc::Softmax, false, false, false, 16.0f},
      {"v3 noaux_tc", 72, 8, 8, 4, TopkMethod::NoauxTc, ScoringFunc::Sigmoid, true, true, true, 2.5f},
      {"odd small", 7, 3, 1, 1, TopkMethod::NoauxTc, ScoringFunc::Sigmoid, true, true, false, 1.5f},
      {"groups of one", 5, 2, 5, 3, TopkMethod::NoauxTc, ScoringFunc::Softmax, true, true, true, 1.0f},
  };
  std::mt19937 rng(17);
  for (const Cfg& c : cfgs) {
    for (int64_t n : {1, 3, 33}) {
      SCOPED_TRACE(testing::Message() << c.name << " n=" << n);
      MoeRouteArgs p = params(c.n_experts, c.top_k, c.m, c.sf, c.n_group, c.topk_group);
      p.norm_topk_prob = c.norm;
      p.always_scale = c.always;
      p.routed_scaling_factor = c.rsf;
      const auto logits = random_floats(rng, static_cast<size_t>(n * c.n_experts), -4.0f, 4.0f);
      std::vector<float> bias;
      if (c.bias) bias = random_floats(rng, static_cast<size_t>(c.n_experts), -0.3f, 0.3f);
      const Routed want = route(*ref, p, logits, bias);
      const Routed got = route(*be, p, logits, bias);
      EXPECT_EQ(got.ids, want.ids);
      EXPECT_TRUE(all_close(got.weights, want.weights, 1e-7, 1e-6));
      // Every token's ids are distinct and in range.
      for (int64_t t = 0; t < n; ++t) {
        std::vector<int32_t> ids(want.ids.begin() + t * c.top_k, want.ids.begin() + (t + 1) * c.top_k);
        std::sort(ids.begin(), ids.end());
        EXPECT_TRUE(std::adjacent_find(ids.begin(), ids.end()) == ids.end()) << "token " << t;
        EXPECT_GE(ids.front(), 0);
        EXPECT_LT(ids.back(), c.n_experts);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, MoeRouteBackendTest, ::testing::ValuesIn(backends_under_test()),
                         backend_case_name);

}  // namespace
}  // namespace dsinfer::test
