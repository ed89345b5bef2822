// From a chat request's messages to prompt token ids: validate the messages,
// render the chat template with add_generation_prompt, encode.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "server/context.h"
#include "server/openai_errors.h"

namespace dsinfer::server {

struct ChatPrompt {
  std::string text;
  std::vector<int32_t> ids;
  bool opens_think = false;  // the template opened <think>: output starts as reasoning
};

// The template's conversation: {"messages", "add_generation_prompt": true,
// "tools"?, ...chat_template_kwargs}. 400 for malformed messages.
Json chat_conversation(const Json& body);
// Renders and encodes; 400 when the template rejects the conversation.
ChatPrompt build_chat_prompt(const ServerContext& ctx, const Json& conversation);

}  // namespace dsinfer::server
