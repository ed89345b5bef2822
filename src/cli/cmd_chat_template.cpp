// dsinfer chat-template: renders a conversation with a model's chat template
// and prints the prompt exactly (no newline added).
#include <CLI/CLI.hpp>

#include <nlohmann/json.hpp>

#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>

#include "cli/chat_template_source.h"
#include "cli/commands.h"
#include "core/error.h"
#include "jinja/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace dsinfer::cli {

namespace {

struct ChatTemplateOptions {
  std::string model;
  std::string input;
};

nlohmann::ordered_json read_conversation(const std::string& path) {
  std::string text;
  if (path == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    std::ifstream f(path, std::ios::binary);
    if (!f) fail("cannot open ", path);
    text.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  }
  try {
    return nlohmann::ordered_json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail(path, ": invalid JSON: ", e.what());
  }
}

int run_chat_template(const ChatTemplateOptions& opt) {
  jinja::ChatTemplateConfig config = load_any_chat_template(opt.model);
  nlohmann::ordered_json conversation = read_conversation(opt.input);
  std::string prompt = jinja::apply_chat_template(config, conversation);
  std::cout.write(prompt.data(), static_cast<std::streamsize>(prompt.size()));
  std::cout.flush();
  if (!std::cout) fail("cannot write the prompt to stdout");
  return kExitOk;
}

}  // namespace

Command add_chat_template_command(CLI::App& app) {
  auto opt = std::make_shared<ChatTemplateOptions>();
  Command c;
  c.sub = app.add_subcommand("chat-template", "Render a conversation with a model's chat template");
  c.sub->add_option("--model", opt->model,
                    "model directory, tokenizer_config.json, or .jinja template file")
      ->required();
  c.sub->add_option("--input", opt->input,
                    "conversation JSON: {\"messages\": [...], \"tools\": [...], \"add_generation_prompt\": bool, "
                    "\"bos_token\": \"...\", \"eos_token\": \"...\", other keys passed to the template}; - for stdin")
      ->required();
  c.run = [opt] { return run_chat_template(*opt); };
  return c;
}

}  // namespace dsinfer::cli
