// dsinfer run: a random-weight model paired with a real tokenizer and chat
// template (copied into a temporary model directory at test time).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/run_binary.h"
#include "common/synth_checkpoint.h"
#include "common/testdata.h"

namespace dsinfer::test {
namespace {

namespace fs = std::filesystem;

class RunCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string td = testdata_dir();
    if (td.empty()) GTEST_SKIP() << "*** ../shared/testdata NOT FOUND: dsinfer run tests SKIPPED, not passed ***";
    dir_ = make_temp_dir();
    for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
      fs::copy_file(td + "/tokenizers/deepseek-llm/" + f, dir_ + "/" + f);
    fs::copy_file(td + "/templates/deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja", dir_ + "/chat_template.jinja");
    nlohmann::json cfg = tiny_qwen2_config();
    cfg["vocab_size"] = 102400;
    cfg["hidden_size"] = 48;
    cfg["num_attention_heads"] = 4;
    cfg["num_key_value_heads"] = 2;
    cfg["max_position_embeddings"] = 4096;
    cfg["tie_word_embeddings"] = true;
    write_synth_checkpoint(dir_, cfg, {.seed = 11});
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  std::string dir_;
};

TEST_F(RunCommand, OneShotGreedyIsDeterministic) {
  const CmdResult a = run_dsinfer({"run", dir_, "What is 2+2?", "--temperature", "0", "--max-tokens", "10"});
  const CmdResult b = run_dsinfer({"run", dir_, "What is 2+2?", "--temperature", "0", "--max-tokens", "10"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_GT(a.out.size(), 1u);
  EXPECT_EQ(a.out, b.out);
  const CmdResult c = run_dsinfer({"run", dir_, "Something else entirely", "--temperature", "0", "--max-tokens", "10"});
  EXPECT_EQ(c.exit_code, 0);
}

TEST_F(RunCommand, SeededSamplingIsReproducible) {
  const CmdResult a = run_dsinfer({"run", dir_, "hi", "--seed", "5", "--temperature", "1.5", "--max-tokens", "12"});
  const CmdResult b = run_dsinfer({"run", dir_, "hi", "--seed", "5", "--temperature", "1.5", "--max-tokens", "12"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
}

// quantize --output NAME.gguf carries the weights, tokenizer and chat
// template in one file: `run` on it answers as on the quantized directory.
TEST_F(RunCommand, GgufFileAnswersAsItsCheckpointDoes) {
  const std::string out = make_temp_dir();
  for (const std::string& target : {out + "/q8", out + "/q8.gguf"}) {
    const CmdResult q = run_dsinfer({"quantize", "--model", dir_, "--type", "q8_0", "--layout", "gguf", "--output", target});
    ASSERT_EQ(q.exit_code, 0) << q.err;
  }
  const std::vector<std::string> ask = {"What is 2+2?", "--temperature", "0", "--max-tokens", "10"};
  std::vector<std::string> a = {"run", out + "/q8"}, b = {"run", out + "/q8.gguf"};
  a.insert(a.end(), ask.begin(), ask.end());
  b.insert(b.end(), ask.begin(), ask.end());
  const CmdResult from_dir = run_dsinfer(a), from_gguf = run_dsinfer(b);
  ASSERT_EQ(from_dir.exit_code, 0) << from_dir.err;
  ASSERT_EQ(from_gguf.exit_code, 0) << from_gguf.err;
  EXPECT_GT(from_dir.out.size(), 1u);
  EXPECT_EQ(from_gguf.out, from_dir.out);
  fs::remove_all(out);
}

TEST_F(RunCommand, MissingModelIsAClearError) {
  const CmdResult r = run_dsinfer({"run", "not a model"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("not a model"), std::string::npos) << r.err;
}

// Ctrl-C during an answer stops that answer; the chat goes on and /exit ends it normally.
// The signal goes out once the answer has begun to print (Ctrl-C while loading
// rightly ends the program), and /exit only after the signal.
TEST_F(RunCommand, InterruptStopsTheAnswerNotTheProgram) {
  const std::string out = dir_ + "/out.txt", rc = dir_ + "/rc.txt", script = dir_ + "/interrupt.sh";
  const std::string sent = dir_ + "/sent";
  std::ofstream(script) << "(printf 'tell me a story\\n'; while [ ! -e '" << sent << "' ]; do sleep 0.05; done; printf '/exit\\n') | '"
                        << dsinfer_binary() << "' run '" << dir_ << "' --max-tokens 100000 --context 4096 > '" << out
                        << "' 2>&1 &\n"
                        << "pid=$!\n"
                        << "for i in $(seq 1200); do o=$(cat '" << out << "'); [[ \"$o\" == *'>>> '?* ]] && break; sleep 0.05; done\n"
                        << "kill -INT $pid\ntouch '" << sent << "'\nwait $pid\necho $? > '" << rc << "'\n";
  ASSERT_EQ(std::system(("bash '" + script + "'").c_str()), 0);
  std::stringstream o, r;
  o << std::ifstream(out).rdbuf();
  r << std::ifstream(rc).rdbuf();
  EXPECT_EQ(r.str(), "0\n") << o.str().substr(0, 300);
  EXPECT_NE(o.str().find("[stopped]"), std::string::npos) << o.str().substr(0, 300);
}

}  // namespace
}  // namespace dsinfer::test
