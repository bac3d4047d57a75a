// OOM121 adafactor-optimizer (M12): Adafactor chosen to save optimizer memory; it converges
// differently from AdamW, so the results need re-checking.
#include <array>

#include "rule.h"

namespace oomlint::checks {
namespace {

constexpr RuleMeta kMeta{
    .code = "OOM121",
    .slug = "adafactor-optimizer",
    .section = "M12",
    .severity = Severity::Info,
    .fix = FixAvailability::None,
    .summary = "Adafactor saves optimizer memory but converges differently from AdamW",
};
constexpr std::array<std::string_view, 1> kKinds{"call"};
constexpr std::array<std::string_view, 1> kNeeds{"adafactor|Adafactor|ADAFACTOR"};

constexpr std::string_view kMessage =
    "Adafactor keeps factored row/column statistics instead of Adam's two per-parameter states, "
    "which saves optimizer memory but changes convergence: re-verify the results against an AdamW "
    "run; an 8-bit AdamW (`optim=\"adamw_bnb_8bit\"`) saves memory with about the same training "
    "behaviour (M12)";

// transformers.TrainingArguments, Seq2SeqTrainingArguments, trl's SFTConfig / DPOConfig...
bool is_training_arguments(std::string_view q) {
  bool hf = q.starts_with("transformers.") || q.starts_with("trl.");
  if (!hf) return false;
  std::string_view tail = q.substr(q.rfind('.') + 1);
  return tail.ends_with("TrainingArguments") || (q.starts_with("trl.") && tail.ends_with("Config"));
}

bool is_adafactor_class(std::string_view q) {
  return q == "transformers.Adafactor" || q == "transformers.optimization.Adafactor" ||
         q == "torch.optim.Adafactor" || q == "torch.optim._adafactor.Adafactor" ||
         q == "torch.optim.adafactor.Adafactor";
}

class AdafactorOptimizer final : public Rule {
public:
  const RuleMeta& meta() const override { return kMeta; }
  std::span<const std::string_view> node_kinds() const override { return kKinds; }
  std::span<const std::string_view> needs() const override { return kNeeds; }

  void check(Node call, Context& cx) const override {
    const SemanticModel& m = cx.model();
    auto q = m.callee_name(call);
    if (!q) return;
    if (is_adafactor_class(*q)) {
      cx.report(call, std::string(kMessage));
      return;
    }
    if (!is_training_arguments(*q)) return;
    Node optim = m.keyword(call, "optim");
    if (!optim.null()) {
      auto v = m.string_value(optim);
      auto oq = m.qualified_name(optim); // OptimizerNames.ADAFACTOR
      if ((v && *v == "adafactor") || (oq && oq->ends_with("OptimizerNames.ADAFACTOR"))) {
        cx.report(optim, std::string(kMessage));
      }
      return;
    }
    // The older boolean flag (`adafactor=True`), replaced by `optim="adafactor"`.
    Node flag = m.keyword(call, "adafactor");
    if (SemanticModel::bool_value(flag) == true) cx.report(flag, std::string(kMessage));
  }
};

} // namespace
} // namespace oomlint::checks

using oomlint::checks::AdafactorOptimizer;
OOMLINT_REGISTER_RULE(AdafactorOptimizer)
