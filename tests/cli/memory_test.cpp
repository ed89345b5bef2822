// FP8 weights are used in place (dequantized inside the kernels), so running
// a model keeps resident memory near the checkpoint's size. A full-precision
// copy would need 4x (F32) or 2x (BF16) and fail this bound.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/testdata.h"
#include "common/synth_checkpoint.h"

namespace dsinfer::test {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

// Peak resident set of a child running argv, in bytes.
size_t child_peak_rss(const std::vector<std::string>& args) {
  const pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    freopen("/dev/null", "w", stdout);
    execv(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  struct rusage ru {};
  wait4(pid, &status, 0, &ru);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child failed";
  return static_cast<size_t>(ru.ru_maxrss) * 1024;
}

size_t dir_bytes(const std::string& dir) {
  size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) n += e.file_size();
  return n;
}

TEST(Memory, Fp8ModelRunsWithinOnePointThreeTimesCheckpoint) {
  if (kSanitized) GTEST_SKIP() << "resident memory is meaningless under AddressSanitizer";
  const std::string dir = make_temp_dir();
  nlohmann::json cfg = tiny_deepseek_v3_config();
  cfg["hidden_size"] = 1024;
  cfg["moe_intermediate_size"] = 512;
  cfg["n_routed_experts"] = 32;
  cfg["n_group"] = 4;
  cfg["num_hidden_layers"] = 3;
  cfg["intermediate_size"] = 1536;
  write_synth_checkpoint(dir, cfg, {.seed = 3, .fp8 = true});
  const size_t ckpt = dir_bytes(dir);
  ASSERT_GT(ckpt, 100u << 20);
  // 120 tokens x top-3 of 32 experts: every expert's weights get read.
  nlohmann::json cases = {{"cases", {{{"tokens", nlohmann::json::array()}}}}};
  for (int i = 0; i < 120; ++i) cases["cases"][0]["tokens"].push_back((i * 37) % 300);
  std::ofstream(dir + "/cases.json") << cases.dump();
  // The same binary's baseline (code, allocator, thread stacks) on a tiny model.
  const std::string small = make_temp_dir();
  write_synth_checkpoint(small, tiny_qwen2_config(), {});
  std::ofstream(small + "/cases.json") << R"({"cases":[{"tokens":[1,2,3,4,5,6,7,8]}]})";
  const size_t base = child_peak_rss({dsinfer_binary(), "logits", "--model", small, "--input", small + "/cases.json",
                                      "--output", small + "/out.json"});
  const size_t peak = child_peak_rss({dsinfer_binary(), "logits", "--model", dir, "--input", dir + "/cases.json",
                                      "--output", dir + "/out.json"});
  std::printf("checkpoint %zu MiB, peak RSS %zu MiB (baseline %zu MiB)\n", ckpt >> 20, peak >> 20, base >> 20);
  EXPECT_GT(peak - base, ckpt / 2) << "the run should have touched most weights";
  EXPECT_LT(static_cast<double>(peak - base), 1.3 * static_cast<double>(ckpt));
  std::filesystem::remove_all(dir);
  std::filesystem::remove_all(small);
}

}  // namespace
}  // namespace dsinfer::test
