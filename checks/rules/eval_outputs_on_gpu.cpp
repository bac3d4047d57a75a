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
// Prefilter (every entry is necessary; each lists the spellings of every path to a report):
// - "torch": calls are skipped unless the file imports torch, and an import names the module.
// - `append` / `extend`: the reported call.
// - mentions_gpu(): the file must contain "cuda", "device" or "accelerat".
// - a model output (is_model_output): OOMLINT_MODEL_OUTPUT_NEEDS (model_outputs.h says why).
// - an evaluation loop, or a step loop in eval mode. A step loop whose body calls backward or
//   an optimizer step is excluded by the uses_autograd / steps_optimizer check, so the step
//   loop here iterates over a `loader`/`Loader`/`batches` (L, Context::is_step_loop's byte
//   substrings) and eval mode needs `.eval()` or `.train(False)` (E: the method `eval`, or
//   `train` and the literal `False`; those two are whole identifiers, `=`, as ModeTracker reads
//   the callee's last name and a literal). An evaluation loop needs a split word S and a data
//   word D in its iterable, as words_of() splits it (see OOM153). (S and D) or (L and E) in CNF:
//   (S or L), (S or eval or train), (S or eval or False), (D or L). The iterable is read with its
//   one-line strings and without its comments and triple-quoted strings (is_eval_loop(),
//   Context::is_step_loop: `~`); mentions_gpu() reads the raw source; the rest is code (backtick).
#define OOM154_SPLIT "~<val>|~<valid>|~<validation>|~<eval>|~<evaluation>|~<test>|~<testing>|~<dev>"
#define OOM154_LOOP "~loader|~Loader|~batches"
constexpr std::array<std::string_view, 8> kNeeds{
    "`torch",
    "`append|`extend",
    "cuda|device|accelerat",
    OOMLINT_MODEL_OUTPUT_NEEDS,
    OOM154_SPLIT "|" OOM154_LOOP,
    OOM154_SPLIT "|`=train",
    OOM154_SPLIT "|`=False",
    OOM154_LOOP "|~LOader|~LOAder|~LOADer|~LOADEr|~LOADER|~<dl>|~<data>|~<dataset>|~<ds>|"
                "~<batches>|~<iter>|~<iterator>"};
#undef OOM154_SPLIT
#undef OOM154_LOOP

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
    SharedModelFacts& facts = cx.shared<SharedModelFacts>();
    if (!node.is("call")) {
      facts.record(cx, node);
      return;
    }
    if (!cx.model().imports("torch")) return;
    facts.on_call(cx, node);
    std::string_view tail = cx.model().callee_tail(node);
    if (tail != "append" && tail != "extend") return;
    Node list = SemanticModel::receiver(node);
    Node value = SemanticModel::positional(node, 0);
    if (!list.is("identifier") || value.null() || !SemanticModel::positional(node, 1).null()) {
      return;
    }
    Node loop = cx.enclosing_loop(node);
    if (!loop.is("for_statement") && !loop.is("while_statement")) return;
    bool eval_loop = is_eval_loop(cx, loop);
    if (!eval_loop && !(cx.is_step_loop(loop) && facts.modes.current(cx, node) == Mode::Eval))
      return;
    if (uses_autograd(cx, loop) || steps_optimizer(cx, loop)) return;
    if (!mentions_gpu(cx.source())) return;
    std::string_view name = cx.text(list);
    if (!list_accumulates_across(cx, loop, name)) return;
    OutputQuery q{cx, facts.models, loop, Concern::Device};
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
