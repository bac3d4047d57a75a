// What a training script says about the shape of a step, beyond what script.h reads (model,
// precision, optimizer, sharding): the micro-batch, the sequence length, gradient accumulation,
// gradient checkpointing, the attention implementation, the model's head and the allocator
// setting. Values come from the deep analysis' constants (model/analysis.h: literals, module
// constants, argparse defaults, dataclass fields), never from a second evaluator.
// Protocol-free; reads a DeepSpeed JSON file named by the script (under base_dir).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "estimate/plan.h"
#include "ts.h"

namespace oomlint::checks::estimate {

// A value and where it was read ("per_device_train_batch_size=4 (line 12)").
template <typename T> struct Read {
  std::optional<T> value;
  std::string from;
  explicit operator bool() const { return value.has_value(); }
};

struct RunFacts {
  Read<long long> batch;
  Read<long long> seq_len;
  Read<long long> grad_accum;
  Read<bool> checkpointing;
  Read<Attention> attention;
  Read<Head> head;
  bool expandable_segments = false;
  // The library default that applies when the script builds the arguments without the value:
  // TrainingArguments' per_device_train_batch_size=8, SFTConfig's max_length=1024.
  Read<long long> batch_default;
  Read<long long> seq_default;
  // The TrainingArguments-family calls (facts/training_args.h), in source order: where they are,
  // and whether the class is one of TRL's configs (whose defaults changed across versions).
  struct ArgsCall {
    uint32_t start = 0, end = 0;
    bool trl = false;
  };
  std::vector<ArgsCall> training_args;
};

RunFacts read_run(std::string_view text, const ts::Tree& tree, std::string_view base_dir = {});
// The same from a parsed module (what a rule has).
RunFacts read_run(std::string_view text, ts::Node root, std::string_view base_dir = {});

// The TrainingArguments-family call whose extent contains `byte_offset` (the innermost one).
std::optional<RunFacts::ArgsCall> training_args_at(std::string_view text, const ts::Tree& tree,
                                                   uint32_t byte_offset);

} // namespace oomlint::checks::estimate
