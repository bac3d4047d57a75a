// The contributor tools' binary (tools/update-*.sh build and run it). It renders with the code the
// tests compare with, so what it writes is what the tests expect:
//   oomlint_dev rule-table              the README's rule table (registry_test)
#include <iostream>
#include <string>

#include "registry.h"

using namespace oomlint;

int main(int argc, char** argv) {
  std::string command = argc > 1 ? argv[1] : "";
  if (command == "rule-table") {
    std::cout << checks::rules_markdown_table();
    return 0;
  }
  std::cerr << "usage: oomlint_dev rule-table\n";
  return 2;
}
