// The fixed, batch-independent memory of a training (or inference) set-up, per GPU, before any
// activation: the guide's M1 arithmetic (Adam mixed precision = 6 + 4 + 8 = 18 B/param) and the
// cheaper rungs of its ladder: 8-bit optimizer (M12), ZeRO sharding (M9), CPU offload (M10),
// LoRA / QLoRA (M13).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "estimate/model_size.h"

namespace oomlint::checks::estimate {

// Mixed: 16-bit compute over fp32 master weights (M1's 6 B weights). Half: the weights themselves
// are 16-bit (loaded with torch_dtype=bfloat16): no master copy, 16-bit grads and optimizer state.
enum class Precision { Fp32, Mixed, Half };
enum class Optimizer {
  AdamW,
  AdamW8bit,
  PagedAdamW8bit,
  PagedAdamW32bit,
  Adafactor,
  Sgd,
  SgdMomentum,
  Lion,
  Lion8bit
};
enum class Method { Inference, Full, Lora };

struct TrainingSetup {
  Method method = Method::Full;
  Precision precision = Precision::Mixed;
  std::string half_type = "bf16"; // "bf16" or "fp16", for labels
  Optimizer optimizer = Optimizer::AdamW;
  int quant_bits = 0; // 4 (QLoRA / load_in_4bit) or 8 (load_in_8bit) for the frozen base
  int zero_stage = 0; // DeepSpeed ZeRO stage or its FSDP equivalent
  bool offload_optimizer = false;
  bool offload_params = false; // ZeRO-3 only
  int gpus = 0;                // 0 = not known (the arithmetic uses 1)
  // LoRA adapters: rank and target module names; empty targets = the library's defaults.
  int lora_r = 8;
  std::vector<std::string> lora_targets;
  bool lora_all_linear = false;

  bool qlora() const { return method == Method::Lora && quant_bits == 4; }
  // "full fine-tune · AdamW · bf16 mixed precision · ZeRO-3 over 8 GPUs"
  std::string describe() const;
};

std::string_view to_string(Optimizer o);
// HF `optim=` names and common spellings: "adamw_torch", "adamw_bnb_8bit", "paged_adamw_8bit",
// "adafactor", "sgd", "lion_8bit"...
std::optional<Optimizer> parse_optimizer(std::string_view name);

struct MemoryRow {
  std::string label;
  std::string section; // guide section the figure comes from ("M1", "M12")
  double weights = 0;  // bytes per GPU
  double gradients = 0;
  double optimizer = 0;
  double total = 0;     // weights + gradients + optimizer, per GPU, before activations
  double cpu = 0;       // bytes offloaded to host memory
  double trainable = 0; // trainable parameters
  bool assumed = false; // relies on an assumed GPU count: shown, never suggested by OOM011
  bool current = false; // the script's own set-up
};

struct MemoryEstimate {
  std::string model_id;
  ModelSize model;
  TrainingSetup setup;
  MemoryRow current;
  std::vector<MemoryRow> rungs; // cheaper set-ups, in the order of the guide's ladder (M4)
};

// Trainable parameters of LoRA adapters on this model for this set-up.
double lora_params(const ModelSize& model, const TrainingSetup& setup);
MemoryRow estimate_row(const ModelSize& model, const TrainingSetup& setup);
// The set-up's row and the ladder's cheaper rungs. An inference set-up also gets the full
// fine-tune row (AdamW, mixed precision) as the first rung.
MemoryEstimate estimate(std::string model_id, const ModelSize& model, const TrainingSetup& setup);
// First rung (ladder order) whose total fits `gpu_bytes`, skipping rows with an assumed GPU count.
const MemoryRow* cheapest_fitting_rung(const MemoryEstimate& e, double gpu_bytes);

// "72 GB", "6.7 GB", "0.25 GB" (decimal gigabytes, as the guide counts).
std::string format_gb(double bytes);
// "6.74B", "124M".
std::string format_params(double params);
// The table for hovers (Markdown) and for the terminal (aligned text).
std::string table_markdown(const MemoryEstimate& e);
std::string table_text(const MemoryEstimate& e);

} // namespace oomlint::checks::estimate
