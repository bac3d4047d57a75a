#include "estimate/fit.h"

#include <algorithm>

#include "estimate/run.h"
#include "estimate/script.h"

namespace oomlint::checks::estimate {

FitSetup fit_setup(std::string_view text, const ts::Tree& tree, std::string_view base_dir,
                   const FitOverrides& flags) {
  return fit_setup(analyze_script(text, tree, base_dir), read_run(text, tree, base_dir), base_dir,
                   flags);
}

FitSetup fit_setup(const ScriptAnalysis& a, const RunFacts& run, std::string_view base_dir,
                   const FitOverrides& flags) {
  FitSetup out;
  out.uncertain = a.uncertain;

  // The model: the flag, else the first trained model with a literal id, else the first one.
  const ModelRef* ref = nullptr;
  for (const auto& r : a.models) {
    if (!r.id.empty() && r.trained) {
      ref = &r;
      break;
    }
  }
  if (!ref) {
    for (const auto& r : a.models) {
      if (!r.id.empty() && !r.pipeline) {
        ref = &r;
        break;
      }
    }
  }
  std::string id;
  if (flags.model) {
    id = *flags.model;
  } else if (ref) {
    id = ref->id;
    out.model_start = ref->call_start;
    out.model_end = ref->call_end;
  } else if (!a.models.empty()) {
    out.missing.push_back({"the model", "the script loads a model whose id is not a literal the "
                                        "analysis can read: give it with --model ID_OR_PATH"});
  } else {
    out.missing.push_back({"the model", "no from_pretrained(\"...\") load was found: give the "
                                        "model with --model ID_OR_PATH (a hub id or a local "
                                        "directory holding config.json)"});
  }
  if (!a.trains) {
    out.missing.push_back({"the training set-up",
                           "no Trainer, TrainingArguments, optimizer or .backward() was "
                           "found: `oomlint fit` predicts a training run's peak"});
  }
  std::optional<ResolvedModel> model;
  if (!id.empty()) {
    model = resolve_architecture(id, base_dir);
    if (!model) {
      out.missing.push_back({"the size of " + id,
                             "not a local config.json, not among the built-in configs, no size "
                             "such as 7b in the id: pass --model path/to/dir-with-config.json"});
    } else if (!model->arch) {
      out.missing.push_back({"the layer shapes of " + id,
                             "its parameter count is known (" + model->size.note +
                                 ") but not its layers, hidden size and vocabulary, which "
                                 "activations need: pass --model path/to/dir-with-config.json"});
    }
  }
  if (!out.missing.empty()) return out;

  PlanInput in;
  in.model_id = id;
  in.size = model->size;
  in.arch = model->arch;
  ModelRef r = ref && !flags.model ? *ref : ModelRef{};
  if (flags.model && ref) {
    r = *ref;
    r.id = id;
  }
  in.setup = setup_for(a, r, &in.size);
  if (flags.gpus) {
    in.setup.gpus = *flags.gpus;
  } else if (in.setup.gpus == 0) {
    out.assumptions.push_back({"the number of GPUs", "1", "--gpus N"});
  }

  if (flags.batch) {
    in.batch = *flags.batch;
  } else if (run.batch) {
    in.batch = *run.batch.value;
  } else if (run.batch_default) {
    in.batch = *run.batch_default.value;
    out.assumptions.push_back({"the micro-batch", "8: " + run.batch_default.from, "--batch N"});
  } else {
    in.batch = 1;
    out.assumptions.push_back({"the micro-batch", "1 (no batch size found)", "--batch N"});
  }
  if (flags.seq_len) {
    in.seq_len = *flags.seq_len;
  } else if (run.seq_len) {
    in.seq_len = *run.seq_len.value;
  } else if (run.seq_default) {
    in.seq_len = *run.seq_default.value;
    out.assumptions.push_back(
        {"the sequence length", "1024: " + run.seq_default.from, "--seq-len N"});
  } else {
    in.seq_len = 512;
    out.assumptions.push_back({"the sequence length",
                               "512 tokens (no max_length, max_seq_length, block_size or "
                               "model_max_length found)",
                               "--seq-len N"});
  }
  in.grad_accum = run.grad_accum.value.value_or(1);
  in.grads_kept = in.grad_accum > 1;
  in.checkpointing = run.checkpointing.value.value_or(false);
  if (flags.attention) {
    in.attention = *flags.attention;
  } else if (run.attention) {
    in.attention = *run.attention.value;
  } else {
    in.attention = Attention::Sdpa;
    out.assumptions.push_back({"the attention implementation",
                               "sdpa (transformers' default with PyTorch >= 2.1.1; no "
                               "attn_implementation= found)",
                               "--attention eager|sdpa|flash"});
  }
  if (run.head) {
    in.head = *run.head.value;
  } else {
    in.head = Head::CausalLm;
    out.assumptions.push_back({"the model's head",
                               "a causal-LM head over the whole vocabulary (the loading class "
                               "does not say)",
                               ""});
  }
  in.expandable_segments = run.expandable_segments;
  out.input = std::move(in);
  return out;
}

std::optional<Gpu> smallest_gpu_for(double bytes) {
  for (std::string_view name : {"T4", "L4", "A100-40GB", "L40S", "A100-80GB", "H200"}) {
    auto g = parse_gpu(name);
    if (g && g->bytes >= bytes) return g;
  }
  return std::nullopt;
}

std::string fit_hover_markdown(std::string_view text, const ts::Tree& tree,
                               std::string_view base_dir) {
  FitSetup f = fit_setup(text, tree, base_dir);
  if (!f.input) return {};
  Plan p = plan_peak(*f.input);
  std::string out = "**Predicted peak of this run: " + format_gb(p.peak_bytes) + "** on the GPU (" +
                    format_gb(p.peak_allocated) + " allocated; micro-batch " +
                    std::to_string(f.input->batch) + " x " + std::to_string(f.input->seq_len) +
                    " tokens). ";
  if (auto g = smallest_gpu_for(p.peak_bytes)) {
    out += "Fits a " + g->name + " (" + format_gb(g->bytes) + ") or larger.";
  } else {
    out += "More than one GPU of the table holds: shard it (M9) or climb the ladder (M4).";
  }
  if (!f.assumptions.empty()) {
    out += " Assumed:";
    for (size_t i = 0; i < f.assumptions.size(); ++i) {
      out += (i ? ", " : " ") + f.assumptions[i].what + " " + f.assumptions[i].assumed;
    }
    out += ".";
  }
  return out + " `oomlint fit` shows each bucket and the cheapest changes that fit.\n";
}

} // namespace oomlint::checks::estimate
