// `dsinfer bench --json` on a tiny synthetic model: one JSON object whose
// figures agree with each other (roofline from the read probes between decode
// windows and the bytes per token, weights and KV cache, fraction from the
// windows' rates), and a peak resident memory that is the model's own, not
// the bandwidth probes' 1 GiB buffers; with --batch, the speed-up over one
// sequence measured in the same run.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "cli/run_binary.h"
#include "kernels/cpu/isa.h"

namespace dsinfer::test {
namespace {

// A hand-off probe beside each of the 5 read probes, the figure their median.
void expect_handoffs(const nlohmann::json& j) {
  ASSERT_TRUE(j.contains("handoff_probes_ns") && j.contains("core_handoff_ns"));
  auto handoffs = j["handoff_probes_ns"].get<std::vector<double>>();
  ASSERT_EQ(handoffs.size(), 5u);
  std::sort(handoffs.begin(), handoffs.end());
  EXPECT_GT(handoffs.front(), 0) << "a probe did not run";
  EXPECT_NEAR(j["core_handoff_ns"].get<double>(), handoffs[2], 0.51);  // the list is rounded to 1 ns
}

TEST(BenchCli, JsonFiguresAgreeWithEachOther) {
  const CmdResult r =
      run_dsinfer({"bench", "--model", "synthetic:tiny", "--type", "q8_0", "--prompt", "8", "--gen", "4", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  for (const char* f : {"prefill_tokens_per_s", "decode_tokens_per_s", "decode_step_ms", "decode_bytes_per_token",
                        "achieved_read_gbps", "machine_read_gbps", "decode_roofline_tokens_per_s",
                        "decode_fraction_of_roofline", "prefill_ops_per_token", "prefill_gops", "dot_peak_gops", "prefill_fraction_of_peak",
                        "peak_rss_gib"})
    ASSERT_TRUE(j.contains(f) && j[f].is_number()) << "missing or not a number: " << f;
  const auto num = [&](const char* f) { return j[f].get<double>(); };
  EXPECT_GT(num("prefill_tokens_per_s"), 0);
  EXPECT_GT(num("machine_read_gbps"), 0);
  EXPECT_GT(num("dot_peak_gops"), 0);
  const double bytes = num("decode_bytes_per_token"), bw = num("machine_read_gbps");
  EXPECT_NEAR(num("decode_tokens_per_s"), 1e3 / num("decode_step_ms"), 1e-6 * num("decode_tokens_per_s"));
  // Bytes per decoded token: the weights read plus the KV cache at the mean
  // context of the 4 steps (8 + 1 ... 8 + 4 keys).
  EXPECT_GT(num("decode_weight_bytes_per_token"), 0);
  EXPECT_GT(num("kv_bytes_per_position"), 0);
  EXPECT_NEAR(num("decode_kv_bytes_per_token"), num("kv_bytes_per_position") * 10.5, 1e-9 * bytes);
  EXPECT_NEAR(bytes, num("decode_weight_bytes_per_token") + num("decode_kv_bytes_per_token"), 1e-9 * bytes);
  EXPECT_NEAR(num("achieved_read_gbps"), bytes * num("decode_tokens_per_s") / 1e9, 1e-6 * num("achieved_read_gbps"));
  EXPECT_NEAR(num("decode_roofline_tokens_per_s"), bw * 1e9 / bytes, 1e-6 * num("decode_roofline_tokens_per_s"));
  // Read probes before decode and after each of its windows (4 steps: one
  // each): the roofline is their median, and the fraction the median of the
  // windows' rates over the probes beside them.
  ASSERT_TRUE(j.contains("read_probes_gbps") && j.contains("decode_window_fractions"));
  auto probes = j["read_probes_gbps"].get<std::vector<double>>();
  auto fractions = j["decode_window_fractions"].get<std::vector<double>>();
  ASSERT_EQ(probes.size(), 5u);
  ASSERT_EQ(fractions.size(), 4u);
  std::sort(probes.begin(), probes.end());
  std::sort(fractions.begin(), fractions.end());
  EXPECT_NEAR(bw, probes[2], 0.051);  // the list is rounded to 0.1 GB/s
  EXPECT_NEAR(num("decode_fraction_of_roofline"), (fractions[1] + fractions[2]) / 2, 0.00051);
  for (double p : probes) EXPECT_GT(p, 0);
  // The overall rate lies between the slowest and the fastest window's, and
  // each probe pair's mean between the slowest and the fastest probe. The
  // lists are rounded: probes to 0.1 GB/s (1% covers it), fractions to 1e-3,
  // which is several percent of this tiny model's fractions (~0.03), so that
  // half unit is allowed on top.
  const double rate = num("achieved_read_gbps");
  EXPECT_LE(fractions.front(), rate / probes.front() * 1.01 + 0.0005);
  EXPECT_GE(fractions.back(), rate / probes.back() * 0.99 - 0.0005);
  EXPECT_NEAR(num("prefill_fraction_of_peak"), num("prefill_gops") / num("dot_peak_gops"), 1e-9);
  EXPECT_NEAR(num("prefill_gops"), num("prefill_ops_per_token") * num("prefill_tokens_per_s") / 1e9, 1e-6 * num("prefill_gops"));
  EXPECT_FALSE(j.contains("batch_speedup")) << "one sequence has no batch to compare";
  if (std::thread::hardware_concurrency() >= 2) expect_handoffs(j);
  EXPECT_GT(num("peak_rss_gib"), 0);
  if (j.contains("peak_rss_note")) {
    GTEST_SKIP() << "this kernel could not restart the peak: " << j["peak_rss_note"];
  }
  EXPECT_LT(num("peak_rss_gib"), 0.9) << "the probe's 1 GiB read buffer counted as the model's memory";
}

// With --batch 3 a fourth sequence decodes alone in windows alternating with
// the batch's: the speed-up is the median of the window pairs' ratios, and
// the ratio of the whole runs' rates (a time-weighted mean of the pairs')
// lies between the smallest and largest pair.
TEST(BenchCli, BatchSpeedupComesFromWindowsAlternatingWithALoneSequence) {
  const CmdResult r = run_dsinfer(
      {"bench", "--model", "synthetic:tiny", "--type", "q8_0", "--prompt", "8", "--gen", "4", "--batch", "3", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  for (const char* f : {"decode_tokens_per_s", "decode_step_ms", "single_decode_tokens_per_s", "batch_speedup"})
    ASSERT_TRUE(j.contains(f) && j[f].is_number()) << "missing or not a number: " << f;
  const auto num = [&](const char* f) { return j[f].get<double>(); };
  EXPECT_NEAR(num("decode_tokens_per_s"), 3 * 1e3 / num("decode_step_ms"), 1e-6 * num("decode_tokens_per_s"));
  ASSERT_TRUE(j.contains("batch_window_speedups"));
  auto speedups = j["batch_window_speedups"].get<std::vector<double>>();
  ASSERT_EQ(speedups.size(), 4u);  // one pair per decode window
  std::sort(speedups.begin(), speedups.end());
  EXPECT_GT(speedups.front(), 0);
  EXPECT_NEAR(num("batch_speedup"), (speedups[1] + speedups[2]) / 2, 0.00051);  // the list is rounded to 1e-3
  const double whole = num("decode_tokens_per_s") / num("single_decode_tokens_per_s");
  EXPECT_GE(whole, speedups.front() - 0.0005);
  EXPECT_LE(whole, speedups.back() + 0.0005);
}

// A q8_0 model's cache is bf16 unless --kv-cache-dtype says otherwise: half
// the bytes per position, which the bench's roofline counts; a dtype it does
// not know is refused by name.
TEST(BenchCli, KvCacheDtypeSetsTheBytesPerPosition) {
  double per_position[2] = {0, 0};
  const char* names[2] = {"auto", "f32"};
  for (int i = 0; i < 2; ++i) {
    const CmdResult r = run_dsinfer({"bench", "--model", "synthetic:tiny", "--type", "q8_0", "--prompt", "4", "--gen",
                                     "2", "--kv-cache-dtype", names[i], "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const nlohmann::json j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["kv_cache_dtype"], i == 0 ? "bf16" : "f32");
    per_position[i] = j["kv_bytes_per_position"].get<double>();
  }
  EXPECT_GT(per_position[0], 0);
  EXPECT_EQ(per_position[1], 2 * per_position[0]);
  const CmdResult bad = run_dsinfer({"bench", "--model", "synthetic:tiny", "--kv-cache-dtype", "fp4", "--json"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("fp4"), std::string::npos) << bad.err;
}

// What the products multiply the weights with is in the report: for a bf16
// model bf16 by default where the SIMD level in use has bf16 dot products
// faster than f32 FMA (f32 elsewhere, and with --activations f32), int8
// blocks for an integer one.
TEST(BenchCli, MatmulActivationsAndTheirPeakFollowTheFlagAndTheType) {
  const bool dots = kernels::cpu::has_bf16_dots() && kernels::cpu::isa_supported(kernels::cpu::Isa::Avx512);
  const bool fast_dots = dots && kernels::cpu::bf16_dots_outrun_fma();
  const struct {
    const char* type;
    std::vector<std::string> flags;
    const char* want;
  } cases[] = {{"bf16", {}, fast_dots ? "bf16" : "f32"},
               {"bf16", {"--activations", "f32"}, "f32"},
               {"bf16", {"--activations", "bf16"}, "bf16"},
               {"bf16", {"--bf16-activations"}, "bf16"},
               {"bf16", {"--isa", "avx2"}, "f32"},
               {"bf16", {"--isa", "avx2", "--activations", "bf16"}, "bf16"},
               {"q8_0", {}, "int8"}};
  for (const auto& c : cases) {
    std::vector<std::string> args = {"bench", "--model", "synthetic:tiny", "--type", c.type, "--prompt", "4", "--gen", "2", "--json"};
    args.insert(args.end(), c.flags.begin(), c.flags.end());
    const CmdResult r = run_dsinfer(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const nlohmann::json j = nlohmann::json::parse(r.out);
    std::string what = c.type;
    for (const std::string& f : c.flags) what += " " + f;
    EXPECT_EQ(j["matmul_activations"], c.want) << what;
    const bool avx512 = j["isa"] == "avx512" || j["isa"] == "amx";
    EXPECT_EQ(j["weight_stripes"], avx512 && kernels::cpu::stripes_read_faster()) << what << ": --stripes auto by default";
    // The peak is that of the instruction the products use; f32 activations
    // are also measured against the bf16 dot product's peak.
    const std::string instr = j["dot_instruction"];
    const bool f32 = std::string(c.want) == "f32";
    if (f32) {
      EXPECT_NE(instr.find("fma (f32)"), std::string::npos) << what << ": " << instr;
    }
    if (std::string(c.want) == "int8") {
      EXPECT_EQ(instr.find("fma"), std::string::npos) << what << ": " << instr;
    }
    if (std::string(c.want) == "bf16" && dots && j["isa"] != "avx2") {
      EXPECT_NE(instr.find("vdpbf16ps"), std::string::npos) << what << ": " << instr;
    }
    ASSERT_EQ(j.contains("prefill_fraction_of_bf16_peak"), f32) << what;
    if (f32) {
      EXPECT_NEAR(j["prefill_fraction_of_bf16_peak"].get<double>(),
                  j["prefill_gops"].get<double>() / j["bf16_dot_peak_gops"].get<double>(), 1e-9)
          << what;
    }
  }
}

// --stripes on|off|auto (and --no-stripes) decide the quantized weights'
// layout, which the report names; anything else is refused by name.
TEST(BenchCli, StripesFollowTheFlag) {
  const bool avx512 = kernels::cpu::isa_supported(kernels::cpu::Isa::Avx512);
  const std::pair<std::vector<std::string>, bool> cases[] = {{{"--stripes", "on"}, avx512},
                                                             {{"--stripes", "off"}, false},
                                                             {{"--no-stripes"}, false},
                                                             {{"--stripes", "auto"}, avx512 && kernels::cpu::stripes_read_faster()}};
  for (const auto& [flags, want] : cases) {
    std::vector<std::string> args = {"bench", "--model", "synthetic:tiny", "--type", "q4_k", "--prompt", "4", "--gen", "2", "--json"};
    args.insert(args.end(), flags.begin(), flags.end());
    const CmdResult r = run_dsinfer(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(nlohmann::json::parse(r.out)["weight_stripes"], want) << flags[0] << " " << flags.back();
  }
  const CmdResult bad = run_dsinfer({"bench", "--model", "synthetic:tiny", "--stripes", "sideways"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--stripes"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace dsinfer::test
