// OOM154 eval-outputs-kept-on-gpu (M15): an evaluation loop appends model outputs / logits to a
// list that lives across the loop without moving them off the GPU.
#include <array>
#include <string>

#include "fix_helpers.h"
#include "model_outputs.h"
#include "rule.h"

namespace oomlint::checks {
namespace {

using namespace outputs;

constexpr RuleMeta kMeta{
    .code = "OOM154",
    .slug = "eval-outputs-kept-on-gpu",
    .section = "M15",
    .severity = Severity::Warning,
    .fix = FixAvailability::Always,
    .summary = "evaluation loop collects model outputs in a list without `.cpu()`",
};
constexpr std::array<std::string_view, 3> kKinds{"call", "assignment", "class_definition"};
constexpr std::array<std::string_view, 2> kNeeds{"append", "extend"};

struct State : RuleState {
  ModelBindings models;
  ModeTracker modes;
};

// Without any sign of a GPU the outputs are on the CPU already.
bool mentions_gpu(std::string_view source) {
  return source.find("cuda") != std::string_view::npos ||
         source.find("device") != std::string_view::npos ||
         source.find("accelerat") != std::string_view::npos;
}

class EvalOutputsOnGpu final : public Rule {
public:
  const RuleMeta& meta() const override { return kMeta; }
  std::span<const std::string_view> node_kinds() const override { return kKinds; }
  std::span<const std::string_view> needs() const override { return kNeeds; }

  void check(Node node, Context& cx) const override {
    State& st = cx.state<State>();
    if (!node.is("call")) {
      st.models.record(cx, node);
      return;
    }
    if (!cx.model().imports("torch")) return;
    st.modes.on_call(cx, node);
    std::string_view tail = cx.model().callee_tail(node);
    if (tail != "append" && tail != "extend") return;
    Node list = SemanticModel::receiver(node);
    Node value = SemanticModel::positional(node, 0);
    if (!list.is("identifier") || value.null() || !SemanticModel::positional(node, 1).null()) {
      return;
    }
    Node loop = cx.enclosing_loop(node);
    if (!loop.is("for_statement") && !loop.is("while_statement")) return;
    bool eval_loop = loop.is("for_statement") && is_eval_iterable(cx.text(loop.field("right")));
    if (!eval_loop && !(cx.is_step_loop(loop) && st.modes.current(cx, node) == Mode::Eval)) return;
    if (uses_autograd(cx, loop) || steps_optimizer(cx, loop)) return;
    if (!mentions_gpu(cx.source())) return;
    std::string_view name = cx.text(list);
    if (!list_accumulates_across(cx, loop, name)) return;
    OutputQuery q{cx, st.models, loop, Concern::Device};
    if (!is_model_output(q, value)) return;
    auto d = cx.report(node, "model outputs collected in `" + std::string(name) +
                                 "` stay on the GPU: the list grows by a batch of outputs every "
                                 "eval step until the GPU is full; append `.detach().cpu()` "
                                 "(M15)");
    bool detached = value.is("call") && cx.model().callee_tail(value) == "detach";
    std::string fixed = with_suffix(cx, value, detached ? ".cpu()" : ".detach().cpu()");
    if (!may_be_structured(q, value)) {
      d.fix("Move the outputs to the CPU before keeping them", Applicability::Unsafe,
            {replace(value, fixed)});
    }
  }
};

} // namespace
} // namespace oomlint::checks

using oomlint::checks::EvalOutputsOnGpu;
OOMLINT_REGISTER_RULE(EvalOutputsOnGpu)
