#include "server/server_harness.h"

#include <gtest/gtest.h>

#include <chrono>
#include <sstream>
#include <thread>

#include "model/synthetic.h"

namespace dsinfer::server::test {

Harness::Harness(const std::string& testdata, const HarnessOptions& o) {
  backend_ = kernels::make_backend({"cpu", 2});
  tok_ = std::make_unique<tokenizer::Tokenizer>(
      tokenizer::Tokenizer::from_path(testdata + "/tokenizers/deepseek-llm/tokenizer.json"));
  model::SyntheticOptions s;
  s.preset = "tiny";
  s.vocab_size = tok_->vocab_size();
  model_ = model::make_synthetic_model(s, *backend_);
  engine_ = std::make_unique<engine::Engine>(*model_, *tok_, o.engine);
  engine_->start();
  ServerOptions so;
  so.port = 0;
  so.api_key = o.api_key;
  so.served_model_name = "tiny-test";
  server_ = std::make_unique<Server>(so);
  server_->bind();
  server_->start();
  jinja::ChatTemplateConfig tmpl = jinja::load_chat_template(testdata + "/" + o.chat_template);
  tmpl.bos_token = tok_->bos_token();
  tmpl.eos_token = tok_->eos_token();
  server_->attach({engine_.get(), tok_.get(), tmpl});
}

Harness::~Harness() {
  server_->stop();
  engine_->stop();
}

std::unique_ptr<httplib::Client> Harness::client() const {
  auto c = std::make_unique<httplib::Client>("127.0.0.1", port());
  c->set_read_timeout(60, 0);
  c->set_write_timeout(60, 0);
  c->set_connection_timeout(5, 0);
  return c;
}

Sse parse_sse(const std::string& body) {
  Sse r;
  std::istringstream in(body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == ':') continue;
    if (line.rfind("data: ", 0) != 0 || r.done) {
      r.clean = false;
      continue;
    }
    const std::string data = line.substr(6);
    if (data == "[DONE]") {
      r.done = true;
      continue;
    }
    try {
      r.events.push_back(Json::parse(data));
    } catch (const std::exception&) {
      r.clean = false;
    }
  }
  return r;
}

httplib::Result post_json(httplib::Client& c, const std::string& path, const Json& body,
                          const httplib::Headers& headers) {
  return c.Post(path.c_str(), headers, body.dump(), "application/json");
}

Json chat_body(const std::string& model, const std::string& user, int max_tokens) {
  return Json{{"model", model},
              {"messages", Json::array({Json{{"role", "user"}, {"content", user}}})},
              {"max_tokens", max_tokens},
              {"temperature", 0}};
}

double metric_value(const std::string& text, const std::string& sample) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(sample + " ", 0) == 0) return std::stod(line.substr(sample.size() + 1));
  }
  return -1;
}

bool wait_idle(httplib::Client& c) {
  for (int i = 0; i < 600; ++i) {
    auto r = c.Get("/metrics");
    if (r && r->status == 200 && metric_value(r->body, "dsinfer_requests_running") == 0 &&
        metric_value(r->body, "dsinfer_requests_waiting") == 0 && metric_value(r->body, "dsinfer_kv_blocks_used") == 0)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

}  // namespace dsinfer::server::test
