// Prints the README's rule table from the registry (used by tools/update-rule-table.sh).
#include <iostream>

#include "registry.h"

int main() {
  std::cout << oomlint::checks::rules_markdown_table();
}
