// POST /v1/completions (the legacy text completion API).
#pragma once

#include "server/context.h"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace dsinfer::server {

// Prompts as a string, strings, token ids or lists of token ids; one choice
// per prompt and n. Throws ApiError for client mistakes.
void handle_completions(const ServerContext& ctx, const httplib::Request& req, httplib::Response& res);

}  // namespace dsinfer::server
