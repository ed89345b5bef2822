#include <CLI/CLI.hpp>

#include <exception>
#include <iostream>
#include <vector>

#include "cli/commands.h"
#include "core/error.h"

namespace dsinfer::cli {

int run_main(int argc, char** argv) {
  CLI::App app{"dsinfer: inference engine for the DeepSeek model family"};
  app.require_subcommand(1);
  std::vector<Command> commands{
      add_logits_command(app),   add_generate_command(app),      add_inspect_command(app),
      add_tokenize_command(app), add_chat_template_command(app), add_bench_command(app), add_run_command(app), add_quantize_command(app),
      add_serve_command(app),    add_bench_serve_command(app),
  };
  bool known = argc < 2 || argv[1][0] == '-';
  for (const auto& c : commands) known = known || c.sub->get_name() == argv[1];
  if (!known) {
    std::cerr << "error: unknown command '" << argv[1] << "' (see dsinfer --help)\n";
    return kExitUsage;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << (app.get_subcommands().empty() ? app.help() : app.get_subcommands()[0]->help());
    return kExitOk;
  } catch (const CLI::CallForAllHelp&) {
    std::cout << app.help("", CLI::AppFormatMode::All);
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    std::string msg = e.what();
    if (msg.empty()) msg = "a subcommand is required (see dsinfer --help)";
    std::cerr << "error: " << msg << "\n";
    return kExitUsage;
  }
  for (const auto& c : commands) {
    if (!c.sub->parsed()) continue;
    try {
      return c.run();
    } catch (const Error& e) {
      std::cerr << "error: " << e.what() << "\n";
      return kExitRuntime;
    } catch (const std::exception& e) {
      std::cerr << "error: " << e.what() << "\n";
      return kExitRuntime;
    }
  }
  return kExitUsage;
}

}  // namespace dsinfer::cli
