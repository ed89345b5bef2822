#include "engine/text_generation.h"

#include <algorithm>

namespace dsinfer::engine {

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::Stop:
      return "stop";
    case FinishReason::Length:
      return "length";
    case FinishReason::Cancelled:
      return "cancelled";
  }
  return "?";
}

namespace {

bool is_stop_token(const GenerationRequest& req, const tokenizer::Tokenizer& tok, int32_t id) {
  if (id == tok.eos_id()) return true;
  return std::find(req.stop_token_ids.begin(), req.stop_token_ids.end(), id) != req.stop_token_ids.end();
}

}  // namespace

GenerationResult generate_text(SequenceRunner& runner, const tokenizer::Tokenizer& tok, const GenerationRequest& req,
                               const std::function<void(std::string_view)>& on_text, const std::atomic<bool>* cancel) {
  validate(req.sampling);
  Sampler sampler(req.sampling);
  tokenizer::IncrementalDecoder detok(tok, {req.skip_special_tokens, true});
  tokenizer::StopMatcher stops(req.stop);
  GenerationResult res;
  auto emit = [&](const std::string& s) {
    if (s.empty()) return;
    res.text += s;
    if (on_text) on_text(s);
  };
  std::vector<float> logits = runner.feed(req.prompt, false);
  const int32_t vocab = static_cast<int32_t>(logits.size());
  for (int64_t i = 0; i < req.max_tokens; ++i) {
    if (cancel && cancel->load()) {
      res.finish = FinishReason::Cancelled;
      return res;
    }
    const int32_t next = sampler.sample(logits.data(), vocab, req.prompt, res.tokens);
    res.tokens.push_back(next);
    if (is_stop_token(req, tok, next)) {
      res.finish = FinishReason::Stop;
      emit(stops.feed(detok.flush()).text + stops.flush());
      return res;
    }
    const auto r = stops.feed(detok.push(next));
    emit(r.text);
    if (r.stopped) {
      res.finish = FinishReason::Stop;
      return res;
    }
    if (i + 1 < req.max_tokens) logits = runner.feed({next}, false);
  }
  const auto r = stops.feed(detok.flush());
  emit(r.text);
  if (!r.stopped) emit(stops.flush());
  res.finish = r.stopped ? FinishReason::Stop : FinishReason::Length;
  return res;
}

}  // namespace dsinfer::engine
