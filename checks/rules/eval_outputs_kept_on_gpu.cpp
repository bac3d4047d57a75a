// OOM154 eval-outputs-kept-on-gpu (M15): an evaluation loop appends model outputs / logits to a
// list that lives across the loop without moving them off the GPU.
#include <array>
#include <string>

#include "kit.h"

namespace oomlint::checks {
namespace {

using namespace facts;

class EvalOutputsOnGpu final : public RuleBase<EvalOutputsOnGpu> {
public:
  static constexpr RuleMeta kMeta{
      .code = "OOM154",
      .slug = "eval-outputs-kept-on-gpu",
      .section = "M15",
      .severity = Severity::Warning,
      .fix = FixAvailability::Always,
      .summary = "evaluation loop collects model outputs in a list without `.cpu()`",
  };
  static constexpr NodeKind kKinds[] = {"call", "assignment", "class_definition"};
  // The file imports torch (calls are skipped otherwise, and an import names the module), the
  // reported `append` / `extend`, a sign of a GPU (mentions_gpu reads the raw source), a model
  // output, and an evaluation loop: one over an evaluation split, or a data loop in eval mode (a
  // step loop that steps nothing, since training loops are skipped).
  static Prefilter needs() {
    return requires_all(code("torch"), code("append") | code("extend"), mentions_gpu_terms(),
                        model_output_terms(), evaluation_code_terms(),
                        eval_split_terms() | iterates_data_terms());
  }

  void check(Node node, Context& cx) const override {
    SharedModelFacts& shared = cx.shared<SharedModelFacts>();
    if (!node.is("call")) {
      shared.record(cx, node);
      return;
    }
    if (!cx.sema().imports("torch")) return;
    shared.on_call(cx, node);
    std::string_view tail = cx.sema().callee_tail(node);
    if (tail != "append" && tail != "extend") return;
    Node list = Semantics::receiver(node);
    Node value = Semantics::positional(node, 0);
    if (!list.is("identifier") || value.null() || !Semantics::positional(node, 1).null()) {
      return;
    }
    Node loop = cx.enclosing_loop(node);
    if (!loop.is("for_statement") && !loop.is("while_statement")) return;
    bool eval_loop = is_eval_loop(cx, loop);
    if (!eval_loop &&
        !(facts::is_step_loop(cx, loop) && shared.modes.current(cx, node) == Mode::Eval))
      return;
    if (uses_autograd(cx, loop) || steps_optimizer(cx, loop)) return;
    if (!mentions_gpu(cx.source())) return;
    std::string_view name = cx.text(list);
    if (!list_accumulates_across(cx, loop, name)) return;
    OutputQuery q{cx, shared.models, loop, Concern::Device};
    if (!is_model_output(q, value)) return;
    auto d = cx.report(node, "model outputs collected in `" + std::string(name) +
                                 "` stay on the GPU: the list grows by a batch of outputs every "
                                 "eval step until the GPU is full; append `.detach().cpu()` "
                                 "(M15)");
    bool detached = value.is("call") && cx.sema().callee_tail(value) == "detach";
    std::string fixed = with_suffix(cx, value, detached ? ".cpu()" : ".detach().cpu()");
    if (!may_be_structured(q, value)) {
      d.fix("Move the outputs to the CPU before keeping them", Applicability::Unsafe,
            {replace(value, fixed)});
    }
  }
};

} // namespace
} // namespace oomlint::checks

OOMLINT_REGISTER_RULE(EvalOutputsOnGpu)
