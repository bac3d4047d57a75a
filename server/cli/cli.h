// The command line: `oomlint check`, `oomlint rule`, `oomlint --version`.
#pragma once

#include <string>
#include <vector>

namespace oomlint::cli {

// Runs the command line with argv (argv[0] is the program); returns the exit code.
int run(int argc, char** argv);

}  // namespace oomlint::cli
