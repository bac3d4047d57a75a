#include "cli/cli.h"
#include "cli/worker_memory.h"

namespace {

// Runs before the C++ runtime's own initialisers, which are the first to touch the code.
void map_executable(int, char**, char**) {
  oomlint::cli::map_executable_now();
}

} // namespace

// glibc calls .preinit_array functions of the executable with (argc, argv, envp).
__attribute__((section(".preinit_array"),
               used)) static void (*const preinit_map)(int, char**, char**) = map_executable;

int main(int argc, char** argv) {
  return oomlint::cli::run(argc, argv);
}
