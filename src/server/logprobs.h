// Log-probabilities in OpenAI's two formats: chat ({"content": [{"token",
// "logprob", "bytes", "top_logprobs"}]}) and the legacy completions one
// ({"tokens", "token_logprobs", "top_logprobs", "text_offset"}).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/request.h"
#include "server/openai_errors.h"
#include "tokenizer/tokenizer.h"

namespace dsinfer::server {

// Entries of a chat "logprobs.content" array, one per token.
Json chat_logprob_entries(const tokenizer::Tokenizer& tok, const std::vector<engine::TokenLogprob>& lps);

// Legacy format for generated tokens; text_offset starts at *offset, which is advanced.
Json legacy_logprobs(const tokenizer::Tokenizer& tok, const std::vector<engine::TokenLogprob>& lps, size_t* offset);
// Legacy format for echoed prompt tokens (no log-probabilities: null).
Json legacy_prompt_logprobs(const tokenizer::Tokenizer& tok, const std::vector<int32_t>& ids, size_t* offset);
// Appends the arrays of `part` to those of `into` (an empty object starts them).
void append_legacy(Json& into, const Json& part);

}  // namespace dsinfer::server
