// `oomlint server`: the language server entry point.
#pragma once

#include <string>
#include <vector>

namespace oomlint::lsp {

// Runs the server with the arguments after `server`; returns the process exit code.
int run_server(const std::vector<std::string>& args);

}  // namespace oomlint::lsp
