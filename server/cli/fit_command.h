// `oomlint fit SCRIPT [--gpu NAME|SIZE] [--gpus N] [--seq-len N] [--batch N]`: the predicted
// peak GPU memory of the training run a script sets up, bucket by bucket with formulas and
// sources, and the guide's ladder (M4) down to the cheapest set of changes that fits the GPU.
#pragma once

#include <string>
#include <vector>

namespace oomlint::cli {

// Exit code: 0 (fits, or no --gpu given), 1 when it does not fit --gpu, 2 on a usage or I/O
// error, 3 when the script does not show the model or the training set-up (the missing facts
// are printed, no number).
int run_fit(const std::vector<std::string>& args);

} // namespace oomlint::cli
