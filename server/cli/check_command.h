// `oomlint check [PATH...]`: discovery, configuration, a thread pool over files, fixes, output.
#pragma once

#include <string>
#include <vector>

namespace oomlint::cli {

// Runs `check` with the arguments after the subcommand; returns the exit code
// (0 clean, 1 problems found, 2 usage, configuration or I/O error).
int run_check(const std::vector<std::string>& args);

} // namespace oomlint::cli
