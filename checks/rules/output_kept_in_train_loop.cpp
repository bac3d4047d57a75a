// OOM202 output-kept-in-train-loop (M20): a training loop appends model outputs / logits that
// still hold their autograd graph to a list that lives across the loop.
#include <array>
#include <string>

#include "kit.h"

namespace oomlint::checks {
namespace {

using namespace facts;

class OutputKeptInTrainLoop final : public RuleBase<OutputKeptInTrainLoop> {
public:
  static constexpr RuleMeta kMeta{
      .code = "OOM202",
      .slug = "output-kept-in-train-loop",
      .section = "M20",
      .severity = Severity::Warning,
      .fix = FixAvailability::Sometimes,
      .summary = "training loop keeps model outputs with their autograd graph in a list",
  };
  static constexpr NodeKind kKinds[] = {"call", "assignment", "class_definition"};
  // The file imports torch (the rule returns otherwise), the reported `append` / `extend`, a
  // step loop that trains, and a model output.
  static Prefilter needs() {
    return requires_all(code("torch"), code("append") | code("extend"), trains_terms(),
                        step_loop_terms(), model_output_terms());
  }

  void check(Node node, Context& cx) const override {
    SharedModelFacts& shared = cx.shared<SharedModelFacts>();
    if (!node.is("call")) {
      shared.record(cx, node);
      return;
    }
    std::string_view tail = cx.sema().callee_tail(node);
    if (tail != "append" && tail != "extend") return;
    if (!cx.sema().imports("torch")) return;
    Node list = Semantics::receiver(node);
    Node value = Semantics::positional(node, 0);
    if (!list.is("identifier") || value.null() || !Semantics::positional(node, 1).null()) {
      return;
    }
    Node loop = cx.enclosing_loop(node);
    if (!loop.is("for_statement") && !loop.is("while_statement")) return;
    if (!facts::is_step_loop(cx, loop) || facts::in_no_grad(cx)) return;
    // A training loop: it runs backward or an optimizer step (evaluation loops are OOM153/154).
    if (!uses_autograd(cx, loop) && !steps_optimizer(cx, loop)) return;
    if (is_eval_loop(cx, loop)) return;
    std::string_view name = cx.text(list);
    if (!list_accumulates_across(cx, loop, name)) return;
    if (cx.sema().is_loss_expr(value)) return; // a kept loss is OOM201
    OutputQuery q{cx, shared.models, loop, Concern::Graph};
    if (!is_model_output(q, value)) return;
    auto d = cx.report(node, "model outputs kept in `" + std::string(name) +
                                 "` with their autograd history: every step adds its output "
                                 "tensors and graph to GPU memory, which rises step after step; "
                                 "append `.detach()` (and `.cpu()` where the values allow) (M20)");
    if (!may_be_structured(q, value)) {
      d.fix("Detach the outputs before keeping them", Applicability::Safe,
            {replace(value, with_suffix(cx, value, ".detach()"))});
    }
  }
};

} // namespace
} // namespace oomlint::checks

OOMLINT_REGISTER_RULE(OutputKeptInTrainLoop)
