// Recognises calls that build a Hugging Face TrainingArguments object: transformers'
// TrainingArguments / Seq2SeqTrainingArguments, TRL's trainer configs (all subclasses of
// TrainingArguments) and sentence-transformers' training arguments. Shared by OOM152 and OOM203.
#pragma once

#include <array>
#include <string_view>

#include "model.h"

namespace oomlint::checks {

inline bool is_training_arguments_call(const SemanticModel& m, Node call) {
  auto q = m.callee_name(call);
  if (!q) return false;
  std::string_view name = *q;
  auto dot = name.rfind('.');
  std::string_view last = dot == std::string_view::npos ? name : name.substr(dot + 1);
  std::string_view root = name.substr(0, name.find('.'));
  if (root == "transformers") {
    return last == "TrainingArguments" || last == "Seq2SeqTrainingArguments";
  }
  if (root == "sentence_transformers") return last == "SentenceTransformerTrainingArguments";
  if (root == "trl") {
    // TRL configs that derive from transformers.TrainingArguments (the old PPOConfig did not).
    static constexpr std::array<std::string_view, 15> kTrl{
        "SFTConfig", "DPOConfig",  "RewardConfig", "KTOConfig",  "ORPOConfig",
        "CPOConfig", "GRPOConfig", "GKDConfig",    "RLOOConfig", "OnlineDPOConfig",
        "BCOConfig", "PRMConfig",  "NashMDConfig", "XPOConfig",  "IterativeSFTConfig"};
    for (auto c : kTrl) {
      if (last == c) return true;
    }
  }
  return false;
}

// True when the call has a `**kwargs` argument (which may set any keyword).
inline bool has_dictionary_splat(Node call) {
  Node args = SemanticModel::arguments(call);
  for (uint32_t i = 0, n = args.null() ? 0 : args.named_child_count(); i < n; ++i) {
    if (args.named_child(i).is("dictionary_splat")) return true;
  }
  return false;
}

} // namespace oomlint::checks
