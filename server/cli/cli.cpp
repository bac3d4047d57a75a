#include "cli/cli.h"

#include <fstream>
#include <iostream>
#include <sstream>

#include "engine.h"
#include "line_index.h"
#include "lsp/server.h"
#include "registry.h"

namespace oomlint::cli {

int run(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::cerr << "usage: oomlint check PATH...\n";
    return 2;
  }
  if (args[0] == "server") return lsp::run_server({args.begin() + 1, args.end()});
  if (args[0] == "rule" && args.size() == 2) {
    std::cout << checks::rule_doc(args[1]);
    return 0;
  }
  if (args[0] != "check") return 2;
  checks::Engine engine{checks::Settings{}};
  bool found = false;
  for (size_t i = 1; i < args.size(); ++i) {
    std::ifstream in(args[i], std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    for (const auto& d : engine.check(text)) {
      found = true;
      std::cout << args[i] << ":" << d.start_pos.line << ":" << d.start_pos.column << ": " << d.code
                << " " << d.message << "\n";
    }
  }
  return found ? 1 : 0;
}

}  // namespace oomlint::cli
