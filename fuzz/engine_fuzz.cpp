// Harness 3: the engine on arbitrary bytes as Python, every rule enabled, no prefilter.
// No crash, no hang, no stack overflow, and every diagnostic range lies inside the text.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "engine.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const oomlint::checks::Engine engine{oomlint::checks::Settings{}};
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (const auto& d : engine.check(text, /*no_prefilter=*/true)) {
    if (d.start > d.end || d.end > size) std::abort();
    if (d.start_pos.line == 0 || d.start_pos.column == 0) std::abort();
  }
  return 0;
}
