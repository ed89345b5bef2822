// Properties every configuration must have, checked on the shipped models and
// on random-weight models of other shapes: incremental decoding equals one
// full pass, chunked prefill equals one prefill, MLA's absorbed form equals
// the plain form, the threaded CPU backend equals the scalar reference, and
// sequences batched together equal sequences run alone.
#include <gtest/gtest.h>

#include <filesystem>

#include "common/testdata.h"
#include "model/model_test_util.h"
#include "common/synth_checkpoint.h"

namespace dsinfer::test {
namespace {

constexpr double kTight = 1e-5;  // same math, different order of float sums

struct Variant {
  std::string name;
  nlohmann::json cfg;  // null: a shipped reference model named `name`
  SynthOptions opts;
};

std::vector<Variant> variants() {
  std::vector<Variant> v;
  for (const char* m : {"qwen2-tiny", "llama-tiny", "ds3-tiny", "ds3-tiny-fp8", "ds2-lite-tiny"}) v.push_back({m, nullptr, {}});
  v.push_back({"qwen2_6h_2kv_theta1e6", tiny_qwen2_config(), {}});
  auto tied = tiny_qwen2_config();
  tied["tie_word_embeddings"] = true;
  tied["num_key_value_heads"] = 6;
  v.push_back({"qwen2_tied_mha", tied, {.seed = 2, .shards = 3}});
  v.push_back({"llama3_factor32_tied_mqa", tiny_llama_config(), {.seed = 3}});
  v.push_back({"ds3_odd_heads_fp8_sharded_mtp", tiny_deepseek_v3_config(),
               {.seed = 4, .shards = 2, .fp8 = true, .fp8_block = 32, .add_mtp_layer = true}});
  v.push_back({"ds2_no_qlora_group_limited", tiny_deepseek_v2_config(), {.seed = 5}});
  auto greedy = tiny_deepseek_v2_config();
  greedy["topk_method"] = "greedy";
  greedy["norm_topk_prob"] = true;
  greedy["q_lora_rank"] = 48;
  v.push_back({"ds2_greedy_norm_qlora", greedy, {.seed = 6}});
  return v;
}

class ModelProperties : public ::testing::TestWithParam<Variant> {
 protected:
  void SetUp() override {
    const Variant& v = GetParam();
    if (v.cfg.is_null()) {
      const std::string td = testdata_dir();
      if (td.empty()) GTEST_SKIP() << "*** ../shared/testdata NOT FOUND: this test is SKIPPED, not passed ***";
      dir_ = td + "/reference/models/" + v.name;
    } else {
      dir_ = make_temp_dir();
      write_synth_checkpoint(dir_, v.cfg, v.opts);
    }
    m_ = load(dir_);
    vocab_ = static_cast<size_t>(m_.model->config().vocab_size);
    tokens_ = random_tokens(37, static_cast<int32_t>(vocab_), 7);
  }
  void TearDown() override {
    if (!GetParam().cfg.is_null() && !dir_.empty()) std::filesystem::remove_all(dir_);
  }
  std::string dir_;
  Loaded m_;
  size_t vocab_ = 0;
  std::vector<int32_t> tokens_;
};

TEST_P(ModelProperties, DecodeAfterPrefillEqualsFullForward) {
  const auto full = run_tokens(*m_.model, tokens_);
  // 20-token prefill, then one token at a time (MLA decodes in absorbed form).
  engine::RunnerOptions o;
  o.max_tokens = static_cast<int64_t>(tokens_.size());
  o.block_size = 8;
  engine::SequenceRunner r(*m_.model, o);
  std::vector<float> inc = r.feed({tokens_.begin(), tokens_.begin() + 20}, true);
  for (size_t i = 20; i < tokens_.size(); ++i) {
    const auto l = r.feed({tokens_[i]}, true);
    inc.insert(inc.end(), l.begin(), l.end());
  }
  EXPECT_LT(worst_rel_l2(inc, full, vocab_), kTight);
}

TEST_P(ModelProperties, ChunkedPrefillEqualsOnePrefill) {
  const auto full = run_tokens(*m_.model, tokens_);
  for (size_t chunk : {5u, 16u}) EXPECT_LT(worst_rel_l2(run_tokens(*m_.model, tokens_, chunk), full, vocab_), kTight) << chunk;
}

class MlaProperties : public ModelProperties {};

TEST_P(MlaProperties, AbsorbedMlaEqualsPlain) {
  ASSERT_TRUE(m_.model->config().is_deepseek());
  const auto plain = run_tokens(*m_.model, tokens_, 0, model::MlaMode::Plain);
  const auto absorbed = run_tokens(*m_.model, tokens_, 0, model::MlaMode::Absorbed);
  EXPECT_LT(worst_rel_l2(absorbed, plain, vocab_), kTight);
  const auto absorbed_chunks = run_tokens(*m_.model, tokens_, 7, model::MlaMode::Absorbed);
  EXPECT_LT(worst_rel_l2(absorbed_chunks, plain, vocab_), kTight);
}

TEST_P(ModelProperties, CpuBackendEqualsReferenceBackend) {
  Loaded ref = load(dir_, "reference");
  const std::vector<int32_t> t(tokens_.begin(), tokens_.begin() + 12);
  EXPECT_LT(worst_rel_l2(run_tokens(*m_.model, t), run_tokens(*ref.model, t), vocab_), kTight);
}

// Two sequences in one forward pass (one prefilling, one decoding) give the
// logits each gives alone.
TEST_P(ModelProperties, BatchedSequencesEqualSeparateRuns) {
  const std::vector<int32_t> a(tokens_.begin(), tokens_.begin() + 9);
  const std::vector<int32_t> b(tokens_.begin() + 9, tokens_.begin() + 14);
  const auto alone_a = run_tokens(*m_.model, a);
  const auto alone_b = run_tokens(*m_.model, b);
  model::KVCache cache(*m_.backend, m_.model->kv_spec(), 8, 4);
  model::Batch first;  // b's first 4 tokens alone, so b then decodes while a prefills
  first.tokens.assign(b.begin(), b.begin() + 4);
  first.seqs.push_back({4, 0, {5}});
  m_.model->forward(first, cache);
  model::Batch both;
  both.tokens = a;
  both.tokens.push_back(b[4]);
  both.seqs.push_back({9, 0, {0, 1, 2}});
  both.seqs.push_back({1, 4, {5, 6}});
  for (int32_t i = 0; i < 10; ++i) both.logit_rows.push_back(i);
  const auto got = m_.model->forward(both, cache);
  EXPECT_LT(worst_rel_l2({got.begin(), got.begin() + static_cast<int64_t>(9 * vocab_)}, alone_a, vocab_), kTight);
  EXPECT_LT(rel_l2(&got[9 * vocab_], &alone_b[4 * vocab_], vocab_), kTight);
}

TEST_P(ModelProperties, KvCacheHoldsOnlyWhatTheFamilyNeeds) {
  const auto& c = m_.model->config();
  const auto spec = m_.model->kv_spec();
  if (c.is_deepseek()) {
    EXPECT_EQ(spec.values_per_token(), c.num_hidden_layers * (c.kv_lora_rank + c.qk_rope_head_dim));
    EXPECT_EQ(spec.v_row, 0);
  } else {
    EXPECT_EQ(spec.values_per_token(), c.num_hidden_layers * 2 * c.num_key_value_heads * c.head_dim);
  }
  model::KVCache cache(*m_.backend, spec, 3, 16);
  EXPECT_EQ(cache.bytes(), static_cast<size_t>(3 * 16 * spec.values_per_token() * 4));
}

std::string variant_name(const ::testing::TestParamInfo<Variant>& info) {
  std::string n = info.param.name;
  std::replace(n.begin(), n.end(), '-', '_');
  return n;
}

std::vector<Variant> deepseek_variants() {
  std::vector<Variant> v;
  for (const Variant& x : variants())
    if (x.name.rfind("ds", 0) == 0) v.push_back(x);
  return v;
}

INSTANTIATE_TEST_SUITE_P(All, ModelProperties, ::testing::ValuesIn(variants()), variant_name);
INSTANTIATE_TEST_SUITE_P(DeepSeek, MlaProperties, ::testing::ValuesIn(deepseek_variants()), variant_name);

}  // namespace
}  // namespace dsinfer::test
