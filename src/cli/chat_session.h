// A conversation with one model on the terminal: history rendered through the
// model's chat template, answers streamed as they are generated, R1-style
// reasoning (<think>...</think>) shown apart from the answer.
#pragma once

#include <atomic>
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/sequence_runner.h"
#include "engine/text_generation.h"
#include "jinja/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace dsinfer::cli {

struct ChatSessionOptions {
  engine::SamplingParams sampling;
  int64_t max_tokens = 2048;
  std::string system;
  bool color = false;  // ANSI: reasoning dimmed
};

struct ChatModel {
  engine::SequenceRunner& runner;
  const tokenizer::Tokenizer& tok;
  const jinja::ChatTemplateConfig& tmpl;
};

class ChatSession {
 public:
  ChatSession(ChatModel m, ChatSessionOptions o);

  // Adds the user's message, streams the answer to `out`, keeps it in the
  // history. `cancel` stops generation early (the partial answer is kept).
  engine::FinishReason ask(const std::string& user, std::FILE* out, const std::atomic<bool>* cancel);
  void clear();

 private:
  std::string render() const;
  std::vector<int32_t> stop_ids() const;

  ChatModel m_;
  ChatSessionOptions o_;
  nlohmann::ordered_json messages_ = nlohmann::ordered_json::array();
};

}  // namespace dsinfer::cli
