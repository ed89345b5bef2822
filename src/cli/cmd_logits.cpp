// dsinfer logits: float32 logits of every position of every case. Used by
// outside checks; keep the interface stable.
#include <CLI/CLI.hpp>

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/model_options.h"
#include "core/error.h"
#include "engine/sequence_runner.h"

namespace dsinfer::cli {

namespace {

struct LogitsOptions {
  ModelOptions model;
  std::string input;
  std::string output;
  std::string mla = "auto";
};

nlohmann::ordered_json read_cases(const std::string& path) {
  std::ifstream f(path);
  if (!f) fail("cannot open ", path);
  nlohmann::ordered_json j;
  try {
    j = nlohmann::ordered_json::parse(f);
  } catch (const nlohmann::json::exception& e) {
    fail(path, ": invalid JSON: ", e.what());
  }
  if (!j.is_object() || !j.contains("cases") || !j["cases"].is_array())
    fail(path, ": expected an object with a \"cases\" array");
  return j;
}

std::vector<int32_t> case_tokens(const nlohmann::ordered_json& c, size_t i, const std::string& path) {
  if (!c.is_object() || !c.contains("tokens") || !c["tokens"].is_array() || c["tokens"].empty())
    fail(path, ": case ", i, " needs a non-empty \"tokens\" array");
  std::vector<int32_t> t;
  for (const auto& v : c["tokens"]) {
    if (!v.is_number_integer()) fail(path, ": case ", i, ": tokens must be integers");
    t.push_back(v.get<int32_t>());
  }
  return t;
}

int run(const LogitsOptions& o) {
  nlohmann::ordered_json j = read_cases(o.input);
  LoadedModel m = load_model(o.model);
  const int64_t vocab = m.model->config().vocab_size;
  engine::RunnerOptions ro;
  ro.forward.mla_mode = o.mla == "plain" ? model::MlaMode::Plain
                        : o.mla == "absorbed" ? model::MlaMode::Absorbed : model::MlaMode::Auto;
  size_t longest = 1;
  for (size_t i = 0; i < j["cases"].size(); ++i) longest = std::max(longest, case_tokens(j["cases"][i], i, o.input).size());
  ro.max_tokens = static_cast<int64_t>(longest);
  ro.kv_cache_dtype = o.model.kv_cache_dtype;
  engine::SequenceRunner runner(*m.model, ro);
  for (size_t i = 0; i < j["cases"].size(); ++i) {
    auto& c = j["cases"][i];
    const std::vector<int32_t> tokens = case_tokens(c, i, o.input);
    runner.reset();
    const std::vector<float> logits = runner.feed(tokens, true);
    nlohmann::ordered_json rows = nlohmann::ordered_json::array();
    for (size_t p = 0; p < tokens.size(); ++p)
      rows.push_back(std::vector<float>(logits.begin() + static_cast<int64_t>(p) * vocab,
                                        logits.begin() + static_cast<int64_t>(p + 1) * vocab));
    c["logits"] = std::move(rows);
  }
  std::ofstream out(o.output);
  if (!out) fail("cannot write ", o.output);
  out << j.dump() << "\n";
  if (!out) fail("error writing ", o.output);
  return kExitOk;
}

}  // namespace

Command add_logits_command(CLI::App& app) {
  auto o = std::make_shared<LogitsOptions>();
  Command c;
  c.sub = app.add_subcommand("logits", "Float32 logits for every position of token-id cases");
  add_model_options(*c.sub, o->model);
  c.sub->add_option("--input", o->input, "JSON {\"cases\":[{\"tokens\":[...]}, ...]}")->required();
  c.sub->add_option("--output", o->output, "output JSON: the input with \"logits\" added to each case")->required();
  c.sub->add_option("--mla", o->mla, "MLA attention form (DeepSeek models)")
      ->check(CLI::IsMember({"auto", "plain", "absorbed"}))
      ->capture_default_str();
  c.run = [o] { return run(*o); };
  return c;
}

}  // namespace dsinfer::cli
