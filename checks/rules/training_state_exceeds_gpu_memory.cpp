// OOM011 training-state-exceeds-gpu-memory (M1): the weights, gradients and optimizer state of
// the script's set-up need more than one GPU has, before any activation. Needs
// Settings::gpu_memory_bytes; silent when it is 0.
#include <algorithm>
#include <array>

#include "estimate/script.h"

#include "kit.h"

namespace oomlint::checks {
namespace {

struct State : RuleState {
  estimate::ScriptScanner scanner;
};

class TrainingStateExceedsGpuMemory final : public RuleBase<TrainingStateExceedsGpuMemory> {
public:
  static constexpr RuleMeta kMeta{
      .code = "OOM011",
      .slug = "training-state-exceeds-gpu-memory",
      .section = "M1",
      .severity = Severity::Warning,
      .fix = FixAvailability::None,
      .summary = "weights, gradients and optimizer state alone exceed the GPU's memory",
  };
  static constexpr NodeKind kKinds[] = {"call", "assignment"};
  // finish() sizes only models loaded by a `.from_pretrained(...)` call (pipelines are
  // inference), so the call must be in code.
  static Prefilter needs() { return requires_all(code("from_pretrained")); }

  void check(Node node, Context& cx) const override {
    if (cx.settings().gpu_memory_bytes == 0) return;
    cx.state<State>().scanner.visit(node, cx.sema());
  }

  void finish(Context& cx) const override {
    double gpu = static_cast<double>(cx.settings().gpu_memory_bytes);
    if (gpu <= 0) return;
    auto a = cx.state<State>().scanner.finish(cx.source());
    if (!a.trains || !a.uncertain.empty()) return;
    // The trained model: the from_pretrained loads (pipelines are inference). With several, the
    // smallest, so that a frozen teacher or reference model never inflates the figure.
    std::optional<estimate::MemoryEstimate> best;
    const estimate::ModelRef* where = nullptr;
    for (const auto& r : a.models) {
      if (r.pipeline || !r.trained) continue;
      if (r.spread || r.dtype == "?") return; // weights spread, or a dtype we cannot read
      auto e = estimate::estimate_for(a, r);
      if (!e) return; // a model we cannot size: no claim about the script
      if (!best || e->model.params < best->model.params) {
        best = std::move(e);
        where = &r;
      }
    }
    if (!best || !where || best->current.assumed) return;
    // A quantized base can only be trained through adapters; that set-up is not a full fine-tune.
    if (best->setup.method == estimate::Method::Full && best->setup.quant_bits) return;
    const auto& cur = best->current;
    if (cur.total <= gpu) return;
    std::string msg = "`" + best->model_id + "` (" + (best->model.approximate ? "about " : "") +
                      estimate::format_params(best->model.params) + " parameters) needs ≈ " +
                      estimate::format_gb(cur.total) +
                      " per GPU before activations with this set-up (" + best->setup.describe() +
                      "): weights " + estimate::format_gb(cur.weights) + ", gradients " +
                      estimate::format_gb(cur.gradients) + ", optimizer state " +
                      estimate::format_gb(cur.optimizer) + "; more than the " +
                      estimate::format_gb(gpu) + " GPU. ";
    if (const auto* rung = estimate::cheapest_fitting_rung(*best, gpu)) {
      msg += "The first rung of the ladder that fits: " + rung->label + " (≈ " +
             estimate::format_gb(rung->total) + ", " + rung->section + ") (M1)";
    } else {
      msg += "No single rung of the ladder fits: combine them (QLoRA with ZeRO-3 over more GPUs) "
             "or pick a smaller model (M1, M4)";
    }
    cx.report(where->arg_start, where->arg_end, std::move(msg));
  }
};

} // namespace
} // namespace oomlint::checks

OOMLINT_REGISTER_RULE(TrainingStateExceedsGpuMemory)
