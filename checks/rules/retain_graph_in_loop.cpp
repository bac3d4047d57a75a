// OOM204 retain-graph-in-loop (M20): `loss.backward(retain_graph=True)` in a training loop with no
// second backward after it in the same iteration.
#include <array>
#include <string>

#include "facts/graph.h"
#include "kit.h"

namespace oomlint::checks {
namespace {

bool is_backward(const Context& cx, Node call) {
  std::string_view tail = cx.sema().callee_tail(call);
  if (tail == "backward" || tail == "manual_backward") return true;
  auto q = cx.sema().callee_name(call);
  return q && (*q == "torch.autograd.grad" || *q == "torch.autograd.backward");
}

// The tensor a backward call differentiates: `loss` of `loss.backward()`, the first argument of
// `torch.autograd.grad(loss, ...)` or of `manual_backward(loss)`.
Node differentiated(const Context& cx, Node call) {
  Node f = Semantics::callee(call);
  if (cx.sema().callee_tail(call) == "backward" && f.is("attribute") &&
      !cx.sema().callee_name(call)) {
    return f.field("object");
  }
  return Semantics::positional(call, 0);
}

// May a later backward `later` need the graph `call` keeps? Unless both losses are traced to
// their graphs (facts/graph.h) and those are disjoint, assume it may.
bool may_share_graph(const Context& cx, Node call, Node later) {
  Node a = differentiated(cx, call), b = differentiated(cx, later);
  if (a.null() || b.null()) return true;
  return facts::may_share_graph(cx, a, b);
}

class RetainGraphInLoop final : public RuleBase<RetainGraphInLoop> {
public:
  static constexpr RuleMeta kMeta{
      .code = "OOM204",
      .slug = "retain-graph-in-loop",
      .section = "M20",
      .severity = Severity::Warning,
      .fix = FixAvailability::Always,
      .summary = "`backward(retain_graph=True)` on every training step without a second backward",
  };
  static constexpr NodeKind kKinds[] = {"call"};
  // The `retain_graph=True` keyword on a backward call (`backward`, `manual_backward`,
  // torch.autograd.grad/backward), all in code, in a training loop.
  static Prefilter needs() {
    return requires_all(code("retain_graph"), code("backward") | code("autograd"), code("True"),
                        facts::training_loop_terms());
  }

  void check(Node call, Context& cx) const override {
    if (!is_backward(cx, call)) return;
    Node value = cx.sema().keyword(call, "retain_graph");
    if (Semantics::bool_value(value) != true) return;
    // Higher-order gradients (gradient penalties, meta-learning) need the graph on purpose.
    Node create = cx.sema().keyword(call, "create_graph");
    if (!create.null() && Semantics::bool_value(create) != false) return;
    Node loop = cx.enclosing_loop(call);
    if (!loop.is("for_statement") && !loop.is("while_statement")) return;
    if (!facts::is_step_loop(cx, loop) || !facts::is_training_loop(cx, loop)) return;
    // A later backward in the same iteration (GAN discriminator then generator, several heads
    // over one trunk) is what retain_graph is for. Look through the outermost loop of the
    // function so that a critic loop followed by the generator step counts.
    Node outer = loop;
    for (Node l : cx.enclosing_loops(call)) {
      if (l.is("for_statement") || l.is("while_statement")) outer = l;
    }
    // A later one whose loss is traced to other graphs (separate networks, the shared part
    // detached) does not need this one kept.
    bool second = false, disjoint_later = false;
    visit_subtree(outer, [&](Node n) {
      if (second) return false;
      if (n.end() <= call.end()) return false; // nothing after the call in there
      if (n.is("call") && n.start() >= call.end() && is_backward(cx, n)) {
        if (may_share_graph(cx, call, n)) {
          second = true;
        } else {
          disjoint_later = true;
        }
      }
      return !second;
    });
    if (second) return;
    Node argument = value.parent(); // a keyword_argument of the call's argument_list
    std::string why = disjoint_later
                          ? ", but no later backward in the step goes through this loss's graph"
                          : " with no second backward after it";
    auto d = cx.report(argument, "`retain_graph=True` on every training step" + why +
                                     ": the step's saved activations outlive the backward and "
                                     "stay in memory while the next forward runs; drop it (M20)");
    // remove_argument() has an edit for every argument of an argument_list: always a fix.
    d.fix("Remove `retain_graph=True`", Applicability::Unsafe, remove_argument(argument).value());
  }
};

} // namespace
} // namespace oomlint::checks

OOMLINT_REGISTER_RULE(RetainGraphInLoop)
