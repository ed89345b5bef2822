// dsinfer tokenize: encode a batch of texts with a model's tokenizer.
//   in.json:  {"texts": ["...", ...], "add_special_tokens": false}
//   out.json: {"ids": [[...], ...]}
#include <CLI/CLI.hpp>

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.h"
#include "core/error.h"
#include "tokenizer/tokenizer.h"

namespace dsinfer::cli {

namespace {

struct TokenizeOptions {
  std::string tokenizer;
  std::string input;
  std::string output;
};

nlohmann::json read_input(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open input ", path);
  std::ostringstream os;
  os << in.rdbuf();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(os.str());
  } catch (const nlohmann::json::exception& e) {
    fail(path, ": invalid JSON: ", e.what());
  }
  if (!j.is_object() || !j.contains("texts") || !j["texts"].is_array()) {
    fail(path, ": expected an object with \"texts\": [string, ...]");
  }
  for (size_t k = 0; k < j["texts"].size(); ++k) {
    if (!j["texts"][k].is_string()) fail(path, ": texts[", k, "] is not a string");
  }
  if (j.contains("add_special_tokens") && !j["add_special_tokens"].is_boolean()) {
    fail(path, ": add_special_tokens must be true or false");
  }
  return j;
}

int run(const TokenizeOptions& o) {
  const auto tok = tokenizer::Tokenizer::from_path(o.tokenizer);
  const nlohmann::json in = read_input(o.input);
  const bool add_special = in.value("add_special_tokens", false);
  nlohmann::json ids = nlohmann::json::array();
  for (const auto& t : in["texts"]) ids.push_back(tok.encode(t.get_ref<const std::string&>(), add_special));
  std::ofstream out(o.output, std::ios::binary);
  if (!out) fail("cannot write output ", o.output);
  out << nlohmann::json{{"ids", ids}}.dump() << "\n";
  if (!out.flush()) fail("error writing output ", o.output);
  return kExitOk;
}

}  // namespace

Command add_tokenize_command(CLI::App& app) {
  auto o = std::make_shared<TokenizeOptions>();
  Command c;
  c.sub = app.add_subcommand("tokenize", "Encode texts with a model's tokenizer (tokenizer.json or GGUF)");
  c.sub->add_option("--tokenizer", o->tokenizer, "model directory, tokenizer.json or .gguf file")->required();
  c.sub->add_option("--input", o->input, "JSON file {\"texts\": [...], \"add_special_tokens\": false}")->required();
  c.sub->add_option("--output", o->output, "JSON file to write {\"ids\": [[...], ...]}")->required();
  c.run = [o] { return run(*o); };
  return c;
}

}  // namespace dsinfer::cli
