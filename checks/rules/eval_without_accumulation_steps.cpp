// OOM151 eval-without-accumulation-steps (M15): Hugging Face TrainingArguments (or a TRL config
// derived from it) with evaluation turned on and no `eval_accumulation_steps`, so the Trainer
// gathers every evaluation batch's predictions on the GPU.
//
// Decided in finish(): `args = TrainingArguments(...)` is linked to the `Trainer(args=args, ...)`
// built from it in the same scope, or in a function that reads it as a global, which says
// whether there is an eval set and whether predictions are gathered at all (only with
// `compute_metrics`).
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "kit.h"

namespace oomlint::checks {
namespace {

std::string_view last_part(std::string_view q) {
  auto dot = q.rfind('.');
  return dot == std::string_view::npos ? q : q.substr(dot + 1);
}

bool is_trainer(const Semantics& m, Node call) {
  auto q = m.callee_name(call);
  if (!q) return false;
  std::string_view name = last_part(*q);
  if (q->starts_with("transformers.")) return name == "Trainer" || name == "Seq2SeqTrainer";
  return q->starts_with("trl.") && name.ends_with("Trainer");
}

bool has_splat(Node call) {
  Node args = Semantics::arguments(call);
  for (uint32_t i = 0, n = args.null() ? 0 : args.named_child_count(); i < n; ++i) {
    Node a = args.named_child(i);
    if (a.is("dictionary_splat") || a.is("list_splat")) return true;
  }
  return false;
}

bool is_none(Node n) {
  return n.is("none");
}

// Does the target of a binding (an assignment's left side, a `for` target, a `with ... as`
// target) bind `name`? Attributes and subscripts bind no name.
bool target_binds(const Semantics& m, Node t, std::string_view name) {
  if (t.is("identifier")) return m.text(t) == name;
  if (t.is("pattern_list") || t.is("tuple_pattern") || t.is("list_pattern") ||
      t.is("list_splat_pattern") || t.is("parenthesized_expression") || t.is("as_pattern_target")) {
    for (uint32_t i = 0, n = t.named_child_count(); i < n; ++i) {
      if (target_binds(m, t.named_child(i), name)) return true;
    }
  }
  return false;
}

// Is `name` a local variable of the function `fn`, so that it does not read the module's
// variable of that name? Python makes a name local when the function has it as a parameter or
// binds it anywhere in its body (assignment, `for` target, `with ... as`, `:=`), unless the
// function declares it `global`. The walk also reads nested functions, whose bindings are
// their own in Python: a name bound only there still reads as local here, which leaves the
// Trainer unlinked and its arguments reported. At module level (`fn` null) nothing is local.
bool local_to(const Semantics& m, Node fn, std::string_view name) {
  if (fn.null()) return false;
  Node params = fn.field("parameters");
  for (uint32_t i = 0, n = params.null() ? 0 : params.named_child_count(); i < n; ++i) {
    Node p = params.named_child(i);
    Node id = p;
    if (p.is("default_parameter") || p.is("typed_default_parameter")) {
      id = p.field("name");
    } else if (p.is("typed_parameter") || p.is("list_splat_pattern") ||
               p.is("dictionary_splat_pattern")) {
      id = p.named_child(0);
    }
    if (id.is("identifier") && m.text(id) == name) return true;
  }
  bool bound = false, global = false;
  visit_subtree(fn.field("body"), [&](Node n) {
    if (n.is("global_statement")) {
      for (uint32_t i = 0, c = n.named_child_count(); i < c; ++i) {
        if (m.text(n.named_child(i)) == name) global = true;
      }
    } else if (n.is("assignment") || n.is("augmented_assignment") || n.is("for_statement")) {
      bound = bound || target_binds(m, n.field("left"), name);
    } else if (n.is("named_expression")) {
      bound = bound || target_binds(m, n.field("name"), name);
    } else if (n.is("as_pattern_target")) {
      bound = bound || target_binds(m, n, name);
    }
    return true;
  });
  return bound && !global;
}

// Does a `return` in `body` (nested functions included: the walk does not stop at them) return
// a reduction of the logits: a call of argmax / argmin / max / min / topk, or a move to the CPU,
// written in the return or in an assignment to the name it returns (`preds =
// logits.argmax(-1)` ... `return preds`)? A lambda's body is its value.
bool returns_reduction(const Semantics& m, Node body, bool lambda) {
  auto reduced = [&](Node value) {
    bool found = false;
    visit_subtree(value, [&](Node n) {
      if (n.is("call")) {
        std::string_view tail = m.callee_tail(n);
        found = found || tail == "argmax" || tail == "argmin" || tail == "max" || tail == "min" ||
                tail == "topk" || tail == "cpu";
      }
      return !found;
    });
    return found;
  };
  if (lambda) return reduced(body);
  bool found = false;
  std::vector<std::string_view> returned; // names returned as they are
  visit_subtree(body, [&](Node n) {
    if (!n.is("return_statement")) return !found;
    found = found || reduced(n);
    Node v = n.named_child_count() > 0 ? n.named_child(0) : Node();
    if (v.is("identifier")) returned.push_back(m.text(v));
    return false;
  });
  if (found || returned.empty()) return found;
  visit_subtree(body, [&](Node n) {
    if (found) return false;
    if (!n.is("assignment")) return true;
    for (std::string_view name : returned) {
      if (target_binds(m, n.field("left"), name) && reduced(n.field("right"))) found = true;
    }
    return false;
  });
  return found;
}

// The definition of function `name` among the statements of `block` (a module or a function
// body), looking through decorators; null if none.
Node function_named(const Semantics& m, Node block, std::string_view name) {
  Node found;
  for (uint32_t i = 0, n = block.null() ? 0 : block.named_child_count(); i < n; ++i) {
    Node d = block.named_child(i);
    if (d.is("decorated_definition")) d = d.field("definition");
    if (d.is("function_definition") && m.text(d.field("name")) == name) found = d;
  }
  return found;
}

// Does the trainer's `preprocess_logits_for_metrics=pre` shrink the logits before the Trainer
// gathers them (Hugging Face's own remedy for evaluation running out of memory)? A lambda, or a
// function defined in the enclosing function or at module level, is read: it reduces them when
// it returns an argmax / max / topk of them, or moves them to the CPU. Any other hook (imported,
// a method) is taken to reduce them, which is what the hook is for.
bool reduces_logits(const Semantics& m, Node pre, Node fn, Node call) {
  if (pre.is("lambda")) return returns_reduction(m, pre.field("body"), true);
  if (!pre.is("identifier")) return true;
  std::string_view name = m.text(pre);
  Node def = fn.null() ? Node() : function_named(m, fn.field("body"), name);
  if (def.null()) {
    Node root = call;
    while (!root.parent().null())
      root = root.parent();
    def = function_named(m, root, name);
  }
  if (def.null()) return true;
  return returns_reduction(m, def.field("body"), false);
}

struct ArgsCall {
  Node call;
  uint32_t scope;
  bool module_level;
  std::string name; // the variable it is assigned to, if any
};

struct Consumer {
  uint32_t scope;
  Node function;            // the function it is built in (null at module level)
  std::string args_name;    // `args=training_args`
  uint32_t inline_args = 0; // start of `args=TrainingArguments(...)` written inline
  bool eval_dataset = false;
  bool compute_metrics = false;
  bool reduces_logits = false; // preprocess_logits_for_metrics shrinks what is gathered
  bool unknown = false;        // `**kwargs`: anything may be passed
};

struct State : RuleState {
  std::vector<ArgsCall> args_calls;
  std::vector<Consumer> consumers;
};

enum class Eval { Off, On, Unknown };

Eval strategy(const Semantics& m, Node call) {
  Node v = m.keyword(call, "eval_strategy");
  if (v.null()) v = m.keyword(call, "evaluation_strategy");
  if (v.null()) return Eval::Unknown;
  if (auto s = m.string_value(v)) return *s == "no" ? Eval::Off : Eval::On;
  if (v.is("attribute")) {
    // IntervalStrategy.STEPS / EPOCH / NO
    std::string_view member = m.text(v.field("attribute"));
    if (member == "NO") return Eval::Off;
    if (member == "STEPS" || member == "EPOCH") return Eval::On;
  }
  return Eval::Unknown;
}

class EvalWithoutAccumulationSteps final : public RuleBase<EvalWithoutAccumulationSteps> {
public:
  static constexpr RuleMeta kMeta{
      .code = "OOM151",
      .slug = "eval-without-accumulation-steps",
      .section = "M15",
      .severity = Severity::Warning,
      .fix = FixAvailability::Always,
      .summary =
          "Trainer evaluation without `eval_accumulation_steps` keeps all predictions on the GPU",
  };
  static constexpr NodeKind kKinds[] = {"call"};
  static Prefilter needs() { return requires_all(facts::training_arguments_terms()); }

  void check(Node call, Context& cx) const override {
    const Semantics& m = cx.sema();
    auto& st = cx.state<State>();
    Node fn = cx.enclosing_function();
    uint32_t scope = fn.null() ? 0 : fn.start();
    if (facts::is_training_arguments_call(m, call)) {
      std::string name;
      Node parent = cx.parent();
      if (parent.is("assignment") && parent.field("right") == call &&
          parent.field("left").is("identifier")) {
        name = std::string(m.text(parent.field("left")));
      }
      st.args_calls.push_back(ArgsCall{call, scope, fn.null(), std::move(name)});
      return;
    }
    // Something built from the arguments: `Trainer(args=training_args, eval_dataset=...)`, also
    // a user's Trainer subclass, which only the keyword can tell.
    Node args = m.keyword(call, "args");
    bool trainer = is_trainer(m, call);
    if (args.null() && trainer) args = Semantics::positional(call, 1);
    if (args.null()) return;
    Consumer c{scope, fn, {}, 0, false, false, has_splat(call)};
    if (args.is("identifier")) {
      c.args_name = std::string(m.text(args));
    } else if (args.is("call")) {
      c.inline_args = args.start();
    } else {
      return;
    }
    Node eval_ds = m.keyword(call, "eval_dataset");
    if (eval_ds.null() && trainer) eval_ds = Semantics::positional(call, 4);
    c.eval_dataset = !eval_ds.null() && !is_none(eval_ds);
    Node metrics = m.keyword(call, "compute_metrics");
    if (metrics.null() && trainer) metrics = Semantics::positional(call, 7);
    c.compute_metrics = !metrics.null() && !is_none(metrics);
    Node pre = m.keyword(call, "preprocess_logits_for_metrics");
    c.reduces_logits = !pre.null() && !is_none(pre) && reduces_logits(m, pre, fn, call);
    st.consumers.push_back(std::move(c));
  }

  void finish(Context& cx) const override {
    const Semantics& m = cx.sema();
    auto& st = cx.state<State>();
    // local_to() walks a whole function body: once per function and name.
    std::map<std::pair<uint32_t, std::string_view>, bool> local;
    auto reads_global = [&](Node fn, std::string_view name) {
      auto [it, fresh] = local.try_emplace({fn.null() ? UINT32_MAX : fn.start(), name}, false);
      if (fresh) it->second = local_to(m, fn, name);
      return !it->second;
    };
    for (const auto& a : st.args_calls) {
      Node call = a.call;
      if (has_splat(call) || !m.keyword(call, "eval_accumulation_steps").null()) continue;
      if (Semantics::bool_value(m.keyword(call, "prediction_loss_only")) == true) continue;
      Eval s = strategy(m, call);
      if (s == Eval::Off) continue;
      bool on = s == Eval::On || Semantics::bool_value(m.keyword(call, "do_eval")) == true;
      bool linked = false, gathers = false;
      for (const auto& c : st.consumers) {
        // The same scope, or a module-level variable that a function reads as a global.
        bool mine = c.inline_args == call.start() ||
                    (!a.name.empty() && c.args_name == a.name &&
                     (c.scope == a.scope || (a.module_level && reads_global(c.function, a.name))));
        if (!mine) continue;
        linked = true;
        on = on || c.eval_dataset;
        // Without compute_metrics, evaluation gathers only the loss: nothing piles up. With a
        // preprocess_logits_for_metrics that reduces the logits (to token ids, say), what piles
        // up is a small fraction of them.
        gathers = gathers || (c.compute_metrics && !c.reduces_logits) || c.unknown;
      }
      if (!on || (linked && !gathers)) continue;
      auto d = cx.report(Semantics::callee(call),
                         "evaluation is on but `eval_accumulation_steps` is not set: the Trainer "
                         "keeps the predictions of the whole eval set on the GPU; set it to move "
                         "them to the CPU every few steps (M15)");
      int steps = cx.settings().eval_accumulation_steps;
      if (steps < 1) steps = 1;
      if (auto edits = add_keyword_argument(cx.source(), call, "eval_accumulation_steps",
                                            std::to_string(steps))) {
        d.fix("Add `eval_accumulation_steps=" + std::to_string(steps) + "`", Applicability::Safe,
              std::move(*edits));
      }
    }
  }
};

} // namespace
} // namespace oomlint::checks

OOMLINT_REGISTER_RULE(EvalWithoutAccumulationSteps)
