// dsinfer quantize: write a block-quantized copy of a checkpoint.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "model/quantize.h"

namespace dsinfer::cli {

namespace {

struct QuantizeCliOptions {
  model::QuantizeOptions q;
  std::string type = "q4_k";
};

int run(QuantizeCliOptions& o) {
  o.q.type = o.type == "q8_0" ? DType::Q8_0 : o.type == "q4_0" ? DType::Q4_0 : DType::Q4_K;
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
  c.sub = app.add_subcommand("quantize", "Write a block-quantized (q8_0, q4_0, q4_k) copy of a checkpoint");
  c.sub->add_option("--model", o->q.input_dir, "input model directory")->required()->check(CLI::ExistingDirectory);
  c.sub->add_option("--type", o->type, "block type")->check(CLI::IsMember({"q8_0", "q4_0", "q4_k"}))->capture_default_str();
  c.sub->add_option("--output", o->q.output_dir, "output directory (created)")->required();
  c.sub->add_option("--threads", o->q.threads, "threads (0: all)")->check(CLI::Range(0, 1024));
  c.run = [o] { return run(*o); };
  return c;
}

}  // namespace dsinfer::cli
