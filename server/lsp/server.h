// `oomlint server`: the language server entry point.
#pragma once

#include <string>
#include <vector>

namespace oomlint::lsp {

// Runs the server with the arguments after `server`; returns the process exit code.
int run_server(const std::vector<std::string>& args);

class ByteStream;
struct ServerOptions;
// Serves one client over `stream` until exit or end of input; returns the exit code (0 after
// shutdown + exit, 1 otherwise). With zero scheduler workers everything runs on this thread.
int serve(ByteStream& stream, const ServerOptions& options);

} // namespace oomlint::lsp
