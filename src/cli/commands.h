// The dsinfer command line. Each subcommand lives in its own cmd_*.cpp and
// exposes one add_*_command function that declares its options on a CLI11
// sub-app and returns the action to run when that sub-app was chosen.
#pragma once

#include <functional>
#include <string>

namespace CLI {
class App;
}

namespace dsinfer::cli {

// Exit codes: 0 ok, 1 runtime error (bad model file, template error, ...),
// 2 usage error (wrong or missing argument).
inline constexpr int kExitOk = 0;
inline constexpr int kExitRuntime = 1;
inline constexpr int kExitUsage = 2;

struct Command {
  CLI::App* sub = nullptr;
  std::function<int()> run;  // may throw dsinfer::Error -> "error: ..." and exit 1
};

Command add_logits_command(CLI::App& app);
Command add_generate_command(CLI::App& app);
Command add_inspect_command(CLI::App& app);
Command add_tokenize_command(CLI::App& app);
Command add_chat_template_command(CLI::App& app);
Command add_bench_command(CLI::App& app);
Command add_bench_serve_command(CLI::App& app);
Command add_serve_command(CLI::App& app);
Command add_run_command(CLI::App& app);
Command add_quantize_command(CLI::App& app);

// Parses argv, runs the chosen subcommand.
int run_main(int argc, char** argv);

}  // namespace dsinfer::cli
