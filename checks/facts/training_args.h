// The Hugging Face TrainingArguments family: transformers' TrainingArguments and
// Seq2SeqTrainingArguments, TRL's trainer configs (all subclasses of TrainingArguments) and
// sentence-transformers' training arguments. The one definition every rule uses.
#pragma once

#include <array>
#include <string_view>

#include "engine/prefilter.h"
#include "model/semantics.h"

namespace oomlint::checks::facts {

// TRL configs that derive from transformers.TrainingArguments (the old PPOConfig did not).
inline constexpr std::array<std::string_view, 15> kTrlTrainingConfigs{
    "SFTConfig", "DPOConfig",  "RewardConfig", "KTOConfig",  "ORPOConfig",
    "CPOConfig", "GRPOConfig", "GKDConfig",    "RLOOConfig", "OnlineDPOConfig",
    "BCOConfig", "PRMConfig",  "NashMDConfig", "XPOConfig",  "IterativeSFTConfig"};

// Is `qualified` (a resolved name) one of the family?
inline bool is_training_arguments_class(std::string_view qualified) {
  auto dot = qualified.rfind('.');
  std::string_view last = dot == std::string_view::npos ? qualified : qualified.substr(dot + 1);
  std::string_view root = qualified.substr(0, qualified.find('.'));
  if (root == "transformers") {
    return last == "TrainingArguments" || last == "Seq2SeqTrainingArguments";
  }
  if (root == "sentence_transformers") return last == "SentenceTransformerTrainingArguments";
  if (root == "trl") {
    for (auto c : kTrlTrainingConfigs) {
      if (last == c) return true;
    }
  }
  return false;
}

// A call that builds one (through any import spelling).
inline bool is_training_arguments_call(const Semantics& m, Node call) {
  auto q = m.callee_name(call);
  return q && is_training_arguments_class(*q);
}

// Every class of the family ends in an identifier token of its name in code (the import that
// binds it names it too, whatever the alias).
inline Clause training_arguments_terms() {
  Clause c = code("TrainingArguments");
  for (auto name : kTrlTrainingConfigs)
    c = c | code_identifier(name);
  return c;
}

// True when the call has a `**kwargs` argument (which may set any keyword).
inline bool has_dictionary_splat(Node call) {
  Node args = Semantics::arguments(call);
  for (uint32_t i = 0, n = args.null() ? 0 : args.named_child_count(); i < n; ++i) {
    if (args.named_child(i).is("dictionary_splat")) return true;
  }
  return false;
}

} // namespace oomlint::checks::facts
