// Recognises the ways a Hugging Face script turns gradient checkpointing on: a
// `gradient_checkpointing=True` keyword in a TrainingArguments-family call, or a
// `<model>.gradient_checkpointing_enable(...)` call in a file that imports transformers, peft or
// trl (the method name alone says nothing in other code). Shared by OOM071 and OOM072.
#pragma once

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

// The `gradient_checkpointing=True` keyword_argument of a TrainingArguments-family call, or null.
inline Node checkpointing_true_keyword(const Semantics& m, Node call) {
  if (!is_training_arguments_call(m, call)) return Node();
  Node kw = keyword_argument_node(m, call, "gradient_checkpointing");
  if (kw.null() || Semantics::bool_value(kw.field("value")) != true) return Node();
  return kw;
}

} // namespace oomlint::checks::facts
