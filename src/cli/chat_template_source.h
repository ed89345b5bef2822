// Where a chat template is read from: a model directory, tokenizer_config.json,
// a .jinja file, or a GGUF file's tokenizer metadata.
#pragma once

#include <optional>
#include <string>

#include "jinja/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace dsinfer::cli {

bool is_gguf_path(const std::string& path);

// The template of a GGUF's tokenizer, special tokens included; nullopt when it has none.
std::optional<jinja::ChatTemplateConfig> tokenizer_chat_template(const tokenizer::Tokenizer& tok);

// A .gguf file: its tokenizer.chat_template (an Error when it has none);
// anything else as jinja::load_chat_template reads it.
jinja::ChatTemplateConfig load_any_chat_template(const std::string& path);

}  // namespace dsinfer::cli
