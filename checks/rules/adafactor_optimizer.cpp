// OOM121 adafactor-optimizer (M12): Adafactor chosen to save optimizer memory; it converges
// differently from AdamW, so the results need re-checking.
#include <array>

#include "kit.h"

namespace oomlint::checks {
namespace {

constexpr std::string_view kMessage =
    "Adafactor keeps factored row/column statistics instead of Adam's two per-parameter states, "
    "which saves optimizer memory but changes convergence: re-verify the results against an AdamW "
    "run; an 8-bit AdamW (`optim=\"adamw_bnb_8bit\"`) saves memory with about the same training "
    "behaviour (M12)";

bool is_adafactor_class(std::string_view q) {
  return q == "transformers.Adafactor" || q == "transformers.optimization.Adafactor" ||
         q == "torch.optim.Adafactor" || q == "torch.optim._adafactor.Adafactor" ||
         q == "torch.optim.adafactor.Adafactor";
}

class AdafactorOptimizer final : public RuleBase<AdafactorOptimizer> {
public:
  static constexpr RuleMeta kMeta{
      .code = "OOM121",
      .slug = "adafactor-optimizer",
      .section = "M12",
      .severity = Severity::Info,
      .fix = FixAvailability::None,
      .summary = "Adafactor saves optimizer memory but converges differently from AdamW",
  };
  static constexpr NodeKind kKinds[] = {"call"};
  static Prefilter needs() { return requires_all(anywhere("adafactor").ignoring_case()); }

  void check(Node call, Context& cx) const override {
    const Semantics& m = cx.sema();
    auto q = m.callee_name(call);
    if (!q) return;
    // Code the file's settings never run (`if args.use_adafactor:` off by default) picks nothing.
    if (cx.analysis().is_dead(call)) return;
    if (is_adafactor_class(*q)) {
      cx.report(call, std::string(kMessage));
      return;
    }
    if (!facts::is_training_arguments_class(*q)) return;
    Node optim = m.keyword(call, "optim");
    if (!optim.null()) {
      auto c = cx.analysis().constant(optim);
      auto v = c && c->kind == Const::Kind::Str ? std::optional<std::string_view>(c->s)
                                                : std::optional<std::string_view>();
      auto oq = m.qualified_name(optim); // OptimizerNames.ADAFACTOR
      if ((v && *v == "adafactor") || (oq && oq->ends_with("OptimizerNames.ADAFACTOR"))) {
        cx.report(optim, std::string(kMessage));
      }
      return;
    }
    // The older boolean flag (`adafactor=True`), replaced by `optim="adafactor"`.
    Node flag = m.keyword(call, "adafactor");
    if (Semantics::bool_value(flag) == true) cx.report(flag, std::string(kMessage));
  }
};

} // namespace
} // namespace oomlint::checks

OOMLINT_REGISTER_RULE(AdafactorOptimizer)
