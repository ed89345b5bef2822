// Validation of request bodies into engine::Request fields. Every fault is
// an ApiError (400 naming the field, 404 for another model's name); nothing
// a client sends can reach the engine unchecked.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "engine/request.h"
#include "server/openai_errors.h"

namespace dsinfer::server {

enum class Endpoint { Chat, Completions };

// The fields /v1/chat/completions and /v1/completions share.
struct GenerationParams {
  engine::Request request;             // sampling, stop strings, top_logprobs, flags (no prompt yet)
  std::optional<int64_t> max_tokens;   // as asked; see fit_max_tokens
  int64_t default_max_tokens = -1;     // when not asked; -1: the rest of the context
  int n = 1;
  bool stream = false;
  bool include_usage = false;
};

// The body as a JSON object; 400 for invalid JSON (including invalid UTF-8) or a non-object.
Json parse_body(const std::string& body);
// "model" absent or null means the served model; another name is a 404.
void check_model(const Json& body, const std::string& served_name);
GenerationParams parse_generation(const Json& body, Endpoint ep);
// Sets request.max_tokens so that prompt + output fit max_model_len; 400 when they cannot.
void fit_max_tokens(GenerationParams& p, int64_t prompt_len, int64_t max_model_len);

// Field readers: absent or null -> def; wrong type or out of range -> 400 naming the field.
bool bool_field(const Json& body, const char* key, bool def);
struct IntRange {
  int64_t lo;
  int64_t hi;
};
int64_t int_field(const Json& body, const char* key, int64_t def, IntRange r);
// An integer JSON value (floats with an integral value allowed) in range r.
int64_t as_int(const Json& v, const std::string& name, IntRange r);
// Rejects a field that this server does not support when it is present and not null.
void reject_field(const Json& body, const char* key, const char* why);

}  // namespace dsinfer::server
