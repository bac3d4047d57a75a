#include "estimate/memory.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <string_view>

namespace oomlint::checks::estimate {

namespace {

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

// Optimizer state per trainable parameter with fp32 states (M1: Adam keeps m and v, 4 B each).
double optimizer_state_bytes(Optimizer o) {
  switch (o) {
  case Optimizer::AdamW:
  case Optimizer::PagedAdamW32bit:
    return 8;
  case Optimizer::AdamW8bit:
  case Optimizer::PagedAdamW8bit:
    return 2; // M12: 8-bit states, ~2 B/param
  case Optimizer::Adafactor:
    return 4; // HF's one-GPU guide: "slightly more than 4 bytes"
  case Optimizer::Sgd:
    return 0;
  case Optimizer::SgdMomentum:
    return 4; // one momentum buffer
  case Optimizer::Lion:
    return 4; // one momentum buffer
  case Optimizer::Lion8bit:
    return 1;
  }
  return 8;
}

bool is_8bit(Optimizer o) {
  return o == Optimizer::AdamW8bit || o == Optimizer::PagedAdamW8bit || o == Optimizer::Lion8bit;
}

double optimizer_bytes(const TrainingSetup& s) {
  double b = optimizer_state_bytes(s.optimizer);
  // Torch optimizers keep their state in the parameter's dtype: 16-bit weights, 16-bit state.
  if (s.precision == Precision::Half && !is_8bit(s.optimizer)) b /= 2;
  return b;
}

double weight_bytes(Precision p) {
  switch (p) {
  case Precision::Fp32:
    return 4;
  case Precision::Mixed:
    return 6; // M1: 2 B working copy + 4 B fp32 master
  case Precision::Half:
    return 2;
  }
  return 6;
}

double grad_bytes(Precision p) {
  return p == Precision::Half ? 2 : 4;
}

// Frozen (LoRA base) or inference weights.
double frozen_weights(const ModelSize& m, const TrainingSetup& s) {
  double p = m.params;
  if (s.quant_bits == 4 || s.quant_bits == 8) {
    // bitsandbytes quantizes the linear layers; embeddings and an untied head stay 16-bit.
    // NF4 with double quantization adds ~0.127 bit/param of constants (QLoRA paper): 0.016 B.
    double per = s.quant_bits == 4 ? 0.5 + 0.016 : 1.0 + 0.016;
    double emb = std::min(m.embedding_params, p);
    return (p - emb) * per + emb * 2;
  }
  return p * (s.precision == Precision::Fp32 ? 4 : 2);
}

std::vector<std::string> default_targets(std::string_view arch) {
  // peft's defaults per architecture (TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING).
  if (arch == "gpt2") return {"c_attn"};
  if (arch == "bert" || arch == "roberta") return {"query", "value"};
  if (arch == "distilbert") return {"q_lin", "v_lin"};
  if (arch == "t5") return {"q", "v"};
  if (arch == "gpt_neox" || arch == "falcon" || arch == "refinedweb" || arch == "refinedwebmodel") {
    return {"query_key_value"};
  }
  return {"q_proj", "v_proj"};
}

std::string precision_label(const TrainingSetup& s) {
  switch (s.precision) {
  case Precision::Fp32:
    return "fp32";
  case Precision::Mixed:
    return s.half_type + " mixed precision";
  case Precision::Half:
    return s.half_type + " weights";
  }
  return "";
}

std::string method_label(const TrainingSetup& s) {
  switch (s.method) {
  case Method::Inference:
    if (s.quant_bits) return "inference, " + std::to_string(s.quant_bits) + "-bit weights";
    return "inference";
  case Method::Full:
    return "full fine-tune";
  case Method::Lora:
    if (s.quant_bits == 4) return "QLoRA (4-bit base, r=" + std::to_string(s.lora_r) + ")";
    if (s.quant_bits == 8) return "LoRA on an 8-bit base (r=" + std::to_string(s.lora_r) + ")";
    return "LoRA (r=" + std::to_string(s.lora_r) + ")";
  }
  return "";
}

} // namespace

std::string_view to_string(Optimizer o) {
  switch (o) {
  case Optimizer::AdamW:
    return "AdamW";
  case Optimizer::AdamW8bit:
    return "8-bit AdamW";
  case Optimizer::PagedAdamW8bit:
    return "paged 8-bit AdamW";
  case Optimizer::PagedAdamW32bit:
    return "paged AdamW";
  case Optimizer::Adafactor:
    return "Adafactor";
  case Optimizer::Sgd:
    return "SGD";
  case Optimizer::SgdMomentum:
    return "SGD with momentum";
  case Optimizer::Lion:
    return "Lion";
  case Optimizer::Lion8bit:
    return "8-bit Lion";
  }
  return "";
}

std::optional<Optimizer> parse_optimizer(std::string_view name) {
  std::string n(name);
  for (char& c : n)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::replace(n.begin(), n.end(), '-', '_');
  auto has = [&](std::string_view s) { return n.find(s) != std::string::npos; };
  bool eight = has("8bit") || has("8_bit");
  if (has("adafactor")) return Optimizer::Adafactor;
  if (has("lion")) return eight ? Optimizer::Lion8bit : Optimizer::Lion;
  if (has("sgd")) return has("momentum") ? Optimizer::SgdMomentum : Optimizer::Sgd;
  if (has("adam")) {
    if (has("paged")) return eight ? Optimizer::PagedAdamW8bit : Optimizer::PagedAdamW32bit;
    return eight ? Optimizer::AdamW8bit : Optimizer::AdamW;
  }
  return std::nullopt;
}

std::string TrainingSetup::describe() const {
  std::string out = method_label(*this);
  if (method != Method::Inference) out += " · " + std::string(to_string(optimizer));
  if (!(method == Method::Inference && quant_bits)) out += " · " + precision_label(*this);
  if (zero_stage > 0) {
    out += " · ZeRO-" + std::to_string(zero_stage);
    out += gpus > 0 ? " over " + std::to_string(gpus) + " GPU" + (gpus == 1 ? "" : "s")
                    : " (GPU count not known)";
  } else if (gpus > 1) {
    out += " · " + std::to_string(gpus) + " GPUs, replicated";
  }
  if (offload_optimizer) out += " · optimizer offloaded to CPU";
  if (offload_params && zero_stage == 3) out += " · weights offloaded to CPU";
  return out;
}

double lora_params(const ModelSize& model, const TrainingSetup& setup) {
  if (!model.block_linears.empty() && model.blocks > 0) {
    std::vector<std::string> targets =
        setup.lora_targets.empty() ? default_targets(model.architecture) : setup.lora_targets;
    double per_block = 0;
    for (const auto& l : model.block_linears) {
      bool hit = setup.lora_all_linear ||
                 std::find(targets.begin(), targets.end(), l.name) != targets.end();
      if (hit) per_block += static_cast<double>(setup.lora_r) * static_cast<double>(l.in + l.out);
    }
    if (per_block > 0) return per_block * static_cast<double>(model.blocks);
  }
  // Without the layer shapes: 1% of the model, above what common recipes train (r=8 on q and v
  // of a 7B Llama is 0.06%; r=64 on every linear layer about 2.4%).
  return model.params * 0.01;
}

MemoryRow estimate_row(const ModelSize& model, const TrainingSetup& s) {
  MemoryRow r;
  double p = model.params;
  switch (s.method) {
  case Method::Inference:
    r.weights = frozen_weights(model, s);
    break;
  case Method::Full:
    r.trainable = p;
    r.weights = p * weight_bytes(s.precision);
    r.gradients = p * grad_bytes(s.precision);
    r.optimizer = p * optimizer_bytes(s);
    break;
  case Method::Lora: {
    double a = lora_params(model, s);
    r.trainable = a;
    r.weights = frozen_weights(model, s) + a * weight_bytes(s.precision);
    r.gradients = a * grad_bytes(s.precision);
    r.optimizer = a * optimizer_bytes(s);
    break;
  }
  }
  // M9: ZeRO-1 shards the optimizer state, ZeRO-2 the gradients too, ZeRO-3 the weights too.
  double n = s.gpus > 1 ? s.gpus : 1;
  if (s.zero_stage >= 1) r.optimizer /= n;
  if (s.zero_stage >= 2) r.gradients /= n;
  if (s.zero_stage >= 3) r.weights /= n;
  // M10: offload moves the optimizer state (and, with ZeRO-3, the weights) to host memory.
  if (s.offload_optimizer && s.method != Method::Inference) {
    r.cpu += r.optimizer;
    r.optimizer = 0;
  }
  if (s.offload_params && s.zero_stage == 3) {
    r.cpu += r.weights;
    r.weights = 0;
  }
  r.total = r.weights + r.gradients + r.optimizer;
  r.assumed = s.zero_stage > 0 && s.gpus == 0;
  return r;
}

MemoryEstimate estimate(std::string model_id, const ModelSize& model, const TrainingSetup& setup) {
  MemoryEstimate e;
  e.model_id = std::move(model_id);
  e.model = model;
  e.setup = setup;
  e.current = estimate_row(model, setup);
  e.current.label = "this set-up: " + setup.describe();
  e.current.section = setup.method == Method::Inference ? "M1"
                      : setup.method == Method::Lora    ? "M13"
                      : setup.zero_stage > 0            ? "M9"
                                                        : "M1";
  e.current.current = true;

  TrainingSetup base = setup;
  auto add = [&](const TrainingSetup& s, std::string label, std::string section, bool assumed) {
    MemoryRow r = estimate_row(model, s);
    r.label = std::move(label);
    r.section = std::move(section);
    r.assumed = r.assumed || assumed;
    e.rungs.push_back(std::move(r));
  };
  if (setup.method == Method::Inference) {
    base = TrainingSetup{};
    base.half_type = setup.half_type;
    add(base, "full fine-tune · AdamW · " + base.half_type + " mixed precision", "M1", false);
  }
  if (optimizer_bytes(base) > 2) {
    TrainingSetup s = base;
    s.optimizer = Optimizer::AdamW8bit;
    add(s, "8-bit optimizer (optim=\"adamw_bnb_8bit\")", "M12", false);
  }
  if (base.zero_stage < 3) {
    TrainingSetup s = base;
    s.zero_stage = 3;
    bool assumed = base.gpus < 2;
    s.gpus = assumed ? 8 : base.gpus;
    add(s, "ZeRO-3 over " + std::to_string(s.gpus) + " GPUs" + (assumed ? " (if you have 8)" : ""),
        "M9", assumed);
  }
  if (!(base.zero_stage == 3 && base.offload_optimizer && base.offload_params)) {
    TrainingSetup s = base;
    s.zero_stage = 3;
    s.offload_optimizer = s.offload_params = true;
    if (s.gpus == 0) s.gpus = 1;
    add(s, "ZeRO-3 with optimizer and weights offloaded to CPU", "M10", false);
  }
  if (base.method == Method::Full) {
    TrainingSetup s = base;
    s.method = Method::Lora;
    s.quant_bits = 0;
    if (s.precision == Precision::Fp32) s.precision = Precision::Mixed; // 16-bit frozen base
    add(s, "LoRA (r=" + std::to_string(s.lora_r) + ", 16-bit frozen base)", "M13", false);
  }
  if (!base.qlora()) {
    TrainingSetup s = base;
    s.method = Method::Lora;
    s.quant_bits = 4;
    if (s.precision == Precision::Fp32) s.precision = Precision::Mixed;
    add(s, "QLoRA (r=" + std::to_string(s.lora_r) + ", 4-bit frozen base)", "M13", false);
  }
  return e;
}

const MemoryRow* cheapest_fitting_rung(const MemoryEstimate& e, double gpu_bytes) {
  for (const auto& r : e.rungs) {
    if (!r.assumed && r.total <= gpu_bytes && r.trainable > 0) return &r;
  }
  return nullptr;
}

std::string format_gb(double bytes) {
  double gb = bytes / 1e9;
  if (bytes <= 0) return "0 GB";
  if (gb >= 10) return fmt("%.0f GB", gb);
  if (gb >= 1) return fmt("%.1f GB", gb);
  if (gb >= 0.01) return fmt("%.2f GB", gb);
  return "< 0.01 GB";
}

std::string format_params(double p) {
  if (p >= 100e9) return fmt("%.0fB", p / 1e9);
  if (p >= 10e9) return fmt("%.1fB", p / 1e9);
  if (p >= 1e9) return fmt("%.2fB", p / 1e9);
  if (p >= 1e6) return fmt("%.0fM", p / 1e6);
  if (p >= 1e3) return fmt("%.0fK", p / 1e3);
  return fmt("%.0f", p);
}

namespace {

std::string header(const MemoryEstimate& e, bool markdown) {
  std::string b = markdown ? "**" : "";
  std::string out = b + e.model_id + b + ": " + (e.model.approximate ? "about " : "") +
                    format_params(e.model.params) + " parameters (" + e.model.note + ")\n";
  return out;
}

std::string footer(const MemoryEstimate& e) {
  std::string out =
      "Per GPU, before activations: those grow with batch size x sequence length and come on "
      "top (M1).";
  if (e.current.cpu > 0)
    out += " This set-up also keeps " + format_gb(e.current.cpu) + " in host RAM.";
  if (e.current.assumed) out += " The GPU count is not known: sharded figures are for one GPU.";
  return out + "\n";
}

} // namespace

std::string table_markdown(const MemoryEstimate& e) {
  std::string out = header(e, true) + "\n";
  out += "| Set-up | Weights | Gradients | Optimizer state | Total | Guide |\n";
  out += "|---|---:|---:|---:|---:|---|\n";
  auto row = [&](const MemoryRow& r) {
    std::string total = format_gb(r.total);
    if (r.current) total = "**" + total + "**";
    out += "| " + r.label + " | " + format_gb(r.weights) + " | " + format_gb(r.gradients) + " | " +
           format_gb(r.optimizer) + " | " + total + " | " + r.section + " |\n";
  };
  row(e.current);
  for (const auto& r : e.rungs)
    row(r);
  out += "\n" + footer(e);
  return out;
}

std::string table_text(const MemoryEstimate& e) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"Set-up", "Weights", "Gradients", "Optimizer", "Total", "Guide"});
  auto add = [&](const MemoryRow& r) {
    rows.push_back({r.label, format_gb(r.weights), format_gb(r.gradients), format_gb(r.optimizer),
                    format_gb(r.total), r.section});
  };
  add(e.current);
  for (const auto& r : e.rungs)
    add(r);
  // Column widths in code points (labels hold "·").
  auto width = [](const std::string& s) {
    size_t w = 0;
    for (unsigned char c : s)
      w += (c & 0xC0) != 0x80;
    return w;
  };
  std::vector<size_t> widths(rows[0].size(), 0);
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i)
      widths[i] = std::max(widths[i], width(r[i]));
  }
  std::string out = header(e, false) + "\n";
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      std::string pad(widths[i] - width(r[i]), ' ');
      line += (i == 0 || i == r.size() - 1) ? r[i] + pad : pad + r[i];
      if (i + 1 < r.size()) line += "  ";
    }
    while (!line.empty() && line.back() == ' ')
      line.pop_back();
    out += line + "\n";
  }
  out += "\n" + footer(e);
  return out;
}

} // namespace oomlint::checks::estimate
