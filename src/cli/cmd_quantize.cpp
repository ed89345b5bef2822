// dsinfer quantize: write a block-quantized copy of a checkpoint, or a
// synthetic model (`synthetic:PRESET`) as a checkpoint of that type.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli/commands.h"
#include "cli/model_options.h"
#include "core/error.h"
#include "model/quantize.h"
#include "model/synthetic.h"
#include "io/hf_config.h"
#include "tokenizer/gguf_export.h"

namespace dsinfer::cli {

namespace {

struct QuantizeCliOptions {
  model::QuantizeOptions q;
  std::string type = "q4_k";
  std::string layout = "rows16";
};

// A GGUF file carries its tokenizer: tokenizer.json of the input, when it has one.
void add_tokenizer(model::QuantizeOptions& q) {
  namespace fs = std::filesystem;
  if (!fs::exists(fs::path(q.input_dir) / "tokenizer.json")) {
    std::fprintf(stderr, "dsinfer quantize: warning: %s has no tokenizer.json; %s will hold no tokenizer (pass "
                 "--tokenizer when serving it)\n", q.input_dir.c_str(), q.output_dir.c_str());
    return;
  }
  const int64_t vocab = io::load_config(q.input_dir).vocab_size;
  q.gguf_metadata = [dir = q.input_dir, vocab](io::GgufWriter& w) { tokenizer::add_gguf_tokenizer(dir, vocab, w); };
}

int run(QuantizeCliOptions& o) {
  const std::string base = o.type.ends_with("_m") ? o.type.substr(0, o.type.size() - 2) : o.type;
  o.q.type = base == "q8_0" ? DType::Q8_0 : base == "q4_0" ? DType::Q4_0 : base == "q5_0" ? DType::Q5_0
           : base == "q6_k" ? DType::Q6_K : base == "q5_k" ? DType::Q5_K : DType::Q4_K;
  o.q.more_bits = o.type.ends_with("_m");
  o.q.row_groups = o.layout == "rows16";
  if (is_synthetic(o.q.input_dir)) {
    if (o.q.more_bits) fail("--type ", o.type, " mixes types by layer: give it a checkpoint, not a synthetic model");
    if (o.q.output_dir.ends_with(".gguf"))
      fail("a synthetic model is written as a checkpoint directory; quantize that directory to .gguf");
    model::SyntheticOptions s;
    s.preset = o.q.input_dir.substr(o.q.input_dir.find(':') + 1);
    s.weight_dtype = o.q.type;
    model::write_synthetic_checkpoint(s, o.q.output_dir);
    std::printf("wrote %s: %s with random %s weights\n", o.q.output_dir.c_str(), o.q.input_dir.c_str(), o.type.c_str());
    return kExitOk;
  }
  if (!std::filesystem::is_directory(o.q.input_dir)) fail("--model: no such directory: ", o.q.input_dir);
  if (o.q.output_dir.ends_with(".gguf")) add_tokenizer(o.q);
  const auto r = model::quantize_checkpoint(o.q);
  std::printf("wrote %s: %.1f MiB -> %.1f MiB (%lld matrices %s, %lld with a smaller block)\n", o.q.output_dir.c_str(),
              static_cast<double>(r.bytes_in) / 1048576.0, static_cast<double>(r.bytes_out) / 1048576.0,
              static_cast<long long>(r.tensors_quantized), o.type.c_str(), static_cast<long long>(r.tensors_fallback));
  return kExitOk;
}

}  // namespace

Command add_quantize_command(CLI::App& app) {
  auto o = std::make_shared<QuantizeCliOptions>();
  Command c;
  c.sub = app.add_subcommand("quantize", "Write a block-quantized (q8_0, q4_0, q5_0, q4_k, q4_k_m, q5_k, q5_k_m, q6_k) copy of a checkpoint");
  c.sub->add_option("--model", o->q.input_dir, "input model directory, or synthetic:PRESET (random weights written as a checkpoint)")
      ->required();
  c.sub->add_option("--type", o->type,
                    "block type; q4_k_m: q4_k with Q6_K value and down projections in 1/8 + 1/8 + 1/3 of the layers, as "
                    "llama.cpp's Q4_K_M")
      ->check(CLI::IsMember({"q8_0", "q4_0", "q5_0", "q4_k", "q4_k_m", "q5_k", "q5_k_m", "q6_k"}))
      ->capture_default_str();
  c.sub->add_option("--output", o->q.output_dir,
                    "output directory (created), or NAME.gguf: one GGUF file with llama.cpp's names, metadata and "
                    "tokenizer keys")
      ->required();
  c.sub->add_option("--layout", o->layout,
                    "block storage: rows16 (the CPU kernels' row groups, loaded in place) or gguf (GGUF's rows)")
      ->check(CLI::IsMember({"rows16", "gguf"}))
      ->capture_default_str();
  c.sub->add_option("--threads", o->q.threads, "threads (0: all)")->check(CLI::Range(0, 1024));
  c.run = [o] { return run(*o); };
  return c;
}

}  // namespace dsinfer::cli
