// What the endpoint handlers share: the engine, the tokenizer, the chat
// template and the served name, plus response ids. Built once by attach().
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "engine/engine.h"
#include "jinja/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace dsinfer::server {

// Unique response ids ("chatcmpl-...", "cmpl-..."): a random salt per server and a counter.
class IdSource {
 public:
  IdSource() : salt_(std::random_device{}()) {}
  std::string next(std::string_view prefix) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%08x%016llx", salt_, static_cast<unsigned long long>(++counter_));
    return std::string(prefix) + buf;
  }

 private:
  unsigned salt_;
  std::atomic<uint64_t> counter_{0};
};

inline int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

struct ServerContext {
  engine::Engine* engine = nullptr;
  const tokenizer::Tokenizer* tok = nullptr;
  const jinja::ChatTemplateConfig* chat_template = nullptr;  // null: none
  std::string model_name;
  std::vector<int32_t> stop_token_ids;  // end-of-turn tokens besides the tokenizer's EOS
  const std::atomic<bool>* stopping = nullptr;
  IdSource* ids = nullptr;
};

}  // namespace dsinfer::server
