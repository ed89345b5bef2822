// POST /v1/chat/completions.
#pragma once

#include "server/context.h"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace dsinfer::server {

// Validates, renders the chat template, submits one engine request per
// choice and sets up the response. Throws ApiError for client mistakes.
void handle_chat_completions(const ServerContext& ctx, const httplib::Request& req, httplib::Response& res);

}  // namespace dsinfer::server
