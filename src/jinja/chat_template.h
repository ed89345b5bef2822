// Chat templates as Hugging Face models ship them: finding the template
// and special tokens of a model, building the render context the way
// transformers' apply_chat_template does, and rendering.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace dsinfer::jinja {

struct ChatTemplateConfig {
  // name -> template source; a single template is named "default".
  std::vector<std::pair<std::string, std::string>> templates;
  std::optional<std::string> bos_token, eos_token;
  std::string origin;  // where it was read from, for messages

  // The template transformers picks: "tool_use" when tools are given and
  // the model has one, else "default". Throws dsinfer::Error if missing.
  const std::string& select(bool has_tools) const;
};

// Reads a model's chat template. path is one of:
//  - a model directory: chat_template.jinja if present, else the
//    chat_template of tokenizer_config.json, else chat_template.json;
//    special tokens from tokenizer_config.json;
//  - a tokenizer_config.json file;
//  - a .jinja file (no special tokens).
// Throws dsinfer::Error (a .gguf path is reported as not yet supported).
ChatTemplateConfig load_chat_template(const std::string& path);

// From the parsed contents of a tokenizer_config.json. chat_template is a
// string or a list of {"name", "template"}; bos_token / eos_token are
// strings or {"content": ...} objects.
ChatTemplateConfig chat_template_from_tokenizer_config(const nlohmann::ordered_json& config, const std::string& origin);

// The variables a template sees for a conversation
// {"messages": [...], "tools": [...], "add_generation_prompt": bool,
//  "bos_token": "...", "eos_token": "...", other keys...}:
// messages, tools (none when absent), documents (none when absent),
// add_generation_prompt (false when absent), bos_token / eos_token from the
// conversation or else from the model (left undefined when neither has
// one), and every other key of the conversation as is.
nlohmann::ordered_json chat_context(const nlohmann::ordered_json& conversation, const ChatTemplateConfig& config);

// Renders the conversation with the model's template.
std::string apply_chat_template(const ChatTemplateConfig& config, const nlohmann::ordered_json& conversation);

}  // namespace dsinfer::jinja
