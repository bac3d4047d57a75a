#include "estimate/plan.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>

namespace oomlint::checks::estimate {

namespace {

std::string fmt(const char* f, double v) {
  char buf[96];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}
std::string num(double v) {
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt("%.0f", v);
  return fmt("%.3g", v);
}

constexpr const char* kKorthikanti =
    "Korthikanti et al. 2022, \"Reducing Activation Recomputation in Large Transformer Models\" "
    "(arXiv:2205.05198), section 4";
constexpr const char* kHfAnatomy =
    "Hugging Face, \"Model training anatomy\" (transformers docs, model_memory_anatomy); guide M1";

bool is_8bit(Optimizer o) {
  return o == Optimizer::AdamW8bit || o == Optimizer::PagedAdamW8bit || o == Optimizer::Lion8bit;
}

// Bytes per trainable parameter of weights, gradients and optimizer state, and the formula text.
struct PerParam {
  double weight, grad, state;
  std::string weight_why, grad_why, state_why;
};

PerParam per_param(const TrainingSetup& s) {
  PerParam p{};
  switch (s.precision) {
  case Precision::Fp32:
    p.weight = 4, p.grad = 4;
    p.weight_why = "fp32 weights";
    p.grad_why = "fp32";
    break;
  case Precision::Mixed:
    p.weight = 6, p.grad = 4;
    p.weight_why = "fp32 master weights + the 16-bit copy autocast keeps from forward to backward";
    p.grad_why = "fp32, the parameters' dtype";
    break;
  case Precision::Half:
    p.weight = 2, p.grad = 2;
    p.weight_why = s.half_type + " weights, no fp32 master copy";
    p.grad_why = s.half_type;
    break;
  }
  double half = s.precision == Precision::Half ? 0.5 : 1.0; // torch keeps state in param dtype
  switch (s.optimizer) {
  case Optimizer::AdamW:
  case Optimizer::PagedAdamW32bit:
    p.state = 8 * half;
    p.state_why = "AdamW: exp_avg + exp_avg_sq, " + std::string(half < 1 ? "2 x 2 B" : "2 x 4 B");
    break;
  case Optimizer::AdamW8bit:
  case Optimizer::PagedAdamW8bit:
    p.state = 2;
    p.state_why = "8-bit AdamW (bitsandbytes): two 1-byte states (M12)";
    break;
  case Optimizer::Adafactor:
    p.state = 0; // factored: see optimizer_bytes()
    p.state_why = "Adafactor: factored row + column second moments, no first moment (beta1=None)";
    break;
  case Optimizer::Sgd:
    p.state = 0;
    p.state_why = "plain SGD keeps no state";
    break;
  case Optimizer::SgdMomentum:
  case Optimizer::Lion:
    p.state = 4 * half;
    p.state_why = "one momentum buffer";
    break;
  case Optimizer::Lion8bit:
    p.state = 1;
    p.state_why = "8-bit Lion: one 1-byte state";
    break;
  }
  return p;
}

// Trainable parameters and the frozen bytes of the weights.
struct Params {
  double trainable = 0;
  double frozen_bytes = 0;
  std::string frozen_why;
};

Params params_of(const PlanInput& in) {
  Params out;
  const ModelSize& m = in.size;
  const TrainingSetup& s = in.setup;
  if (s.method == Method::Full) {
    out.trainable = m.params;
    return out;
  }
  out.trainable = s.method == Method::Lora ? in.trainable_override.value_or(lora_params(m, s)) : 0;
  double emb = std::min(m.embedding_params, m.params);
  if (s.quant_bits == 4 || s.quant_bits == 8) {
    double per = s.quant_bits == 4 ? 0.5 + 0.016 : 1.0 + 0.016;
    out.frozen_bytes = (m.params - emb) * per + emb * 2;
    out.frozen_why = num(per) + " B x " + format_params(m.params - emb) +
                     " quantized linear weights (NF4 + double-quantized constants) + 2 B x " +
                     format_params(emb) + " embedding/head weights kept 16-bit";
  } else {
    double b = s.precision == Precision::Fp32 ? 4 : 2;
    out.frozen_bytes = m.params * b;
    out.frozen_why = num(b) + " B x " + format_params(m.params) + " frozen weights";
  }
  return out;
}

double optimizer_state(const PlanInput& in, double trainable, const PerParam& pp,
                       std::string& why) {
  why = pp.state_why;
  if (in.setup.optimizer != Optimizer::Adafactor) {
    why = num(pp.state) + " B x " + format_params(trainable) + " trainable (" + pp.state_why + ")";
    return pp.state * trainable;
  }
  // Factored: rows + columns of each matrix, 4 B each.
  double vec = 0;
  if (in.setup.method == Method::Full && !in.size.block_linears.empty() && in.size.blocks > 0) {
    for (const auto& l : in.size.block_linears)
      vec += static_cast<double>(l.in + l.out);
    vec *= static_cast<double>(in.size.blocks);
    if (in.arch) vec += in.arch->vocab + in.arch->hidden;
  } else {
    vec = trainable / 1000;
  }
  why = "4 B x (rows + columns of every weight matrix) = 4 B x " + format_params(vec) + " (" +
        pp.state_why + ")";
  return 4 * vec;
}

struct Activations {
  double per_layer = 0; // one layer, no checkpointing
  double stored = 0;    // all layers as stored for backward
  double extra = 0;     // embedding output and final norm
  double backward_tmp = 0;
  std::string formula;
};

// Korthikanti et al. count, per layer at 16 bits with dropout and a 4h MLP,
// sbh(34 + 5as/h) bytes. Written out per term so that the element size e, the MLP width and
// shape, dropout and the attention kernel can change:
//   attention: e*sbh (QKV input) + 2e*sbh (Q, K) + e*sbh (V) + e*sbh (projection input)
//              + sbh (dropout mask)                                  = (5e + 1) sbh
//   scores:    e*as^2b (softmax) + as^2b (mask) + e*as^2b (dropout)   = (2e + 1) as^2b
//   MLP:       e*sbh (input) + 2e*sbI (activation input, output) + sbh (mask)
//   norms:     2e*sbh
// which is sbh(34 + 5as/h) at e = 2, I = 4h. Without dropout the masks go; a gated MLP keeps
// its input, gate and up outputs, the activation output: e*sbh + 4e*sbI. SDPA / FlashAttention
// keep no s x s matrix (only a 4 B logsumexp per row and head).
Activations activations(const PlanInput& in) {
  Activations a;
  const Architecture& ar = *in.arch;
  double s = static_cast<double>(in.seq_len), b = static_cast<double>(in.batch);
  double h = ar.hidden, heads = ar.heads, I = ar.intermediate;
  bool mixed = in.setup.precision == Precision::Mixed;
  double e = in.setup.precision == Precision::Fp32 ? 4 : 2;
  double mask = ar.dropout ? 1 : 0;
  double sbh = s * b * h;
  double attn = (5 * e + mask) * sbh;
  double mlp =
      ar.gated_mlp ? e * sbh + 4 * e * s * b * I : e * sbh + 2 * e * s * b * I + mask * sbh;
  double norms = 2 * e * sbh;
  // Autocast runs layer_norm and softmax in fp32: the residual stream the norms save is fp32,
  // the softmax output is fp32 and the score matmul saves a 16-bit copy of its input.
  if (mixed && !ar.gated_mlp) norms += 2 * (4 - e) * sbh;
  double score_coef = 0;
  std::string score_text;
  if (in.attention == Attention::Eager) {
    score_coef = mixed ? 4 + mask + 2 : ar.dropout ? 2 * e + 1 : 2 * e;
    score_text = " + " + num(score_coef) + " B x a*s^2*b (attention scores kept: softmax" +
                 std::string(ar.dropout ? ", dropout mask and output" : " output and its copy") +
                 ")";
  } else {
    score_coef = 0;
    score_text = " + 4 B x a*s*b (" + std::string(to_string(in.attention)) +
                 " keeps only the softmax statistics, no s x s matrix)";
  }
  double scores =
      in.attention == Attention::Eager ? score_coef * heads * s * s * b : 4 * heads * s * b;
  a.per_layer = attn + mlp + norms + scores;
  a.extra = 2 * e * sbh;
  std::string per = "(" + num((attn + mlp + norms) / sbh) + " B x s*b*h" + score_text + ")";
  if (in.checkpointing) {
    a.stored = ar.layers * e * sbh + a.per_layer;
    a.formula = "L x e*s*b*h (each layer's input, e = " + num(e) + " B) + one layer recomputed " +
                per + "; L=" + num(ar.layers) + ", s=" + num(s) + ", b=" + num(b) +
                ", h=" + num(h) + ", a=" + num(heads);
  } else {
    a.stored = ar.layers * a.per_layer;
    a.formula = "L x " + per + "; L=" + num(ar.layers) + ", s=" + num(s) + ", b=" + num(b) +
                ", h=" + num(h) + ", a=" + num(heads) + ", I=" + num(I) + ", e=" + num(e) + " B";
  }
  a.stored += a.extra;
  // While a block runs backward: gradients of its widest intermediates.
  a.backward_tmp = (ar.gated_mlp ? 3 : 2) * e * s * b * I +
                   (in.attention == Attention::Eager ? 2 * e * heads * s * s * b : 0);
  return a;
}

double logits_bytes(const PlanInput& in, std::string& formula, std::string& source) {
  if (in.head != Head::CausalLm) {
    formula = "classification head: batch x labels, negligible";
    source = "model head";
    return 0;
  }
  double e = in.setup.precision == Precision::Fp32 ? 4 : 2;
  double bsv = static_cast<double>(in.batch) * static_cast<double>(in.seq_len) * in.arch->vocab;
  double per = 0;
  if (in.loss == LossImpl::HfUpcast) {
    per = e + (e < 4 ? 4 : 0) + 4 + 4;
    formula = "b*s*V x (" + num(e) + " B logits" + (e < 4 ? " + 4 B fp32 upcast" : "") +
              " + 4 B log-softmax saved by cross_entropy + 4 B its gradient) = b*s*V x " +
              num(per) + " B; b*s*V = " + format_params(bsv);
    source = "transformers ForCausalLMLoss (loss/loss_utils.py): logits.float() then "
             "cross_entropy; guide M16";
  } else {
    per = 3 * e;
    formula = "b*s*V x 3e (logits, log-softmax, gradient in the compute dtype) = b*s*V x " +
              num(per) + " B; b*s*V = " + format_params(bsv);
    source = "cross-entropy in the compute dtype (chunked loss); guide M16";
  }
  return per * bsv;
}

} // namespace

std::string_view to_string(Attention a) {
  switch (a) {
  case Attention::Eager:
    return "eager";
  case Attention::Sdpa:
    return "sdpa";
  case Attention::Flash:
    return "flash_attention_2";
  }
  return "";
}

Plan plan_peak(const PlanInput& in) {
  Plan p;
  p.model_id = in.model_id;
  const TrainingSetup& s = in.setup;
  bool training = s.method != Method::Inference;
  PerParam pp = per_param(s);
  Params pr = params_of(in);
  double n = s.gpus > 1 ? s.gpus : 1;
  std::string shard;

  // Weights.
  double W = 0;
  std::string w_formula;
  if (s.method == Method::Full) {
    W = pp.weight * pr.trainable;
    w_formula = num(pp.weight) + " B x " + format_params(pr.trainable) + " (" + pp.weight_why + ")";
  } else if (s.method == Method::Lora) {
    W = pr.frozen_bytes + pp.weight * pr.trainable;
    w_formula = pr.frozen_why + " + " + num(pp.weight) + " B x " + format_params(pr.trainable) +
                " adapter weights";
  } else {
    W = pr.frozen_bytes;
    w_formula = pr.frozen_why;
  }
  double G = training ? pp.grad * pr.trainable : 0;
  std::string o_formula;
  double O = training ? optimizer_state(in, pr.trainable, pp, o_formula) : 0;
  std::string g_formula =
      num(pp.grad) + " B x " + format_params(pr.trainable) + " trainable (" + pp.grad_why + ")";
  double gathered = 0; // ZeRO-3: the layer being all-gathered
  if (s.zero_stage >= 1 && training && s.precision == Precision::Mixed) {
    // DeepSpeed's own model-state arithmetic (runtime/zero/stage_1_and_2.py,
    // estimate_zero2_model_states_mem_needs; stage3.py, estimate_zero3_...): the 16-bit
    // weights and gradients (2 + 2 B) stay whole under ZeRO-1/2; the fp32 master weights, the
    // two Adam moments and the fp32 gradient partition (16 B) are split over the GPUs. ZeRO-3
    // splits all 18 B and adds 4 B x the largest layer for the one being gathered. Offloading
    // the optimizer moves its partition, the master weights and the fp32 gradients to the CPU.
    double T = pr.trainable;
    double frozen = W - pp.weight * T;
    double master = 4 * T, grad32 = 4 * T;
    if (s.zero_stage < 3) {
      W = frozen + 2 * T + master / n;
      G = 2 * T + grad32 / n;
      O /= n;
      w_formula += "; ZeRO-" + std::to_string(s.zero_stage) + ": 2 B x params whole + 4 B fp32 " +
                   "master / " + num(n) + " GPUs";
      g_formula = "2 B x trainable (16-bit, whole) + 4 B fp32 partition / " + num(n) + " GPUs";
      o_formula += " / " + num(n) + " GPUs (ZeRO-" + std::to_string(s.zero_stage) + ")";
      if (s.offload_optimizer) {
        p.cpu_bytes += master / n + grad32 / n + O;
        W = frozen + 2 * T;
        G = 0;
        O = 0;
        g_formula = "offloaded with the optimizer (ZeRO-Offload)";
      }
    } else {
      W /= n;
      G /= n;
      O /= n;
      w_formula += " / " + num(n) + " GPUs (ZeRO-3)";
      g_formula += " / " + num(n) + " GPUs (ZeRO-3)";
      o_formula += " / " + num(n) + " GPUs (ZeRO-3)";
      double largest = 0;
      for (const auto& l : in.size.block_linears)
        largest = std::max(largest, static_cast<double>(l.in * l.out));
      if (in.arch) largest = std::max(largest, in.arch->vocab * in.arch->hidden);
      gathered = 4 * largest;
      if (s.offload_optimizer) {
        p.cpu_bytes += (4 * T + 4 * T) / n + O;
        W = (frozen + 2 * T) / n;
        G = 0;
        O = 0;
        g_formula = "offloaded with the optimizer (ZeRO-Offload)";
      }
      if (s.offload_params) {
        p.cpu_bytes += W;
        W = 0;
        w_formula += "; offloaded to CPU (ZeRO-Infinity, M10)";
      }
    }
  } else {
    if (s.zero_stage >= 1 && training) {
      O /= n;
      o_formula += " / " + num(n) + " GPUs (ZeRO-1+ shards it)";
    }
    if (s.zero_stage >= 2 && training) {
      G /= n;
      g_formula += " / " + num(n) + " GPUs (ZeRO-2+)";
    }
    if (s.zero_stage >= 3) {
      W /= n;
      w_formula += " / " + num(n) + " GPUs (ZeRO-3 / FULL_SHARD)";
    }
    if (s.offload_optimizer && training) {
      p.cpu_bytes += O;
      O = 0;
      o_formula += "; offloaded to CPU (M10)";
    }
    if (s.offload_params && s.zero_stage == 3) {
      p.cpu_bytes += W;
      W = 0;
      w_formula += "; offloaded to CPU (M10)";
    }
  }
  p.buckets.push_back({"weights", W, w_formula, kHfAnatomy});
  p.buckets.push_back({"gradients", G,
                       training ? g_formula + (in.grads_kept ? "; kept between steps"
                                                             : "; freed by zero_grad(set_to_none)")
                                : "inference: none",
                       kHfAnatomy});
  p.buckets.push_back({"optimizer state", O, training ? o_formula : "inference: none",
                       s.optimizer == Optimizer::Adafactor
                           ? "transformers Adafactor (optimization.py): factored second moments"
                           : std::string(kHfAnatomy) + "; M12 for 8-bit states; M9 for sharding"});

  Activations A{};
  double L = 0;
  std::string l_formula, l_source;
  if (in.arch && in.seq_len > 0 && in.batch > 0) {
    A = activations(in);
    if (!training) {
      // Without autograd nothing is saved: one layer's working set at a time.
      A.stored = A.per_layer;
      A.formula = "inference: one layer's working set, nothing kept for backward";
      A.backward_tmp = 0;
    }
    L = logits_bytes(in, l_formula, l_source);
  }
  p.buckets.push_back({"activations", A.stored, A.formula,
                       std::string(kKorthikanti) +
                           (in.checkpointing ? "; full recomputation variant (M7)" : "") +
                           (in.attention != Attention::Eager
                                ? "; no s x s score matrix with SDPA / FlashAttention (M11)"
                                : "")});
  p.buckets.push_back({"logits and loss", L, l_formula, l_source});

  // Temporaries: a block's gradients during backward, or the optimizer step's scratch copy.
  double opt_tmp = 0;
  std::string opt_tmp_why;
  if (training && (s.optimizer == Optimizer::AdamW || s.optimizer == Optimizer::PagedAdamW32bit) &&
      !s.offload_optimizer && s.zero_stage == 0) {
    if (in.foreach_optimizer) {
      opt_tmp = pp.state / 2 * pr.trainable;
      opt_tmp_why = "foreach AdamW's sqrt(exp_avg_sq) scratch copy: " + num(pp.state / 2) +
                    " B x trainable (PyTorch >= 2.0's default implementation)";
    } else {
      double largest = 0;
      for (const auto& l : in.size.block_linears)
        largest = std::max(largest, static_cast<double>(l.in * l.out));
      if (in.arch && s.method == Method::Full) {
        largest = std::max(largest, in.arch->vocab * in.arch->hidden);
      }
      opt_tmp = pp.state / 2 * std::min(largest, pr.trainable);
      opt_tmp_why = "per-parameter AdamW: one sqrt(exp_avg_sq) of the largest parameter, " +
                    num(pp.state / 2) + " B x " + format_params(std::min(largest, pr.trainable));
    }
  }
  double fwd = W + O + (in.grads_kept ? G + A.stored + L : std::max(A.stored + L, G)) +
               A.backward_tmp + gathered;
  // At the step autocast's 16-bit copy of the weights is gone (freed with the saved tensors).
  double autocast_copy =
      training && s.precision == Precision::Mixed && s.zero_stage == 0 ? 2 * pr.trainable : 0;
  double step = W - autocast_copy + O + G + opt_tmp + gathered;
  bool step_peak = step > fwd;
  double tmp = (step_peak ? opt_tmp : A.backward_tmp) + gathered;
  std::string gathered_why =
      gathered > 0 ? "; + 4 B x the largest layer, gathered by ZeRO-3 (" + format_gb(gathered) + ")"
                   : "";
  p.buckets.push_back(
      {"temporary buffers", tmp,
       (step_peak ? opt_tmp_why + " (the peak is at the optimizer step)"
                  : "one block's backward: gradients of its widest intermediates (" +
                        std::string(in.arch && in.arch->gated_mlp ? "3" : "2") + " x e*s*b*I)") +
           gathered_why,
       step_peak ? "torch.optim.AdamW (foreach implementation, _multi_tensor_adamw)"
                 : "autograd: a block's input gradients live while its backward runs"});
  p.peak_allocated = std::max(fwd, step);
  if (step_peak) {
    p.peak_moment = "the optimizer step: weights" +
                    std::string(autocast_copy > 0 ? " (without autocast's 16-bit copy)" : "") +
                    " + gradients + optimizer state + temporary buffers";
  } else if (in.grads_kept) {
    p.peak_moment = "the start of backward: weights + optimizer state + gradients (kept between "
                    "steps) + activations + logits and loss + temporary buffers";
  } else {
    p.peak_moment = std::string("the start of backward: weights + optimizer state + ") +
                    (A.stored + L >= G ? "activations + logits and loss"
                                       : "gradients (more than the activations they replace)") +
                    " + temporary buffers";
  }
  double reserve = 0.05 * p.peak_allocated;
  p.buckets.push_back({"allocator reserve", reserve,
                       "5% of the allocated peak: cached free blocks and rounding to 2 MiB "
                       "segments (assumed; fragmentation can take more, M8)",
                       "PyTorch CUDA semantics notes (caching allocator); guide M2, M8"});
  p.buckets.push_back({"CUDA context", in.cuda_context_bytes,
                       "driver context, cuBLAS/cuDNN handles and loaded kernels",
                       "pytorch/pytorch#86509: 287 MB with lazy module loading vs 667 MB "
                       "eager for a trivial program; HF anatomy guide measured 1.3 GB on CUDA "
                       "11.2 without lazy loading"});
  p.peak_reserved = p.peak_allocated + reserve;
  p.peak_bytes = p.peak_reserved + in.cuda_context_bytes;
  p.setup = s.describe() + " · micro-batch " + std::to_string(in.batch) + " x " +
            std::to_string(in.seq_len) + " tokens" +
            (in.grad_accum > 1 ? " (accumulating " + std::to_string(in.grad_accum) + ")" : "") +
            (in.checkpointing ? " · gradient checkpointing" : "") + " · " +
            std::string(to_string(in.attention)) + " attention";
  return p;
}

namespace {

Rung make(int step, std::string name, std::string section, std::string change) {
  Rung r;
  r.step = step;
  r.name = std::move(name);
  r.section = std::move(section);
  r.change = std::move(change);
  return r;
}

// The input with one rung applied; false when the rung does not apply or is already used.
bool apply(int step, PlanInput& in, Rung& r) {
  TrainingSetup& s = in.setup;
  bool training = s.method != Method::Inference;
  switch (step) {
  case 1:
    r.used = in.batch == 1;
    if (r.used) return false;
    in.grad_accum *= in.batch;
    in.batch = 1;
    in.grads_kept = true;
    return true;
  case 2:
    r.used = s.precision != Precision::Fp32;
    if (r.used) return false;
    s.precision = Precision::Mixed;
    return true;
  case 3:
    r.used = in.checkpointing;
    if (r.used || !training) return false;
    in.checkpointing = true;
    return true;
  case 4:
    r.used = in.expandable_segments;
    r.note = "fixes fragmentation only: it does not lower the predicted peak";
    return false;
  case 5:
    r.used = in.attention != Attention::Eager;
    if (r.used) return false;
    in.attention = Attention::Sdpa;
    return true;
  case 6:
    r.note = "changes the task: declare it and re-verify the results (M11)";
    if (in.seq_len < 2) return false;
    in.seq_len /= 2;
    return true;
  case 7:
    r.used = is_8bit(s.optimizer) || s.optimizer == Optimizer::Adafactor;
    if (r.used || !training) return false;
    s.optimizer = Optimizer::AdamW8bit;
    return true;
  case 8:
    r.used = s.zero_stage >= 3;
    if (r.used || !training) return false;
    if (s.gpus < 2) {
      r.applicable = false;
      r.note = "needs 2 or more GPUs (--gpus N)";
      return false;
    }
    s.zero_stage = 3;
    return true;
  case 9:
    r.used = s.offload_optimizer;
    if (r.used || !training) return false;
    s.zero_stage = 3;
    s.offload_optimizer = s.offload_params = true;
    if (s.gpus == 0) s.gpus = 1;
    return true;
  case 10:
    r.used = s.qlora();
    if (r.used || !training) return false;
    if (s.method == Method::Full) {
      s.method = Method::Lora;
      s.quant_bits = 0;
      in.trainable_override.reset();
      if (s.precision == Precision::Fp32) s.precision = Precision::Mixed;
      r.change = "peft LoraConfig(r=" + std::to_string(s.lora_r) + ") on a 16-bit base";
    } else {
      s.quant_bits = 4;
      r.change = "BitsAndBytesConfig(load_in_4bit=True) + LoRA (QLoRA)";
    }
    return true;
  default:
    return false;
  }
}

} // namespace

Plan plan(const PlanInput& in, std::optional<double> gpu_bytes, std::string gpu_name) {
  Plan p = plan_peak(in);
  if (in.setup.method == Method::Inference) return p;
  std::vector<Rung> rungs = {
      make(1, "Smaller micro-batch + gradient accumulation", "M5",
           "per_device_train_batch_size=1, gradient_accumulation_steps x batch"),
      make(2, "bf16 mixed precision", "M6", "bf16=True (or torch.autocast(dtype=torch.bfloat16))"),
      make(3, "Activation / gradient checkpointing", "M7", "gradient_checkpointing=True"),
      make(4, "expandable_segments allocator", "M8",
           "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True"),
      make(5, "SDPA / FlashAttention", "M11", "attn_implementation=\"sdpa\""),
      make(6, "Shorter sequences (half the length)", "M11", "max_length / max_seq_length / 2"),
      make(7, "8-bit optimizer", "M12", "optim=\"adamw_bnb_8bit\""),
      make(8, "ZeRO-3 / FSDP FULL_SHARD", "M9",
           "DeepSpeed zero_optimization.stage=3 or fsdp=\"full_shard\""),
      make(9, "CPU offload", "M10", "offload_optimizer / offload_param device=cpu (ZeRO-3)"),
      make(10, "LoRA / QLoRA", "M13", "peft LoraConfig"),
  };
  for (auto& r : rungs) {
    PlanInput alone = in;
    if (apply(r.step, alone, r)) r.saves = p.peak_bytes - plan_peak(alone).peak_bytes;
    if (r.used) r.note.clear();
  }
  if (gpu_bytes) {
    p.gpu_bytes = gpu_bytes;
    p.gpu_name = std::move(gpu_name);
    p.fits = p.peak_bytes <= *gpu_bytes;
    PlanInput cur = in;
    double peak = p.peak_bytes;
    if (p.fits) {
      p.cheapest_found = true;
      p.cheapest_peak = peak;
    } else {
      // Top-down, each rung kept when it lowers the peak; a rung that saved nothing while
      // another bucket dominated is tried again on a later pass (the micro-batch after the
      // optimizer state has moved off the card). LoRA becomes QLoRA when LoRA is not enough.
      std::vector<int> chosen;
      std::string lora_change;
      for (int pass = 0; pass < 3 && peak > *gpu_bytes; ++pass) {
        for (auto& r : rungs) {
          if (r.step == 4 || r.step == 6) continue; // no saving / changes the science
          if (std::find(chosen.begin(), chosen.end(), r.step) != chosen.end() && r.step != 10) {
            continue;
          }
          PlanInput next = cur;
          Rung scratch = r;
          if (!apply(r.step, next, scratch)) continue;
          double np = plan_peak(next).peak_bytes;
          if (np >= peak) continue;
          cur = next;
          peak = np;
          if (std::find(chosen.begin(), chosen.end(), r.step) == chosen.end()) {
            chosen.push_back(r.step);
          }
          if (r.step == 10) lora_change = scratch.change;
          if (peak <= *gpu_bytes) break;
        }
      }
      // Then drop the costliest rungs that turn out not to be needed.
      auto build = [&](const std::vector<int>& steps) {
        PlanInput x = in;
        for (int st : steps) {
          Rung scratch = rungs[static_cast<size_t>(st - 1)];
          apply(st, x, scratch);
          if (st == 10 && lora_change.find("QLoRA") != std::string::npos) apply(10, x, scratch);
        }
        return x;
      };
      if (peak <= *gpu_bytes) {
        std::vector<int> sorted = chosen;
        std::sort(sorted.rbegin(), sorted.rend());
        for (int st : sorted) {
          std::vector<int> without;
          for (int c : chosen) {
            if (c != st) without.push_back(c);
          }
          std::sort(without.begin(), without.end());
          double wp = plan_peak(build(without)).peak_bytes;
          if (wp <= *gpu_bytes) {
            chosen = without;
            peak = wp;
          }
        }
        p.cheapest_found = true;
      }
      for (int st : chosen) {
        Rung& r = rungs[static_cast<size_t>(st - 1)];
        r.in_cheapest_set = true;
        if (st == 10 && !lora_change.empty()) r.change = lora_change;
      }
      p.cheapest_peak = peak;
    }
  }
  p.ladder = std::move(rungs);
  return p;
}

namespace {

struct GpuRow {
  const char* key;
  const char* name;
  double gb;
};

// Memory as the vendor sells it (decimal GB for NVIDIA's "80GB"; the cards hold a little more in
// GiB, which the planner keeps as headroom).
constexpr GpuRow kGpus[] = {
    {"a100-40gb", "A100-40GB", 40},
    {"a100", "A100-80GB", 80},
    {"a100-80gb", "A100-80GB", 80},
    {"h100", "H100-80GB", 80},
    {"h100-80gb", "H100-80GB", 80},
    {"h200", "H200", 141},
    {"rtx4090", "RTX 4090", 24},
    {"4090", "RTX 4090", 24},
    {"rtx3090", "RTX 3090", 24},
    {"3090", "RTX 3090", 24},
    {"t4", "T4", 16},
    {"v100", "V100-16GB", 16},
    {"v100-16gb", "V100-16GB", 16},
    {"v100-32gb", "V100-32GB", 32},
    {"l4", "L4", 24},
    {"a10g", "A10G", 24},
    {"a10", "A10", 24},
    {"l40s", "L40S", 48},
    {"a6000", "RTX A6000", 48},
    {"rtxa6000", "RTX A6000", 48},
};

} // namespace

std::optional<Gpu> parse_gpu(std::string_view text) {
  std::string k;
  for (char c : text) {
    if (c == ' ' || c == '_') continue;
    k += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (k.empty()) return std::nullopt;
  for (const auto& g : kGpus) {
    if (k == g.key) return Gpu{g.name, g.gb * 1e9};
  }
  // A size: "24", "24gb", "24g", "40gib".
  size_t i = 0;
  while (i < k.size() && (std::isdigit(static_cast<unsigned char>(k[i])) || k[i] == '.'))
    ++i;
  if (i == 0) return std::nullopt;
  std::string unit = k.substr(i);
  double v = std::atof(k.substr(0, i).c_str());
  if (!(v > 0) || v > 1e6) return std::nullopt;
  double mult = 0;
  if (unit.empty() || unit == "gb" || unit == "g") mult = 1e9;
  if (unit == "gib") mult = 1073741824.0;
  if (mult == 0) return std::nullopt;
  return Gpu{fmt("%g", v) + (unit == "gib" ? " GiB" : " GB"), v * mult};
}

std::string known_gpus() {
  return "A100-40GB, A100-80GB, H100, H200, RTX 4090, RTX 3090, T4, V100, V100-32GB, L4, A10G, "
         "L40S, A6000, or a size such as 24GB";
}

std::string plan_text(const Plan& p,
                      const std::function<std::string(std::string_view)>& section_url) {
  std::string out = p.model_id + ": " + p.setup + "\n\n";
  size_t w = 0;
  for (const auto& b : p.buckets)
    w = std::max(w, b.name.size());
  for (const auto& b : p.buckets) {
    std::string gb = format_gb(b.bytes);
    out += "  " + b.name + std::string(w - b.name.size(), ' ') + "  " +
           std::string(gb.size() < 9 ? 9 - gb.size() : 0, ' ') + gb + "  " + b.formula + "\n";
    out += "  " + std::string(w + 13, ' ') + "source: " + b.source + "\n";
  }
  out += "\n  the peak is at " + p.peak_moment + "\n";
  out += "  peak allocated (torch.cuda.max_memory_allocated): " + format_gb(p.peak_allocated) +
         "\n  peak reserved  (torch.cuda.max_memory_reserved):  " + format_gb(p.peak_reserved) +
         "\n  peak on the GPU (nvidia-smi):                      " + format_gb(p.peak_bytes) + "\n";
  if (p.cpu_bytes > 0) out += "  host RAM for offloaded state: " + format_gb(p.cpu_bytes) + "\n";
  if (!p.assumptions.empty()) {
    out += "\nAssumed (not read from the script):\n";
    for (const auto& a : p.assumptions) {
      out += "  - " + a.what + ": " + a.assumed +
             (a.flag.empty() ? "" : " (set it with " + a.flag + ")") + "\n";
    }
  }
  if (!p.ladder.empty()) {
    out += "\nThe ladder (M4):\n";
    for (const auto& r : p.ladder) {
      std::string state = r.used          ? "already used"
                          : !r.applicable ? "not applicable"
                          : r.saves > 0   ? "saves " + format_gb(r.saves)
                                          : "saves nothing here";
      out += "  " + std::string(r.step < 10 ? " " : "") + std::to_string(r.step) + ". " + r.name +
             ": " + state + (r.in_cheapest_set ? "  [in the cheapest set]" : "") + " — " +
             section_url(r.section) + "\n";
      if (!r.used && !r.note.empty()) out += "      " + r.note + "\n";
    }
  }
  if (p.gpu_bytes) {
    out += "\n";
    if (p.fits) {
      out += "Fits a " + p.gpu_name + " (" + format_gb(*p.gpu_bytes) + "): predicted " +
             format_gb(p.peak_bytes) + ".\n";
    } else if (p.cheapest_found) {
      out += "Does not fit a " + p.gpu_name + " (" + format_gb(*p.gpu_bytes) + "): predicted " +
             format_gb(p.peak_bytes) + ". Cheapest set of changes that fits (" +
             format_gb(p.cheapest_peak) + "):\n";
      for (const auto& r : p.ladder) {
        if (r.in_cheapest_set) out += "  - " + r.name + ": " + r.change + " (" + r.section + ")\n";
      }
    } else {
      out += "Does not fit a " + p.gpu_name + " (" + format_gb(*p.gpu_bytes) +
             "), and no set of the ladder's rungs brings it there (best: " +
             format_gb(p.cheapest_peak) + "): a bigger GPU or more GPUs (--gpus N) are needed.\n";
    }
  }
  return out;
}

} // namespace oomlint::checks::estimate
