#include "cli/model_options.h"

#include <CLI/CLI.hpp>

#include <string_view>

#include "core/error.h"
#include "model/synthetic.h"

namespace dsinfer::cli {

void add_model_options(CLI::App& sub, ModelOptions& o) {
  sub.add_option("--model", o.model_dir, "Hugging Face model directory (config.json + *.safetensors) or GGUF model file")
      ->required()
      ->check(CLI::ExistingPath);
  sub.add_option("--backend", o.backend.name, "compute backend")
      ->check(CLI::IsMember({"cpu", "reference"}))
      ->capture_default_str();
  sub.add_option("--threads", o.backend.threads, "worker threads (0: all cores)")
      ->check(CLI::Range(0, 1024))
      ->capture_default_str();
  add_isa_option(sub, o.backend.isa);
  add_weight_options(sub, o.backend);
  add_kv_cache_dtype_option(sub, o.kv_cache_dtype);
}

void add_kv_cache_dtype_option(CLI::App& sub, model::CacheDType& dtype) {
  sub.add_option_function<std::string>(
         "--kv-cache-dtype", [&dtype](const std::string& name) { dtype = model::parse_cache_dtype(name); },
         "KV cache element type (auto: bf16 for integer-quantized weights, f32 for float ones)")
      ->check(CLI::IsMember({"auto", "f32", "bf16"}))
      ->default_str("auto");
}

void add_weight_options(CLI::App& sub, kernels::BackendOptions& o) {
  sub.add_flag("--mmap", o.map_weights,
               "use quantized weights stored in the CPU kernels' layout where the checkpoint is mapped (less memory; "
               "default: copied onto huge pages at load, faster decode)");
  using S = kernels::BackendOptions::Stripes;
  sub.add_option_function<std::string>(
         "--stripes", [&o](const std::string& v) { o.stripe_weights = v == "on" ? S::On : v == "off" ? S::Off : S::Auto; },
         "cut each quantized matrix's copy into 8 stripes 32 MB apart (on) or keep it in one piece (off); auto: "
         "stripes on AMD CPUs, where decode reads them faster")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->default_str("auto");
  sub.add_flag_callback("--no-stripes", [&o] { o.stripe_weights = S::Off; }, "the same as --stripes off");
  using A = kernels::BackendOptions::Activations;
  o.activations = A::Auto;
  sub.add_option_function<std::string>(
         "--activations",
         [&o](const std::string& name) { o.activations = name == "f32" ? A::F32 : name == "bf16" ? A::BF16 : A::Auto; },
         "what products with bf16 weights multiply them with: bf16 (the CPU's bf16 dot products, ~2x prefill on "
         "AMD's AVX512_BF16, as llama.cpp and vLLM), f32 (logits as the float32 reference), auto: bf16 where the "
         "CPU's bf16 dot products outrun its f32 FMA")
      ->check(CLI::IsMember({"auto", "f32", "bf16"}))
      ->default_str("auto");
  sub.add_flag_callback("--bf16-activations", [&o] { o.activations = A::BF16; }, "same as --activations bf16");
}

void add_isa_option(CLI::App& sub, std::string& isa) {
  sub.add_option("--isa", isa, "CPU SIMD level (auto: the best this CPU has)")
      ->check(CLI::IsMember({"auto", "amx", "avx512", "avx2", "scalar"}))
      ->capture_default_str();
}

namespace {
constexpr std::string_view kSynthetic = "synthetic:";

DType weight_type(const std::string& t) {
  if (t == "bf16") return DType::BF16;
  if (t == "f32") return DType::F32;
  if (t == "fp8") return DType::F8_E4M3;
  if (t == "q8_0") return DType::Q8_0;
  if (t == "q4_0") return DType::Q4_0;
  if (t == "q5_0") return DType::Q5_0;
  if (t == "q4_k") return DType::Q4_K;
  if (t == "q5_k") return DType::Q5_K;
  if (t == "q6_k") return DType::Q6_K;
  fail("unknown weight type \"", t, "\" (supported: bf16, f32, fp8, q8_0, q4_0, q5_0, q4_k, q5_k, q6_k)");
}
}  // namespace

bool is_synthetic(const std::string& model) { return model.rfind(kSynthetic, 0) == 0; }

std::unique_ptr<model::Model> load_model_spec(const ModelSpec& spec, kernels::Backend& backend) {
  if (!is_synthetic(spec.model)) return model::Model::load(spec.model, backend);
  model::SyntheticOptions s;
  s.preset = spec.model.substr(kSynthetic.size());
  s.weight_dtype = weight_type(spec.type);
  s.vocab_size = spec.vocab_size;
  return model::make_synthetic_model(s, backend);
}

LoadedModel load_model(const ModelOptions& o) {
  LoadedModel m;
  m.backend = kernels::make_backend(o.backend);
  m.model = model::Model::load(o.model_dir, *m.backend);
  return m;
}

}  // namespace dsinfer::cli
