// Placeholder: replaced by the real command.
#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "core/error.h"

namespace dsinfer::cli {

Command add_inspect_command(CLI::App& app) {
  Command c;
  c.sub = app.add_subcommand("inspect", "(not yet implemented)");
  c.run = [] () -> int { fail("not implemented yet"); };
  return c;
}

}  // namespace dsinfer::cli
