// POST /v1/completions: prompt(s) -> engine requests -> "text_completion"
// (one body or a stream of chunks), with echo and legacy logprobs.
#include "server/completions.h"

#include <httplib.h>

#include <algorithm>
#include <memory>
#include <utility>

#include "core/error.h"
#include "server/logprobs.h"
#include "server/request_parse.h"
#include "server/sse.h"

namespace dsinfer::server {

namespace {

constexpr size_t kMaxPrompts = 64;

struct PromptInput {
  std::string text;  // what echo shows
  std::vector<int32_t> ids;
};

PromptInput token_prompt(const ServerContext& ctx, const Json& ids, size_t index) {
  if (ids.empty()) throw bad_request(cat("prompt ", index, " is an empty list of token ids"), "prompt");
  PromptInput p;
  const IntRange vocab{0, ctx.tok->vocab_size() - 1};
  for (const auto& v : ids) p.ids.push_back(static_cast<int32_t>(as_int(v, "prompt", vocab)));
  p.text = ctx.tok->decode(p.ids, false);
  return p;
}

PromptInput text_prompt(const ServerContext& ctx, const Json& s) {
  return {s.get<std::string>(), ctx.tok->encode(s.get<std::string>(), true)};
}

template <typename Pred>
bool all_of(const Json& arr, Pred pred) {
  for (const auto& v : arr)
    if (!pred(v)) return false;
  return true;
}

std::vector<PromptInput> parse_prompts(const ServerContext& ctx, const Json& body) {
  auto it = body.find("prompt");
  if (it == body.end() || it->is_null()) throw bad_request("'prompt' is required", "prompt");
  const Json& v = *it;
  if (v.is_string()) return {text_prompt(ctx, v)};
  const char* kinds = "'prompt' must be a string, a list of strings, a list of token ids or a list of lists of ids";
  if (!v.is_array() || v.empty()) throw bad_request(kinds, "prompt");
  if (all_of(v, [](const Json& x) { return x.is_number(); })) return {token_prompt(ctx, v, 0)};
  if (v.size() > kMaxPrompts) throw bad_request(cat("at most ", kMaxPrompts, " prompts are allowed"), "prompt");
  std::vector<PromptInput> out;
  if (all_of(v, [](const Json& x) { return x.is_string(); })) {
    for (const auto& s : v) out.push_back(text_prompt(ctx, s));
  } else if (all_of(v, [](const Json& x) { return x.is_array(); })) {
    for (size_t i = 0; i < v.size(); ++i) out.push_back(token_prompt(ctx, v[i], i));
  } else {
    throw bad_request(kinds, "prompt");
  }
  return out;
}

struct CompletionSetup {
  std::string id;
  std::string model;
  int64_t created = 0;
  size_t n = 1;  // choices per prompt
  std::vector<PromptInput> prompts;
  bool echo = false;
  bool logprobs = false;
  bool include_usage = false;
  const tokenizer::Tokenizer* tok = nullptr;
};

class CompletionFormatter : public ResponseFormatter {
 public:
  explicit CompletionFormatter(CompletionSetup s) : s_(std::move(s)), choices_(s_.prompts.size() * s_.n) {}

  std::vector<Json> start() override;
  std::vector<Json> feed(const ChoiceOutput& o) override;
  Json usage_chunk() const override;
  Json body() const override;

 private:
  struct Choice {
    std::string text;
    Json logprobs = Json::object();
    size_t offset = 0;  // text_offset of the next token
    std::string finish;
    int64_t completion_tokens = 0;
    int64_t cached_tokens = 0;
  };

  Json chunk(size_t index, const std::string& text, Json logprobs, Json finish) const;
  Json usage() const;

  CompletionSetup s_;
  std::vector<Choice> choices_;
};

Json CompletionFormatter::chunk(size_t index, const std::string& text, Json logprobs, Json finish) const {
  Json choice{{"index", index}, {"text", text}};
  choice["logprobs"] = std::move(logprobs);
  choice["finish_reason"] = std::move(finish);
  Json c{{"id", s_.id}, {"object", "text_completion"}, {"created", s_.created}, {"model", s_.model}};
  c["choices"] = Json::array({std::move(choice)});
  if (s_.include_usage) c["usage"] = nullptr;
  return c;
}

std::vector<Json> CompletionFormatter::start() {
  std::vector<Json> out;
  if (!s_.echo) return out;
  for (size_t i = 0; i < choices_.size(); ++i) {
    const PromptInput& p = s_.prompts[i / s_.n];
    Choice& c = choices_[i];
    c.text = p.text;
    Json lp;
    if (s_.logprobs) {
      lp = legacy_prompt_logprobs(*s_.tok, p.ids, &c.offset);
      append_legacy(c.logprobs, lp);
    }
    out.push_back(chunk(i, p.text, std::move(lp), Json()));
  }
  return out;
}

std::vector<Json> CompletionFormatter::feed(const ChoiceOutput& o) {
  std::vector<Json> out;
  if (o.choice >= choices_.size()) return out;
  Choice& c = choices_[o.choice];
  c.text += o.out.text;
  Json lp;
  if (s_.logprobs && !o.out.logprobs.empty()) {
    lp = legacy_logprobs(*s_.tok, o.out.logprobs, &c.offset);
    append_legacy(c.logprobs, lp);
  }
  c.completion_tokens = std::max(c.completion_tokens, o.out.completion_tokens);
  c.cached_tokens = o.out.cached_prompt_tokens;
  if (o.out.finished) c.finish = finish_reason(o.out.finish_reason);
  if (o.out.text.empty() && lp.is_null() && !o.out.finished) return out;
  out.push_back(chunk(o.choice, o.out.text, std::move(lp), o.out.finished ? Json(c.finish) : Json()));
  return out;
}

Json CompletionFormatter::usage() const {
  int64_t prompt = 0, completion = 0, cached = 0;
  for (const auto& p : s_.prompts) prompt += static_cast<int64_t>(p.ids.size());
  for (size_t i = 0; i < choices_.size(); ++i) {
    completion += choices_[i].completion_tokens;
    if (i % s_.n == 0) cached += choices_[i].cached_tokens;
  }
  return Json{{"prompt_tokens", prompt},
              {"completion_tokens", completion},
              {"total_tokens", prompt + completion},
              {"prompt_tokens_details", Json{{"cached_tokens", cached}}}};
}

Json CompletionFormatter::usage_chunk() const {
  Json c{{"id", s_.id}, {"object", "text_completion"}, {"created", s_.created}, {"model", s_.model}};
  c["choices"] = Json::array();
  c["usage"] = usage();
  return c;
}

Json CompletionFormatter::body() const {
  Json choices = Json::array();
  for (size_t i = 0; i < choices_.size(); ++i) {
    const Choice& c = choices_[i];
    Json choice{{"index", i}, {"text", c.text}};
    choice["logprobs"] = s_.logprobs ? c.logprobs : Json();
    choice["finish_reason"] = c.finish;
    choices.push_back(std::move(choice));
  }
  Json b{{"id", s_.id}, {"object", "text_completion"}, {"created", s_.created}, {"model", s_.model}};
  b["choices"] = std::move(choices);
  b["usage"] = usage();
  return b;
}

void check_unsupported(const Json& body, int n) {
  reject_field(body, "suffix", " (no fill-in-the-middle)");
  const int64_t best_of = int_field(body, "best_of", n, {1, 16});
  if (best_of != n) throw bad_request("'best_of' different from 'n' is not supported", "best_of");
}

}  // namespace

void handle_completions(const ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const Json body = parse_body(req.body);
  check_model(body, ctx.model_name);
  GenerationParams p = parse_generation(body, Endpoint::Completions);
  check_unsupported(body, p.n);
  const bool echo = bool_field(body, "echo", false);
  std::vector<PromptInput> prompts = parse_prompts(ctx, body);
  std::vector<engine::Request> requests;
  for (const PromptInput& in : prompts) {
    GenerationParams one = p;
    fit_max_tokens(one, static_cast<int64_t>(in.ids.size()), ctx.engine->max_model_len());
    one.request.prompt = in.ids;
    if (!one.request.ignore_eos) one.request.stop_token_ids = ctx.stop_token_ids;
    requests.push_back(std::move(one.request));
  }
  auto gen = std::make_shared<Generation>(*ctx.engine);
  for (const auto& r : requests) submit_choices(*gen, r, p.n);
  CompletionSetup s{ctx.ids->next("cmpl-"), ctx.model_name, unix_seconds(), static_cast<size_t>(p.n),
                    std::move(prompts), echo, p.request.top_logprobs >= 0, p.include_usage, ctx.tok};
  respond(res, {gen, std::make_shared<CompletionFormatter>(std::move(s)), p.stream, p.include_usage, ctx.stopping});
}

}  // namespace dsinfer::server
