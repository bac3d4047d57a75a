// Library functions that do what a rule looks for behind another name: the one table of them,
// each with where it comes from. A call that resolves to one of these counts as the call it
// wraps (model/analysis.cpp reads it through Analysis::call_facts).
#pragma once

#include <cstdint>
#include <string_view>

#include "model/values.h"

namespace oomlint::checks {

struct KnownWrapper {
  std::string_view qualified; // as imports resolve it
  uint32_t flags;             // FunctionFacts flags
  std::string_view source;    // where the behaviour is defined
};

inline constexpr KnownWrapper kKnownWrappers[] = {
    // The caching allocator's own entry points, on every device module.
    {"torch.cuda.empty_cache", FunctionFacts::FreesCache, "torch/cuda/memory.py"},
    {"torch.cuda.memory.empty_cache", FunctionFacts::FreesCache, "torch/cuda/memory.py"},
    {"torch.xpu.empty_cache", FunctionFacts::FreesCache, "torch/xpu/memory.py"},
    {"torch.mps.empty_cache", FunctionFacts::FreesCache, "torch/mps/__init__.py"},
    {"torch.npu.empty_cache", FunctionFacts::FreesCache, "torch_npu (Ascend)"},
    {"torch.mlu.empty_cache", FunctionFacts::FreesCache, "torch_mlu (Cambricon)"},
    {"torch.musa.empty_cache", FunctionFacts::FreesCache, "torch_musa (Moore Threads)"},
    {"torch.accelerator.empty_cache", FunctionFacts::FreesCache, "torch/accelerator/memory.py"},
    // accelerate: release_memory() runs gc.collect() and clear_device_cache(), which calls the
    // device module's empty_cache(); Accelerator.free_memory() / clear() call release_memory().
    {"accelerate.utils.release_memory", FunctionFacts::FreesCache, "accelerate/utils/memory.py"},
    {"accelerate.utils.memory.release_memory", FunctionFacts::FreesCache,
     "accelerate/utils/memory.py"},
    {"accelerate.utils.clear_device_cache", FunctionFacts::FreesCache,
     "accelerate/utils/memory.py"},
    {"accelerate.utils.memory.clear_device_cache", FunctionFacts::FreesCache,
     "accelerate/utils/memory.py"},
    {"accelerate.Accelerator.free_memory", FunctionFacts::FreesCache, "accelerate/accelerator.py"},
    {"accelerate.Accelerator.clear", FunctionFacts::FreesCache, "accelerate/accelerator.py"},
    {"accelerate.accelerator.Accelerator.free_memory", FunctionFacts::FreesCache,
     "accelerate/accelerator.py"},
    {"accelerate.accelerator.Accelerator.clear", FunctionFacts::FreesCache,
     "accelerate/accelerator.py"},
    // trl: empty_cache() empties the cache of the first device module it finds (CUDA last).
    {"trl.trainer.utils.empty_cache", FunctionFacts::FreesCache, "trl/trainer/utils.py"},
    {"trl.experimental.utils.empty_cache", FunctionFacts::FreesCache, "trl/experimental/utils.py"},
    {"trl.generation.vllm_generation.empty_cache", FunctionFacts::FreesCache,
     "trl/generation/vllm_generation.py"},
    // DeepSpeed's accelerator abstraction: get_accelerator().empty_cache() is the device's.
    {"deepspeed.accelerator.get_accelerator().empty_cache", FunctionFacts::FreesCache,
     "deepspeed/accelerator/cuda_accelerator.py"},
    // Memory history on and off.
    {"torch.cuda.memory._record_memory_history", 0, "torch/cuda/memory.py"},
};

inline const KnownWrapper* known_wrapper(std::string_view qualified) {
  for (const KnownWrapper& w : kKnownWrappers) {
    if (w.qualified == qualified) return &w;
  }
  return nullptr;
}

} // namespace oomlint::checks
