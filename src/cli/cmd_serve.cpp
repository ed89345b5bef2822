// dsinfer serve: the OpenAI-compatible HTTP server over one engine. Binds
// first (so /health answers 503 while the model loads), loads the model,
// tokenizer and chat template, prints one ready line and serves until
// SIGINT/SIGTERM.
#include <CLI/CLI.hpp>
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>

#include "cli/chat_template_source.h"
#include "cli/commands.h"
#include "cli/model_options.h"
#include "cli/model_source.h"
#include "core/error.h"
#include "engine/engine.h"
#include "jinja/chat_template.h"
#include "server/server.h"

namespace dsinfer::cli {

namespace {


struct ServeOptions {
  std::string model;
  ModelSourceOptions source;  // a hub repo id: --revision, --offline
  std::string tokenizer;
  std::string chat_template;
  std::string type = "bf16";
  kernels::BackendOptions backend;  // cpu: --threads, --isa, weight options
  int64_t kv_cache_mib = 512;
  server::ServerOptions server;
  engine::EngineOptions engine;
};

struct Loaded {
  std::unique_ptr<kernels::Backend> backend;
  std::unique_ptr<tokenizer::Tokenizer> tok;
  std::unique_ptr<model::Model> model;
  std::optional<jinja::ChatTemplateConfig> chat_template;
};

// --chat-template, else a GGUF tokenizer's own template, else the tokenizer's directory, else tokenizer_config.json's
// template seen by the tokenizer; none is a warning (chat completions answer 400).
std::optional<jinja::ChatTemplateConfig> load_template(const ServeOptions& o, const std::string& tok_path,
                                                       const tokenizer::Tokenizer& tok) {
  std::optional<jinja::ChatTemplateConfig> cfg;
  if (!o.chat_template.empty()) {
    cfg = load_any_chat_template(o.chat_template);
  } else if (is_gguf_path(tok_path) && (cfg = tokenizer_chat_template(tok))) {
    // a GGUF model carries its template
  } else {
    namespace fs = std::filesystem;
    const fs::path dir = fs::is_directory(tok_path) ? fs::path(tok_path) : fs::path(tok_path).parent_path();
    try {
      cfg = jinja::load_chat_template(dir.string());
    } catch (const Error& e) {
      if (!tok.chat_template().empty()) {
        cfg = jinja::ChatTemplateConfig{{{"default", tok.chat_template()}}, std::nullopt, std::nullopt, tok.source()};
      } else {
        std::cerr << "dsinfer serve: warning: no chat template (" << e.what()
                  << "); /v1/chat/completions is disabled, pass --chat-template\n";
        return std::nullopt;
      }
    }
  }
  if (!cfg->bos_token && tok.bos_id() >= 0) cfg->bos_token = tok.bos_token();
  if (!cfg->eos_token && tok.eos_id() >= 0) cfg->eos_token = tok.eos_token();
  return cfg;
}

Loaded load(const ServeOptions& o) {
  Loaded m;
  const bool synthetic = is_synthetic(o.model);
  if (synthetic && o.tokenizer.empty()) fail("a synthetic model needs --tokenizer PATH");
  const std::string model = synthetic ? o.model : resolve_model(o.model, o.source);
  const std::string tok_path = o.tokenizer.empty() ? model : o.tokenizer;
  m.tok = std::make_unique<tokenizer::Tokenizer>(tokenizer::Tokenizer::from_path(tok_path));
  m.backend = kernels::make_backend(o.backend);
  m.model = load_model_spec({model, o.type, synthetic ? m.tok->vocab_size() : 0}, *m.backend);
  m.chat_template = load_template(o, tok_path, *m.tok);
  return m;
}

sigset_t stop_signals() {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGINT);
  sigaddset(&s, SIGTERM);
  return s;
}

int run(ServeOptions o) {
  // Blocked before any thread starts, so every thread inherits the mask and only sigwait sees them.
  const sigset_t signals = stop_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  if (o.server.served_model_name.empty()) o.server.served_model_name = o.model;
  o.engine.kv_cache_bytes = static_cast<size_t>(o.kv_cache_mib) << 20;
  // Each open stream holds an HTTP thread: room for every running and some waiting requests.
  o.server.http_threads = static_cast<int>(std::clamp<int64_t>(2 * o.engine.max_num_seqs + 16, 64, 1024));
  Loaded m;
  std::unique_ptr<engine::Engine> engine;
  server::Server srv(o.server);
  const int port = srv.bind();
  srv.start();
  std::atomic<bool> signalled{false};
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    signalled = true;
    srv.stop();
  });
  struct JoinWaiter {
    std::thread& t;
    std::atomic<bool>& done;
    ~JoinWaiter() {
      if (!done) pthread_kill(t.native_handle(), SIGTERM);
      t.join();
    }
  } join_waiter{waiter, signalled};
  std::cerr << "dsinfer serve: loading " << o.model << "\n";
  m = load(o);
  engine = std::make_unique<engine::Engine>(*m.model, *m.tok, o.engine);
  const model::KVCache& kv = engine->kv_cache();
  std::cerr << "dsinfer serve: KV cache " << (kv.bytes() >> 20) << " MiB of " << dtype_name(kv.dtype()) << ": "
            << kv.num_blocks() * kv.block_size() << " tokens, up to " << engine->max_model_len() << " per request\n";
  engine->start();
  srv.attach({engine.get(), m.tok.get(), m.chat_template});
  if (signalled) return kExitOk;
  std::cout << "dsinfer serve: listening on http://" << o.server.host << ":" << port << std::endl;
  srv.wait();
  srv.stop();
  engine->stop();
  return kExitOk;
}

}  // namespace

Command add_serve_command(CLI::App& app) {
  auto o = std::make_shared<ServeOptions>();
  Command c;
  c.sub = app.add_subcommand("serve", "OpenAI-compatible HTTP server (/v1/chat/completions, /v1/completions, ...)");
  c.sub->add_option("model", o->model,
                    "model directory, GGUF file, hub repo id (ORG/NAME, ORG/NAME:Q4_K_M for a GGUF repository), or "
                    "synthetic:PRESET (random weights; needs --tokenizer)")
      ->required();
  c.sub->add_option("--revision", o->source.revision, "hub revision (branch, tag or commit)")->capture_default_str();
  c.sub->add_flag("--offline", o->source.offline, "use the hub cache only, no network");
  c.sub->add_option("--host", o->server.host, "address to bind")->capture_default_str();
  c.sub->add_option("--port", o->server.port, "port (0: any free port, printed when ready)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  c.sub->add_option("--api-key", o->server.api_key, "require \"Authorization: Bearer KEY\" on /v1 routes");
  c.sub->add_option("--served-model-name", o->server.served_model_name, "model name clients use (default: MODEL)");
  c.sub->add_option("--max-model-len", o->engine.max_model_len, "context length (0: the model's, capped by the cache)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 30));
  c.sub->add_option("--max-num-seqs", o->engine.max_num_seqs, "sequences running at once")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 16))
      ->capture_default_str();
  c.sub->add_option("--max-num-batched-tokens", o->engine.max_num_batched_tokens, "tokens per engine step")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 24))
      ->capture_default_str();
  c.sub->add_option("--max-queue", o->engine.max_queue, "waiting requests before 429")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 24))
      ->capture_default_str();
  c.sub->add_option("--kv-cache-mib", o->kv_cache_mib, "KV cache size in MiB")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 24))
      ->capture_default_str();
  c.sub->add_option("--tokenizer", o->tokenizer, "tokenizer.json, a directory or a .gguf (default: MODEL)");
  c.sub->add_option("--chat-template", o->chat_template, "chat template (.jinja file or tokenizer_config.json)")
      ->check(CLI::ExistingFile);
  c.sub->add_option("--type", o->type, "weight type of synthetic models")
      ->check(CLI::IsMember({"bf16", "f32", "fp8", "q8_0", "q4_0", "q5_0", "q4_k", "q5_k", "q6_k"}))
      ->capture_default_str();
  c.sub->add_option("--threads", o->backend.threads, "compute threads (0: all cores)")
      ->check(CLI::Range(0, 1024))
      ->capture_default_str();
  add_isa_option(*c.sub, o->backend.isa);
  add_weight_options(*c.sub, o->backend);
  add_kv_cache_dtype_option(*c.sub, o->engine.kv_cache_dtype);
  c.run = [o] { return run(*o); };
  return c;
}

}  // namespace dsinfer::cli
