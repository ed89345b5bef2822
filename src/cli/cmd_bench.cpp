// dsinfer bench: prefill and decode speed, reported against this machine's
// limits measured in the same run (read bandwidth -> decode roofline,
// dot-product peak -> prefill fraction).
#include <CLI/CLI.hpp>
#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "cli/commands.h"
#include "cli/model_options.h"
#include "core/error.h"
#include "core/quant.h"
#include "engine/bench.h"
#include "kernels/machine.h"

namespace dsinfer::cli {

namespace {

struct BenchCliOptions {
  std::string model;
  std::string type = "bf16";
  kernels::BackendOptions backend;
  engine::BenchOptions bench;
  bool json = false;
};

std::unique_ptr<model::Model> load(const BenchCliOptions& o, kernels::Backend& b) {
  return load_model_spec({o.model, o.type, 0}, b);
}

// The probes (a 1 GiB read buffer) run before the model loads and free their
// memory; restarting the kernel's high-water mark then (Linux: clear_refs 5)
// makes the reported peak the model's alone. Returns false where it cannot.
bool restart_peak_rss() {
  std::ofstream f("/proc/self/clear_refs");
  f << "5";
  f.flush();
  return static_cast<bool>(f);
}

double peak_rss_gib() {
  std::ifstream f("/proc/self/status");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / (1024.0 * 1024.0);  // kB
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / (1024.0 * 1024.0);
}

// Whether prefill runs on the integer dot product: the synthetic model's
// --type, or for a checkpoint whether most weight bytes are block-quantized
// (stored as U8 by `dsinfer quantize`).
bool integer_weights(const BenchCliOptions& o, const model::WeightStats& st) {
  if (is_synthetic(o.model)) return o.type.starts_with("q");
  size_t blocks = 0, all = 0;
  for (const auto& [dtype, bytes] : st.bytes_by_dtype) {
    all += bytes;
    const auto t = dtype_from_name(dtype);
    if (t && (*t == DType::U8 || is_block_quant(*t))) blocks += bytes;
  }
  return 2 * blocks > all;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t h = v.size() / 2;
  return v.size() % 2 ? v[h] : (v[h - 1] + v[h]) / 2;
}

// Decode against the read probes run between its windows: each window's rate
// over the mean of the probes on either side, and the median of those (one
// probe before decode says little where neighbours' load moves the bandwidth
// by half within a minute, as on the shared development VMs).
struct WindowFigures {
  double read_gbps = 0;  // median probe
  double fraction = 0;   // median window fraction
  std::vector<double> fractions, probes;
};

WindowFigures window_figures(const engine::BenchResult& r, double bytes_per_step) {
  WindowFigures f;
  for (const auto& w : r.windows) {
    if (f.probes.empty()) f.probes.push_back(w.gbps_before);
    f.probes.push_back(w.gbps_after);
    const double gbps = bytes_per_step * static_cast<double>(w.steps) / w.seconds / 1e9;
    f.fractions.push_back(gbps / ((w.gbps_before + w.gbps_after) / 2));
  }
  f.read_gbps = median(f.probes);
  f.fraction = median(f.fractions);
  return f;
}

std::vector<double> rounded(std::vector<double> v, double unit) {
  for (double& x : v) x = std::round(x / unit) * unit;
  return v;
}

// batch > 1: the batch's tokens/s over the lone sequence's, window by window
// (each pair run back to back, so both see the same neighbours), and the
// median of those ratios.
void add_batch_speedup(nlohmann::ordered_json& j, const engine::BenchResult& r, int64_t batch) {
  if (batch == 1) return;
  std::vector<double> speedups;  // [windows]
  for (size_t i = 0; i < r.windows.size() && i < r.single_windows.size(); ++i)
    speedups.push_back(static_cast<double>(batch) * r.single_windows[i].seconds / r.windows[i].seconds);
  j["single_decode_tokens_per_s"] = r.single_tokens_per_s;
  j["batch_speedup"] = speedups.empty() ? r.decode_tokens_per_s / r.single_tokens_per_s : median(speedups);
  if (!speedups.empty()) j["batch_window_speedups"] = rounded(speedups, 1e-3);
}

// The hand-off probes taken with the read probes (after each decode window,
// the lone sequence's too): where a VM's two vCPUs share a cache, hand-offs
// are fast and the read rate is one die's; on two dies, the reverse. Absent
// with one thread, or where no probe could run.
void add_handoffs(nlohmann::ordered_json& j, const std::vector<double>& ns) {
  std::vector<double> ran;
  std::copy_if(ns.begin(), ns.end(), std::back_inserter(ran), [](double x) { return x > 0; });
  if (ran.empty()) return;
  j["core_handoff_ns"] = median(ran);
  j["handoff_probes_ns"] = rounded(ns, 1);
}

nlohmann::ordered_json report(const BenchCliOptions& o, model::Model& m, const engine::BenchResult& r,
                              const kernels::MachinePeaks& p, const kernels::Capabilities& caps) {
  const std::string& isa = caps.isa;
  const bool bf16 = caps.bf16_activations;
  const auto st = m.weight_stats();
  const bool integer = integer_weights(o, st);
  // A decode step also reads its sequence's KV cache: every layer's rows of
  // all positions so far (prompt + step + 1 keys), on average over the steps
  // prompt + (gen + 1) / 2 of them; at a 512-token prompt that is 4% of a
  // 1.5B q4_k step's bytes.
  const model::KVCacheSpec kv = m.kv_spec(o.bench.kv_cache_dtype);
  const double kv_position = static_cast<double>(kv.bytes_per_token());
  const double kv_bytes = kv_position * (static_cast<double>(o.bench.prompt) + static_cast<double>(o.bench.gen + 1) / 2.0);
  const double bytes = static_cast<double>(st.decode_bytes_per_token) + kv_bytes;
  const double achieved = bytes * o.bench.batch / (r.decode_step_ms * 1e-3) / 1e9 / static_cast<double>(o.bench.batch);
  // Multiply-adds of the weight products per prompt token (the lm_head's once
  // per prompt shared out); attention's float products are not counted.
  const double ops_per_token = 2.0 * (static_cast<double>(st.params_prefill) +
                                      static_cast<double>(st.params_lm_head) / static_cast<double>(std::max<int64_t>(1, o.bench.prompt)));
  const double prefill_ops = ops_per_token * r.prefill_tokens_per_s / 1e9;
  // What the products multiply the weights with: int8 blocks (integer types),
  // or bf16 (--activations, for bf16 weights) or f32 values; the peak is
  // that of the instruction they then use (vpdpbusd, vdpbf16ps, f32 FMA).
  const char* acts = integer ? "int8" : bf16 ? "bf16" : "f32";
  const double peak = integer ? p.int8_gops : bf16 ? p.bf16_gflops : p.f32_gflops;
  nlohmann::ordered_json j;
  j["model"] = o.model;
  j["type"] = is_synthetic(o.model) ? o.type : integer ? "checkpoint (block-quantized)" : "checkpoint (float)";
  j["threads"] = o.backend.threads;
  j["prompt"] = o.bench.prompt;
  j["gen"] = o.bench.gen;
  j["batch"] = o.bench.batch;
  j["prefill_tokens_per_s"] = r.prefill_tokens_per_s;
  j["decode_tokens_per_s"] = r.decode_tokens_per_s;
  j["decode_step_ms"] = r.decode_step_ms;
  j["time_to_first_token_s"] = r.first_token_seconds;
  j["decode_bytes_per_token"] = bytes;
  j["decode_weight_bytes_per_token"] = st.decode_bytes_per_token;
  j["decode_kv_bytes_per_token"] = kv_bytes;
  j["kv_bytes_per_position"] = kv_position;
  j["kv_cache_dtype"] = kv.dtype == DType::BF16 ? "bf16" : "f32";
  j["achieved_read_gbps"] = achieved;
  const WindowFigures wf = window_figures(r, bytes);
  const double read_gbps = wf.probes.empty() ? p.read_gbps : wf.read_gbps;
  j["machine_read_gbps"] = read_gbps;
  j["decode_roofline_tokens_per_s"] = read_gbps * 1e9 / bytes;
  j["decode_fraction_of_roofline"] = wf.probes.empty() ? achieved / p.read_gbps : wf.fraction;
  if (!wf.probes.empty()) {
    j["decode_window_fractions"] = rounded(wf.fractions, 1e-3);
    j["read_probes_gbps"] = rounded(wf.probes, 0.1);
  }
  j["prefill_ops_per_token"] = ops_per_token;
  j["prefill_gops"] = prefill_ops;
  j["dot_peak_gops"] = peak;
  j["dot_instruction"] = integer ? p.int8_instruction : bf16 ? p.bf16_instruction : p.f32_instruction;
  j["prefill_fraction_of_peak"] = prefill_ops / peak;
  j["matmul_activations"] = acts;
  j["weight_stripes"] = caps.striped_weights;
  // Float weights with f32 activations: against the bf16 dot product's peak
  // too, the one --activations bf16 would run at (twice the FMA's on AVX512_BF16).
  if (!integer && !bf16) {
    j["bf16_dot_peak_gops"] = p.bf16_gflops;
    j["prefill_fraction_of_bf16_peak"] = prefill_ops / p.bf16_gflops;
  }
  // ISA amx (the default where the CPU has it): Q4_K's prefill products run on
  // the AMX tiles, whose peak is several times vpdpbusd's.
  if (integer && p.amx_int8_gops > 0 && isa == "amx") {
    j["amx_peak_gops"] = p.amx_int8_gops;
    j["prefill_fraction_of_amx_peak"] = prefill_ops / p.amx_int8_gops;
  }
  return j;
}

int run(const BenchCliOptions& o) {
  kernels::MachinePeaks peaks = kernels::measure_machine(o.backend.threads);
  const bool peak_restarted = restart_peak_rss();
  auto backend = kernels::make_backend(o.backend);
  auto m = load(o, *backend);
  // The probes between decode windows allocate their own 1 GiB: the peak
  // before each, then restarted after it, keeps the reported peak the model's.
  auto peak = std::make_shared<double>(0.0);
  auto handoffs = std::make_shared<std::vector<double>>();  // ns, one per probe
  engine::BenchOptions bo = o.bench;
  bo.read_probe = [peak, handoffs, threads = o.backend.threads] {
    *peak = std::max(*peak, peak_rss_gib());
    const double gbps = kernels::measure_read_gbps(threads);
    restart_peak_rss();
    if (threads != 1) handoffs->push_back(kernels::measure_handoff_ns());
    return gbps;
  };
  const engine::BenchResult r = engine::run_bench(*m, bo);
  kernels::remeasure_dot_peaks(peaks, o.backend.threads);
  auto j = report(o, *m, r, peaks, backend->capabilities());
  add_batch_speedup(j, r, o.bench.batch);
  add_handoffs(j, *handoffs);
  j["peak_rss_gib"] = std::max(*peak, peak_rss_gib());
  if (!peak_restarted) j["peak_rss_note"] = "includes the bandwidth probe's 1 GiB buffer (the peak could not be restarted)";
  j["isa"] = backend->capabilities().isa;
  if (o.json) {
    std::cout << j.dump() << "\n";
    return kExitOk;
  }
  for (auto it = j.begin(); it != j.end(); ++it)
    std::cout << it.key() << ": " << (it->is_string() ? it->get<std::string>() : it->dump()) << "\n";
  return kExitOk;
}

}  // namespace

Command add_bench_command(CLI::App& app) {
  auto o = std::make_shared<BenchCliOptions>();
  Command c;
  c.sub = app.add_subcommand("bench", "Prefill/decode speed against this machine's measured limits");
  c.sub->add_option("--model", o->model, "model directory, GGUF file, or synthetic:PRESET (random weights, real shapes)")->required();
  c.sub->add_option("--type", o->type, "weight type of synthetic models")
      ->check(CLI::IsMember({"bf16", "f32", "fp8", "q8_0", "q4_0", "q5_0", "q4_k", "q5_k", "q6_k"}))
      ->capture_default_str();
  c.sub->add_option("--prompt", o->bench.prompt, "prompt tokens")->check(CLI::Range(1, 1 << 20))->capture_default_str();
  c.sub->add_option("--gen", o->bench.gen, "decode steps")->check(CLI::Range(1, 1 << 20))->capture_default_str();
  c.sub->add_option("--batch", o->bench.batch, "sequences decoding together")->check(CLI::Range(1, 4096))->capture_default_str();
  c.sub->add_option("--threads", o->backend.threads, "threads (0: all)")->check(CLI::Range(0, 1024))->capture_default_str();
  add_isa_option(*c.sub, o->backend.isa);
  add_weight_options(*c.sub, o->backend);
  add_kv_cache_dtype_option(*c.sub, o->bench.kv_cache_dtype);
  c.sub->add_flag("--json", o->json, "print one JSON object");
  c.run = [o] { return run(*o); };
  return c;
}

}  // namespace dsinfer::cli
