// OOM051 unscaled-accumulated-loss (M5): manual gradient accumulation (backward on every step,
// the optimizer step only under `if step % N == 0`) where the loss is not divided by N.
#include <array>
#include <string>
#include <vector>

#include "kit.h"

namespace oomlint::checks {
namespace {

bool is_primary(Node n) {
  return n.is("identifier") || n.is("attribute") || n.is("integer") ||
         n.is("parenthesized_expression");
}

// The expression divides or multiplies (`x / n`, `x * w`, `x.div(n)`, `torch.mul(x, w)`).
bool has_division(const Semantics& m, Node expr) {
  std::vector<Node> stack{expr};
  for (int budget = 256; !stack.empty() && budget-- > 0;) {
    Node n = stack.back();
    stack.pop_back();
    if (n.null()) continue;
    if (n.is("binary_operator")) {
      std::string_view op = m.text(n.field("operator"));
      if (op == "/" || op == "*" || op == "//") return true;
    }
    if (n.is("call")) {
      std::string_view tail = m.callee_tail(n);
      if (tail == "div" || tail == "div_" || tail == "mul" || tail == "mul_" ||
          tail == "true_divide" || tail == "divide" || tail == "multiply") {
        return true;
      }
    }
    n.append_named_children(stack);
  }
  return false;
}

// The `%` operation of an `if` condition such as `(step + 1) % accum == 0`, or null. Only
// conditions that compare the remainder with zero count.
Node modulo_in_condition(const Context& cx, Node cond) {
  std::string text = cx.code_text(cond, /*strings=*/false);
  if (text.find("== 0") == std::string::npos && text.find("==0") == std::string::npos &&
      !cond.is("not_operator")) {
    return Node();
  }
  std::vector<Node> stack{cond};
  for (int budget = 64; !stack.empty() && budget-- > 0;) {
    Node n = stack.back();
    stack.pop_back();
    if (n.is("binary_operator") && cx.text(n.field("operator")) == "%") return n;
    if (n.is("lambda") || n.is("call")) continue;
    n.append_named_children(stack);
  }
  return Node();
}

bool is_optimizer_step(const Context& cx, Node call) {
  Node f = Semantics::callee(call);
  if (!f.is("attribute") || cx.text(f.field("attribute")) != "step") return false;
  std::string obj = cx.code_text(f.field("object"), /*strings=*/true);
  if (obj.find("sched") != std::string::npos) return false;
  return obj.find("optim") != std::string::npos || obj == "opt" || obj.ends_with(".opt") ||
         obj.find("scaler") != std::string::npos;
}

// The right-hand side computes a loss we can see: `criterion(...)`, `outputs.loss`,
// `model(**batch).loss`, `outputs["loss"]`, `outputs[0]`.
bool is_visible_loss(const Semantics& m, Node rhs) {
  if (rhs.is("call") && !m.callee_name(rhs)) {
    // A helper of the user's own (`compute_loss(model, batch)`) may divide inside; only the
    // conventional names of loss modules count as a plain loss computation.
    std::string_view tail = m.callee_tail(rhs);
    if (tail.ends_with("loss") && tail != "loss_fn" && tail != "loss_func" && tail != "loss_fct" &&
        tail != "loss_function" && tail != "lossfn") {
      return false;
    }
  }
  if (m.is_loss_expr(rhs)) return true;
  if (rhs.is("attribute")) return m.text(rhs.field("attribute")) == "loss";
  if (rhs.is("subscript")) {
    Node v = rhs.field("value");
    return m.int_value(rhs.field("subscript")) == 0 &&
           (v.is("call") || m.text(v).find("out") != std::string_view::npos);
  }
  return false;
}

// `loss.mean()`, `loss.sum()`, `loss + aux_loss`: an update of the loss from itself.
bool updates_itself(const Semantics& m, Node rhs, std::string_view loss) {
  if (rhs.is("call")) {
    Node f = Semantics::callee(rhs);
    return f.is("attribute") && f.field("object").is("identifier") &&
           m.text(f.field("object")) == loss;
  }
  if (rhs.is("binary_operator")) {
    Node left = rhs.field("left");
    return left.is("identifier") && m.text(left) == loss;
  }
  return false;
}

struct LoopFacts {
  Node modulo; // the `%` guarding the optimizer step
  bool step_seen = false;
  bool unguarded_step = false; // an optimizer step outside any modulo guard
  bool unguarded_zero_grad = false;
  bool loss_assigned = false; // a visible loss computation bound to the name
  bool loss_hidden = false;   // bound to something we cannot judge (a helper's result)
  bool scaled = false;        // divided or multiplied somewhere in the loop
};

// Walks the loop body (not nested loops, functions or classes) once.
LoopFacts scan_loop(const Context& cx, Node loop, std::string_view loss) {
  const Semantics& m = cx.sema();
  LoopFacts f;
  struct Item {
    Node node;
    Node guard;
  };
  std::vector<Item> stack{{loop.field("body"), Node()}};
  while (!stack.empty()) {
    auto [n, guard] = stack.back();
    stack.pop_back();
    if (n.null()) continue;
    std::string_view k = n.kind();
    if (k == "for_statement" || k == "while_statement" || k == "function_definition" ||
        k == "class_definition" || k == "lambda") {
      continue;
    }
    if (k == "if_statement" || k == "elif_clause") {
      Node mod = modulo_in_condition(cx, n.field("condition"));
      if (!mod.null()) {
        for (uint32_t i = 0, c = n.named_child_count(); i < c; ++i) {
          Node ch = n.named_child(i);
          // The consequence is guarded; an else branch is not.
          bool consequence = ch == n.field("consequence");
          stack.push_back({ch, consequence ? mod : guard});
        }
        continue;
      }
    }
    if (k == "call") {
      if (is_optimizer_step(cx, n)) {
        f.step_seen = true;
        if (guard.null()) {
          f.unguarded_step = true;
        } else if (f.modulo.null()) {
          f.modulo = guard;
        }
      } else if (m.callee_tail(n) == "zero_grad" && guard.null()) {
        f.unguarded_zero_grad = true;
      }
    }
    if ((k == "assignment" || k == "augmented_assignment") && m.text(n.field("left")) == loss) {
      Node rhs = n.field("right");
      if (k == "augmented_assignment") {
        std::string_view op = m.text(n.field("operator"));
        if (op == "/=" || op == "*=") f.scaled = true;
      } else if (updates_itself(m, rhs, loss)) {
        // loss = loss.mean() / loss = loss + aux: still the same loss (scaling is caught below)
      } else if (is_visible_loss(m, rhs)) {
        f.loss_assigned = true;
      } else {
        f.loss_hidden = true;
      }
      if (!rhs.null() && has_division(m, rhs)) f.scaled = true;
    }
    for (Node c : n.named_children())
      stack.push_back({c, guard});
  }
  return f;
}

class UnscaledAccumulatedLoss final : public RuleBase<UnscaledAccumulatedLoss> {
public:
  static constexpr RuleMeta kMeta{
      .code = "OOM051",
      .slug = "unscaled-accumulated-loss",
      .section = "M5",
      .severity = Severity::Warning,
      .fix = FixAvailability::Sometimes,
      .summary = "gradient accumulation without dividing the loss by the accumulation count",
  };
  static constexpr NodeKind kKinds[] = {"call"};
  // The reported `.backward()`; an optimizer step (`.step()` on an optimizer) guarded by an `if`
  // whose condition takes a `%` and compares it with `== 0` / `==0` (exactly as
  // modulo_in_condition() searches) or negates it. The `%` operator, the calls and the condition
  // are code (the condition is searched in its Context::code_text() without strings).
  static Prefilter needs() {
    return requires_all(code("%"), code("backward"), code("step"), facts::optimizer_terms(),
                        code("== 0") | code("==0") | code("not"));
  }

  void check(Node call, Context& cx) const override {
    const Semantics& m = cx.sema();
    Node f = Semantics::callee(call);
    if (!f.is("attribute") || m.text(f.field("attribute")) != "backward") return;
    // `loss.backward()`, not `accelerator.backward(loss)` (Accelerate divides for you).
    if (!Semantics::positional(call, 0).null()) return;
    Node recv = f.field("object");
    Node loss = recv;
    if (recv.is("call")) {
      // scaler.scale(loss).backward()
      Node rf = Semantics::callee(recv);
      if (!rf.is("attribute") || m.text(rf.field("attribute")) != "scale" ||
          cx.code_text(rf.field("object"), /*strings=*/true).find("scaler") == std::string::npos) {
        return;
      }
      loss = Semantics::positional(recv, 0);
    }
    if (!loss.is("identifier")) return;
    Node loop = cx.enclosing_loop(call);
    if (!loop.is("for_statement") && !loop.is("while_statement")) return;
    // The backward itself must run on every iteration (not under a modulo guard).
    auto anc = cx.ancestors();
    for (size_t i = anc.size(); i-- > 0 && !(anc[i] == loop);) {
      if ((anc[i].is("if_statement") || anc[i].is("elif_clause")) &&
          cx.code_text(anc[i].field("condition"), /*strings=*/false).find('%') !=
              std::string::npos) {
        return;
      }
    }
    std::string_view name = m.text(loss);
    LoopFacts seen = scan_loop(cx, loop, name);
    if (!seen.step_seen || seen.unguarded_step || seen.modulo.null()) return;
    if (seen.unguarded_zero_grad || seen.scaled || seen.loss_hidden || !seen.loss_assigned) {
      return;
    }
    Node n = seen.modulo.field("right");
    std::string count(m.text(n));
    if (!is_primary(n)) count = "(" + count + ")";
    auto d = cx.report(call, "gradients are accumulated over `" + std::string(m.text(n)) +
                                 "` steps but `" + std::string(name) +
                                 "` is not divided by it: the update is that many times too "
                                 "large; use `" +
                                 std::string(name) + " = " + std::string(name) + " / " + count +
                                 "` before `backward()` (M5)");
    Node stmt = cx.parent();
    if (!stmt.is("expression_statement") || stmt.named_child_count() != 1) return;
    std::string_view src = cx.source();
    uint32_t ls = line_start_at(src, stmt.start());
    std::string_view indent = src.substr(ls, stmt.start() - ls);
    if (indent.find_first_not_of(" \t") != std::string_view::npos) return;
    std::string text =
        std::string(indent) + std::string(name) + " = " + std::string(name) + " / " + count + "\n";
    d.fix("Divide the loss by the accumulation count", Applicability::Unsafe,
          {Edit{ls, ls, std::move(text)}});
  }
};

} // namespace
} // namespace oomlint::checks

OOMLINT_REGISTER_RULE(UnscaledAccumulatedLoss)
