#include "cli/model_options.h"

#include <CLI/CLI.hpp>

namespace dsinfer::cli {

void add_model_options(CLI::App& sub, ModelOptions& o) {
  sub.add_option("--model", o.model_dir, "Hugging Face model directory (config.json + *.safetensors)")
      ->required()
      ->check(CLI::ExistingDirectory);
  sub.add_option("--backend", o.backend.name, "compute backend")
      ->check(CLI::IsMember({"cpu", "reference"}))
      ->capture_default_str();
  sub.add_option("--threads", o.backend.threads, "worker threads (0: all cores)")
      ->check(CLI::Range(0, 1024))
      ->capture_default_str();
}

LoadedModel load_model(const ModelOptions& o) {
  LoadedModel m;
  m.backend = kernels::make_backend(o.backend);
  m.model = model::Model::load(o.model_dir, *m.backend);
  return m;
}

}  // namespace dsinfer::cli
