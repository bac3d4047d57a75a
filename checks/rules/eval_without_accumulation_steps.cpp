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

// Does the trainer's `preprocess_logits_for_metrics=pre` shrink the logits before the Trainer
// gathers them (Hugging Face's own remedy for evaluation running out of memory)? A lambda, or a
// function of this file, is read: it reduces them when it returns an argmax / max / topk of them,
// or moves them to the CPU. Any other hook (imported, a method) is taken to reduce them, which is
// what the hook is for.
bool reduces_logits(const Context& cx, Node pre) {
  const Semantics& m = cx.sema();
  if (pre.is("lambda")) return returns_reduction(m, pre.field("body"), true);
  if (!pre.is("identifier")) return true;
  // The function the name is bound to where it is passed (this file's; else imported: unread).
  Ref def = cx.analysis().resolve(pre);
  if (def.kind != Ref::Kind::Function || def.node.null()) return true;
  return returns_reduction(m, def.node.field("body"), false);
}

struct ArgsCall {
  Node call;
  uint32_t scope;
  bool module_level;
  std::string name; // the variable it is assigned to, if any
};

// What the file's models gather at evaluation, by the classes it loads with from_pretrained /
// from_config: logits of the vocabulary's size (causal, masked or seq2seq language models), or
// only a few numbers per sample (classification, token classification, QA, multiple choice).
enum class Logits { Unknown, Small, Vocabulary };

Logits logits_of_class(std::string_view cls) {
  for (std::string_view v : {"CausalLM", "LMHead", "MaskedLM", "Seq2SeqLM", "ConditionalGeneration",
                             "ForPreTraining", "Vision2Seq"}) {
    if (cls.find(v) != std::string_view::npos) return Logits::Vocabulary;
  }
  for (std::string_view v :
       {"SequenceClassification", "TokenClassification", "MultipleChoice", "QuestionAnswering",
        "ImageClassification", "AudioClassification", "ObjectDetection", "SemanticSegmentation"}) {
    if (cls.find(v) != std::string_view::npos) return Logits::Small;
  }
  return Logits::Unknown;
}

Logits logits_of_models(const Context& cx) {
  bool small = false, vocabulary = false;
  for (std::string_view method : {"from_pretrained", "from_config"}) {
    for (Node call : cx.analysis().flow().calls_named(method)) {
      auto q = cx.sema().callee_name(call);
      if (!q || !q->starts_with("transformers.")) continue;
      std::string_view cls = *q;
      for (std::string_view v : {"CausalLM", "LMHead", "MaskedLM", "Seq2SeqLM",
                                 "ConditionalGeneration", "ForPreTraining", "Vision2Seq"}) {
        if (cls.find(v) != std::string_view::npos) vocabulary = true;
      }
      for (std::string_view v : {"SequenceClassification", "TokenClassification", "MultipleChoice",
                                 "QuestionAnswering", "ImageClassification", "AudioClassification",
                                 "ObjectDetection", "SemanticSegmentation"}) {
        if (cls.find(v) != std::string_view::npos) small = true;
      }
    }
  }
  if (vocabulary) return Logits::Vocabulary;
  return small ? Logits::Small : Logits::Unknown;
}

struct Consumer {
  uint32_t scope = 0;
  Node function;            // the function it is built in (null at module level)
  std::string args_name;    // `args=training_args`
  Node args_node;           // that identifier
  uint32_t inline_args = 0; // start of `args=TrainingArguments(...)` written inline
  bool eval_dataset = false;
  bool compute_metrics = false;
  bool reduces_logits = false;     // preprocess_logits_for_metrics shrinks what is gathered
  Logits logits = Logits::Unknown; // of the `model=` it is given
  bool unknown = false;            // `**kwargs`: anything may be passed
};

struct State : RuleState {
  std::vector<ArgsCall> args_calls;
  std::vector<Consumer> consumers;
};

// Is `use` (an identifier) bound, on some path, to the assignment whose value is `call`? The
// flow follows the name through the function, or to the module when the function reads it as a
// global (no parameter, assignment or loop target of that name in it, or a `global`).
bool reaches(const Context& cx, Node use, Node call) {
  for (const Binding* b : cx.analysis().flow().reaching(cx.text(use), use)) {
    if (b->kind == Binding::Kind::Assign && b->value == call) return true;
  }
  return false;
}

// Is `name` read anywhere in the file (an identifier of that spelling that is not the target of
// the assignment of `call`)?
bool read_anywhere(const Context& cx, std::string_view name, Node call) {
  Node root = call;
  while (!root.parent().null())
    root = root.parent();
  Node target = call.parent().is("assignment") ? call.parent().field("left") : Node();
  bool found = false;
  std::vector<Node> stack{root};
  while (!stack.empty() && !found) {
    Node n = stack.back();
    stack.pop_back();
    if (n.is("identifier") && !(n == target) && cx.text(n) == name) found = true;
    n.append_named_children(stack);
  }
  return found;
}

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
    Consumer c;
    c.scope = scope;
    c.function = fn;
    c.unknown = has_splat(call);
    if (args.is("identifier")) {
      c.args_name = std::string(m.text(args));
      c.args_node = args;
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
    Node model = m.keyword(call, "model");
    if (model.null() && trainer) model = Semantics::positional(call, 0);
    if (!model.null()) {
      Ref cls = cx.analysis().class_of(model);
      if (cls.kind == Ref::Kind::Library) c.logits = logits_of_class(cls.name);
    }
    Node pre = m.keyword(call, "preprocess_logits_for_metrics");
    c.reduces_logits = !pre.null() && !is_none(pre) && reduces_logits(cx, pre);
    st.consumers.push_back(std::move(c));
  }

  void finish(Context& cx) const override {
    const Semantics& m = cx.sema();
    auto& st = cx.state<State>();
    // Classifiers gather a few numbers per sample, where no linked trainer says otherwise.
    std::optional<Logits> file_logits;
    for (const auto& a : st.args_calls) {
      Node call = a.call;
      if (has_splat(call) || !m.keyword(call, "eval_accumulation_steps").null()) continue;
      if (Semantics::bool_value(m.keyword(call, "prediction_loss_only")) == true) continue;
      // Seq2SeqTrainer with predict_with_generate gathers generated token ids, not logits.
      if (auto g = cx.analysis().constant(m.keyword(call, "predict_with_generate"));
          g && g->truthy()) {
        continue;
      }
      if (cx.analysis().is_dead(call)) continue;
      Eval s = strategy(m, call);
      if (s == Eval::Off) continue;
      bool on = s == Eval::On || Semantics::bool_value(m.keyword(call, "do_eval")) == true;
      bool linked = false, gathers = false, small = true;
      for (const auto& c : st.consumers) {
        // The arguments object itself, inline or through the name bound to it.
        bool mine = c.inline_args == call.start() ||
                    (!a.name.empty() && c.args_name == a.name && reaches(cx, c.args_node, call));
        if (!mine) continue;
        linked = true;
        on = on || c.eval_dataset;
        // Without compute_metrics, evaluation gathers only the loss: nothing piles up. With a
        // preprocess_logits_for_metrics that reduces the logits (to token ids, say), what piles
        // up is a small fraction of them.
        gathers = gathers || (c.compute_metrics && !c.reduces_logits) || c.unknown;
        Logits logits = c.logits;
        if (logits == Logits::Unknown) {
          if (!file_logits) file_logits = logits_of_models(cx);
          logits = *file_logits;
        }
        small = small && logits == Logits::Small;
      }
      if (linked && small) continue;
      if (!on || (linked && !gathers)) continue;
      // Arguments bound to a name that nothing reads configure nothing.
      if (!linked && !a.name.empty() && !read_anywhere(cx, a.name, call)) continue;
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
