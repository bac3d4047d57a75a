// OOM204 retain-graph-in-loop (M20): `loss.backward(retain_graph=True)` in a training loop with no
// second backward after it in the same iteration.
#include <array>
#include <string>

#include "fix_helpers.h"
#include "model_outputs.h"
#include "rule.h"

namespace oomlint::checks {
namespace {

using namespace outputs;

constexpr RuleMeta kMeta{
    .code = "OOM204",
    .slug = "retain-graph-in-loop",
    .section = "M20",
    .severity = Severity::Warning,
    .fix = FixAvailability::Always,
    .summary = "`backward(retain_graph=True)` on every training step without a second backward",
};
constexpr std::array<std::string_view, 1> kKinds{"call"};
// Prefilter (every entry is necessary): the `retain_graph=True` keyword, on a backward call
// (`backward`, `manual_backward`, torch.autograd.grad/backward), and `True`, all in the code
// (backtick: not in comments or strings); and a training loop (is_training_loop): a callee named
// `step` (steps_optimizer: a whole identifier, `=`, in the code) or a data word in the loop's
// iterable, as words_of() splits it (a word containing `loader`, spelled as in OOM153, or
// `batches`, `dl`, `data`, `dataset`). The iterable is read through Context::code_text() with
// its one-line strings (`~`: `loaders["train"]`), not its comments or triple-quoted strings.
constexpr std::array<std::string_view, 4> kNeeds{
    "`retain_graph", "`backward|`autograd", "`True",
    "`=step|~loader|~Loader|~LOader|~LOAder|~LOADer|~LOADEr|~LOADER|~<batches>|~<dl>|~<data>|"
    "~<dataset>"};

bool is_backward(const Context& cx, Node call) {
  std::string_view tail = cx.model().callee_tail(call);
  if (tail == "backward" || tail == "manual_backward") return true;
  auto q = cx.model().callee_name(call);
  return q && (*q == "torch.autograd.grad" || *q == "torch.autograd.backward");
}

// The loop runs training steps: it steps an optimizer or iterates over data.
bool is_training_loop(const Context& cx, Node loop) {
  if (steps_optimizer(cx, loop)) return true;
  if (!loop.is("for_statement")) return false;
  for (const auto& w : words_of(cx.code_text(loop.field("right"), /*strings=*/true))) {
    if (w.find("loader") != std::string::npos || w == "batches" || w == "dl" || w == "data" ||
        w == "dataset") {
      return true;
    }
  }
  return false;
}

class RetainGraphInLoop final : public Rule {
public:
  const RuleMeta& meta() const override { return kMeta; }
  std::span<const std::string_view> node_kinds() const override { return kKinds; }
  std::span<const std::string_view> needs() const override { return kNeeds; }

  void check(Node call, Context& cx) const override {
    if (!is_backward(cx, call)) return;
    Node value = cx.model().keyword(call, "retain_graph");
    if (SemanticModel::bool_value(value) != true) return;
    // Higher-order gradients (gradient penalties, meta-learning) need the graph on purpose.
    Node create = cx.model().keyword(call, "create_graph");
    if (!create.null() && SemanticModel::bool_value(create) != false) return;
    Node loop = cx.enclosing_loop(call);
    if (!loop.is("for_statement") && !loop.is("while_statement")) return;
    if (!cx.is_step_loop(loop) || !is_training_loop(cx, loop)) return;
    // A later backward in the same iteration (GAN discriminator then generator, several heads
    // over one trunk) is what retain_graph is for. Look through the outermost loop of the
    // function so that a critic loop followed by the generator step counts.
    Node outer = loop;
    auto anc = cx.ancestors();
    for (size_t i = anc.size(); i-- > 0;) {
      std::string_view k = anc[i].kind();
      if (k == "function_definition" || k == "lambda" || k == "class_definition") break;
      if (k == "for_statement" || k == "while_statement") outer = anc[i];
    }
    bool second = false;
    visit_subtree(outer, [&](Node n) {
      if (second) return false;
      if (n.end() <= call.end()) return false; // nothing after the call in there
      if (n.is("call") && n.start() >= call.end() && is_backward(cx, n)) second = true;
      return !second;
    });
    if (second) return;
    Node argument = value.parent();
    auto d =
        cx.report(argument, "`retain_graph=True` on every training step with no second backward "
                            "after it: the step's saved activations outlive the backward and stay "
                            "in memory while the next forward runs; drop it (M20)");
    if (argument.is("keyword_argument")) {
      if (auto edits = remove_argument(argument)) {
        d.fix("Remove `retain_graph=True`", Applicability::Unsafe, std::move(*edits));
      }
    }
  }
};

} // namespace
} // namespace oomlint::checks

using oomlint::checks::RetainGraphInLoop;
OOMLINT_REGISTER_RULE(RetainGraphInLoop)
