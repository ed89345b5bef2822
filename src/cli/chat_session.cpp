#include "cli/chat_session.h"

#include "core/error.h"
#include "engine/reasoning.h"

namespace dsinfer::cli {

namespace {

// Prints reasoning and answer as they stream, with a header before each part.
class Printer {
 public:
  Printer(std::FILE* out, bool color) : out_(out), color_(color) {}
  void reasoning(const std::string& s) {
    if (s.empty()) return;
    if (!in_reasoning_) {
      std::fputs(color_ ? "\x1b[2mThinking...\n" : "Thinking...\n", out_);
      in_reasoning_ = true;
    }
    write(s);
  }
  void content(const std::string& s) {
    if (s.empty()) return;
    end_reasoning();
    write(s);
  }
  void end_reasoning() {
    if (!in_reasoning_) return;
    std::fputs(color_ ? "\n...done thinking.\x1b[0m\n\n" : "\n...done thinking.\n\n", out_);
    in_reasoning_ = false;
  }

 private:
  void write(const std::string& s) {
    std::fwrite(s.data(), 1, s.size(), out_);
    std::fflush(out_);
  }
  std::FILE* out_;
  bool color_;
  bool in_reasoning_ = false;
};

}  // namespace

ChatSession::ChatSession(ChatModel m, ChatSessionOptions o) : m_(m), o_(std::move(o)) { clear(); }

void ChatSession::clear() {
  messages_ = nlohmann::ordered_json::array();
  if (!o_.system.empty()) messages_.push_back({{"role", "system"}, {"content", o_.system}});
}

std::string ChatSession::render() const {
  nlohmann::ordered_json conv = {{"messages", messages_}, {"add_generation_prompt", true}};
  return jinja::apply_chat_template(m_.tmpl, conv);
}

// EOS plus the end-of-turn tokens these families use.
std::vector<int32_t> ChatSession::stop_ids() const {
  std::vector<int32_t> ids;
  for (const char* t : {"<｜end▁of▁sentence｜>", "<|EOT|>", "<|eot_id|>", "<|im_end|>", "<|end_of_text|>"})
    if (auto id = m_.tok.token_to_id(t)) ids.push_back(*id);
  return ids;
}

engine::FinishReason ChatSession::ask(const std::string& user, std::FILE* out, const std::atomic<bool>* cancel) {
  messages_.push_back({{"role", "user"}, {"content", user}});
  const std::string prompt = render();
  engine::GenerationRequest req;
  req.prompt = m_.tok.encode(prompt, false);
  if (m_.tok.add_bos() && m_.tok.bos_id() >= 0 && prompt.rfind(m_.tok.bos_token(), 0) != 0)
    req.prompt.insert(req.prompt.begin(), m_.tok.bos_id());
  req.sampling = o_.sampling;
  req.max_tokens = o_.max_tokens;
  req.stop_token_ids = stop_ids();
  engine::ReasoningSplitter split(engine::ReasoningSplitter::prompt_opens_think(prompt));
  Printer print(out, o_.color);
  std::string answer;
  auto on_text = [&](std::string_view t) {
    const auto d = split.feed(t);
    print.reasoning(d.reasoning);
    print.content(d.content);
    answer += d.content;
  };
  m_.runner.reset();
  const auto res = engine::generate_text(m_.runner, m_.tok, req, on_text, cancel);
  const auto tail = split.flush();
  print.reasoning(tail.reasoning);
  print.content(tail.content);
  print.end_reasoning();
  answer += tail.content;
  std::fputs(res.finish == engine::FinishReason::Cancelled ? " [stopped]\n" : "\n", out);
  messages_.push_back({{"role", "assistant"}, {"content", answer}});
  return res.finish;
}

}  // namespace dsinfer::cli
