// The ZeRO offload judgement shared by OOM091's Python rule (dict literals) and the DeepSpeed JSON
// checker (checks/deepspeed_json.cpp): which offload settings a ZeRO stage ignores.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace oomlint::checks::facts {

struct ZeroOffloadIssue {
  std::string_view key; // "offload_param" or "offload_optimizer"
  std::string message;
};

// True for an offload device that moves state off the GPU ("none" turns offload off).
inline bool offloads(const std::optional<std::string>& device) {
  return device && (*device == "cpu" || *device == "nvme");
}

// `stage` is the ZeRO stage in effect (DeepSpeed's default is 0); the devices are the
// `device` values of the offload sections, nullopt when absent.
inline std::vector<ZeroOffloadIssue> zero_offload_issues(long long stage,
                                                         const std::optional<std::string>& param,
                                                         const std::optional<std::string>& optim,
                                                         bool stage_defaulted) {
  std::vector<ZeroOffloadIssue> out;
  std::string where = stage_defaulted ? "without a `stage` (DeepSpeed's default is 0)"
                                      : "with ZeRO stage " + std::to_string(stage);
  if (offloads(param) && stage != 3) {
    out.push_back({"offload_param",
                   "`offload_param` " + where +
                       ": parameter offload exists only in ZeRO stage 3, so DeepSpeed ignores it "
                       "and every parameter stays on the GPU; use stage 3 or drop it (M9/M10)"});
  }
  if (offloads(optim) && stage == 0) {
    out.push_back({"offload_optimizer",
                   "`offload_optimizer` " + where +
                       ": stage 0 does not partition the optimizer, so nothing is offloaded and "
                       "the optimizer state stays on the GPU; use stage 1, 2 or 3 (M9/M10)"});
  }
  return out;
}

} // namespace oomlint::checks::facts
