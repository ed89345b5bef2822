// dsinfer generate: greedy decoding from token ids (text in/out comes with the tokenizer).
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>
#include <sstream>

#include "cli/commands.h"
#include "cli/model_options.h"
#include "core/error.h"
#include "engine/sequence_runner.h"

namespace dsinfer::cli {

namespace {

struct GenerateOptions {
  ModelOptions model;
  std::string tokens;
  int64_t max_tokens = 16;
};

std::vector<int32_t> parse_ids(const std::string& s) {
  std::vector<int32_t> ids;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size() || v < 0 || v > INT32_MAX)
      throw CLI::ValidationError("--tokens", "\"" + item + "\" is not a token id");
    ids.push_back(static_cast<int32_t>(v));
  }
  if (ids.empty()) throw CLI::ValidationError("--tokens", "needs at least one token id");
  return ids;
}

int run(const GenerateOptions& o) {
  const std::vector<int32_t> prompt = parse_ids(o.tokens);
  LoadedModel m = load_model(o.model);
  engine::RunnerOptions ro;
  ro.max_tokens = static_cast<int64_t>(prompt.size()) + o.max_tokens;
  ro.kv_cache_dtype = o.model.kv_cache_dtype;
  engine::SequenceRunner runner(*m.model, ro);
  const std::vector<int32_t> out = engine::greedy_generate(runner, prompt, o.max_tokens);
  for (size_t i = 0; i < out.size(); ++i) std::cout << (i ? "," : "") << out[i];
  std::cout << "\n";
  return kExitOk;
}

}  // namespace

Command add_generate_command(CLI::App& app) {
  auto o = std::make_shared<GenerateOptions>();
  Command c;
  c.sub = app.add_subcommand("generate", "Greedy decoding from token ids; prints the new ids");
  add_model_options(*c.sub, o->model);
  c.sub->add_option("--tokens", o->tokens, "prompt token ids, comma-separated (e.g. 1,2,3)")->required();
  c.sub->add_option("--max-tokens", o->max_tokens, "number of tokens to generate")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20))
      ->capture_default_str();
  c.run = [o] {
    try {
      return run(*o);
    } catch (const CLI::ValidationError& e) {
      std::cerr << "error: " << e.what() << "\n";
      return kExitUsage;
    }
  };
  return c;
}

}  // namespace dsinfer::cli
