#include "facts/grad_mode.h"

#include "facts/optimizer.h"
#include "model/syntax.h"

namespace oomlint::checks::facts {

bool is_no_grad_expr(const Semantics& m, Node e) {
  // torch.no_grad(), torch.inference_mode(), torch.set_grad_enabled(False), or the bare
  // decorator forms @torch.no_grad / @torch.inference_mode.
  Node target = e.is("call") ? Semantics::callee(e) : e;
  auto q = m.qualified_name(target);
  if (!q) return false;
  if (*q == "torch.no_grad" || *q == "torch.inference_mode" || *q == "torch.autograd.no_grad" ||
      *q == "torch.autograd.grad_mode.no_grad" || *q == "torch.autograd.grad_mode.inference_mode") {
    if (*q != "torch.no_grad" && e.is("call")) {
      // inference_mode(False) turns it off.
      Node mode = Semantics::positional(e, 0);
      if (Semantics::bool_value(mode) == false) return false;
    }
    return true;
  }
  if ((*q == "torch.set_grad_enabled" || *q == "torch.autograd.set_grad_enabled") && e.is("call")) {
    return Semantics::bool_value(Semantics::positional(e, 0)) == false;
  }
  return false;
}

namespace {

// Has a `torch.set_grad_enabled(False)` statement turned autograd off where the node runs?
// (Semantics::grad_switches, grad_off_everywhere.)
bool grad_switched_off(const Context& cx) {
  const Semantics& sema = cx.sema();
  const auto& switches = sema.grad_switches();
  if (switches.empty() && !sema.grad_off_everywhere()) return false;
  // The latest switch written before the node in its own block, or in a block around it within
  // the same function (at module level: up to the module), decides. The chain runs from the
  // root down to the node itself, which may be a statement of the block.
  auto ancestors = cx.ancestors();
  const size_t n = ancestors.size();
  Node node = cx.node();
  auto chain = [&](size_t i) { return i < n ? ancestors[i] : node; };
  for (size_t i = node.null() ? n : n + 1; i-- > 1;) {
    Node block = chain(i - 1), stmt = chain(i);
    if (block.is("function_definition") || block.is("lambda") || block.is("class_definition")) {
      break;
    }
    if (!block.is("block") && !block.is("module")) continue;
    const Semantics::GradSwitch* latest = nullptr;
    for (const auto& sw : switches) {
      if (sw.statement.start() < stmt.start() && sw.statement.parent() == block) latest = &sw;
    }
    if (latest) return latest->enabled == false;
  }
  // A program that turns autograd off at module level for good runs every function without it.
  if (sema.grad_off_everywhere()) {
    for (const Node& a : ancestors) {
      if (a.is("function_definition")) return true;
    }
  }
  return false;
}

bool in_no_grad_uncached(const Context& cx) {
  bool found = cx.any_with_or_function([&](Node scope, Node below) {
    // Only the body of a `with` is inside it, not its `with` clause.
    if (scope.is("with_statement") && below.is("block")) {
      Node clause;
      for (uint32_t i = 0, n = scope.named_child_count(); i < n; ++i) {
        if (scope.named_child(i).is("with_clause")) clause = scope.named_child(i);
      }
      for (uint32_t i = 0, n = clause.null() ? 0 : clause.named_child_count(); i < n; ++i) {
        Node value = clause.named_child(i).field("value");
        if (value.is("as_pattern")) value = value.named_child(0);
        if (is_no_grad_expr(cx.sema(), value)) return true;
      }
    } else if (scope.is("function_definition")) {
      for (Node d : cx.decorators(scope)) {
        if (is_no_grad_expr(cx.sema(), d)) return true;
      }
      // The walk goes on past the function: a closure defined inside a no_grad block is taken
      // to run there too.
    }
    return false;
  });
  return found || grad_switched_off(cx);
}

// in_no_grad() depends on the ancestors alone, and so on the innermost one: the last answer and
// the ancestor it was for (several rules ask it of the same node and of siblings). It also
// depends on the bindings (what `torch.no_grad` names), so on their generation, and on the grad
// switches written before the node: two statements of one block have the same innermost
// ancestor, and a `torch.set_grad_enabled(False)` between them changes the answer for the second.
struct NoGradMemo : RuleState {
  Node innermost;
  uint32_t generation = 0; // 0: nothing known
  size_t switches = 0;
  bool answer = false;
};

} // namespace

bool in_no_grad(const Context& cx) {
  NoGradMemo& memo = cx.shared<NoGradMemo>();
  Node innermost = cx.parent();
  uint32_t generation = cx.sema().generation();
  size_t switches = cx.sema().grad_switches().size();
  if (memo.generation == generation && memo.innermost == innermost && memo.switches == switches) {
    return memo.answer;
  }
  memo.innermost = innermost;
  memo.generation = generation;
  memo.switches = switches;
  memo.answer = in_no_grad_uncached(cx);
  return memo.answer;
}

bool runs_without_grad(const Context& cx, Node n) {
  return in_no_grad(cx) || cx.analysis().no_grad_at(n);
}

bool under_no_grad_until(const Context& cx, Node n, Node stop) {
  for (Node p = n.parent(); !p.null() && !(p == stop); p = p.parent()) {
    if (!p.is("with_statement")) continue;
    for (uint32_t i = 0, c = p.named_child_count(); i < c; ++i) {
      Node clause = p.named_child(i);
      if (!clause.is("with_clause")) continue;
      for (uint32_t j = 0, k = clause.named_child_count(); j < k; ++j) {
        Node v = clause.named_child(j).field("value");
        if (v.is("as_pattern")) v = v.named_child(0);
        auto q = cx.sema().callee_name(v);
        if (!q) continue;
        if (*q == "torch.no_grad" || *q == "torch.inference_mode") return true;
        if (*q == "torch.set_grad_enabled" &&
            Semantics::bool_value(Semantics::positional(v, 0)) == false) {
          return true;
        }
      }
    }
  }
  return false;
}

bool uses_autograd(const Context& cx, Node root) {
  bool found = false;
  visit_subtree(root, [&](Node n) {
    if (found) return false;
    if (n.is("call")) {
      std::string_view tail = cx.sema().callee_tail(n);
      if (tail == "backward" || tail == "manual_backward" || tail == "requires_grad_") {
        found = true;
      } else if (auto q = cx.sema().callee_name(n)) {
        if (*q == "torch.autograd.grad" || *q == "torch.autograd.backward") found = true;
      }
    } else if (n.is("identifier") && cx.text(n) == "requires_grad") {
      found = true;
    }
    return !found;
  });
  return found;
}

Clause uses_autograd_terms() {
  return code_identifier("backward") | code_identifier("manual_backward") |
         code_identifier("requires_grad") | code_identifier("requires_grad_") |
         code_identifier("autograd");
}

Prefilter trains_terms() {
  // uses_autograd or (a `step` call on an optimizer), as two clauses.
  return requires_all(uses_autograd_terms() | code_identifier("step"),
                      uses_autograd_terms() | optimizer_terms());
}

} // namespace oomlint::checks::facts
