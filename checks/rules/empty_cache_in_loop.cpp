// OOM203 empty-cache-in-loop (M20): torch.cuda.empty_cache() inside a training/eval step loop,
// or `torch_empty_cache_steps=1` in TrainingArguments (the Trainer empties the cache every step).
#include <array>

#include "kit.h"

namespace oomlint::checks {
namespace {

// Inside `if step % N == 0:` the call is deliberately periodic (what HF's
// torch_empty_cache_steps does); that is a choice, not the every-step mistake.
bool is_periodic(const Context& cx, Node loop) {
  auto anc = cx.ancestors();
  for (size_t i = anc.size(); i-- > 0 && !(anc[i] == loop);) {
    Node n = anc[i];
    if (n.is("if_statement") || n.is("elif_clause")) {
      std::string_view cond = cx.text(n.field("condition"));
      if (cond.find('%') != std::string_view::npos) return true;
    }
  }
  return false;
}

bool has_loop(Node fn) {
  bool found = false;
  visit_subtree(fn.field("body"), [&](Node n) {
    if (n.is("for_statement") || n.is("while_statement")) found = true;
    return !found;
  });
  return found;
}

bool runs_steps(const Context& cx, Node loop) {
  bool found = false;
  visit_subtree(loop.field("body"), [&](Node n) {
    if (found || n.is("function_definition") || n.is("class_definition")) return false;
    if (n.is("call")) {
      std::string_view tail = cx.sema().callee_tail(n);
      Node f = Semantics::callee(n);
      found = cx.analysis().is_model_call(n) || tail == "backward" ||
              (tail == "step" && f.is("attribute") && facts::is_optimizer(cx, f.field("object")));
    }
    return !found;
  });
  return found;
}

// Does the loop build a whole model on each pass (`model = GPTModel(cfg).bfloat16().to(dev)`,
// `AutoModel.from_pretrained(...)`)? Then each pass is a trial or an experiment (a search for the
// largest batch that fits, one model per configuration), not a step, and emptying the cache
// between them is the point.
bool builds_model_per_pass(const Context& cx, Node loop) {
  bool found = false;
  visit_subtree(loop.field("body"), [&](Node n) {
    if (found || n.is("function_definition") || n.is("class_definition")) return false;
    if (!n.is("assignment")) return true;
    Node v = n.field("right");
    // Peel `.to(device)`, `.cuda()`, `.half()`, `.bfloat16()`, `.float()`, `.eval()`, `.train()`.
    for (int i = 0; i < 8 && v.is("call") && Semantics::callee(v).is("attribute"); ++i) {
      std::string_view tail = cx.sema().callee_tail(v);
      if (tail != "to" && tail != "cuda" && tail != "half" && tail != "bfloat16" &&
          tail != "float" && tail != "eval" && tail != "train") {
        break;
      }
      v = Semantics::callee(v).field("object");
    }
    if (!v.is("call")) return true;
    Ref r = cx.analysis().callee(v);
    bool loads = cx.sema().callee_tail(v) == "from_pretrained" &&
                 (r.kind == Ref::Kind::Library && r.name.starts_with("transformers."));
    // A class of another package (`GPTModel(cfg)` from an installed one) counts when the name it
    // is bound to is a model's.
    std::string_view callee = cx.text(Semantics::callee(v));
    std::string_view last = callee.substr(callee.rfind('.') + 1);
    bool class_call = !last.empty() && last.front() >= 'A' && last.front() <= 'Z';
    found = loads ||
            ((r.kind == Ref::Kind::Class || r.kind == Ref::Kind::ProjectClass ||
              r.kind == Ref::Kind::Library) &&
             cx.analysis().is_nn_module(r) && !r.name.starts_with("torch.nn.")) ||
            (class_call && r.kind == Ref::Kind::Library &&
             cx.analysis().is_model_object(n.field("left")));
    return !found;
  });
  return found;
}

class EmptyCacheInLoop final : public RuleBase<EmptyCacheInLoop> {
public:
  static constexpr RuleMeta kMeta{
      .code = "OOM203",
      .slug = "empty-cache-in-loop",
      .section = "M20",
      .severity = Severity::Warning,
      .fix = FixAvailability::Sometimes,
      .summary = "`torch.cuda.empty_cache()` called on every training or evaluation step",
  };
  static constexpr NodeKind kKinds[] = {"call"};
  // The call (or the `torch_empty_cache_steps=` keyword), or a wrapper's name, in code; or a
  // project module the file imports that may empty the cache. And a step loop (or the keyword).
  static Prefilter needs() {
    return requires_all(code("empty_cache") | code("release_memory") | code("clear_device_cache") |
                            code("free_memory") | code("clear") |
                            imported_fact(FunctionFacts::FreesCache),
                        facts::step_loop_terms() | code("torch_empty_cache_steps"));
  }

  void check(Node call, Context& cx) const override {
    if (facts::is_training_arguments_call(cx.sema(), call)) {
      check_training_arguments(call, cx);
      return;
    }
    // torch.cuda.empty_cache() under any spelling (`acc = torch.cuda; acc.empty_cache()`), a
    // library's wrapper of it (accelerate's release_memory(), trl's empty_cache()), or a
    // function of the file or the project that calls one.
    bool direct =
        cx.sema().is_call_to(call, {"torch.cuda.empty_cache", "torch.cuda.memory.empty_cache"});
    if (!direct) {
      auto f = cx.analysis().call_facts(call);
      if (!f || !f->has(FunctionFacts::FreesCache)) return;
      // A helper that runs a model or a loop of its own (a whole training run per dataset) is
      // more than a per-step clean-up: emptying the cache between its runs is a choice.
      if (f->has(FunctionFacts::RunsForward) || f->has(FunctionFacts::Trains)) return;
      Ref r = cx.analysis().callee(call);
      if (r.kind == Ref::Kind::Function && has_loop(r.node)) return;
    }
    Node loop = cx.enclosing_loop(call);
    if (loop.null() || !facts::is_step_loop(cx, loop)) return;
    // Through a helper, the loop must be seen running steps itself (a model call, a backward, an
    // optimizer step): a loop over dataset names that trains one model each is not a step loop.
    if (!direct && !runs_steps(cx, loop)) return;
    // Recovery after an OOM (or any error) is the one place where freeing the cache is the point.
    for (Node a : cx.ancestors()) {
      if (a.is("except_clause")) return;
    }
    if (is_periodic(cx, loop)) return;
    if (builds_model_per_pass(cx, loop)) return;
    if (!direct) {
      std::string callee(cx.text(Semantics::callee(call)));
      cx.report(call, "`" + callee +
                          "()` empties the CUDA cache on every step: that frees no live tensor, "
                          "only hands cached blocks back to the driver, and slows each step (M20)");
      return; // it may do more than that: no fix
    }
    auto d =
        cx.report(call, "`empty_cache()` runs on every step: it frees no live tensor, only hands "
                        "cached blocks back to the driver, and slows each step (M20)");
    Node stmt = cx.parent();
    if (stmt.is("expression_statement") && stmt.named_child_count() == 1) {
      if (auto edits = delete_statement(cx.source(), stmt)) {
        d.fix("Remove the `empty_cache()` call", Applicability::Unsafe, std::move(*edits));
      }
    }
  }

private:
  // `torch_empty_cache_steps=1`: the Trainer calls empty_cache() after every optimizer step.
  static void check_training_arguments(Node call, Context& cx) {
    Node value = cx.sema().keyword(call, "torch_empty_cache_steps");
    if (value.null() || cx.sema().int_value(value) != 1) return;
    Node argument = value.parent();
    auto d = cx.report(argument,
                       "`torch_empty_cache_steps=1` makes the Trainer call `empty_cache()` after "
                       "every step: it frees no live tensor and slows each step; drop it, or use a "
                       "period of hundreds of steps if fragmentation is the problem (M20)");
    if (argument.is("keyword_argument")) {
      if (auto edits = remove_argument(argument)) {
        d.fix("Remove `torch_empty_cache_steps=1`", Applicability::Unsafe, std::move(*edits));
      }
    }
  }
};

} // namespace
} // namespace oomlint::checks

OOMLINT_REGISTER_RULE(EmptyCacheInLoop)
