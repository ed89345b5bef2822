// An in-process `dsinfer serve` for the tests: synthetic:tiny with the
// deepseek-llm tokenizer's vocabulary (so any text encodes to ids the model
// knows), the llama.cpp R1-Distill-Qwen chat template, on 127.0.0.1 with
// port 0, talked to with httplib::Client.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/testdata.h"
#include "engine/engine.h"
#include "kernels/backend.h"
#include "model/model.h"
#include "server/server.h"
#include "tokenizer/tokenizer.h"

namespace dsinfer::server::test {

using Json = nlohmann::ordered_json;

struct HarnessOptions {
  std::string api_key;
  engine::EngineOptions engine;
  std::string chat_template = "templates/deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja";  // under testdata
};

class Harness {
 public:
  Harness(const std::string& testdata, const HarnessOptions& o);
  ~Harness();

  std::unique_ptr<httplib::Client> client() const;
  int port() const { return server_->port(); }
  Server& server() { return *server_; }
  engine::Engine& engine() { return *engine_; }
  const tokenizer::Tokenizer& tok() const { return *tok_; }
  const std::string& model_name() const { return server_->options().served_model_name; }

 private:
  std::unique_ptr<kernels::Backend> backend_;
  std::unique_ptr<tokenizer::Tokenizer> tok_;
  std::unique_ptr<model::Model> model_;
  std::unique_ptr<engine::Engine> engine_;
  std::unique_ptr<Server> server_;
};

// A test suite sharing one server, started once from ../shared/testdata with
// Suite::options() (each test skips loudly without the data); cli_ talks to it.
template <class Suite>
class HarnessSuite : public ::testing::Test {
 public:
  static HarnessOptions options() { return {}; }

 protected:
  static void SetUpTestSuite() {
    const std::string td = dsinfer::test::testdata_dir();
    if (!td.empty()) harness_ = new Harness(td, Suite::options());
  }
  static void TearDownTestSuite() {
    delete harness_;
    harness_ = nullptr;
  }
  void SetUp() override {
    REQUIRE_TESTDATA(td);
    cli_ = harness_->client();
  }

  static inline Harness* harness_ = nullptr;
  std::unique_ptr<httplib::Client> cli_;
};

// Server-sent events of one response body.
struct Sse {
  std::vector<Json> events;  // the JSON of each "data:" line before [DONE]
  bool done = false;         // ended with "data: [DONE]"
  bool clean = true;         // every data line was JSON or [DONE], nothing after [DONE]
};
Sse parse_sse(const std::string& body);

// POST with a JSON body; headers may carry Authorization.
httplib::Result post_json(httplib::Client& c, const std::string& path, const Json& body,
                          const httplib::Headers& headers = {});

// A chat request with one user message, greedy.
Json chat_body(const std::string& model, const std::string& user, int max_tokens);

// Scrapes one sample value from Prometheus text ("name" or "name{labels}"); -1 when absent.
double metric_value(const std::string& text, const std::string& sample);

// Polls /metrics until nothing runs or waits and no KV block is held (true), or 30 s pass.
bool wait_idle(httplib::Client& c);

}  // namespace dsinfer::server::test
