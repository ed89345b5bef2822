// The shipped tiny models against float32 logits from implementations we did
// not write (DeepSeek's reference code; a PyTorch port of the HF modeling code).
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include "common/testdata.h"
#include "model/model_test_util.h"

namespace dsinfer::test {
namespace {

class ReferenceModel : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    td_ = testdata_dir();
    if (td_.empty()) GTEST_SKIP() << "*** ../shared/testdata NOT FOUND: reference-logit tests SKIPPED, not passed ***";
    std::ifstream f(td_ + "/reference/" + GetParam() + ".json");
    ASSERT_TRUE(f) << "missing reference file for " << GetParam();
    ref_ = nlohmann::json::parse(f);
    m_ = load(td_ + "/reference/models/" + GetParam());
  }
  std::string td_;
  nlohmann::json ref_;
  Loaded m_;
};

TEST_P(ReferenceModel, LogitsMatchEveryPosition) {
  const size_t vocab = static_cast<size_t>(m_.model->config().vocab_size);
  double worst = 0;
  int positions = 0;
  for (const auto& c : ref_["cases"]) {
    const auto tokens = c["tokens"].get<std::vector<int32_t>>();
    const std::vector<float> got = run_tokens(*m_.model, tokens);
    for (size_t p = 0; p < tokens.size(); ++p) {
      const auto want = c["logits"][p].get<std::vector<float>>();
      ASSERT_EQ(want.size(), vocab);
      const float* g = &got[p * vocab];
      const double err = rel_l2(g, want.data(), vocab);
      worst = std::max(worst, err);
      ++positions;
      EXPECT_LT(err, 1e-3) << "case of " << tokens.size() << " tokens, position " << p;
      std::vector<float> sorted = want;
      std::partial_sort(sorted.begin(), sorted.begin() + 2, sorted.end(), std::greater<float>());
      if (sorted[0] - sorted[1] > 1e-3f) {
        EXPECT_EQ(std::max_element(g, g + vocab) - g, std::max_element(want.begin(), want.end()) - want.begin())
            << "argmax differs at position " << p << " of the " << tokens.size() << "-token case";
      }
    }
  }
  std::printf("%s: worst relative L2 error %.3g over %d positions\n", GetParam().c_str(), worst, positions);
}

TEST_P(ReferenceModel, GreedyContinuationMatches) {
  const auto prompt = ref_["greedy"]["prompt"].get<std::vector<int32_t>>();
  const auto want = ref_["greedy"]["tokens"].get<std::vector<int32_t>>();
  engine::RunnerOptions o;
  o.max_tokens = static_cast<int64_t>(prompt.size() + want.size());
  engine::SequenceRunner r(*m_.model, o);
  EXPECT_EQ(engine::greedy_generate(r, prompt, static_cast<int64_t>(want.size())), want);
}

// With bf16 activations (BackendOptions::Activations::BF16) every product with
// bf16 weights takes its inputs rounded to bf16: the logits move off the
// float32 reference by about bf16's rounding (a few 1e-3), not more, and the
// greedy choice stays where the reference's top two are apart.
TEST_P(ReferenceModel, Bf16ActivationsStayCloseToReference) {
  kernels::BackendOptions o{"cpu", 2};
  o.activations = kernels::BackendOptions::Activations::BF16;
  auto backend = kernels::make_backend(o);
  auto model = model::Model::load(td_ + "/reference/models/" + GetParam(), *backend);
  const size_t vocab = static_cast<size_t>(model->config().vocab_size);
  double worst = 0;
  int counted = 0, same = 0;
  for (const auto& c : ref_["cases"]) {
    const auto tokens = c["tokens"].get<std::vector<int32_t>>();
    const std::vector<float> got = run_tokens(*model, tokens);
    for (size_t p = 0; p < tokens.size(); ++p) {
      // A near-tie route (reference README) may flip: this and later positions then move legitimately.
      if (c.contains("route_margin") && c["route_margin"][p].get<double>() < 0.01) break;
      const auto want = c["logits"][p].get<std::vector<float>>();
      const float* g = &got[p * vocab];
      worst = std::max(worst, rel_l2(g, want.data(), vocab));
      std::vector<float> sorted = want;
      std::partial_sort(sorted.begin(), sorted.begin() + 2, sorted.end(), std::greater<float>());
      if (sorted[0] - sorted[1] <= 0.1f) continue;
      ++counted;
      same += std::max_element(g, g + vocab) - g == std::max_element(want.begin(), want.end()) - want.begin();
    }
  }
  std::printf("%s with bf16 activations: worst relative L2 error %.3g, top-1 %d of %d\n", GetParam().c_str(), worst,
              same, counted);
  ASSERT_GE(counted, 6);
  EXPECT_GT(worst, 1e-5) << "the activations were not rounded";
  EXPECT_LT(worst, 2e-2);
  EXPECT_EQ(same, counted);
}

// The router against the reference routing: same expert set at every MoE
// layer and position (sets, since order within top-k does not matter).
class ReferenceMoeModel : public ReferenceModel {};

TEST_P(ReferenceMoeModel, RoutingMatchesReference) {
  const auto& cfg = m_.model->config();
  const size_t k = static_cast<size_t>(cfg.num_experts_per_tok);
  int compared = 0;
  for (const auto& c : ref_["cases"]) {
    const auto tokens = c["tokens"].get<std::vector<int32_t>>();
    run_tokens(*m_.model, tokens);
    const auto routing = m_.model->last_routing();
    size_t moe_index = 0;
    for (const auto& layer : routing) {
      if (layer.empty()) continue;
      for (size_t p = 0; p < tokens.size(); ++p) {
        std::vector<int32_t> got(layer.begin() + static_cast<int64_t>(p * k), layer.begin() + static_cast<int64_t>((p + 1) * k));
        std::sort(got.begin(), got.end());
        const auto want = c["routing_experts"][moe_index][p].get<std::vector<int32_t>>();
        EXPECT_EQ(got, want) << "MoE layer " << moe_index << " position " << p << " (route_margin "
                             << c["route_margin"][p] << ")";
        ++compared;
      }
      ++moe_index;
    }
  }
  EXPECT_GT(compared, 100);
}

std::string param_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string n = info.param;
  std::replace(n.begin(), n.end(), '-', '_');
  return n;
}

INSTANTIATE_TEST_SUITE_P(Tiny, ReferenceModel,
                         ::testing::Values("qwen2-tiny", "llama-tiny", "ds3-tiny", "ds3-tiny-fp8", "ds2-lite-tiny"),
                         param_name);
INSTANTIATE_TEST_SUITE_P(Tiny, ReferenceMoeModel, ::testing::Values("ds3-tiny", "ds3-tiny-fp8", "ds2-lite-tiny"),
                         param_name);

}  // namespace
}  // namespace dsinfer::test
