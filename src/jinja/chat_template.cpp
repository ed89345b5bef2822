#include "jinja/chat_template.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "jinja/template.h"

namespace dsinfer::jinja {

namespace fs = std::filesystem;

namespace {

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) fail("cannot open ", p.string());
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) fail("cannot read ", p.string());
  return ss.str();
}

nlohmann::ordered_json read_json(const fs::path& p) {
  std::string text = read_file(p);
  try {
    return nlohmann::ordered_json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail(p.string(), ": invalid JSON: ", e.what());
  }
}

// A special token is a string or an AddedToken object {"content": ...}.
std::optional<std::string> token_string(const nlohmann::ordered_json& config, const char* key,
                                        const std::string& origin) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object()) {
    auto c = it->find("content");
    if (c != it->end() && c->is_string()) return c->get<std::string>();
  }
  fail(origin, ": ", key, " must be a string or an object with a string \"content\"");
}

std::vector<std::pair<std::string, std::string>> templates_from(const nlohmann::ordered_json& value,
                                                                 const std::string& origin) {
  if (value.is_string()) return {{"default", value.get<std::string>()}};
  if (!value.is_array()) fail(origin, ": chat_template must be a string or a list of {\"name\", \"template\"}");
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& entry : value) {
    auto name = entry.is_object() ? entry.find("name") : entry.end();
    auto tmpl = entry.is_object() ? entry.find("template") : entry.end();
    if (!entry.is_object() || name == entry.end() || tmpl == entry.end() || !name->is_string() ||
        !tmpl->is_string()) {
      fail(origin, ": each chat_template entry must be {\"name\": string, \"template\": string}");
    }
    out.emplace_back(name->get<std::string>(), tmpl->get<std::string>());
  }
  return out;
}

ChatTemplateConfig load_from_directory(const fs::path& dir) {
  ChatTemplateConfig cfg;
  fs::path tok = dir / "tokenizer_config.json";
  std::error_code ec;
  if (fs::is_regular_file(tok, ec)) {
    nlohmann::ordered_json j = read_json(tok);
    if (!j.is_object()) fail(tok.string(), ": expected a JSON object");
    cfg.bos_token = token_string(j, "bos_token", tok.string());
    cfg.eos_token = token_string(j, "eos_token", tok.string());
    auto ct = j.find("chat_template");
    if (ct != j.end() && !ct->is_null()) {
      cfg.templates = templates_from(*ct, tok.string());
      cfg.origin = tok.string();
    }
  }
  if (fs::is_regular_file(dir / "chat_template.jinja", ec)) {
    cfg.templates = {{"default", read_file(dir / "chat_template.jinja")}};
    cfg.origin = (dir / "chat_template.jinja").string();
  } else if (cfg.templates.empty() && fs::is_regular_file(dir / "chat_template.json", ec)) {
    nlohmann::ordered_json j = read_json(dir / "chat_template.json");
    auto ct = j.is_object() ? j.find("chat_template") : j.end();
    if (ct == j.end()) fail((dir / "chat_template.json").string(), ": no \"chat_template\" key");
    cfg.templates = templates_from(*ct, (dir / "chat_template.json").string());
    cfg.origin = (dir / "chat_template.json").string();
  }
  if (cfg.templates.empty()) {
    fail("no chat template found in ", dir.string(),
         " (looked for chat_template.jinja, the chat_template of tokenizer_config.json, chat_template.json)");
  }
  return cfg;
}

}  // namespace

const std::string& ChatTemplateConfig::select(bool has_tools) const {
  const std::string* fallback = nullptr;
  for (const auto& [name, source] : templates) {
    if (has_tools && name == "tool_use") return source;
    if (name == "default") fallback = &source;
  }
  if (!fallback) fail(origin, ": the model has no \"default\" chat template");
  return *fallback;
}

ChatTemplateConfig chat_template_from_tokenizer_config(const nlohmann::ordered_json& config, const std::string& origin) {
  if (!config.is_object()) fail(origin, ": expected a JSON object");
  ChatTemplateConfig cfg;
  cfg.origin = origin;
  cfg.bos_token = token_string(config, "bos_token", origin);
  cfg.eos_token = token_string(config, "eos_token", origin);
  auto ct = config.find("chat_template");
  if (ct == config.end() || ct->is_null()) fail(origin, ": no chat_template");
  cfg.templates = templates_from(*ct, origin);
  return cfg;
}

ChatTemplateConfig load_chat_template(const std::string& path) {
  if (ends_with(path, ".gguf")) fail(path, ": chat templates from GGUF metadata are not yet supported");
  std::error_code ec;
  fs::path p(path);
  if (fs::is_directory(p, ec)) return load_from_directory(p);
  if (!fs::exists(p, ec)) fail(path, ": no such file or directory");
  if (ends_with(path, ".jinja")) {
    ChatTemplateConfig cfg;
    cfg.templates = {{"default", read_file(p)}};
    cfg.origin = path;
    return cfg;
  }
  return chat_template_from_tokenizer_config(read_json(p), path);
}

nlohmann::ordered_json chat_context(const nlohmann::ordered_json& conversation, const ChatTemplateConfig& config) {
  if (!conversation.is_object()) fail("the conversation must be a JSON object");
  auto messages = conversation.find("messages");
  if (messages == conversation.end() || !messages->is_array()) {
    fail("the conversation needs a \"messages\" array");
  }
  nlohmann::ordered_json ctx = nlohmann::ordered_json::object();
  ctx["messages"] = *messages;
  ctx["tools"] = conversation.value("tools", nlohmann::ordered_json());
  ctx["documents"] = conversation.value("documents", nlohmann::ordered_json());
  ctx["add_generation_prompt"] = conversation.value("add_generation_prompt", nlohmann::ordered_json(false));
  auto token = [&](const char* key, const std::optional<std::string>& model_value) {
    auto it = conversation.find(key);
    if (it != conversation.end() && !it->is_null()) {
      ctx[key] = *it;
    } else if (model_value) {
      ctx[key] = *model_value;
    }
  };
  token("bos_token", config.bos_token);
  token("eos_token", config.eos_token);
  for (auto it = conversation.begin(); it != conversation.end(); ++it) {
    if (it.key() == "bos_token" || it.key() == "eos_token" || ctx.contains(it.key())) continue;
    ctx[it.key()] = it.value();
  }
  return ctx;
}

std::string apply_chat_template(const ChatTemplateConfig& config, const nlohmann::ordered_json& conversation) {
  nlohmann::ordered_json ctx = chat_context(conversation, config);
  bool has_tools = !ctx["tools"].is_null();
  try {
    Template tmpl(config.select(has_tools));
    return tmpl.render(ctx);
  } catch (const Error& e) {
    fail("chat template ", config.origin, ": ", e.what());
  }
}

}  // namespace dsinfer::jinja
