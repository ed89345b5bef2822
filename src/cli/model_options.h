// Options every model-running command shares (--model, --backend, --threads)
// and the loading they imply.
#pragma once

#include <memory>
#include <string>

#include "kernels/backend.h"
#include "model/model.h"

namespace CLI {
class App;
}

namespace dsinfer::cli {

struct ModelOptions {
  std::string model_dir;
  kernels::BackendOptions backend;
  model::CacheDType kv_cache_dtype = model::CacheDType::Auto;
};

void add_model_options(CLI::App& sub, ModelOptions& o);

// --isa: the CPU backend's SIMD level ("auto", "amx", "avx512", "avx2", "scalar"), so
// the lower levels can be run and measured on a machine that has the higher ones.
void add_isa_option(CLI::App& sub, std::string& isa);
// --kv-cache-dtype auto|f32|bf16 (model::CacheDType).
void add_kv_cache_dtype_option(CLI::App& sub, model::CacheDType& dtype);
// --mmap, --stripes (--no-stripes) and --activations: BackendOptions::map_weights,
// stripe_weights and activations (Auto by default).
void add_weight_options(CLI::App& sub, kernels::BackendOptions& o);

struct LoadedModel {
  std::unique_ptr<kernels::Backend> backend;
  std::unique_ptr<model::Model> model;
};

LoadedModel load_model(const ModelOptions& o);

// A model directory, or `synthetic:PRESET` (random weights with a released
// model's shapes) in weight type `type` ("bf16", "f32", "fp8", "q8_0",
// "q4_0", "q4_k") with its vocabulary resized to vocab_size when > 0.
struct ModelSpec {
  std::string model;
  std::string type = "bf16";
  int64_t vocab_size = 0;
};
bool is_synthetic(const std::string& model);
std::unique_ptr<model::Model> load_model_spec(const ModelSpec& spec, kernels::Backend& backend);

}  // namespace dsinfer::cli
