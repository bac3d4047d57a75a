// The Hugging Face TrainingArguments family: transformers' TrainingArguments and
// Seq2SeqTrainingArguments, TRL's trainer configs (all subclasses of TrainingArguments) and
// sentence-transformers' training arguments. The one definition every rule uses.
#pragma once

#include <array>
#include <optional>
#include <string_view>

#include "engine/prefilter.h"
#include "model/semantics.h"
#include "model/values.h"

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

// The default of a field of transformers' TrainingArguments (and Seq2SeqTrainingArguments,
// sentence-transformers' subclass), for the fields the rules read: what a run gets when neither
// the command line nor the code sets it. TRL's configs are left out: several of them changed
// these defaults across versions (SFTConfig turns gradient checkpointing on in recent ones).
inline std::optional<Const> training_arguments_default(std::string_view qualified,
                                                       std::string_view field) {
  auto dot = qualified.rfind('.');
  std::string_view last = dot == std::string_view::npos ? qualified : qualified.substr(dot + 1);
  std::string_view root = qualified.substr(0, qualified.find('.'));
  bool seq2seq = root == "transformers" && last == "Seq2SeqTrainingArguments";
  bool plain = (root == "transformers" && last == "TrainingArguments") ||
               (root == "sentence_transformers" && last == "SentenceTransformerTrainingArguments");
  if (!seq2seq && !plain) return std::nullopt;
  if (field == "gradient_checkpointing" || field == "fp16" || field == "bf16" ||
      field == "torch_compile" || (seq2seq && field == "predict_with_generate")) {
    return Const::boolean(false);
  }
  if (field == "per_device_train_batch_size" || field == "per_device_eval_batch_size") {
    return Const::integer(8);
  }
  if (field == "gradient_accumulation_steps") return Const::integer(1);
  return std::nullopt;
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
