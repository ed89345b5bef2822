// POST /v1/chat/completions: messages -> chat template -> engine requests ->
// "chat.completion" or a stream of "chat.completion.chunk"s, with R1-style
// <think> output split into reasoning_content.
#include "server/chat_completions.h"

#include <httplib.h>

#include <algorithm>
#include <memory>
#include <utility>

#include "engine/reasoning.h"
#include "server/chat_prompt.h"
#include "server/logprobs.h"
#include "server/request_parse.h"
#include "server/sse.h"

namespace dsinfer::server {

namespace {

struct ChatSetup {
  std::string id;
  std::string model;
  int64_t created = 0;
  size_t n = 1;
  int64_t prompt_tokens = 0;
  bool opens_think = false;
  bool logprobs = false;
  bool include_usage = false;
  const tokenizer::Tokenizer* tok = nullptr;
};

class ChatFormatter : public ResponseFormatter {
 public:
  explicit ChatFormatter(ChatSetup s) : s_(std::move(s)) {
    for (size_t i = 0; i < s_.n; ++i) choices_.push_back(Choice{engine::ReasoningSplitter(s_.opens_think)});
  }

  std::vector<Json> start() override {
    std::vector<Json> out;
    for (size_t i = 0; i < s_.n; ++i) out.push_back(chunk(i, Json{{"role", "assistant"}, {"content", ""}}, Json(), Json()));
    return out;
  }

  std::vector<Json> feed(const ChoiceOutput& o) override;
  Json usage_chunk() const override;
  Json body() const override;

 private:
  struct Choice {
    engine::ReasoningSplitter split;
    std::string content;
    std::string reasoning;
    Json logprobs = Json::array();
    std::string finish;
    int64_t completion_tokens = 0;
    int64_t cached_tokens = 0;
  };

  Json chunk(size_t index, Json delta, Json logprobs, Json finish) const;
  Json usage() const;
  Json delta_of(Choice& c, const engine::ReasoningSplitter::Delta& d) const;

  ChatSetup s_;
  std::vector<Choice> choices_;
};

Json ChatFormatter::chunk(size_t index, Json delta, Json logprobs, Json finish) const {
  Json choice = Json::object();
  choice["index"] = index;
  choice["delta"] = std::move(delta);
  choice["logprobs"] = std::move(logprobs);
  choice["finish_reason"] = std::move(finish);
  Json c{{"id", s_.id}, {"object", "chat.completion.chunk"}, {"created", s_.created}, {"model", s_.model}};
  c["choices"] = Json::array({std::move(choice)});
  if (s_.include_usage) c["usage"] = nullptr;
  return c;
}

// Accumulates a split delta into the choice; returns the streamed delta (null when empty).
Json ChatFormatter::delta_of(Choice& c, const engine::ReasoningSplitter::Delta& d) const {
  c.reasoning += d.reasoning;
  c.content += d.content;
  Json delta = Json::object();
  if (!d.reasoning.empty()) delta["reasoning_content"] = d.reasoning;
  if (!d.content.empty()) delta["content"] = d.content;
  return delta;
}

std::vector<Json> ChatFormatter::feed(const ChoiceOutput& o) {
  std::vector<Json> out;
  if (o.choice >= choices_.size()) return out;
  Choice& c = choices_[o.choice];
  engine::ReasoningSplitter::Delta d = c.split.feed(o.out.text);
  if (o.out.finished) {
    const auto tail = c.split.flush();
    d.reasoning += tail.reasoning;
    d.content += tail.content;
  }
  Json delta = delta_of(c, d);
  Json lp;
  if (s_.logprobs && !o.out.logprobs.empty()) {
    Json entries = chat_logprob_entries(*s_.tok, o.out.logprobs);
    for (const auto& e : entries) c.logprobs.push_back(e);
    lp = Json{{"content", std::move(entries)}};
  }
  c.completion_tokens = std::max(c.completion_tokens, o.out.completion_tokens);
  c.cached_tokens = o.out.cached_prompt_tokens;
  if (!delta.empty() || !lp.is_null()) {
    if (delta.empty()) delta["content"] = "";
    out.push_back(chunk(o.choice, std::move(delta), std::move(lp), Json()));
  }
  if (o.out.finished) {
    c.finish = finish_reason(o.out.finish_reason);
    out.push_back(chunk(o.choice, Json::object(), Json(), c.finish));
  }
  return out;
}

Json ChatFormatter::usage() const {
  int64_t completion = 0;
  for (const auto& c : choices_) completion += c.completion_tokens;
  const int64_t cached = choices_.empty() ? 0 : choices_[0].cached_tokens;
  return Json{{"prompt_tokens", s_.prompt_tokens},
              {"completion_tokens", completion},
              {"total_tokens", s_.prompt_tokens + completion},
              {"prompt_tokens_details", Json{{"cached_tokens", cached}}}};
}

Json ChatFormatter::usage_chunk() const {
  Json c{{"id", s_.id}, {"object", "chat.completion.chunk"}, {"created", s_.created}, {"model", s_.model}};
  c["choices"] = Json::array();
  c["usage"] = usage();
  return c;
}

Json ChatFormatter::body() const {
  Json choices = Json::array();
  for (size_t i = 0; i < choices_.size(); ++i) {
    const Choice& c = choices_[i];
    Json msg{{"role", "assistant"}, {"content", c.content}};
    if (!c.reasoning.empty()) msg["reasoning_content"] = c.reasoning;
    Json choice{{"index", i}, {"message", std::move(msg)}};
    choice["logprobs"] = s_.logprobs ? Json{{"content", c.logprobs}} : Json();
    choice["finish_reason"] = c.finish;
    choices.push_back(std::move(choice));
  }
  Json b{{"id", s_.id}, {"object", "chat.completion"}, {"created", s_.created}, {"model", s_.model}};
  b["choices"] = std::move(choices);
  b["usage"] = usage();
  return b;
}

}  // namespace

void handle_chat_completions(const ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const Json body = parse_body(req.body);
  check_model(body, ctx.model_name);
  GenerationParams p = parse_generation(body, Endpoint::Chat);
  const ChatPrompt prompt = build_chat_prompt(ctx, chat_conversation(body));
  fit_max_tokens(p, static_cast<int64_t>(prompt.ids.size()), ctx.engine->max_model_len());
  p.request.prompt = prompt.ids;
  if (!p.request.ignore_eos) p.request.stop_token_ids = ctx.stop_token_ids;
  auto gen = std::make_shared<Generation>(*ctx.engine);
  submit_choices(*gen, p.request, p.n);
  ChatSetup s{ctx.ids->next("chatcmpl-"), ctx.model_name, unix_seconds(), static_cast<size_t>(p.n),
              static_cast<int64_t>(prompt.ids.size()), prompt.opens_think, p.request.top_logprobs >= 0,
              p.include_usage, ctx.tok};
  respond(res, {gen, std::make_shared<ChatFormatter>(std::move(s)), p.stream, p.include_usage, ctx.stopping});
}

}  // namespace dsinfer::server
