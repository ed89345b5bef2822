#include "server/chat_prompt.h"

#include <string_view>

#include "core/error.h"
#include "engine/reasoning.h"

namespace dsinfer::server {

namespace {

constexpr size_t kMaxMessages = 4096;

std::string msg_param(size_t i, std::string_view field) { return cat("messages[", i, "].", field); }

// A string, or a list of {"type": "text", "text": "..."} parts joined with newlines.
Json message_content(const Json& m, size_t i, bool nullable) {
  auto it = m.find("content");
  if (it == m.end() || it->is_null()) {
    if (nullable) return Json();
    throw bad_request(cat("'", msg_param(i, "content"), "' is required"), msg_param(i, "content"));
  }
  if (it->is_string()) return *it;
  if (!it->is_array())
    throw bad_request(cat("'", msg_param(i, "content"), "' must be a string or a list of content parts"),
                      msg_param(i, "content"));
  std::string text;
  for (const auto& part : *it) {
    if (!part.is_object() || part.value("type", Json()) != Json("text") || !part.contains("text") ||
        !part["text"].is_string())
      throw bad_request(cat("'", msg_param(i, "content"), "': only {\"type\": \"text\", \"text\": string} parts are ",
                            "supported"),
                        msg_param(i, "content"));
    if (!text.empty()) text += "\n";
    text += part["text"].get<std::string>();
  }
  return text;
}

std::string message_role(const Json& m, size_t i) {
  auto it = m.find("role");
  if (it == m.end() || !it->is_string())
    throw bad_request(cat("'", msg_param(i, "role"), "' must be a string"), msg_param(i, "role"));
  const std::string role = it->get<std::string>();
  if (role == "developer") return "system";
  if (role != "system" && role != "user" && role != "assistant" && role != "tool")
    throw bad_request(cat("'", msg_param(i, "role"), "' must be one of system, user, assistant, tool; got '", role,
                          "'"),
                      msg_param(i, "role"));
  return role;
}

Json message(const Json& m, size_t i) {
  if (!m.is_object()) throw bad_request(cat("messages[", i, "] must be an object"), cat("messages[", i, "]"));
  Json out = Json::object();
  out["role"] = message_role(m, i);
  const bool assistant = out["role"] == "assistant";
  out["content"] = message_content(m, i, assistant);
  for (const char* key : {"name", "tool_call_id"}) {
    if (!m.contains(key) || m[key].is_null()) continue;
    if (!m[key].is_string()) throw bad_request(cat("'", msg_param(i, key), "' must be a string"), msg_param(i, key));
    out[key] = m[key];
  }
  if (m.contains("tool_calls") && !m["tool_calls"].is_null()) {
    if (!assistant || !m["tool_calls"].is_array())
      throw bad_request(cat("'", msg_param(i, "tool_calls"), "' must be a list on an assistant message"),
                        msg_param(i, "tool_calls"));
    out["tool_calls"] = m["tool_calls"];
  }
  return out;
}

void merge_template_kwargs(const Json& body, Json& conv) {
  auto it = body.find("chat_template_kwargs");
  if (it == body.end() || it->is_null()) return;
  if (!it->is_object()) throw bad_request("'chat_template_kwargs' must be an object", "chat_template_kwargs");
  for (auto kv = it->begin(); kv != it->end(); ++kv)
    if (kv.key() != "messages" && kv.key() != "add_generation_prompt") conv[kv.key()] = kv.value();
}

}  // namespace

Json chat_conversation(const Json& body) {
  auto it = body.find("messages");
  if (it == body.end() || !it->is_array() || it->empty())
    throw bad_request("'messages' must be a non-empty list of messages", "messages");
  if (it->size() > kMaxMessages) throw bad_request(cat("at most ", kMaxMessages, " messages are allowed"), "messages");
  Json messages = Json::array();
  for (size_t i = 0; i < it->size(); ++i) messages.push_back(message((*it)[i], i));
  Json conv = Json::object();
  conv["messages"] = std::move(messages);
  conv["add_generation_prompt"] = true;
  auto tools = body.find("tools");
  if (tools != body.end() && !tools->is_null()) {
    if (!tools->is_array()) throw bad_request("'tools' must be a list", "tools");
    if (!tools->empty()) conv["tools"] = *tools;
  }
  merge_template_kwargs(body, conv);
  return conv;
}

ChatPrompt build_chat_prompt(const ServerContext& ctx, const Json& conversation) {
  if (!ctx.chat_template)
    throw bad_request("This server has no chat template (start it with --chat-template); use /v1/completions");
  ChatPrompt p;
  try {
    p.text = jinja::apply_chat_template(*ctx.chat_template, conversation);
  } catch (const Error& e) {
    throw bad_request(e.what(), "messages");
  }
  const tokenizer::Tokenizer& tok = *ctx.tok;
  p.ids = tok.encode(p.text, false);
  // Templates that write BOS themselves do; for the others, add it as encode would.
  const bool has_bos = !tok.bos_token().empty() && p.text.rfind(tok.bos_token(), 0) == 0;
  if (tok.add_bos() && tok.bos_id() >= 0 && !has_bos) p.ids.insert(p.ids.begin(), tok.bos_id());
  p.opens_think = engine::ReasoningSplitter::prompt_opens_think(p.text);
  return p;
}

}  // namespace dsinfer::server
