// Harness 4: applying every fix (safe and unsafe) to a fuzzed input leaves text with no more
// syntax errors than before, and a second round finds nothing left to fix.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "engine/engine.h"
#include "engine/fixes.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace oomlint::checks;
  static const Engine engine{Settings{}};
  std::string text(reinterpret_cast<const char*>(data), size);
  oomlint::ts::Parser parser;
  size_t before = count_syntax_errors(parser.parse(text));
  FixOutcome once = apply_fixes(engine, text, /*unsafe=*/true);
  if (count_syntax_errors(parser.parse(once.text)) > before) std::abort();
  FixOutcome twice = apply_fixes(engine, once.text, true);
  // Ten rounds are the limit of one call; only a text that converged must stay put.
  if (once.applied < 10 && (twice.applied != 0 || twice.text != once.text)) std::abort();
  return 0;
}
