// A request as the engine tracks it: its tokens, how many have KV in the
// cache, its blocks, and its sampler / detokenizer / stop-string state.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "engine/request.h"
#include "engine/sampler.h"
#include "tokenizer/detokenizer.h"

namespace dsinfer::engine {

struct Sequence {
  Sequence(uint64_t id_, Request r, const tokenizer::Tokenizer& tok)
      : id(id_),
        req(std::move(r)),
        tokens(req.prompt),
        n_prompt(static_cast<int64_t>(req.prompt.size())),
        sampler(req.sampling),
        detok(tok, {req.skip_special_tokens, true}),
        stops(req.stop),
        arrival(std::chrono::steady_clock::now()) {}

  uint64_t id;
  Request req;
  std::vector<int32_t> tokens;  // prompt, then generated ids
  int64_t n_prompt;
  int64_t n_computed = 0;       // tokens whose KV is in the cache
  int64_t cached_prompt_tokens = 0;
  std::vector<int32_t> block_table;
  Sampler sampler;
  tokenizer::IncrementalDecoder detok;
  tokenizer::StopMatcher stops;
  std::chrono::steady_clock::time_point arrival;
  std::chrono::steady_clock::time_point last_token;
  bool cancelled = false;  // the client asked to stop
  bool done = false;       // its final output was delivered

  int64_t n_output() const { return static_cast<int64_t>(tokens.size()) - n_prompt; }
  std::vector<int32_t> output() const { return {tokens.begin() + n_prompt, tokens.end()}; }
};

}  // namespace dsinfer::engine
