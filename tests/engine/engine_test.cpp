// The serving engine on the tiny reference models with a real tokenizer.
#include "engine/engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <memory>

#include "common/testdata.h"
#include "engine/sequence_runner.h"

namespace dsinfer::engine {
namespace {

struct Fixture {
  std::unique_ptr<kernels::Backend> backend;
  std::unique_ptr<model::Model> model;
  std::unique_ptr<tokenizer::Tokenizer> tok;
};

Fixture load(const std::string& td, const std::string& name) {
  Fixture f;
  f.backend = kernels::make_backend({"cpu", 2});
  f.model = model::Model::load(td + "/reference/models/" + name, *f.backend);
  f.tok = std::make_unique<tokenizer::Tokenizer>(
      tokenizer::Tokenizer::from_path(td + "/tokenizers/deepseek-llm/tokenizer.json"));
  return f;
}

struct Collected {
  std::vector<int32_t> tokens;
  std::vector<float> logprobs;
  std::string text;
  bool finished = false;
  FinishReason reason = FinishReason::Length;
  int64_t cached = 0;
};

Request greedy_request(std::vector<int32_t> prompt, int64_t n, Collected* out) {
  Request r;
  r.prompt = std::move(prompt);
  r.sampling.temperature = 0;
  r.max_tokens = n;
  r.ignore_eos = true;
  r.top_logprobs = 0;
  r.on_output = [out](const RequestOutput& o) {
    out->tokens.insert(out->tokens.end(), o.tokens.begin(), o.tokens.end());
    for (const auto& l : o.logprobs) out->logprobs.push_back(l.logprob);
    out->text += o.text;
    out->cached = o.cached_prompt_tokens;
    if (o.finished) {
      out->finished = true;
      out->reason = o.finish_reason;
    }
  };
  return r;
}

void run_until_idle(Engine& e) {
  for (int i = 0; i < 100000 && e.step(); ++i) {
  }
}

std::vector<int32_t> prompt_of(int i, size_t len) {
  std::vector<int32_t> p;
  for (size_t k = 0; k < len; ++k) p.push_back(static_cast<int32_t>((i * 131 + k * 17 + 3) % 1000));
  return p;
}

class EngineTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    td_ = test::testdata_dir();
    if (td_.empty()) GTEST_SKIP() << "*** ../shared/testdata NOT FOUND: engine tests SKIPPED, not passed ***";
    f_ = load(td_, GetParam());
  }
  std::vector<int32_t> alone(const std::vector<int32_t>& prompt, int64_t n) {
    EngineOptions o;
    o.prefix_caching = false;
    Engine e(*f_.model, *f_.tok, o);
    Collected c;
    e.submit(greedy_request(prompt, n, &c));
    run_until_idle(e);
    return c.tokens;
  }
  std::string td_;
  Fixture f_;
};

TEST_P(EngineTest, GreedyEqualsSingleSequenceRunner) {
  const auto prompt = prompt_of(1, 9);
  RunnerOptions ro;
  ro.max_tokens = 40;
  SequenceRunner r(*f_.model, ro);
  EXPECT_EQ(alone(prompt, 12), greedy_generate(r, prompt, 12));
}

// The reported logprobs against a log-softmax in double of the logits the
// single-sequence runner computes for the same tokens, top-3 included.
TEST_P(EngineTest, LogprobsAreTheLogSoftmaxOfTheLogits) {
  const auto prompt = prompt_of(2, 7);
  EngineOptions o;
  o.prefix_caching = false;
  Engine e(*f_.model, *f_.tok, o);
  std::vector<RequestOutput> outs;
  Collected c;
  Request req = greedy_request(prompt, 3, &c);
  req.top_logprobs = 3;
  req.on_output = [&outs](const RequestOutput& out) { outs.push_back(out); };
  e.submit(std::move(req));
  run_until_idle(e);
  RunnerOptions ro;
  ro.max_tokens = 40;
  SequenceRunner r(*f_.model, ro);
  std::vector<float> logits = r.feed(prompt, false);
  size_t step = 0;
  for (const RequestOutput& out : outs) {
    for (const TokenLogprob& lp : out.logprobs) {
      double mx = *std::max_element(logits.begin(), logits.end()), z = 0;
      for (float x : logits) z += std::exp(static_cast<double>(x) - mx);
      const auto ref = [&](int32_t id) { return static_cast<double>(logits[static_cast<size_t>(id)]) - mx - std::log(z); };
      EXPECT_NEAR(lp.logprob, ref(lp.token), 1e-5) << "step " << step;
      ASSERT_EQ(lp.top.size(), 3u);
      std::vector<float> sorted = logits;
      std::sort(sorted.begin(), sorted.end(), std::greater<>());
      for (size_t k = 0; k < 3; ++k) {
        EXPECT_EQ(logits[static_cast<size_t>(lp.top[k].first)], sorted[k]) << "step " << step << " rank " << k;
        EXPECT_NEAR(lp.top[k].second, ref(lp.top[k].first), 1e-5);
      }
      logits = r.feed({lp.token}, false);
      ++step;
    }
  }
  EXPECT_EQ(step, 3u);
}

TEST_P(EngineTest, GreedyIsBatchInvariant) {
  EngineOptions o;
  o.max_num_batched_tokens = 64;  // prompts arrive in chunks beside running decodes
  Engine e(*f_.model, *f_.tok, o);
  std::vector<Collected> got(16);
  for (int i = 0; i < 16; ++i) e.submit(greedy_request(prompt_of(i, 5 + static_cast<size_t>(i) * 3), 10, &got[static_cast<size_t>(i)]));
  run_until_idle(e);
  for (int i = 0; i < 16; ++i) {
    ASSERT_TRUE(got[static_cast<size_t>(i)].finished);
    EXPECT_EQ(got[static_cast<size_t>(i)].tokens, alone(prompt_of(i, 5 + static_cast<size_t>(i) * 3), 10)) << "request " << i;
  }
}

TEST_P(EngineTest, PrefixReuseComputesOnlyNewTokensWithIdenticalResults) {
  EngineOptions o;
  o.block_size = 4;
  Engine e(*f_.model, *f_.tok, o);
  std::vector<int32_t> system = prompt_of(7, 21);
  Collected first, second;
  e.submit(greedy_request(system, 4, &first));
  run_until_idle(e);
  std::vector<int32_t> longer = system;
  longer.insert(longer.end(), {5, 6, 7});
  e.submit(greedy_request(longer, 6, &second));
  run_until_idle(e);
  EXPECT_EQ(second.cached, 20);  // five full blocks of the shared 21-token prefix
  EngineOptions no_cache = o;
  no_cache.prefix_caching = false;
  Engine fresh(*f_.model, *f_.tok, no_cache);
  Collected reference;
  fresh.submit(greedy_request(longer, 6, &reference));
  run_until_idle(fresh);
  EXPECT_EQ(reference.cached, 0);
  EXPECT_EQ(second.tokens, reference.tokens);
  EXPECT_EQ(second.logprobs, reference.logprobs) << "cached prefix must give bit-identical logits";
  const auto s = e.stats();
  EXPECT_GT(s.prefix_hit_tokens, 0);
}

TEST_P(EngineTest, ChunkedPrefillEqualsOnePrefill) {
  const auto prompt = prompt_of(3, 40);
  std::vector<std::vector<float>> lps;
  for (int64_t budget : {512, 7}) {
    EngineOptions o;
    o.max_num_batched_tokens = budget;
    Engine e(*f_.model, *f_.tok, o);
    Collected c;
    e.submit(greedy_request(prompt, 8, &c));
    run_until_idle(e);
    lps.push_back(c.logprobs);
  }
  ASSERT_EQ(lps[0].size(), 8u);
  for (size_t i = 0; i < lps[0].size(); ++i) EXPECT_NEAR(lps[0][i], lps[1][i], 1e-4) << i;
}

TEST_P(EngineTest, NoBlockLeaksAfterMixedLoadWithPreemption) {
  EngineOptions o;
  o.block_size = 4;
  o.num_blocks = 24;  // small: forces preemption
  o.max_num_seqs = 8;
  o.max_queue = 100000;
  Engine e(*f_.model, *f_.tok, o);
  std::vector<Collected> got(300);
  std::vector<uint64_t> ids;
  for (size_t i = 0; i < got.size(); ++i) {
    Request r = greedy_request(prompt_of(static_cast<int>(i % 23), 3 + i % 17), static_cast<int64_t>(1 + i % 13), &got[i]);
    r.sampling.temperature = (i % 3 == 0) ? 0.8f : 0.0f;
    r.sampling.seed = i;
    r.sampling.has_seed = true;
    ids.push_back(e.submit(std::move(r)));
    if (i % 7 == 3) e.cancel(ids[i - 2]);
    if (i % 5 == 0) e.step();
  }
  run_until_idle(e);
  int cancelled = 0;
  for (const auto& c : got) {
    EXPECT_TRUE(c.finished);
    cancelled += c.reason == FinishReason::Cancelled;
  }
  EXPECT_GT(cancelled, 0);
  const auto s = e.stats();
  EXPECT_GT(s.preemptions, 0) << "the test should have exercised preemption";
  EXPECT_EQ(s.blocks_used, 0);
  EXPECT_EQ(s.blocks_free, e.total_blocks());
  EXPECT_EQ(s.running, 0);
  EXPECT_EQ(s.waiting, 0);
}

TEST_P(EngineTest, RefusesWhatCannotRun) {
  EngineOptions o;
  o.max_model_len = 32;
  o.max_queue = 2;
  Engine e(*f_.model, *f_.tok, o);
  Collected c;
  EXPECT_THROW(e.submit(greedy_request(prompt_of(1, 32), 4, &c)), Error);
  EXPECT_THROW(e.submit(greedy_request({}, 4, &c)), Error);
  EXPECT_THROW(e.submit(greedy_request({5000}, 4, &c)), Error);
  e.submit(greedy_request(prompt_of(1, 4), 2, &c));
  e.submit(greedy_request(prompt_of(2, 4), 2, &c));
  EXPECT_THROW(e.submit(greedy_request(prompt_of(3, 4), 2, &c)), QueueFull);
}

TEST_P(EngineTest, BackgroundThreadServesAndStops) {
  Engine e(*f_.model, *f_.tok, EngineOptions{});
  e.start();
  Collected c;
  std::mutex m;
  std::condition_variable cv;
  Request r = greedy_request(prompt_of(4, 6), 5, &c);
  auto inner = r.on_output;
  r.on_output = [&](const RequestOutput& o) {
    std::lock_guard<std::mutex> lock(m);
    inner(o);
    cv.notify_all();
  };
  e.submit(std::move(r));
  std::unique_lock<std::mutex> lock(m);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(20), [&] { return c.finished; }));
  EXPECT_EQ(c.tokens.size(), 5u);
  lock.unlock();
  e.stop();
}

INSTANTIATE_TEST_SUITE_P(Tiny, EngineTest, ::testing::Values("qwen2-tiny", "ds3-tiny"), [](const auto& info) {
  return info.param == "qwen2-tiny" ? std::string("qwen2") : std::string("ds3");
});

}  // namespace
}  // namespace dsinfer::engine
