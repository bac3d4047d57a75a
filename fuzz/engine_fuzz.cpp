// Harness 3: the engine on arbitrary bytes as Python, every rule enabled. No crash, no hang, no
// stack overflow, every diagnostic range lies inside the text, and the prefilter changes nothing:
// a run that skips rules (or the whole parse) on the byte scan reports exactly what a run
// without it does, on broken code too, where a rule's reading of strings and comments could
// part from the scan's.
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <tuple>
#include <vector>

#include "engine/engine.h"

namespace {

bool same(const std::vector<oomlint::checks::Diagnostic>& a,
          const std::vector<oomlint::checks::Diagnostic>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tie(a[i].code, a[i].start, a[i].end, a[i].message) !=
        std::tie(b[i].code, b[i].start, b[i].end, b[i].message)) {
      return false;
    }
  }
  return true;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const oomlint::checks::Engine engine{oomlint::checks::Settings{}};
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto all = engine.check(text, /*no_prefilter=*/true);
  for (const auto& d : all) {
    if (d.start > d.end || d.end > size) std::abort();
    if (d.start_pos.line == 0 || d.start_pos.column == 0) std::abort();
  }
  if (!same(all, engine.check(text, /*no_prefilter=*/false))) std::abort();
  return 0;
}
