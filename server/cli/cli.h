// The command line: `oomlint check`, `oomlint rule`, `oomlint server`, `oomlint version`.
// Subcommands are rows of one table in cli.cpp; each parses its own arguments.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace oomlint::cli {

// Runs the command line with argv (argv[0] is the program); returns the exit code.
int run(int argc, char** argv);
// Same, with the arguments after the program name.
int run(const std::vector<std::string>& args);

// "oomlint 0.1.0"
std::string version_string();

} // namespace oomlint::cli
