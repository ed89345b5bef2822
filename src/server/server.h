// The OpenAI-compatible HTTP server: /v1/chat/completions, /v1/completions,
// /v1/models, /health and /metrics over one engine::Engine.
//
// Life cycle: construct, bind() (port 0 picks a free port), start() (serves on
// a background thread; /health answers 503 and /v1 routes 503 until a model
// is attached), attach() the model once it is loaded, stop(). The attached
// engine, tokenizer and chat template must outlive the server or its stop().
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "engine/engine.h"
#include "jinja/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace dsinfer::server {

struct ServerOptions {
  std::string host = "127.0.0.1";   // loopback only unless asked otherwise
  int port = 8000;                  // 0: any free port (see Server::port())
  std::string api_key;              // "": no authentication
  std::string served_model_name;    // the name clients put in "model"
  size_t max_body_bytes = size_t{8} << 20;
  int http_threads = 64;            // connections served at once (each stream holds one)
};

// What the server serves. chat_template may be empty (no template: chat
// completions answer 400, completions still work).
struct ServedModel {
  engine::Engine* engine = nullptr;
  const tokenizer::Tokenizer* tokenizer = nullptr;
  std::optional<jinja::ChatTemplateConfig> chat_template;
};

class Server {
 public:
  explicit Server(ServerOptions opts);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds options().host:options().port; returns the port bound. Throws dsinfer::Error.
  int bind();
  // Serves on a background thread until stop(). bind() first.
  void start();
  // Makes the model available; /health turns 200.
  void attach(ServedModel model);
  // Stops accepting, ends open streams, joins the server thread. Idempotent.
  void stop();
  // Blocks until the server thread ends (after stop(), or if listening failed).
  void wait();

  int port() const;
  bool ready() const;
  const ServerOptions& options() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace dsinfer::server
