// Client mistakes get OpenAI-shaped errors with the right status (never a
// 500), and the server keeps serving afterwards; API keys; 429; defaults.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "common/testdata.h"
#include "server/server_harness.h"

namespace dsinfer::server::test {
namespace {

void expect_error_shape(const httplib::Result& r, int status, const std::string& what) {
  ASSERT_TRUE(r) << what << ": no response";
  EXPECT_EQ(r->status, status) << what << ": " << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json") << what;
  Json j;
  ASSERT_NO_THROW(j = Json::parse(r->body)) << what << ": " << r->body;
  ASSERT_TRUE(j.contains("error")) << what;
  const Json& e = j["error"];
  EXPECT_TRUE(e["message"].is_string() && !e["message"].get<std::string>().empty()) << what;
  EXPECT_TRUE(e["type"].is_string()) << what;
  EXPECT_TRUE(e.contains("param")) << what;
  EXPECT_TRUE(e.contains("code")) << what;
  if (status == 400) {
    EXPECT_EQ(e["type"], "invalid_request_error") << what;
  }
}

class ErrorsTest : public HarnessSuite<ErrorsTest> {
 public:
  static HarnessOptions options() {
    HarnessOptions o;
    o.engine.max_model_len = 256;
    return o;
  }
  httplib::Result chat_raw(const std::string& body) {
    return cli_->Post("/v1/chat/completions", body, "application/json");
  }
  httplib::Result chat_with(const char* key, Json value) {
    Json b = chat_body("tiny-test", "hi", 4);
    b[key] = std::move(value);
    return post_json(*cli_, "/v1/chat/completions", b);
  }
  httplib::Result completion_with(const char* key, Json value) {
    Json b{{"model", "tiny-test"}, {"prompt", "hi"}, {"max_tokens", 4}};
    b[key] = std::move(value);
    return post_json(*cli_, "/v1/completions", b);
  }
};


TEST_F(ErrorsTest, MalformedBodies) {
  expect_error_shape(chat_raw("{not json"), 400, "invalid JSON");
  expect_error_shape(chat_raw("[1, 2]"), 400, "array body");
  expect_error_shape(chat_raw(""), 400, "empty body");
  expect_error_shape(chat_raw("{\"messages\": [{\"role\": \"user\", \"content\": \"\xff\xfe\"}]}"), 400, "invalid UTF-8");
  expect_error_shape(chat_raw("{\"messages\": [{\"role\": \"user\", \"content\": \"\\ud800\"}]}"), 400,
                     "lone surrogate");
  expect_error_shape(chat_raw("{\"model\": \"tiny-test\"}"), 400, "no messages");
  expect_error_shape(chat_with("messages", Json::array()), 400, "empty messages");
  expect_error_shape(chat_with("messages", Json::array({Json{{"role", "wizard"}, {"content", "x"}}})), 400, "role");
  expect_error_shape(chat_with("messages", Json::array({Json{{"role", "user"}, {"content", 5}}})), 400, "content type");
  expect_error_shape(
      chat_with("messages", Json::array({Json{{"role", "user"},
                                              {"content", Json::array({Json{{"type", "image_url"}, {"image_url", "x"}}})}}})),
      400, "image part");
}

TEST_F(ErrorsTest, WrongTypesAndRanges) {
  const std::vector<std::pair<const char*, Json>> bad{
      {"temperature", "hot"}, {"temperature", 2.5},   {"temperature", -0.1}, {"top_p", 0},
      {"top_p", 1.5},         {"top_k", -2},          {"min_p", 1.5},        {"presence_penalty", 3},
      {"frequency_penalty", -3}, {"repetition_penalty", 0}, {"n", 0},        {"n", 17},
      {"n", 1.5},             {"max_tokens", -1},     {"max_tokens", 0},     {"max_tokens", 1.5},
      {"max_tokens", "10"},   {"max_tokens", 1e30},   {"max_tokens", Json::parse("99999999999999999999999")},
      {"max_tokens", Json::parse("18446744073709551615")}, {"max_tokens", 4611686018427387904LL},
      {"max_completion_tokens", -5}, {"stream", "yes"}, {"stop", 5},         {"stop", Json::array({1})},
      {"stop", ""},           {"seed", "x"},          {"seed", 0.5},         {"top_logprobs", 3},
      {"logprobs", 1},        {"stream_options", Json{{"include_usage", true}}}, {"logit_bias", Json{{"5", 1}}},
      {"model", 5},           {"tools", "x"},         {"chat_template_kwargs", 3}};
  for (const auto& [key, value] : bad) expect_error_shape(chat_with(key, value), 400, std::string(key) + "=" + value.dump());
  Json lp = chat_body("tiny-test", "hi", 4);
  lp["logprobs"] = true;
  lp["top_logprobs"] = 21;
  expect_error_shape(post_json(*cli_, "/v1/chat/completions", lp), 400, "top_logprobs 21");
}

TEST_F(ErrorsTest, CompletionFields) {
  expect_error_shape(completion_with("suffix", "tail"), 400, "suffix");
  expect_error_shape(completion_with("logprobs", 6), 400, "logprobs 6");
  expect_error_shape(completion_with("logprobs", true), 400, "logprobs bool");
  expect_error_shape(completion_with("prompt", Json::array()), 400, "empty prompt list");
  expect_error_shape(completion_with("prompt", Json::array({1, "a"})), 400, "mixed prompt");
  expect_error_shape(completion_with("prompt", Json::array({-1, 5})), 400, "negative id");
  expect_error_shape(completion_with("prompt", Json::array({99999999})), 400, "id outside vocab");
  expect_error_shape(completion_with("prompt", Json::array({Json::array()})), 400, "empty id list");
  expect_error_shape(completion_with("prompt", 12.5), 400, "prompt number");
  expect_error_shape(completion_with("best_of", 3), 400, "best_of");
  expect_error_shape(completion_with("echo", "yes"), 400, "echo type");
  Json no_prompt{{"model", "tiny-test"}};
  expect_error_shape(post_json(*cli_, "/v1/completions", no_prompt), 400, "no prompt");
}

TEST_F(ErrorsTest, PromptLongerThanContext) {
  std::string long_text;
  for (int i = 0; i < 400; ++i) long_text += " word" + std::to_string(i);
  expect_error_shape(post_json(*cli_, "/v1/chat/completions", chat_body("tiny-test", long_text, 4)), 400, "long chat");
  Json c{{"model", "tiny-test"}, {"prompt", long_text}, {"max_tokens", 4}};
  expect_error_shape(post_json(*cli_, "/v1/completions", c), 400, "long completion");
  // Fits alone, but not with the asked-for output.
  expect_error_shape(post_json(*cli_, "/v1/chat/completions", chat_body("tiny-test", "hi", 250)), 400, "prompt+max");
}

TEST_F(ErrorsTest, RoutesModelsMethodsAndSizes) {
  expect_error_shape(post_json(*cli_, "/v1/chat/completions", chat_body("gpt-17", "hi", 4)), 404, "unknown model");
  auto r = post_json(*cli_, "/v1/chat/completions", chat_body("gpt-17", "hi", 4));
  ASSERT_TRUE(r);
  EXPECT_EQ(Json::parse(r->body)["error"]["code"], "model_not_found");
  expect_error_shape(post_json(*cli_, "/v1/completions", Json{{"model", "nope"}, {"prompt", "x"}}), 404, "model cmpl");
  expect_error_shape(cli_->Get("/v1/models/nope"), 404, "model get");
  expect_error_shape(cli_->Get("/v1/nothing-here"), 404, "unknown route");
  expect_error_shape(cli_->Post("/v2/chat", "{}", "application/json"), 404, "unknown post route");
  expect_error_shape(cli_->Get("/v1/chat/completions"), 405, "GET chat");
  expect_error_shape(cli_->Delete("/v1/completions"), 405, "DELETE completions");
  expect_error_shape(cli_->Post("/health", "{}", "application/json"), 405, "POST health");
  expect_error_shape(cli_->Post("/v1/models", "{}", "application/json"), 405, "POST models");
  const std::string huge(9u << 20, 'x');
  expect_error_shape(cli_->Post("/v1/chat/completions", huge, "application/json"), 413, "9 MiB body");
}

TEST_F(ErrorsTest, NeverFiveHundredAndStillServing) {
  auto ok = post_json(*cli_, "/v1/chat/completions", chat_body("tiny-test", "still there?", 3));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  auto health = cli_->Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto metrics = cli_->Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->body.find("code=\"500\""), std::string::npos);
}

TEST_F(ErrorsTest, DefaultBindAddressIsLoopback) {
  EXPECT_EQ(ServerOptions{}.host, "127.0.0.1");
  EXPECT_EQ(harness_->server().options().host, "127.0.0.1");
}

TEST(LifecycleTest, HealthIs503UntilAModelIsAttached) {
  ServerOptions o;
  o.port = 0;
  Server s(o);
  const int port = s.bind();
  ASSERT_GT(port, 0);
  s.start();
  httplib::Client cli("127.0.0.1", port);
  auto health = cli.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 503);
  EXPECT_EQ(Json::parse(health->body)["status"], "loading");
  expect_error_shape(cli.Get("/v1/models"), 503, "models while loading");
  expect_error_shape(post_json(cli, "/v1/completions", Json{{"prompt", "x"}}), 503, "completion while loading");
  auto metrics = cli.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metric_value(metrics->body, "dsinfer_model_ready"), 0);
  EXPECT_FALSE(s.ready());
  s.stop();
  s.stop();  // idempotent
}

TEST_F(ErrorsTest, DeeplyNestedBodyIsRefused) {
  const std::string deep = "{\"messages\": " + std::string(5000, '[') + std::string(5000, ']') + "}";
  expect_error_shape(chat_raw(deep), 400, "nesting");
}

TEST(ApiKeyTest, EveryApiRouteNeedsTheKey) {
  REQUIRE_TESTDATA(td);
  HarnessOptions o;
  o.api_key = "sk-test-123";
  Harness h(td, o);
  auto cli = h.client();
  const Json chat = chat_body("tiny-test", "hi", 2);
  const Json cmpl{{"model", "tiny-test"}, {"prompt", "hi"}, {"max_tokens", 2}};
  for (const httplib::Headers& hdr :
       {httplib::Headers{}, httplib::Headers{{"Authorization", "Bearer wrong"}}, httplib::Headers{{"Authorization", "sk-test-123"}}}) {
    expect_error_shape(post_json(*cli, "/v1/chat/completions", chat, hdr), 401, "chat");
    expect_error_shape(post_json(*cli, "/v1/completions", cmpl, hdr), 401, "completions");
    expect_error_shape(cli->Get("/v1/models", hdr), 401, "models");
    expect_error_shape(cli->Get("/v1/models/tiny-test", hdr), 401, "model");
    expect_error_shape(cli->Get("/v1/unknown", hdr), 401, "unknown /v1 route");
  }
  const httplib::Headers good{{"Authorization", "Bearer sk-test-123"}};
  auto r1 = post_json(*cli, "/v1/chat/completions", chat, good);
  auto r2 = post_json(*cli, "/v1/completions", cmpl, good);
  auto r3 = cli->Get("/v1/models", good);
  for (const auto* r : {&r1, &r2, &r3}) {
    ASSERT_TRUE(*r);
    EXPECT_EQ((*r)->status, 200) << (*r)->body;
  }
  auto health = cli->Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto metrics = cli->Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
}

TEST(QueueTest, FullQueueAnswers429) {
  REQUIRE_TESTDATA(td);
  HarnessOptions o;
  o.engine.max_num_seqs = 1;
  o.engine.max_queue = 1;
  Harness h(td, o);
  // A long stream holds the only running slot; stop reading it once it started.
  std::atomic<bool> started{false}, release{false};
  std::thread holder([&] {
    auto cli = h.client();
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/completions";
    req.set_header("Content-Type", "application/json");
    req.body = Json{{"prompt", "hold"}, {"max_tokens", 2000}, {"stream", true}}.dump();
    req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) {
      started = true;
      while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      return false;  // hang up
    };
    cli->send(req);
  });
  while (!started) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  // The running one is not queued; n=2 puts one choice in the queue and the second is refused.
  auto cli = h.client();
  auto r = post_json(*cli, "/v1/completions", Json{{"prompt", "x"}, {"max_tokens", 2}, {"n", 2}});
  expect_error_shape(r, 429, "queue full");
  release = true;
  holder.join();
  EXPECT_TRUE(wait_idle(*cli)) << "the dropped stream must be cancelled and its blocks freed";
  auto health = cli->Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto after = post_json(*cli, "/v1/completions", Json{{"prompt", "x"}, {"max_tokens", 2}});
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 200) << after->body;
}

}  // namespace
}  // namespace dsinfer::server::test
