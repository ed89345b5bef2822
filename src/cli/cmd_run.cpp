// dsinfer run MODEL [PROMPT]: chat with a model from the terminal. With a
// prompt: answer once and exit. Without: an interactive multi-turn chat.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <iostream>
#include <memory>

#include "cli/chat_session.h"
#include "cli/chat_template_source.h"
#include "cli/commands.h"
#include "cli/interrupt.h"
#include "cli/model_options.h"
#include "cli/model_source.h"
#include "core/error.h"
#include "model/model.h"

namespace dsinfer::cli {

namespace {

struct RunOptions {
  std::string model;
  std::string prompt;
  ModelSourceOptions source;
  kernels::BackendOptions backend;
  ChatSessionOptions chat;
  int64_t context = 8192;
  model::CacheDType kv_cache_dtype = model::CacheDType::Auto;
};

void add_sampling_options(CLI::App& sub, engine::SamplingParams& s) {
  sub.add_option("--temperature", s.temperature, "0 = greedy")->check(CLI::Range(0.0f, 2.0f))->capture_default_str();
  sub.add_option("--top-p", s.top_p)->check(CLI::Range(0.000001f, 1.0f))->capture_default_str();
  sub.add_option("--top-k", s.top_k, "0 = off")->check(CLI::Range(0, 1 << 20))->capture_default_str();
  sub.add_option("--min-p", s.min_p)->check(CLI::Range(0.0f, 1.0f))->capture_default_str();
  sub.add_option("--repetition-penalty", s.repetition_penalty)->check(CLI::Range(0.01f, 10.0f))->capture_default_str();
  sub.add_option("--presence-penalty", s.presence_penalty)->check(CLI::Range(-2.0f, 2.0f))->capture_default_str();
  sub.add_option("--frequency-penalty", s.frequency_penalty)->check(CLI::Range(-2.0f, 2.0f))->capture_default_str();
  sub.add_option_function<uint64_t>("--seed", [&s](const uint64_t& v) {
    s.seed = v;
    s.has_seed = true;
  }, "random seed (reproducible sampling)");
}

void interactive(ChatSession& chat, InterruptWatcher& intr) {
  std::cout << "Chatting. /clear forgets the conversation, /exit or Ctrl-D quits, Ctrl-C stops an answer.\n";
  std::string line;
  for (;;) {
    std::cout << ">>> " << std::flush;
    if (!std::getline(std::cin, line)) break;
    if (line == "/exit" || line == "/quit") break;
    if (line == "/clear") {
      chat.clear();
      continue;
    }
    if (line.empty()) continue;
    intr.cancel() = false;
    intr.generating() = true;
    chat.ask(line, stdout, &intr.cancel());
    intr.generating() = false;
  }
  std::cout << "\n";
}

int run(RunOptions& o) {
  InterruptWatcher intr;  // before any thread exists
  const std::string dir = resolve_model(o.model, o.source);
  auto backend = kernels::make_backend(o.backend);
  auto model = model::Model::load(dir, *backend);
  const auto tok = tokenizer::Tokenizer::from_path(dir);
  const auto tmpl = load_any_chat_template(dir);
  engine::RunnerOptions ro;
  ro.max_tokens = std::min<int64_t>(o.context, model->config().max_position_embeddings);
  ro.kv_cache_dtype = o.kv_cache_dtype;
  o.chat.max_tokens = std::min<int64_t>(o.chat.max_tokens, ro.max_tokens);
  engine::SequenceRunner runner(*model, ro);
  o.chat.color = isatty(STDOUT_FILENO);
  ChatSession chat({runner, tok, tmpl}, o.chat);
  if (!o.prompt.empty()) {
    intr.generating() = true;
    chat.ask(o.prompt, stdout, &intr.cancel());
    return kExitOk;
  }
  interactive(chat, intr);
  return kExitOk;
}

}  // namespace

Command add_run_command(CLI::App& app) {
  auto o = std::make_shared<RunOptions>();
  o->chat.sampling.temperature = 0.6f;  // DeepSeek's recommendation for R1 models
  o->chat.sampling.top_p = 0.95f;
  Command c;
  c.sub = app.add_subcommand("run", "Chat with a model (a directory, a GGUF file or a Hugging Face repo id)");
  c.sub->add_option("model", o->model, "model directory, GGUF file, or ORG/NAME (ORG/NAME:Q4_K_M for a GGUF repository) on the Hugging Face hub")->required();
  c.sub->add_option("prompt", o->prompt, "answer this once and exit (interactive chat when absent)");
  c.sub->add_option("--max-tokens", o->chat.max_tokens, "tokens per answer")->check(CLI::Range(1, 1 << 20))->capture_default_str();
  c.sub->add_option("--context", o->context, "context length (tokens)")->check(CLI::Range(16, 1 << 22))->capture_default_str();
  c.sub->add_option("--system", o->chat.system, "system message");
  c.sub->add_option("--revision", o->source.revision, "hub revision (branch, tag or commit)")->capture_default_str();
  c.sub->add_flag("--offline", o->source.offline, "use the hub cache only, no network");
  c.sub->add_option("--threads", o->backend.threads, "threads (0: all)")->check(CLI::Range(0, 1024));
  add_isa_option(*c.sub, o->backend.isa);
  add_weight_options(*c.sub, o->backend);
  add_kv_cache_dtype_option(*c.sub, o->kv_cache_dtype);
  add_sampling_options(*c.sub, o->chat.sampling);
  c.run = [o] { return run(*o); };
  return c;
}

}  // namespace dsinfer::cli
