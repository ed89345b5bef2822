#include "server/logprobs.h"

#include <cmath>
#include <string>

namespace dsinfer::server {

namespace {

// JSON has no -inf; OpenAI reports -9999 for impossible tokens.
double finite(float lp) { return std::isfinite(lp) ? static_cast<double>(lp) : -9999.0; }

Json bytes_of(const std::string& s) {
  Json b = Json::array();
  for (unsigned char c : s) b.push_back(static_cast<int>(c));
  return b;
}

// Model vocabularies may be padded past the tokenizer's: such ids have no text.
std::string token_text(const tokenizer::Tokenizer& tok, int32_t id) {
  return id >= 0 && id < tok.vocab_size() ? tok.token_bytes(id) : std::string();
}

// Special tokens (BOS, EOS) do not appear in the returned text.
size_t text_length(const tokenizer::Tokenizer& tok, int32_t id, const std::string& bytes) {
  return tok.is_special(id) ? 0 : bytes.size();
}

// Raw token bytes; a piece of a multi-byte character is shown as U+FFFD when dumped.
Json token_entry(const tokenizer::Tokenizer& tok, int32_t id, float lp) {
  const std::string s = token_text(tok, id);
  Json e = Json::object();
  e["token"] = s;
  e["logprob"] = finite(lp);
  e["bytes"] = bytes_of(s);
  return e;
}

}  // namespace

Json chat_logprob_entries(const tokenizer::Tokenizer& tok, const std::vector<engine::TokenLogprob>& lps) {
  Json out = Json::array();
  for (const auto& lp : lps) {
    Json e = token_entry(tok, lp.token, lp.logprob);
    Json top = Json::array();
    for (const auto& [id, p] : lp.top) top.push_back(token_entry(tok, id, p));
    e["top_logprobs"] = std::move(top);
    out.push_back(std::move(e));
  }
  return out;
}

Json legacy_logprobs(const tokenizer::Tokenizer& tok, const std::vector<engine::TokenLogprob>& lps, size_t* offset) {
  Json j{{"tokens", Json::array()}, {"token_logprobs", Json::array()}, {"top_logprobs", Json::array()},
         {"text_offset", Json::array()}};
  for (const auto& lp : lps) {
    const std::string s = token_text(tok, lp.token);
    j["tokens"].push_back(s);
    j["token_logprobs"].push_back(finite(lp.logprob));
    Json top = Json::object();  // the top alternatives and, always, the chosen token
    for (const auto& [id, p] : lp.top) top[token_text(tok, id)] = finite(p);
    top[s] = finite(lp.logprob);
    j["top_logprobs"].push_back(std::move(top));
    j["text_offset"].push_back(*offset);
    *offset += text_length(tok, lp.token, s);
  }
  return j;
}

Json legacy_prompt_logprobs(const tokenizer::Tokenizer& tok, const std::vector<int32_t>& ids, size_t* offset) {
  Json j{{"tokens", Json::array()}, {"token_logprobs", Json::array()}, {"top_logprobs", Json::array()},
         {"text_offset", Json::array()}};
  for (int32_t id : ids) {
    const std::string s = token_text(tok, id);
    j["tokens"].push_back(s);
    j["token_logprobs"].push_back(nullptr);
    j["top_logprobs"].push_back(nullptr);
    j["text_offset"].push_back(*offset);
    *offset += text_length(tok, id, s);
  }
  return j;
}

void append_legacy(Json& into, const Json& part) {
  for (const char* key : {"tokens", "token_logprobs", "top_logprobs", "text_offset"}) {
    Json& dst = into[key];
    if (dst.is_null()) dst = Json::array();
    for (const auto& v : part.at(key)) dst.push_back(v);
  }
}

}  // namespace dsinfer::server
