// /v1/completions: prompt forms, echo, legacy logprobs, streaming, usage;
// /v1/models, /health, /metrics.
#include <gtest/gtest.h>

#include "common/testdata.h"
#include "server/server_harness.h"

namespace dsinfer::server::test {
namespace {

class CompletionsTest : public HarnessSuite<CompletionsTest> {
 protected:

  Json complete(Json body) {
    body["model"] = "tiny-test";
    if (!body.contains("temperature")) body["temperature"] = 0;
    auto r = post_json(*cli_, "/v1/completions", body);
    EXPECT_TRUE(r);
    if (!r) return Json();
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
    const Json j = Json::parse(r->body);
    EXPECT_EQ(j["object"], "text_completion");
    EXPECT_EQ(j["id"].get<std::string>().rfind("cmpl-", 0), 0u);
    return j;
  }
};


void expect_usage(const Json& j) {
  const Json& u = j["usage"];
  EXPECT_EQ(u["total_tokens"].get<int>(), u["prompt_tokens"].get<int>() + u["completion_tokens"].get<int>());
  EXPECT_TRUE(u["prompt_tokens_details"]["cached_tokens"].is_number_integer());
}

TEST_F(CompletionsTest, StringPromptDefaultsToSixteenTokens) {
  const Json j = complete(Json{{"prompt", "The capital of France is"}});
  ASSERT_EQ(j["choices"].size(), 1u);
  EXPECT_EQ(j["choices"][0]["index"], 0);
  EXPECT_TRUE(j["choices"][0]["text"].is_string());
  EXPECT_TRUE(j["choices"][0]["logprobs"].is_null());
  if (j["choices"][0]["finish_reason"] == "length") {
    EXPECT_EQ(j["usage"]["completion_tokens"], 16);
  }
  // BOS + the encoded text.
  const auto ids = harness_->tok().encode("The capital of France is", true);
  EXPECT_EQ(j["usage"]["prompt_tokens"].get<size_t>(), ids.size());
  expect_usage(j);
}

TEST_F(CompletionsTest, ListOfStringsGivesOneChoicePerPromptInOrder) {
  const Json j = complete(Json{{"prompt", Json::array({"one", "two two", "three three three"})}, {"max_tokens", 3}, {"n", 2}});
  ASSERT_EQ(j["choices"].size(), 6u);
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(j["choices"][i]["index"], i);
  // Greedy: both choices of one prompt agree.
  for (size_t p = 0; p < 3; ++p) EXPECT_EQ(j["choices"][2 * p]["text"], j["choices"][2 * p + 1]["text"]);
  size_t prompt_tokens = 0;
  for (const char* s : {"one", "two two", "three three three"}) prompt_tokens += harness_->tok().encode(s, true).size();
  EXPECT_EQ(j["usage"]["prompt_tokens"].get<size_t>(), prompt_tokens);
  EXPECT_EQ(j["usage"]["completion_tokens"], 18);
  expect_usage(j);
}

TEST_F(CompletionsTest, TokenIdPromptsMatchTextPrompt) {
  const std::string text = "Once upon a time";
  const auto ids = harness_->tok().encode(text, true);
  const Json by_text = complete(Json{{"prompt", text}, {"max_tokens", 5}});
  const Json by_ids = complete(Json{{"prompt", ids}, {"max_tokens", 5}});
  const Json by_lists = complete(Json{{"prompt", Json::array({ids, ids})}, {"max_tokens", 5}});
  EXPECT_EQ(by_ids["choices"][0]["text"], by_text["choices"][0]["text"]);
  ASSERT_EQ(by_lists["choices"].size(), 2u);
  EXPECT_EQ(by_lists["choices"][1]["text"], by_text["choices"][0]["text"]);
  EXPECT_EQ(by_ids["usage"]["prompt_tokens"].get<size_t>(), ids.size());
}

TEST_F(CompletionsTest, EchoPrependsThePrompt) {
  const Json plain = complete(Json{{"prompt", "Hello world"}, {"max_tokens", 4}});
  const Json echoed = complete(Json{{"prompt", "Hello world"}, {"max_tokens", 4}, {"echo", true}});
  EXPECT_EQ(echoed["choices"][0]["text"].get<std::string>(),
            "Hello world" + plain["choices"][0]["text"].get<std::string>());
}

TEST_F(CompletionsTest, LegacyLogprobs) {
  const Json j = complete(Json{{"prompt", "Numbers: 1, 2, 3,"}, {"max_tokens", 6}, {"logprobs", 3}});
  const Json& lp = j["choices"][0]["logprobs"];
  const size_t n = j["usage"]["completion_tokens"];
  ASSERT_EQ(lp["tokens"].size(), n);
  ASSERT_EQ(lp["token_logprobs"].size(), n);
  ASSERT_EQ(lp["top_logprobs"].size(), n);
  ASSERT_EQ(lp["text_offset"].size(), n);
  for (size_t i = 0; i < n; ++i) {
    const double chosen = lp["token_logprobs"][i];
    EXPECT_LE(chosen, 0.0);
    EXPECT_GE(lp["top_logprobs"][i].size(), 3u);
    EXPECT_LE(lp["top_logprobs"][i].size(), 4u);
    for (const auto& [tok, v] : lp["top_logprobs"][i].items()) EXPECT_LE(v.get<double>(), chosen + 1e-6) << tok;
    if (i > 0) {
      EXPECT_GE(lp["text_offset"][i].get<size_t>(), lp["text_offset"][i - 1].get<size_t>());
    }
  }
  // With echo the prompt tokens come first, without log-probabilities.
  const Json e = complete(Json{{"prompt", "Numbers: 1, 2, 3,"}, {"max_tokens", 6}, {"logprobs", 0}, {"echo", true}});
  const Json& elp = e["choices"][0]["logprobs"];
  const size_t np = e["usage"]["prompt_tokens"];
  ASSERT_EQ(elp["tokens"].size(), np + n);
  EXPECT_TRUE(elp["token_logprobs"][0].is_null());
  EXPECT_FALSE(elp["token_logprobs"][np].is_null());
  EXPECT_EQ(elp["text_offset"][0], 0);
}

TEST_F(CompletionsTest, StreamMatchesNonStream) {
  const Json full = complete(Json{{"prompt", "In a hole in the ground"}, {"max_tokens", 10}});
  Json body{{"model", "tiny-test"}, {"prompt", "In a hole in the ground"}, {"max_tokens", 10}, {"temperature", 0},
            {"stream", true}, {"stream_options", {{"include_usage", true}}}};
  auto r = post_json(*cli_, "/v1/completions", body);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  const Sse s = parse_sse(r->body);
  EXPECT_TRUE(s.done);
  EXPECT_TRUE(s.clean);
  std::string text, finish;
  for (const auto& e : s.events) {
    EXPECT_EQ(e["object"], "text_completion");
    for (const auto& c : e["choices"]) {
      text += c["text"].get<std::string>();
      if (!c["finish_reason"].is_null()) finish = c["finish_reason"];
    }
  }
  EXPECT_EQ(text, full["choices"][0]["text"]);
  EXPECT_EQ(finish, full["choices"][0]["finish_reason"]);
  EXPECT_EQ(s.events.back()["usage"]["completion_tokens"], full["usage"]["completion_tokens"]);
}

TEST_F(CompletionsTest, ModelsHealthMetrics) {
  auto models = cli_->Get("/v1/models");
  ASSERT_TRUE(models);
  EXPECT_EQ(models->status, 200);
  const Json m = Json::parse(models->body);
  EXPECT_EQ(m["object"], "list");
  ASSERT_EQ(m["data"].size(), 1u);
  EXPECT_EQ(m["data"][0]["id"], "tiny-test");
  EXPECT_EQ(m["data"][0]["object"], "model");
  EXPECT_EQ(m["data"][0]["owned_by"], "dsinfer");
  auto one = cli_->Get("/v1/models/tiny-test");
  ASSERT_TRUE(one);
  EXPECT_EQ(one->status, 200);
  auto health = cli_->Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(Json::parse(health->body)["status"], "ok");
  complete(Json{{"prompt", "warm"}, {"max_tokens", 2}});
  auto metrics = cli_->Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_EQ(metrics->get_header_value("Content-Type").rfind("text/plain", 0), 0u);
  const std::string& t = metrics->body;
  for (const char* name :
       {"dsinfer_http_requests_total{code=\"200\"}", "dsinfer_requests_finished_total{finish_reason=",
        "dsinfer_prompt_tokens_total", "dsinfer_generation_tokens_total",
        "dsinfer_time_to_first_token_seconds_bucket{le=\"+Inf\"}", "dsinfer_time_to_first_token_seconds_sum",
        "dsinfer_inter_token_latency_seconds_count", "dsinfer_requests_running", "dsinfer_requests_waiting",
        "dsinfer_kv_blocks_used", "dsinfer_kv_blocks_free", "dsinfer_prefix_cache_hit_rate",
        "# TYPE dsinfer_time_to_first_token_seconds histogram"})
    EXPECT_NE(t.find(name), std::string::npos) << name;
  EXPECT_GT(metric_value(t, "dsinfer_generation_tokens_total"), 0);
  EXPECT_GT(metric_value(t, "dsinfer_kv_blocks_free"), 0);
}

}  // namespace
}  // namespace dsinfer::server::test
