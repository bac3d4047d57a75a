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
};

RunFacts read_run(std::string_view text, const ts::Tree& tree, std::string_view base_dir = {});

} // namespace oomlint::checks::estimate
