#include "lsp/server.h"

#include <iostream>

namespace oomlint::lsp {

int run_server(const std::vector<std::string>&) {
  std::cerr << "oomlint: the language server is not built yet\n";
  return 2;
}

}  // namespace oomlint::lsp
