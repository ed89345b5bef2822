#include "cli/commands.h"

int main(int argc, char** argv) { return dsinfer::cli::run_main(argc, argv); }
