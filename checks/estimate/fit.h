// From a training script (and the flags that override what it does not say) to the planner's
// input: the model and its architecture, the set-up of script.h, the step shape of run.h, and
// for every value the script does not fix, the default assumed and the flag that sets it. When
// the model or the training set-up cannot be found, the facts that are missing and how to give
// them, and no input. Protocol-free.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "estimate/plan.h"
#include "estimate/run.h"
#include "estimate/script.h"
#include "ts.h"

namespace oomlint::checks::estimate {

struct FitOverrides {
  std::optional<std::string> model; // hub id or local directory / config.json
  std::optional<long long> batch;
  std::optional<long long> seq_len;
  std::optional<int> gpus;
  std::optional<Attention> attention;
};

struct MissingFact {
  std::string fact;
  std::string how;
};

struct FitSetup {
  std::optional<PlanInput> input;
  std::vector<Assumption> assumptions;
  std::vector<MissingFact> missing;
  std::vector<std::string> uncertain;      // script.h's reasons the set-up may differ
  uint32_t model_start = 0, model_end = 0; // the model load the plan is for (0, 0: a flag)
};

FitSetup fit_setup(std::string_view text, const ts::Tree& tree, std::string_view base_dir,
                   const FitOverrides& flags = {});
// The same from a script already analysed (what OOM011 has: its scanner's analysis and
// read_run over the module).
FitSetup fit_setup(const ScriptAnalysis& a, const RunFacts& run, std::string_view base_dir,
                   const FitOverrides& flags = {});

// The smallest GPU of parse_gpu's table whose memory holds `bytes`, or nullopt.
std::optional<Gpu> smallest_gpu_for(double bytes);

// A Markdown paragraph for the hover on the model load: the run's predicted peak, the smallest
// GPU it fits, and what was assumed. Empty when the script does not show the set-up.
std::string fit_hover_markdown(std::string_view text, const ts::Tree& tree,
                               std::string_view base_dir);

} // namespace oomlint::checks::estimate
