// `oomlint guide` prints the memory guide's table of contents; `oomlint guide M7` (also `m7`,
// `7`) prints one section (docs/guide/, embedded in the binary).
#pragma once

#include <string>
#include <vector>

namespace oomlint::cli {

int run_guide(const std::vector<std::string>& args);

} // namespace oomlint::cli
