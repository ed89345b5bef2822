// Runs the built dsinfer binary and captures exit code, stdout and stderr.
#pragma once

#include <string>
#include <vector>

namespace dsinfer::test {

struct CmdResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// args are passed to the shell single-quoted.
CmdResult run_dsinfer(const std::vector<std::string>& args);

}  // namespace dsinfer::test
