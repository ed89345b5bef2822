// dsinfer inspect: architecture summary of a checkpoint.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/model_options.h"

namespace dsinfer::cli {

namespace {

struct InspectOptions {
  ModelOptions model;
  bool json = false;
};

std::string human(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) {
    bytes /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f %s", bytes, units[u]);
  return buf;
}

nlohmann::ordered_json summary(const model::Model& m) {
  const auto& c = m.config();
  const auto st = m.weight_stats();
  const auto kv = m.kv_spec(model::CacheDType::F32);
  const auto kv_auto = m.kv_spec();
  nlohmann::ordered_json j;
  j["model_type"] = c.model_type;
  j["num_hidden_layers"] = c.num_hidden_layers;
  j["hidden_size"] = c.hidden_size;
  j["vocab_size"] = c.vocab_size;
  j["attention"] = c.is_deepseek() ? (c.q_lora_rank ? "MLA (q low-rank)" : "MLA") : "GQA";
  if (c.is_deepseek()) {
    j["moe_layers"] = c.num_hidden_layers - c.first_k_dense_replace;
    j["experts"] = {{"routed", c.n_routed_experts}, {"shared", c.n_shared_experts}, {"per_token", c.num_experts_per_tok},
                    {"topk_method", c.topk_method}, {"scoring_func", c.scoring_func}};
    j["mtp_layers"] = c.num_nextn_predict_layers;
    j["mtp_tensors_skipped"] = st.mtp_tensors;
  }
  j["params_total"] = st.params_total;
  j["params_active_per_token"] = st.params_active;
  j["params_multiplied_per_prompt_token"] = st.params_prefill;
  j["params_lm_head"] = st.params_lm_head;
  j["kv_cache_values_per_token"] = kv.values_per_token();
  j["kv_cache_bytes_per_token_f32"] = kv.bytes_per_token();
  j["kv_cache_dtype"] = kv_auto.dtype == DType::BF16 ? "bf16" : "f32";  // what --kv-cache-dtype auto picks
  j["kv_cache_bytes_per_token"] = kv_auto.bytes_per_token();
  nlohmann::ordered_json d;
  for (const auto& [k, v] : st.bytes_by_dtype) d[k] = v;
  j["weight_bytes_by_dtype"] = d;
  j["decode_weight_bytes_per_token"] = st.decode_bytes_per_token;
  return j;
}

int run(const InspectOptions& o) {
  LoadedModel m = load_model(o.model);
  const auto j = summary(*m.model);
  if (o.json) {
    std::cout << j.dump(2) << "\n";
    return kExitOk;
  }
  for (auto it = j.begin(); it != j.end(); ++it) {
    std::cout << it.key() << ": ";
    const std::string k = it.key();
    if (it->is_number_unsigned() && k.find("bytes") != std::string::npos)
      std::cout << human(it->get<double>()) << " (" << it->get<uint64_t>() << ")";
    else if (it->is_string())
      std::cout << it->get<std::string>();
    else
      std::cout << it->dump();
    std::cout << "\n";
  }
  return kExitOk;
}

}  // namespace

Command add_inspect_command(CLI::App& app) {
  auto o = std::make_shared<InspectOptions>();
  Command c;
  c.sub = app.add_subcommand("inspect", "Architecture summary: parameters, KV cache and decode bytes per token");
  add_model_options(*c.sub, o->model);
  c.sub->add_flag("--json", o->json, "print one JSON object");
  c.run = [o] { return run(*o); };
  return c;
}

}  // namespace dsinfer::cli
