#include "cli/chat_template_source.h"

#include "core/error.h"
#include "model/gguf_model.h"

namespace dsinfer::cli {

bool is_gguf_path(const std::string& path) { return model::is_gguf_file(path); }

std::optional<jinja::ChatTemplateConfig> tokenizer_chat_template(const tokenizer::Tokenizer& tok) {
  if (tok.chat_template().empty()) return std::nullopt;
  jinja::ChatTemplateConfig c;
  c.templates.emplace_back("default", tok.chat_template());
  if (tok.bos_id() >= 0) c.bos_token = tok.bos_token();
  if (tok.eos_id() >= 0) c.eos_token = tok.eos_token();
  c.origin = tok.source();
  return c;
}

jinja::ChatTemplateConfig load_any_chat_template(const std::string& path) {
  if (!is_gguf_path(path)) return jinja::load_chat_template(path);
  auto c = tokenizer_chat_template(tokenizer::Tokenizer::from_path(path));
  if (!c) fail(path, ": the GGUF metadata has no tokenizer.chat_template");
  return *c;
}

}  // namespace dsinfer::cli
