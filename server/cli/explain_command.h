// `oomlint explain [FILE|-]` reads a CUDA out-of-memory message, or a whole log, and says what the
// numbers mean and which rung of the memory guide to try next (the decoding is cli/explain.h).
#pragma once

#include <string>
#include <vector>

namespace oomlint::cli {

int run_explain(const std::vector<std::string>& args);

} // namespace oomlint::cli
