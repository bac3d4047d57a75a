// OOM153 eval-without-no-grad (M15): a custom evaluation loop or function runs the model outside
// torch.no_grad() / torch.inference_mode().
#include <array>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "kit.h"

namespace oomlint::checks {
namespace {

using namespace facts;

struct Candidate {
  std::string function; // name of the enclosing function ("" at module level)
  uint32_t start = 0;
  uint32_t end = 0;
  std::string message;
  std::vector<Edit> edits;
};

struct State : RuleState {
  std::unordered_set<uint32_t> reported; // function (start + 1) or module-level loop start
  std::unordered_set<std::string_view> called_under_no_grad; // functions called under no_grad
  std::vector<Candidate> candidates;
  std::optional<std::string> no_grad_spelling;   // computed once per file, on the first candidate
  std::unordered_map<uint32_t, bool> eval_loops; // is_eval_loop, by the loop's start
  std::optional<bool> gpu;                       // mentions_gpu(source)
};

// `with torch.set_grad_enabled(phase == "train")` / `torch.enable_grad()`: the script manages
// gradients itself.
bool in_grad_switch(const Context& cx) {
  for (Node a : cx.ancestors()) {
    if (!a.is("with_statement")) continue;
    for (uint32_t i = 0, c = a.named_child_count(); i < c; ++i) {
      Node clause = a.named_child(i);
      if (!clause.is("with_clause")) continue;
      for (uint32_t j = 0, k = clause.named_child_count(); j < k; ++j) {
        Node v = clause.named_child(j).field("value");
        if (v.is("as_pattern")) v = v.named_child(0);
        auto q = cx.sema().callee_name(v);
        if (q && (*q == "torch.set_grad_enabled" || *q == "torch.enable_grad" ||
                  *q == "torch.autograd.set_grad_enabled")) {
          return true;
        }
      }
    }
  }
  return false;
}

// How the file spells `torch.no_grad`: "torch.no_grad", "T.no_grad", "no_grad", or "".
std::string no_grad_spelling(const Context& cx) {
  auto anc = cx.ancestors();
  if (anc.empty()) return {};
  Node module = anc.front();
  std::string plain, alias, direct;
  // One walk over the statements: named_child(i) would search from the first one each time.
  for (Node s : module.named_children()) {
    if (s.is("import_statement")) {
      for (uint32_t j = 0, c = s.named_child_count(); j < c; ++j) {
        Node item = s.named_child(j);
        if (item.is("dotted_name") && cx.text(item) == "torch") plain = "torch";
        if (item.is("aliased_import") && cx.text(item.field("name")) == "torch") {
          alias = std::string(cx.text(item.field("alias")));
        }
      }
    } else if (s.is("import_from_statement") && cx.text(s.field("module_name")) == "torch") {
      for (uint32_t j = 0, c = s.named_child_count(); j < c; ++j) {
        Node item = s.named_child(j);
        if (item.is("dotted_name") && cx.text(item) == "no_grad") direct = "no_grad";
      }
    }
  }
  if (!plain.empty()) return plain + ".no_grad";
  if (!alias.empty()) return alias + ".no_grad";
  return direct;
}

// Does the subtree ask for gradients (uses_autograd) or step an optimizer, in what starts at or
// after byte `from`?
bool trains_after(const Context& cx, Node root, uint32_t from) {
  bool found = false;
  visit_subtree(root, [&](Node n) {
    if (found || n.end() <= from) return !found && n.end() > from;
    if (n.start() < from) return true; // descend to what comes after
    if (uses_autograd(cx, n) || steps_optimizer(cx, n)) found = true;
    return false;
  });
  return found;
}

// `Variable(x, volatile=True)` somewhere in the subtree: PyTorch 0.3's way to run without
// autograd.
bool uses_volatile(const Context& cx, Node root) {
  bool found = false;
  visit_subtree(root, [&](Node n) {
    if (found) return false;
    if (n.is("keyword_argument") && cx.text(n.field("name")) == "volatile" &&
        Semantics::bool_value(n.field("value")) == true) {
      found = true;
    }
    return !found;
  });
  return found;
}

bool dummy_inputs(const Context& cx, Node call) {
  Node args = Semantics::arguments(call);
  bool any = false;
  for (Node a = args.first_child(); !a.null(); a = a.next_sibling()) {
    if (!a.named() || a.is("comment") || a.is("keyword_argument")) continue;
    Node v = a;
    if (v.is("identifier")) {
      auto bindings = cx.analysis().flow().reaching(cx.text(v), v);
      if (bindings.size() != 1 || bindings[0]->kind != Binding::Kind::Assign ||
          bindings[0]->depth != 0) {
        return false;
      }
      v = bindings[0]->value;
    }
    while (v.is("call") && Semantics::callee(v).is("attribute") &&
           (cx.sema().callee_tail(v) == "to" || cx.sema().callee_tail(v) == "cuda")) {
      v = Semantics::receiver(v);
    }
    auto q = v.is("call") ? cx.sema().callee_name(v) : std::nullopt;
    if (!q || !(*q == "torch.randn" || *q == "torch.rand" || *q == "torch.zeros" ||
                *q == "torch.ones" || *q == "torch.randint" || *q == "torch.empty")) {
      return false;
    }
    any = true;
  }
  return any;
}

bool freezes_parameters(const Context& cx, Node root) {
  bool found = false;
  visit_subtree(root, [&](Node n) {
    if (found) return false;
    if (n.is("assignment")) {
      Node left = n.field("left");
      if (left.is("attribute") && cx.text(left.field("attribute")) == "requires_grad" &&
          Semantics::bool_value(n.field("right")) == false) {
        found = true;
      }
    } else if (n.is("call") && cx.sema().callee_tail(n) == "requires_grad_" &&
               Semantics::bool_value(Semantics::positional(n, 0)) == false) {
      found = true;
    }
    return !found;
  });
  return found;
}

bool is_async(const Context& cx, Node fn) {
  return cx.text(fn).starts_with("async");
}

// Does the function also switch a model to training mode (then it trains too)?
bool calls_train(const Context& cx, Node fn) {
  bool found = false;
  visit_subtree(fn, [&](Node n) {
    if (found) return false;
    if (n.is("call") && cx.sema().callee_tail(n) == "train" && !Semantics::receiver(n).null()) {
      found = true;
    }
    return !found;
  });
  return found;
}

// Is `fn` a function nested in another that returns it by name (a closure factory)?
bool returned_by_factory(const Context& cx, Node fn) {
  if (fn.null() || !fn.is("function_definition")) return false;
  Node outer = cx.analysis().flow().function_of(fn.parent());
  if (outer.null() || !outer.is("function_definition")) return false;
  std::string_view name = cx.text(fn.field("name"));
  Node body = outer.field("body");
  for (uint32_t i = 0, n = body.named_child_count(); i < n; ++i) {
    Node stmt = body.named_child(i);
    if (stmt.is("return_statement") && stmt.named_child_count() == 1 &&
        stmt.named_child(0).is("identifier") && cx.text(stmt.named_child(0)) == name) {
      return true;
    }
  }
  return false;
}

class EvalWithoutNoGrad final : public RuleBase<EvalWithoutNoGrad> {
public:
  static constexpr RuleMeta kMeta{
      .code = "OOM153",
      .slug = "eval-without-no-grad",
      .section = "M15",
      .severity = Severity::Warning,
      .fix = FixAvailability::Sometimes,
      .summary = "evaluation code runs the model outside `torch.no_grad()` / `inference_mode()`",
  };
  static constexpr NodeKind kKinds[] = {"call", "assignment", "class_definition"};
  // The file imports torch (calls are skipped otherwise) and uses a GPU, a model call (or a
  // project helper that runs one), and evaluation code.
  static Prefilter needs() {
    return requires_all(code("torch"), mentions_gpu_terms(),
                        model_call_terms() | imported_fact(FunctionFacts::RunsForward),
                        evaluation_code_terms());
  }

  void check(Node node, Context& cx) const override {
    State& st = cx.state<State>();
    SharedModelFacts& shared = cx.shared<SharedModelFacts>();
    if (!node.is("call")) {
      shared.record(cx, node);
      return;
    }
    if (!cx.sema().imports("torch")) return;
    shared.on_call(cx, node);
    if (facts::in_no_grad(cx)) {
      Node f = Semantics::callee(node);
      if (f.is("identifier") || (f.is("attribute") && cx.text(f.field("object")) == "self")) {
        st.called_under_no_grad.insert(cx.sema().callee_tail(node));
      }
      return;
    }
    // The cheap questions first (where the call is), the model question last: resolving what a
    // callee is costs more than all of them together, and most calls are not in evaluation code.
    if (!st.gpu) st.gpu = mentions_gpu(cx.source()); // a scan of the whole file: once
    if (!*st.gpu) return;
    Node fn = cx.enclosing_function();
    std::string fn_name = fn.null() ? "" : std::string(cx.text(fn.field("name")));
    // Lightning runs these hooks under no_grad itself.
    if (fn_name == "validation_step" || fn_name == "test_step" || fn_name == "predict_step") {
      return;
    }
    // Unit tests (pytest / unittest `test_*`) exercise eval mode with autograd on purpose.
    if (fn_name.starts_with("test_")) return;
    Node loop = cx.enclosing_loop(node);
    if (!loop.is("for_statement") && !loop.is("while_statement")) loop = Node();
    bool eval_loop = false;
    if (!loop.null()) {
      auto [it, fresh] = st.eval_loops.try_emplace(loop.start(), false);
      if (fresh) it->second = is_eval_loop(cx, loop);
      eval_loop = it->second;
    }
    bool eval_mode = shared.modes.current(cx, node) == Mode::Eval;
    if (!eval_loop && !eval_mode) return;
    if (in_grad_switch(cx)) return;
    bool helper = false;
    if (!runs_model(cx, node, &helper)) return;
    // A helper that switches the model to eval mode itself is judged inside, where it runs it;
    // one that trains is a training step.
    if (helper) {
      auto f = cx.analysis().call_facts(node);
      if (f && (f->has(FunctionFacts::SetsEvalMode) || f->has(FunctionFacts::Trains))) return;
    }
    // A one-off call whose result is dropped (quantization calibration, warm-up, hooks) runs for
    // its side effects; only flag those inside an evaluation loop.
    if (!eval_loop && !helper && cx.parent().is("expression_statement")) return;
    // A one-batch step function built and handed back by a factory (`def make_val_step(model):
    // def step(x, y): ...; return step`): its callers' loops, not visible here, choose the grad
    // mode. A returned function with its own evaluation loop is judged as any other.
    if (loop.null() && returned_by_factory(cx, fn)) return;
    // Gradients wanted on purpose: adversarial examples, saliency maps, test-time training. In
    // eval mode, only what runs after the switch counts: a function that trains, then validates.
    Node scope = !loop.null() ? loop : !fn.null() ? fn : cx.ancestors().front();
    uint32_t from = eval_loop ? 0 : shared.modes.switched_at(cx);
    if (trains_after(cx, scope, from)) return;
    // PyTorch before 0.4 turned autograd off with `Variable(x, volatile=True)`.
    if (uses_volatile(cx, scope)) return;
    // A dummy forward (inputs made by torch.randn / zeros / ones here) probes shapes, exports or
    // warms up: no data is evaluated.
    if (!eval_loop && dummy_inputs(cx, node)) return;
    // Every parameter frozen first (`for p in net.parameters(): p.requires_grad = False`,
    // `net.requires_grad_(False)`): no graph is recorded.
    if (freezes_parameters(cx, fn.null() ? scope : fn)) return;
    if (cx.analysis().no_grad_at(node)) return;
    uint32_t key = !fn.null() ? fn.start() + 1 : (loop.null() ? node.start() : loop.start());
    if (!st.reported.insert(key).second) return;

    Candidate c;
    c.function = fn_name;
    c.start = node.start();
    c.end = node.end();
    std::string callee(cx.text(Semantics::callee(node)));
    std::string where = eval_loop ? std::string("an evaluation loop") : std::string("eval mode");
    c.message = helper ? "`" + callee + "(...)` runs the model in " + where +
                             " outside `torch.no_grad()` / `torch.inference_mode()`: autograd "
                             "records the graph and keeps every layer's activations for a "
                             "backward that never comes; call it under `torch.no_grad()` (M15)"
                       : "`" + callee + "(...)` runs in " + where +
                             " outside `torch.no_grad()` / `torch.inference_mode()`: autograd "
                             "records the graph and keeps every layer's activations for a "
                             "backward that never comes; run the evaluation under "
                             "`torch.no_grad()` (M15)";
    if (!fn.null() && fn.is("function_definition") && !is_async(cx, fn) && !uses_autograd(cx, fn) &&
        !steps_optimizer(cx, fn) && !calls_train(cx, fn)) {
      if (!st.no_grad_spelling) st.no_grad_spelling = no_grad_spelling(cx);
      const std::string& spelling = *st.no_grad_spelling;
      if (!spelling.empty()) {
        uint32_t at = line_start_at(cx.source(), fn.start());
        std::string indent(indentation_at(cx.source(), fn.start()));
        c.edits.push_back(Edit{at, at, indent + "@" + spelling + "()\n"});
      }
    }
    st.candidates.push_back(std::move(c));
  }

  void finish(Context& cx) const override {
    State& st = cx.state<State>();
    for (auto& c : st.candidates) {
      // `with torch.no_grad(): evaluate(model, val_loader)` elsewhere in the file.
      if (!c.function.empty() && st.called_under_no_grad.count(c.function)) continue;
      auto d = cx.report(c.start, c.end, c.message);
      if (!c.edits.empty()) {
        d.fix("Decorate the function with `@torch.no_grad()`", Applicability::Unsafe,
              std::move(c.edits));
      }
    }
  }
};

} // namespace
} // namespace oomlint::checks

OOMLINT_REGISTER_RULE(EvalWithoutNoGrad)
