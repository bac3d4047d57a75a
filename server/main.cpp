#include "cli/cli.h"

int main(int argc, char** argv) {
  return oomlint::cli::run(argc, argv);
}
