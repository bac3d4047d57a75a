// What a run is configured with. Front ends fill it from the command line, a config file or
// LSP settings; the engine and rules only read it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace oomlint::checks {

// GPU generations in release order; bf16 needs Ampere or newer.
enum class TargetGpu { Volta, Turing, Ampere, Ada, Hopper, Blackwell };

std::optional<TargetGpu> parse_target_gpu(std::string_view name);
std::string_view to_string(TargetGpu gpu);
inline bool supports_bf16(TargetGpu gpu) {
  return gpu >= TargetGpu::Ampere;
}

struct Settings {
  // Code prefixes, Ruff style: "OOM" selects everything, "OOM20" the M20 rules, "OOM203" one.
  // The most specific matching prefix wins between select and ignore.
  std::vector<std::string> select = {"OOM"};
  std::vector<std::string> ignore;
  TargetGpu target_gpu = TargetGpu::Ampere;
  // Value that the OOM151 fix inserts for `eval_accumulation_steps=`.
  int eval_accumulation_steps = 8;
  // Memory of one GPU in bytes for the estimator rules; 0 = not set (those rules stay silent).
  uint64_t gpu_memory_bytes = 0;

  bool is_enabled(std::string_view code) const;
};

// Everything in `s` that changes what an engine reports, as one string: equal keys, equal
// engines (the CLI's results cache and the server's shared engines are keyed on it).
std::string settings_key(const Settings& s);

} // namespace oomlint::checks
