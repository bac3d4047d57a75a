// The fit planner: a training run's predicted peak GPU memory, bucket by bucket (weights,
// gradients, optimizer state, activations, the logits and loss buffers, temporaries, the CUDA
// context, the allocator's reserve), each with its formula and its source; then the guide's
// ladder (M4): which rungs the run already uses, what each other rung saves on this run, and the
// cheapest set of changes that fits a given GPU. Protocol-free: the CLI (`oomlint fit`), the
// hover and OOM011 render it.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "estimate/architecture.h"
#include "estimate/memory.h"

namespace oomlint::checks::estimate {

enum class Attention { Eager, Sdpa, Flash };
// What follows the last layer: a causal-LM head whose logits span the vocabulary, or a small
// classification head.
enum class Head { CausalLm, Classification };
// How the loss is computed over the logits. HfUpcast: transformers' ForCausalLMLoss (logits
// upcast to fp32, log-softmax saved in fp32). SameDtype: cross-entropy in the compute dtype
// (chunked losses of Lit-GPT / torchtune).
enum class LossImpl { HfUpcast, SameDtype };

std::string_view to_string(Attention a);

struct PlanInput {
  std::string model_id;
  ModelSize size;
  std::optional<Architecture> arch; // activations need it
  TrainingSetup setup;
  long long batch = 1;   // micro-batch per GPU
  long long seq_len = 0; // tokens per sequence (padded length)
  long long grad_accum = 1;
  bool checkpointing = false;
  Attention attention = Attention::Sdpa;
  Head head = Head::CausalLm;
  LossImpl loss = LossImpl::HfUpcast;
  // Gradients stay allocated between steps: gradient accumulation over micro-batches, or
  // zero_grad() that fills with zeros (set_to_none=False, PyTorch < 2.0's default).
  bool grads_kept = false;
  bool expandable_segments = false;
  // torch.optim.AdamW's foreach implementation (PyTorch >= 2.0's default on CUDA) allocates a
  // scratch copy of exp_avg_sq for the whole model at each step; the per-parameter loop
  // (PyTorch < 2.0, transformers' own AdamW `optim="adamw_hf"`) one parameter's worth.
  bool foreach_optimizer = true;
  std::optional<double> trainable_override; // trainable parameters, when known exactly
  double cuda_context_bytes = 0.5e9;
};

struct Bucket {
  std::string name;
  double bytes = 0;
  std::string formula;
  std::string source;
};

// A fact the plan could not read from the script: what it assumed and how to give it.
struct Assumption {
  std::string what;
  std::string assumed;
  std::string flag; // "--seq-len N"; empty when no flag sets it
};

struct Rung {
  int step = 0;        // the M4 rung number, 1 to 10
  std::string name;    // "Gradient checkpointing"
  std::string section; // guide section: "M7"
  std::string change;  // what to write: "gradient_checkpointing=True"
  bool used = false;   // the run already does it
  bool applicable = true;
  std::string note; // why not applicable, or a caveat ("changes the task")
  double saves = 0; // bytes this rung alone saves on this run (peak)
  bool in_cheapest_set = false;
};

struct Plan {
  std::string model_id;
  std::string setup; // TrainingSetup::describe() plus batch and sequence
  std::vector<Bucket> buckets;
  double peak_allocated = 0; // what torch.cuda.max_memory_allocated() would report
  double peak_reserved = 0;  // + the allocator's reserve
  double peak_bytes = 0;     // + the CUDA context: what nvidia-smi shows
  std::string peak_moment;   // when the peak happens and which buckets are live then
  double cpu_bytes = 0;      // offloaded to host memory
  std::vector<Assumption> assumptions;
  std::vector<Rung> ladder;
  // With a GPU: whether the run fits, and the cheapest set of rungs that makes it fit.
  std::optional<double> gpu_bytes;
  std::string gpu_name;
  bool fits = true;
  bool cheapest_found = false;
  double cheapest_peak = 0;
};

// The peak of this input (buckets and totals; no ladder).
Plan plan_peak(const PlanInput& in);
// The peak, then the ladder; with `gpu_bytes`, the cheapest set of rungs that fits it.
Plan plan(const PlanInput& in, std::optional<double> gpu_bytes = std::nullopt,
          std::string gpu_name = {});

// GPUs by name ("A100-80GB", "h100", "RTX 4090", "T4") or a size ("24GB", "24", "40GiB"):
// usable bytes and a display name. nullopt for a name it does not know.
struct Gpu {
  std::string name;
  double bytes = 0;
};
std::optional<Gpu> parse_gpu(std::string_view text);
// The names parse_gpu knows, for the error message.
std::string known_gpus();

// The plan as aligned text; `section_url` turns "M7" into a link.
std::string plan_text(const Plan& p,
                      const std::function<std::string(std::string_view)>& section_url);

} // namespace oomlint::checks::estimate
