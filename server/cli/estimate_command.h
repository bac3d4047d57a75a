// `oomlint estimate MODEL_OR_PATH [options]`: the memory a model needs to train (or run) in a
// given set-up, before activations, and the cheaper rungs of the guide's ladder.
#pragma once

#include <string>
#include <vector>

namespace oomlint::cli {

// `args` are the arguments after `estimate`. Exit code: 0, 1 when --gpu-memory is given and the
// set-up does not fit, 2 on a usage error or a model whose size is not known.
int run_estimate(const std::vector<std::string>& args);

} // namespace oomlint::cli
