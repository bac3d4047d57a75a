// OOM011 training-state-exceeds-gpu-memory (M1, M4): the run the script sets up needs more than
// one GPU has. When the fit planner (estimate/fit.h) can predict the run's peak from what the
// script says, the rule compares that peak (activations, logits, temporaries, the allocator's
// reserve and the CUDA context included); otherwise, or when a guess would dominate the peak,
// the fixed part alone (weights, gradients, optimizer state). Needs Settings::gpu_memory_bytes;
// silent when it is 0.
#include <algorithm>
#include <array>

#include "estimate/fit.h"
#include "estimate/run.h"
#include "estimate/script.h"

#include "kit.h"

namespace oomlint::checks {
namespace {

struct State : RuleState {
  estimate::ScriptScanner scanner;
  Node module; // the file's module node, for the planner's second read (estimate/run.h)
};

class TrainingStateExceedsGpuMemory final : public RuleBase<TrainingStateExceedsGpuMemory> {
public:
  static constexpr RuleMeta kMeta{
      .code = "OOM011",
      .slug = "training-state-exceeds-gpu-memory",
      .section = "M1",
      .severity = Severity::Warning,
      .fix = FixAvailability::None,
      .summary = "the run's predicted peak, or its training state alone, exceeds the GPU's memory",
  };
  static constexpr NodeKind kKinds[] = {"call", "assignment"};
  // finish() sizes only models loaded by a `.from_pretrained(...)` call (pipelines are
  // inference), so the call must be in code.
  static Prefilter needs() { return requires_all(code("from_pretrained")); }

  void check(Node node, Context& cx) const override {
    if (cx.settings().gpu_memory_bytes == 0) return;
    auto& st = cx.state<State>();
    if (st.module.null() && !cx.ancestors().empty()) st.module = cx.ancestors().front();
    st.scanner.visit(node, cx.sema());
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
    std::string why_fixed;
    if (auto msg = predicted_peak_message(a, *best, *where, gpu, cx, why_fixed)) {
      cx.report(where->arg_start, where->arg_end, std::move(*msg));
      return;
    }
    if (cur.total <= gpu) return;
    std::string msg =
        "`" + best->model_id + "` (" + (best->model.approximate ? "about " : "") +
        estimate::format_params(best->model.params) + " parameters) needs ≈ " +
        estimate::format_gb(cur.total) + " per GPU before activations with this set-up (" +
        best->setup.describe() + "): weights " + estimate::format_gb(cur.weights) + ", gradients " +
        estimate::format_gb(cur.gradients) + ", optimizer state " +
        estimate::format_gb(cur.optimizer) + "; more than the " + estimate::format_gb(gpu) +
        " GPU" + (why_fixed.empty() ? "" : " (activations not counted: " + why_fixed + ")") + ". ";
    if (const auto* rung = estimate::cheapest_fitting_rung(*best, gpu)) {
      msg += "The first rung of the ladder that fits: " + rung->label + " (≈ " +
             estimate::format_gb(rung->total) + ", " + rung->section + ") (M1)";
    } else {
      msg += "No single rung of the ladder fits: combine them (QLoRA with ZeRO-3 over more GPUs) "
             "or pick a smaller model (M1, M4)";
    }
    cx.report(where->arg_start, where->arg_end, std::move(msg));
  }

private:
  // The run's predicted peak, when the planner can give it for the model the rule sized and no
  // guess dominates it: the message when the peak exceeds `gpu`, nullopt otherwise. When the
  // planner is not used, `why_fixed` says why (empty when it simply has no input).
  static std::optional<std::string> predicted_peak_message(const estimate::ScriptAnalysis& a,
                                                           const estimate::MemoryEstimate& best,
                                                           const estimate::ModelRef& where,
                                                           double gpu, Context& cx,
                                                           std::string& why_fixed) {
    Node module = cx.state<State>().module;
    if (module.null()) return std::nullopt;
    estimate::RunFacts run = estimate::read_run(cx.source(), module);
    estimate::FitSetup f = estimate::fit_setup(a, run, {});
    if (!f.input || f.model_start != where.call_start) return std::nullopt;
    // Precision first: activations and logits scale with the sequence length and follow the
    // head, so a guessed length or head could make the peak; fall back to the fixed part then.
    // A guessed micro-batch of 1 is a lower bound and is kept (and said); so are documented
    // library defaults (TrainingArguments' batch of 8, TRL's max_length of 1024).
    if (!run.seq_len && !run.seq_default) {
      why_fixed = "the script sets no sequence length";
      return std::nullopt;
    }
    if (!run.head) {
      why_fixed = "the loading class does not say whether the head spans the vocabulary";
      return std::nullopt;
    }
    bool trl = std::any_of(run.training_args.begin(), run.training_args.end(),
                           [](const auto& c) { return c.trl; });
    if (trl && !run.checkpointing) {
      why_fixed = "TRL's configs turn gradient checkpointing on by default in some versions and "
                  "the script does not say";
      return std::nullopt;
    }
    estimate::Plan p = estimate::plan(*f.input, gpu);
    if (p.peak_bytes <= gpu) return std::nullopt;
    double fixed = 0;
    std::string parts;
    for (const auto& b : p.buckets) {
      if (b.bytes <= 0) continue;
      if (b.name == "weights" || b.name == "gradients" || b.name == "optimizer state") {
        fixed += b.bytes;
      }
      parts += (parts.empty() ? "" : ", ") + b.name + " " + estimate::format_gb(b.bytes);
    }
    std::string msg = "`" + best.model_id + "` (" + (best.model.approximate ? "about " : "") +
                      estimate::format_params(best.model.params) +
                      " parameters): predicted peak ≈ " + estimate::format_gb(p.peak_bytes) +
                      " per GPU for this run (" + p.setup + "), more than the " +
                      estimate::format_gb(gpu) + " GPU: " + parts + "; the peak is at " +
                      p.peak_moment + ".";
    if (!f.assumptions.empty()) {
      msg += " Assumed:";
      for (size_t i = 0; i < f.assumptions.size(); ++i) {
        msg += (i ? ", " : " ") + f.assumptions[i].what + " " + f.assumptions[i].assumed;
      }
      msg += ".";
    }
    msg += fixed <= gpu
               ? " Weights, gradients and optimizer state alone (≈ " + estimate::format_gb(fixed) +
                     ") fit: the step's activations and logits do not."
               : " Weights, gradients and optimizer state alone need ≈ " +
                     estimate::format_gb(fixed) + ": no batch size or checkpointing makes it fit.";
    if (p.cheapest_found) {
      std::string set;
      for (const auto& r : p.ladder) {
        if (r.in_cheapest_set) {
          set += (set.empty() ? "" : ", ") + r.change + " (" + r.section + ")";
        }
      }
      msg += set.empty() ? " (M1, M4)" : " The cheapest changes that fit: " + set + " (M1, M4)";
    } else {
      msg += " No set of the ladder's rungs fits this GPU: shard over more GPUs or pick a "
             "smaller model (M1, M4, M9)";
    }
    return msg;
  }
};

} // namespace
} // namespace oomlint::checks

OOMLINT_REGISTER_RULE(TrainingStateExceedsGpuMemory)
