// OOM202 output-kept-in-train-loop (M20): a training loop appends model outputs / logits that
// still hold their autograd graph to a list that lives across the loop.
#include <array>
#include <string>

#include "fix_helpers.h"
#include "model_outputs.h"
#include "rule.h"

namespace oomlint::checks {
namespace {

using namespace outputs;

constexpr RuleMeta kMeta{
    .code = "OOM202",
    .slug = "output-kept-in-train-loop",
    .section = "M20",
    .severity = Severity::Warning,
    .fix = FixAvailability::Always,
    .summary = "training loop keeps model outputs with their autograd graph in a list",
};
constexpr std::array<std::string_view, 3> kKinds{"call", "assignment", "class_definition"};
// Prefilter (every entry is necessary):
// - "torch": the rule returns unless the file imports torch, and an import names the module.
// - `append` / `extend`: the reported call.
// - a training loop: uses_autograd (`backward`, `manual_backward`, `requires_grad(_)`,
//   torch.autograd.grad/backward) or steps_optimizer (`.step()` on a receiver containing "opt"
//   or "scaler"), and Context::is_step_loop (`backward`, an optimizer `.step`, or a
//   `loader`/`Loader`/`batches` iterable).
// - a model output (is_model_output): OOMLINT_MODEL_OUTPUT_NEEDS (model_outputs.h says why).
// Whole identifiers (`=`): uses_autograd wants a callee whose last name is `backward`,
// `manual_backward` or `requires_grad_`, an identifier `requires_grad`, or a name resolved to
// torch.autograd.grad/backward (`autograd` is in it, or in the import that binds it);
// is_step_loop an attribute that is `backward` or `step`; steps_optimizer a callee named `step`.
// The loop's iterable and the receiver of a step are read through Context::code_text() with
// their one-line strings (`~`: `for b in loaders["train"]`, `getattr(trainer, "optim").step()`);
// everything else is code (backtick).
constexpr std::array<std::string_view, 6> kNeeds{
    "`torch",
    "`append|`extend",
    "`=backward|`=manual_backward|`=requires_grad|`=requires_grad_|`=autograd|`=step",
    "`=backward|`=manual_backward|`=requires_grad|`=requires_grad_|`=autograd|~opt|~scaler",
    "~loader|~Loader|~batches|`=backward|`=step",
    OOMLINT_MODEL_OUTPUT_NEEDS};

class OutputKeptInTrainLoop final : public Rule {
public:
  const RuleMeta& meta() const override { return kMeta; }
  std::span<const std::string_view> node_kinds() const override { return kKinds; }
  std::span<const std::string_view> needs() const override { return kNeeds; }

  void check(Node node, Context& cx) const override {
    SharedModelFacts& facts = cx.shared<SharedModelFacts>();
    if (!node.is("call")) {
      facts.record(cx, node);
      return;
    }
    std::string_view tail = cx.model().callee_tail(node);
    if (tail != "append" && tail != "extend") return;
    if (!cx.model().imports("torch")) return;
    Node list = SemanticModel::receiver(node);
    Node value = SemanticModel::positional(node, 0);
    if (!list.is("identifier") || value.null() || !SemanticModel::positional(node, 1).null()) {
      return;
    }
    Node loop = cx.enclosing_loop(node);
    if (!loop.is("for_statement") && !loop.is("while_statement")) return;
    if (!cx.is_step_loop(loop) || cx.in_no_grad()) return;
    // A training loop: it runs backward or an optimizer step (evaluation loops are OOM153/154).
    if (!uses_autograd(cx, loop) && !steps_optimizer(cx, loop)) return;
    if (is_eval_loop(cx, loop)) return;
    std::string_view name = cx.text(list);
    if (!list_accumulates_across(cx, loop, name)) return;
    if (cx.model().is_loss_expr(value)) return; // a kept loss is OOM201
    OutputQuery q{cx, facts.models, loop, Concern::Graph};
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

using oomlint::checks::OutputKeptInTrainLoop;
OOMLINT_REGISTER_RULE(OutputKeptInTrainLoop)
