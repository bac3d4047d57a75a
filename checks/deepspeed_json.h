// DeepSpeed JSON configuration files (ds_config.json): the settings checks that apply to them
// (OOM091), for front ends that meet such a file. Python files go through the Engine instead.
#pragma once

#include <string_view>
#include <vector>

#include "diagnostic.h"
#include "settings.h"

namespace oomlint::checks {

// True when `text` looks like a DeepSpeed config (a JSON object with "zero_optimization").
bool is_deepspeed_json(std::string_view text);
// Diagnostics for a DeepSpeed JSON config, with positions in `text`. Invalid JSON gives none.
std::vector<Diagnostic> check_deepspeed_json(std::string_view text, const Settings& settings);

} // namespace oomlint::checks
