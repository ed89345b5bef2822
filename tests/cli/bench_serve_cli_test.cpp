// `dsinfer bench-serve` as a user sees it without a server: help, usage
// errors (exit 2), and a clear runtime error (exit 1) when nothing listens.
// The load itself is tested against a live server in tests/server/bench_serve_test.cpp.
#include <gtest/gtest.h>

#include "cli/run_binary.h"

namespace dsinfer::test {
namespace {

TEST(BenchServeCli, HelpListsTheOptions) {
  const CmdResult r = run_dsinfer({"bench-serve", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* opt : {"--url", "--clients", "--requests", "--prompt-tokens", "--max-tokens", "--sweep", "--ramp-up", "--json"})
    EXPECT_NE(r.out.find(opt), std::string::npos) << opt;
}

TEST(BenchServeCli, BadArgumentsAreUsageErrors) {
  EXPECT_EQ(run_dsinfer({"bench-serve", "--clients", "0"}).exit_code, 2);
  EXPECT_EQ(run_dsinfer({"bench-serve", "--endpoint", "embeddings"}).exit_code, 2);
  EXPECT_EQ(run_dsinfer({"bench-serve", "--sweep", "1,x"}).exit_code, 2);
  EXPECT_EQ(run_dsinfer({"bench-serve", "--ramp-up", "-1"}).exit_code, 2);
}

TEST(BenchServeCli, NoServerIsARuntimeError) {
  const CmdResult r = run_dsinfer({"bench-serve", "--url", "http://127.0.0.1:1", "--requests", "1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("not ready"), std::string::npos) << r.err;
  const CmdResult bad = run_dsinfer({"bench-serve", "--url", "ftp://example"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("ftp://example"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace dsinfer::test
