// Recognises the ways a Hugging Face script turns gradient checkpointing on: a
// `gradient_checkpointing=True` keyword in a TrainingArguments-family call, or a
// `<model>.gradient_checkpointing_enable(...)` call in a file that imports transformers, peft or
// trl (the method name alone says nothing in other code). Shared by OOM071 and OOM072.
#pragma once

#include "engine/context.h"
#include "facts/training_args.h"
#include "model/semantics.h"

namespace oomlint::checks::facts {

// The keyword_argument node `name=...` of a call, or null.
inline Node keyword_argument_node(const Semantics& m, Node call, std::string_view name) {
  Node args = Semantics::arguments(call);
  for (uint32_t i = 0, n = args.null() ? 0 : args.named_child_count(); i < n; ++i) {
    Node a = args.named_child(i);
    if (a.is("keyword_argument") && m.text(a.field("name")) == name) return a;
  }
  return Node();
}

inline bool imports_hf_training_library(const Semantics& m) {
  return m.imports("transformers") || m.imports("peft") || m.imports("trl");
}

// `x.gradient_checkpointing_enable(...)` in a file importing transformers / peft / trl.
inline bool is_checkpointing_enable_call(const Semantics& m, Node call) {
  if (!call.is("call") || !Semantics::callee(call).is("attribute")) return false;
  if (m.callee_tail(call) != "gradient_checkpointing_enable") return false;
  return imports_hf_training_library(m);
}

// The `gradient_checkpointing=...` keyword_argument of a TrainingArguments-family call whose
// value the code fixes to on (`True`, or `not args.no_gradient_checkpointing` with a flag that
// defaults to off), or null.
inline Node checkpointing_true_keyword(const Context& cx, Node call) {
  const Semantics& m = cx.sema();
  if (!is_training_arguments_call(m, call)) return Node();
  Node kw = keyword_argument_node(m, call, "gradient_checkpointing");
  if (kw.null()) return Node();
  auto v = cx.analysis().constant(kw.field("value"));
  return v && v->truthy() ? kw : Node();
}

// Code of a trainer itself (a method of a class named `*Trainer` or deriving from the Hugging
// Face Trainer, as vendored copies are): it runs on whatever arguments its user passes, so the
// user's script, not this code, decides whether checkpointing is on.
inline bool in_trainer_implementation(const Context& cx) {
  // The enclosing classes, through the scopes (not every ancestor node: a deep expression would
  // make that a walk per node).
  const Flow& flow = cx.analysis().flow();
  for (int32_t s = flow.scope_of(cx.node()); s > 0; s = flow.scope(s).parent) {
    const Flow::Scope& sc = flow.scope(s);
    if (sc.kind != Flow::Scope::Kind::Class) continue;
    Node a = sc.node;
    std::string_view name = cx.text(a.field("name"));
    if (name.ends_with("Trainer")) return true;
    Node supers = a.field("superclasses");
    for (Node c = supers.first_child(); !c.null(); c = c.next_sibling()) {
      if (!c.named()) continue;
      auto q = cx.sema().qualified_name(c);
      if (q && (q->ends_with(".Trainer") || q->ends_with("Seq2SeqTrainer"))) return true;
    }
  }
  return false;
}

} // namespace oomlint::checks::facts
